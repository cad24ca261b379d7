//! Scopes: nurseries inside a task. A scope's body runs inline in the enclosing task; its
//! children run on the workers; the scope's future returns only after every child is gone.
//!
//! * [`scope`]: a child's panic cancels its siblings and the body, and is re-raised here.
//! * [`supervised`]: a child's failure stays in its `JoinHandle` (and a handler); siblings run on.
//! * [`try_scope`]: the first `Err` of a child cancels the rest and is returned.
//! * [`Scope::task_set`]: children whose results are taken in completion order.
//! * [`move_on_after`] / [`fail_after`]: a deadline for the whole scope, inherited by every task
//!   inside it, nested scopes included.

mod control;
mod scope_future;

#[doc(hidden)]
pub use self::scope_future::MakeBody;
mod deadline;
mod scope_handle;
mod start;
mod task_set;
mod try_scope;
mod watchers;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

pub use deadline::{fail_after, fail_at, move_on_after, move_on_at, FailAfter, MoveOnAfter};
pub use scope_handle::{Scope, ShutdownRequested};
pub use start::{Ready, StartError, StartResult};
pub use task_set::TaskSet;
pub use try_scope::{try_scope, TryScope, TryScopeFuture};

use self::control::Control;
use self::scope_future::{Exit, ScopeCore};

/// Opens a scope: runs `body` with a [`Scope`] to spawn children into, and resolves to the
/// body's output once the body **and every child** are done.
///
/// * A panic in a child cancels its siblings and the body; after they are gone the panic is
///   re-raised here (naming the child).
/// * Dropping the scope future early (a timeout, a `select`) cancels the children; they stay
///   children of the enclosing task, which cannot complete before they are gone. The same holds
///   if the future is leaked with `mem::forget`.
/// * [`Scope::cancel`] cancels the children (present and future); the body keeps running and
///   can check [`Scope::is_cancelled`].
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let rt = nursery_runtime::Runtime::new().unwrap();
/// let count = rt.block_on(async {
///     let done = Arc::new(AtomicUsize::new(0));
///     nursery_runtime::scope(|s| {
///         let done = done.clone();
///         async move {
///             for _ in 0..10 {
///                 let done = done.clone();
///                 s.spawn(async move { done.fetch_add(1, Ordering::SeqCst); });
///             }
///         }
///     })
///     .await;
///     done.load(Ordering::SeqCst) // every child has finished here
/// });
/// assert_eq!(count, 10);
/// ```
///
/// # Panics
/// Outside a runtime.
#[track_caller]
pub fn scope<F, Fut>(body: F) -> ScopeFuture<F>
where
    F: FnOnce(Scope) -> Fut,
    Fut: Future,
{
    ScopeFuture {
        core: scope_future::new(body, "scope", false, Control::default()),
    }
}

/// Opens a supervised scope (Kotlin's `supervisorScope`): a child's failure does not cancel its
/// siblings or the body. It stays in the child's `JoinHandle` and is passed to the handler set
/// with [`Scope::on_child_failure`]; with neither, it is printed rather than lost. Servers use
/// this for their connection tasks.
///
/// ```
/// let rt = nursery_runtime::Runtime::new().unwrap();
/// let survived = rt.block_on(nursery_runtime::supervised(|s| async move {
///     let crash = s.spawn(async { panic!("one connection failed") });
///     let fine = s.spawn(async { "the others keep running" });
///     assert!(crash.await.unwrap_err().is_panic());
///     fine.await.unwrap()
/// }));
/// assert_eq!(survived, "the others keep running");
/// ```
#[track_caller]
pub fn supervised<F, Fut>(body: F) -> ScopeFuture<F>
where
    F: FnOnce(Scope) -> Fut,
    Fut: Future,
{
    ScopeFuture {
        core: scope_future::new(body, "supervised", true, Control::default()),
    }
}

pin_project! {
    /// The future of [`scope`] and [`supervised`].
    ///
    /// It does nothing until awaited. Dropping it early cancels the scope's children; the
    /// enclosing task still waits for them to be gone.
    ///
    /// ```
    /// use std::time::Duration;
    /// use nursery_runtime::time::timeout;
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     let scope = nursery_runtime::scope(|s| async move {
    ///         s.spawn(std::future::pending::<()>());
    ///         std::future::pending::<()>().await
    ///     });
    ///     // Give up after 5 ms: `timeout` drops the scope future, which cancels its child.
    ///     assert!(timeout(Duration::from_millis(5), scope).await.is_err());
    /// });
    /// ```
    #[must_use = "a scope does nothing unless awaited; dropping it cancels its children"]
    pub struct ScopeFuture<F: MakeBody> {
        #[pin]
        core: ScopeCore<F>,
    }
}

impl<F: MakeBody> Future for ScopeFuture<F> {
    type Output = <F::Body as Future>::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let core = self.project().core;
        core.poll_exit(cx).map(|exit| match exit {
            Exit::Finished(output) => output,
            // A plain scope has no move-on deadline and is never aborted.
            Exit::DeadlineHit | Exit::Aborted => unreachable!("plain scope ended early"),
        })
    }
}

impl<F: MakeBody> fmt::Debug for ScopeFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeFuture")
            .field("id", &self.core.group_id())
            .finish_non_exhaustive()
    }
}
