//! `scope`: a nursery inside a task. Its body runs inline in the enclosing task; its children
//! run on the workers; the scope future returns only after every child is gone.

use std::fmt;
use std::future::Future;
use std::panic::{resume_unwind, Location};
use std::pin::Pin;
use std::task::{Context, Poll};

use nursery_scheduler::{Group, JoinHandle, NodeRef, SpawnError, SpawnMeta};

use crate::context;
use crate::handle::Handle;

/// Opens a scope: runs `body` with a [`Scope`] to spawn children into, and resolves to the
/// body's output once the body **and every child** are done.
///
/// * A panic in a child cancels its siblings and the body; after they are gone the panic is
///   re-raised here (naming the child).
/// * Dropping the scope future early (a timeout, a `select`) cancels the children; they stay
///   children of the enclosing task, which cannot complete before they are gone.
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
pub fn scope<F, Fut>(body: F) -> ScopeFuture<Fut>
where
    F: FnOnce(Scope) -> Fut,
    Fut: Future,
{
    open(body, false)
}

#[track_caller]
pub(crate) fn open<F, Fut>(body: F, supervised: bool) -> ScopeFuture<Fut>
where
    F: FnOnce(Scope) -> Fut,
    Fut: Future,
{
    let handle = context::expect_handle();
    let meta = SpawnMeta {
        name: None,
        location: Location::caller(),
    };
    let group = nursery_scheduler::context::with_current_node(|node| {
        let parent = node.unwrap_or(handle.root());
        handle
            .scheduler()
            .new_group(parent, supervised, Some(meta), "task")
    })
    .unwrap_or_else(|e| panic!("nursery::scope: {e}"));
    let scope = Scope {
        node: group.node().clone(),
        handle,
    };
    ScopeFuture {
        body: Some(body(scope)),
        output: None,
        group,
    }
}

/// A handle to spawn into a scope. Cheap to clone; `Send + Sync + 'static`, so children can
/// spawn siblings.
#[derive(Clone)]
pub struct Scope {
    node: NodeRef,
    handle: Handle,
}

impl Scope {
    /// Spawns a child of the scope.
    ///
    /// # Panics
    /// If the scope has closed (its future returned and every child is gone); see
    /// [`try_spawn`](Scope::try_spawn).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with(future, SpawnMeta::here())
            .unwrap_or_else(|e| panic!("Scope::spawn: {e}"))
    }

    /// Spawns a child, or fails if the scope has closed.
    #[track_caller]
    pub fn try_spawn<F>(&self, future: F) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with(future, SpawnMeta::here())
    }

    pub(crate) fn spawn_with<F>(
        &self,
        future: F,
        meta: SpawnMeta,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle
            .scheduler()
            .spawn(&self.node, future, meta, "scope")
    }

    /// Cancels every child of the scope, and every child spawned into it from now on.
    pub fn cancel(&self) {
        self.node.cancel();
    }

    /// Whether the scope was cancelled (by [`cancel`](Scope::cancel), by a failing child, or
    /// with its enclosing task).
    pub fn is_cancelled(&self) -> bool {
        self.node.is_cancelled()
    }

    /// The scope's node in the task tree.
    pub fn node(&self) -> &NodeRef {
        &self.node
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("id", &self.node.id())
            .finish()
    }
}

/// The future of [`scope`].
#[must_use = "a scope does nothing unless awaited; dropping it cancels its children"]
pub struct ScopeFuture<Fut: Future> {
    body: Option<Fut>,
    output: Option<Fut::Output>,
    group: Group,
}

impl<Fut: Future> Future for ScopeFuture<Fut> {
    type Output = Fut::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Fut::Output> {
        // SAFETY: `body` is structurally pinned: it is never moved out, only dropped in place
        // (by `set(None)`) or with the struct; `output` and `group` are not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        if this.body.is_some() {
            if this.group.has_failed() {
                // A child failed: its siblings are being cancelled; so is the body.
                this.drop_body();
                this.group.abandon();
            } else {
                // Registered so a failing child can wake us to drop the body.
                let _ = this.group.poll_complete(cx);
                // SAFETY: see above; the body stays in place until dropped.
                let body = unsafe { Pin::new_unchecked(this.body.as_mut().expect("checked")) };
                match body.poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(output) => {
                        this.output = Some(output);
                        this.drop_body();
                        this.group.close();
                    }
                }
            }
        }
        std::task::ready!(this.group.poll_complete(cx));
        if let Some(err) = this.group.take_failure() {
            resume_unwind(err.into_panic());
        }
        match this.output.take() {
            Some(output) => Poll::Ready(output),
            None => panic!("a scope future was polled after it completed"),
        }
    }
}

impl<Fut: Future> ScopeFuture<Fut> {
    fn drop_body(&mut self) {
        // Dropping in place (the field is pinned). The enclosing task is the current node, so
        // drops that spawn or cancel act on the right tree.
        self.body = None;
    }
}

impl<Fut: Future> fmt::Debug for ScopeFuture<Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeFuture")
            .field("id", &self.group.node().id())
            .field("body_running", &self.body.is_some())
            .finish()
    }
}
