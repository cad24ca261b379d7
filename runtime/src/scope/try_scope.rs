//! `try_scope`: the first `Err` of a child (or of the body) cancels everything else in the scope
//! and is returned once the scope has been torn down. Later errors are kept, not dropped.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use nursery_scheduler::{JoinHandle, SpawnMeta};
use parking_lot::Mutex;
use pin_project_lite::pin_project;

use super::control::Control;
use super::scope_future::{self, Exit, MakeBody, ScopeCore};
use super::Scope;

/// Opens a scope whose children return `Result<_, E>`: the first `Err` cancels the siblings
/// and the body, and `try_scope` returns it after every child is gone (panics still travel as
/// in [`scope`](crate::scope)).
///
/// ```
/// let rt = nursery_runtime::Runtime::new().unwrap();
/// let out: Result<u32, String> = rt.block_on(nursery_runtime::try_scope(|s| async move {
///     s.spawn(async { Err::<(), _>("disk full".to_owned()) });
///     s.spawn(std::future::pending::<Result<(), String>>()); // cancelled by the error
///     Ok(7)
/// }));
/// assert_eq!(out, Err("disk full".to_owned()));
/// ```
#[track_caller]
pub fn try_scope<F, Fut, T, E>(body: F) -> TryScopeFuture<F, E>
where
    F: FnOnce(TryScope<E>) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Send + 'static,
{
    let errors = Arc::new(Errors {
        state: Mutex::new(ErrorState {
            first: None,
            later: Vec::new(),
        }),
    });
    let core = scope_future::new(
        MakeTryBody {
            body,
            errors: errors.clone(),
        },
        "try_scope",
        false,
        Control::default(),
    );
    TryScopeFuture { core, errors }
}

/// The errors of a `try_scope`: the first, and those after it.
pub struct Errors<E> {
    state: Mutex<ErrorState<E>>,
}

struct ErrorState<E> {
    first: Option<E>,
    later: Vec<E>,
}

impl<E> Errors<E> {
    /// Keeps the error; the first one stops the scope.
    fn record(&self, scope: &Scope, error: E) {
        let first = {
            let mut state = self.state.lock();
            if state.first.is_none() {
                state.first = Some(error);
                true
            } else {
                state.later.push(error);
                false
            }
        };
        crate::trace::task_error(first);
        if first {
            scope.control.abort();
            scope.cancel();
            scope.handle.scheduler().wake_owner(&scope.node);
        }
    }
}

/// The handle of a [`try_scope`]: spawns children returning `Result<T, E>`.
///
/// ```
/// use nursery_runtime::TryScope;
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// let out = rt.block_on(nursery_runtime::try_scope(|s: TryScope<String>| async move {
///     let sizes: Vec<_> = ["a.txt", "b.txt"]
///         .into_iter()
///         .map(|name| s.spawn(async move { Ok(name.len()) }))
///         .collect();
///     let mut total = 0;
///     for size in sizes {
///         total += size.await.unwrap().unwrap();
///     }
///     Ok(total)
/// }));
/// assert_eq!(out, Ok(10));
/// ```
pub struct TryScope<E> {
    scope: Scope,
    errors: Arc<Errors<E>>,
}

impl<E> Clone for TryScope<E> {
    fn clone(&self) -> Self {
        TryScope {
            scope: self.scope.clone(),
            errors: self.errors.clone(),
        }
    }
}

impl<E: Send + 'static> TryScope<E> {
    /// Spawns a child. Its handle resolves to `Some(value)`, or `None` if it returned `Err`
    /// (the error went to the scope).
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let out = rt.block_on(nursery_runtime::try_scope(|s| async move {
    ///     let a = s.spawn(async { Ok::<u32, String>(2) });
    ///     let b = s.spawn(async { Ok(3) });
    ///     Ok(a.await.unwrap().unwrap() + b.await.unwrap().unwrap())
    /// }));
    /// assert_eq!(out, Ok(5));
    /// ```
    ///
    /// # Panics
    /// If the scope has closed.
    #[track_caller]
    pub fn spawn<F, T>(&self, future: F) -> JoinHandle<Option<T>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_meta(future, SpawnMeta::here())
    }

    /// Spawns a shielded child (see [`Scope::spawn_shielded`]): not cancelled by the first
    /// error, still awaited, and its own `Err` still counts.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let flushed = Arc::new(AtomicBool::new(false));
    /// let flag = flushed.clone();
    /// let out = rt.block_on(nursery_runtime::try_scope(|s| async move {
    ///     let failing = s.spawn(async { Err::<(), _>("write failed".to_owned()) });
    ///     s.spawn_shielded(async move {
    ///         let _ = failing.await; // the error has cancelled the scope by now
    ///         flag.store(true, Ordering::SeqCst); // yet this cleanup still runs
    ///         Ok(())
    ///     });
    ///     Ok(())
    /// }));
    /// assert_eq!(out, Err("write failed".to_owned()));
    /// assert!(flushed.load(Ordering::SeqCst));
    /// ```
    #[track_caller]
    pub fn spawn_shielded<F, T>(&self, future: F) -> JoinHandle<Option<T>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
    {
        let mut meta = SpawnMeta::here();
        meta.shielded = true;
        self.spawn_meta(future, meta)
    }

    #[track_caller]
    fn spawn_meta<F, T>(&self, future: F, meta: SpawnMeta) -> JoinHandle<Option<T>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
    {
        let errors = self.errors.clone();
        let scope = self.scope.clone();
        let child = async move {
            match future.await {
                Ok(value) => Some(value),
                Err(error) => {
                    errors.record(&scope, error);
                    None
                }
            }
        };
        self.scope
            .spawn_with(child, meta)
            .unwrap_or_else(|e| panic!("TryScope::spawn: {e}"))
    }

    /// Errors that arrived after the first one, taken out of the scope.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use nursery_runtime::TryScope;
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let kept: Arc<Mutex<Option<TryScope<&str>>>> = Arc::default();
    /// let keep = kept.clone();
    /// let out = rt.block_on(nursery_runtime::try_scope(|s| async move {
    ///     *keep.lock().unwrap() = Some(s.clone()); // to look at the errors afterwards
    ///     let first = s.spawn(async { Err::<(), _>("first") });
    ///     // A shielded child is not cancelled by the first error; it fails after it.
    ///     s.spawn_shielded(async move {
    ///         let _ = first.await;
    ///         Err::<(), _>("second")
    ///     });
    ///     Ok(())
    /// }));
    /// assert_eq!(out, Err("first"));
    /// let s = kept.lock().unwrap().take().unwrap();
    /// assert_eq!(s.take_later_errors(), ["second"]);
    /// assert!(s.take_later_errors().is_empty()); // taken
    /// ```
    pub fn take_later_errors(&self) -> Vec<E> {
        std::mem::take(&mut self.errors.state.lock().later)
    }

    /// The underlying scope (cancel, limits, shutdown, plain spawns).
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let out = rt.block_on(nursery_runtime::try_scope(|s| async move {
    ///     s.scope().set_limit(2);
    ///     let infallible = s.scope().spawn(async { 40 }); // a plain child
    ///     Ok::<_, String>(infallible.await.unwrap() + 2)
    /// }));
    /// assert_eq!(out, Ok(42));
    /// ```
    pub fn scope(&self) -> &Scope {
        &self.scope
    }
}

impl<E> fmt::Debug for TryScope<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryScope")
            .field("scope", &self.scope)
            .finish()
    }
}

pin_project! {
    /// The body, turned into `Option<T>`: its `Err` is recorded like a child's.
    pub struct TryBody<Fut, E> {
        #[pin]
        body: Fut,
        scope: Scope,
        errors: Arc<Errors<E>>,
    }
}

impl<Fut, T, E> Future for TryBody<Fut, E>
where
    Fut: Future<Output = Result<T, E>>,
{
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.project();
        this.body.poll(cx).map(|result| match result {
            Ok(value) => Some(value),
            Err(error) => {
                this.errors.record(this.scope, error);
                None
            }
        })
    }
}

/// Builds a [`TryBody`] when the scope opens.
pub struct MakeTryBody<F, E> {
    body: F,
    errors: Arc<Errors<E>>,
}

impl<F, Fut, T, E> MakeBody for MakeTryBody<F, E>
where
    F: FnOnce(TryScope<E>) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    type Body = TryBody<Fut, E>;

    fn make(self, scope: Scope) -> TryBody<Fut, E> {
        let handle = TryScope {
            scope: scope.clone(),
            errors: self.errors.clone(),
        };
        TryBody {
            body: (self.body)(handle),
            scope,
            errors: self.errors,
        }
    }
}

pin_project! {
    /// The future of [`try_scope`].
    ///
    /// It does nothing until awaited, and resolves to the body's `Ok` value or to the first
    /// error; dropping it early cancels the scope's children.
    ///
    /// ```
    /// use nursery_runtime::{TryScope, TryScopeFuture};
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// type Parse = std::num::ParseIntError;
    /// let parse: TryScopeFuture<_, Parse> =
    ///     nursery_runtime::try_scope(|s: TryScope<Parse>| async move {
    ///         let n = s.spawn(async { "12".parse::<u32>() });
    ///         Ok(n.await.unwrap().unwrap())
    ///     });
    /// assert_eq!(rt.block_on(parse), Ok(12));
    /// ```
    #[must_use = "a scope does nothing unless awaited; dropping it cancels its children"]
    pub struct TryScopeFuture<F, E>
    where
        MakeTryBody<F, E>: MakeBody,
    {
        #[pin]
        core: ScopeCore<MakeTryBody<F, E>>,
        errors: Arc<Errors<E>>,
    }
}

impl<F, Fut, T, E> Future for TryScopeFuture<F, E>
where
    F: FnOnce(TryScope<E>) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, E>> {
        let this = self.project();
        let exit = std::task::ready!(this.core.poll_exit(cx));
        let first = this.errors.state.lock().first.take();
        Poll::Ready(match (exit, first) {
            (_, Some(error)) => Err(error),
            (Exit::Finished(Some(value)), None) => Ok(value),
            _ => unreachable!("a try_scope stops early only for a recorded error"),
        })
    }
}

impl<F, E> fmt::Debug for TryScopeFuture<F, E>
where
    MakeTryBody<F, E>: MakeBody,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TryScopeFuture")
    }
}
