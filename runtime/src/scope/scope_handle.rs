//! `Scope`: the handle children are spawned through.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use nursery_scheduler::{JoinError, JoinHandle, NodeRef, SpawnError, SpawnMeta};

use super::control::{Acquire, Control, Limited};
use crate::handle::Handle;

/// A handle to spawn into a scope. Cheap to clone; `Send + Sync + 'static`, so children can
/// spawn siblings.
///
/// ```
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// let total = rt.block_on(nursery_runtime::scope(|s| async move {
///     let siblings = s.clone();
///     let first = s.spawn(async move {
///         // A child spawns a sibling through its own copy of the scope.
///         let second = siblings.spawn(async { 2 });
///         second.await.unwrap() * 10
///     });
///     first.await.unwrap()
/// }));
/// assert_eq!(total, 20);
/// ```
#[derive(Clone)]
pub struct Scope {
    pub(crate) node: NodeRef,
    pub(crate) handle: Handle,
    pub(crate) control: Arc<Control>,
}

impl Scope {
    /// Spawns a child of the scope.
    ///
    /// ```
    /// nursery_runtime::Runtime::new().unwrap().block_on(nursery_runtime::scope(|s| async move {
    ///     let child = s.spawn(async { 21 * 2 });
    ///     assert_eq!(child.await.unwrap(), 42);
    /// }));
    /// ```
    ///
    /// # Panics
    /// If the scope has closed (its future returned and every child is gone), or if its
    /// concurrency limit is reached; see [`try_spawn`](Scope::try_spawn) and
    /// [`spawn_wait`](Scope::spawn_wait).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with(future, SpawnMeta::here())
            .unwrap_or_else(|e| panic!("Scope::spawn: {e}"))
    }

    /// Spawns a child, or fails if the scope has closed or its limit is reached.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::new().unwrap();
    /// let escaped = rt.block_on(nursery_runtime::scope(|s| async move { s.clone() }));
    /// // The scope has returned: it is closed.
    /// assert!(escaped.try_spawn(async {}).unwrap_err().is_closed());
    /// ```
    #[track_caller]
    pub fn try_spawn<F>(&self, future: F) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with(future, SpawnMeta::here())
    }

    /// Spawns a child once the scope's concurrency limit leaves a free slot (at once if it has
    /// no limit). Waiters get freed slots in the order they started waiting; dropping this future
    /// gives up its place, or passes on a slot it was just handed. In a cancelled scope it does
    /// not wait (not even for slots that shielded children hold): the child is spawned cancelled
    /// and never runs, like every child spawned there (see [`cancel`](Scope::cancel)), and a
    /// waiting `spawn_wait` returns when the scope is cancelled.
    ///
    /// ```
    /// nursery_runtime::Runtime::new().unwrap().block_on(nursery_runtime::scope(|s| async move {
    ///     s.set_limit(2);
    ///     for i in 0..10 {
    ///         s.spawn_wait(async move { i }).await.unwrap(); // at most 2 run at a time
    ///     }
    /// }));
    /// ```
    #[track_caller]
    pub fn spawn_wait<F>(
        &self,
        future: F,
    ) -> impl Future<Output = Result<JoinHandle<F::Output>, SpawnError>> + '_
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = SpawnMeta::here();
        let mut future = Some(future);
        async move {
            let permit = Acquire::new(self.control.clone(), self.node.clone()).await;
            let future = future.take().expect("polled once to completion");
            match permit {
                Some(permit) => self.spawn_raw(
                    Limited {
                        future,
                        _permit: permit,
                    },
                    meta,
                ),
                None => self.spawn_raw(future, meta),
            }
        }
    }

    /// Spawns a shielded child: it is not cancelled with the scope (nor by a sibling's failure),
    /// only through its own handle or at runtime shutdown, and the scope still waits for it. For
    /// cleanup that must finish.
    ///
    /// ```
    /// use std::time::Duration;
    /// use nursery_runtime::time::sleep;
    /// nursery_runtime::Runtime::new().unwrap().block_on(async {
    ///     let out = nursery_runtime::move_on_after(Duration::from_millis(1), |s| async move {
    ///         let cleanup = s.spawn_shielded(async { sleep(Duration::from_millis(5)).await; "flushed" });
    ///         sleep(Duration::from_secs(60)).await; // cancelled by the deadline
    ///         cleanup
    ///     })
    ///     .await;
    ///     assert!(out.is_none(), "the deadline fired, yet the scope waited for the cleanup");
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_shielded<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let mut meta = SpawnMeta::here();
        meta.shielded = true;
        self.spawn_with(future, meta)
            .unwrap_or_else(|e| panic!("Scope::spawn_shielded: {e}"))
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
        if !meta.shielded && self.node.is_cancelled() {
            // Cancelled on arrival, it never runs: it takes no slot.
            return self.spawn_raw(future, meta);
        }
        match self.control.try_acquire() {
            Ok(None) => self.spawn_raw(future, meta),
            Ok(Some(permit)) => self.spawn_raw(
                Limited {
                    future,
                    _permit: permit,
                },
                meta,
            ),
            Err(limit) => Err(SpawnError::full(limit)),
        }
    }

    fn spawn_raw<F>(&self, future: F, meta: SpawnMeta) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let parent = crate::trace::Parent::Scope(&self.control.span);
        let future = crate::trace::task(future, &meta, &self.node, parent);
        crate::task_local::spawn(self.handle.scheduler(), &self.node, future, meta, "scope")
    }

    /// Limits how many children run at once (Go's `errgroup.SetLimit`): `spawn_wait` waits for a
    /// slot, `try_spawn` fails with [`SpawnError::is_full`], `spawn` panics when full. Once the
    /// scope is cancelled, a child (but a shielded one) takes no slot: it is cancelled on
    /// arrival and never runs, so none of them waits or fails for want of one.
    ///
    /// ```
    /// nursery_runtime::Runtime::new().unwrap().block_on(nursery_runtime::scope(|s| async move {
    ///     s.set_limit(1);
    ///     let _busy = s.spawn(std::future::pending::<()>());
    ///     assert!(s.try_spawn(async {}).unwrap_err().is_full());
    ///     assert_eq!(s.limit(), Some(1));
    ///     s.cancel();
    /// }));
    /// ```
    pub fn set_limit(&self, limit: usize) {
        assert!(
            limit > 0,
            "Scope::set_limit(0): a scope that can run no child would deadlock"
        );
        self.control.set_limit(limit);
    }

    /// The concurrency limit, if one is set.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(nursery_runtime::scope(|s| async move {
    ///     assert_eq!(s.limit(), None);
    ///     s.set_limit(4);
    ///     assert_eq!(s.limit(), Some(4));
    /// }));
    /// ```
    pub fn limit(&self) -> Option<usize> {
        self.control.limit()
    }

    /// Cancels every child of the scope, and every child spawned into it from now on. The body
    /// keeps running (check [`is_cancelled`](Scope::is_cancelled)).
    ///
    /// ```
    /// nursery_runtime::Runtime::new().unwrap().block_on(nursery_runtime::scope(|s| async move {
    ///     let forever = s.spawn(std::future::pending::<()>());
    ///     s.cancel();
    ///     assert!(s.is_cancelled());
    ///     assert!(forever.await.unwrap_err().is_cancelled());
    /// }));
    /// ```
    pub fn cancel(&self) {
        self.control.span.requested("scope cancel requested");
        self.control.cancel(&self.node);
    }

    /// Whether the scope was cancelled (by [`cancel`](Scope::cancel), a failing child, its
    /// deadline, or with its enclosing task).
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let produced = rt.block_on(nursery_runtime::scope(|s| async move {
    ///     let mut produced = 0;
    ///     while !s.is_cancelled() {
    ///         produced += 1;
    ///         if produced == 3 {
    ///             s.cancel(); // say, the consumer has enough
    ///         }
    ///     }
    ///     produced
    /// }));
    /// assert_eq!(produced, 3);
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.node.is_cancelled()
    }

    /// Asks the scope to shut down gracefully: [`shutdown_requested`](Scope::shutdown_requested)
    /// completes for everyone waiting on it (tasks finish their work and return), and whatever
    /// children are still running when `grace` runs out are cancelled. The body is expected to
    /// return when it sees the request.
    ///
    /// ```
    /// use std::time::Duration;
    /// nursery_runtime::Runtime::new().unwrap().block_on(nursery_runtime::scope(|s| async move {
    ///     let worker = s.clone();
    ///     s.spawn(async move {
    ///         worker.shutdown_requested().await; // finish up, then return
    ///     });
    ///     s.shutdown(Duration::from_secs(5));
    /// }));
    /// ```
    pub fn shutdown(&self, grace: Duration) {
        let now = crate::time::now();
        let hard_at = now
            .checked_add(grace)
            .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365));
        self.control.span.requested("scope shutdown requested");
        self.control.request_shutdown(hard_at);
        self.handle.scheduler().wake_owner(&self.node);
    }

    /// Completes once [`shutdown`](Scope::shutdown) has been called.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(nursery_runtime::scope(|s| async move {
    ///     let scope = s.clone();
    ///     let server = s.spawn(async move {
    ///         scope.shutdown_requested().await; // serve until asked to stop
    ///         "drained"
    ///     });
    ///     s.shutdown(Duration::from_secs(5));
    ///     assert_eq!(server.await.unwrap(), "drained");
    /// }));
    /// ```
    pub fn shutdown_requested(&self) -> ShutdownRequested {
        ShutdownRequested {
            control: self.control.clone(),
            key: None,
            registered: None,
        }
    }

    /// Whether [`shutdown`](Scope::shutdown) has been called.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(nursery_runtime::scope(|s| async move {
    ///     assert!(!s.is_shutting_down());
    ///     s.shutdown(Duration::from_secs(5));
    ///     assert!(s.is_shutting_down());
    /// }));
    /// ```
    pub fn is_shutting_down(&self) -> bool {
        self.control.is_shutdown_requested()
    }

    /// The deadline after which the scope's children are cancelled, if any.
    ///
    /// ```
    /// use std::time::Duration;
    /// nursery_runtime::Runtime::new().unwrap().block_on(async {
    ///     nursery_runtime::fail_after(Duration::from_secs(5), |s| async move {
    ///         assert!(s.deadline().is_some());
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.control.deadline().map(|d| d.at)
    }

    /// Calls `handler` with each child failure that stays at the child: in a
    /// [`supervised`](crate::supervised) scope, every child failure. (In other scopes failures
    /// travel up instead and the handler is not called.)
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let failures = Arc::new(AtomicUsize::new(0));
    /// let seen = failures.clone();
    /// nursery_runtime::Runtime::new().unwrap().block_on(nursery_runtime::supervised(|s| async move {
    ///     s.on_child_failure(move |_err| { seen.fetch_add(1, Ordering::SeqCst); });
    ///     let _ = s.spawn(async { panic!("one request failed") }).await;
    /// }));
    /// assert_eq!(failures.load(Ordering::SeqCst), 1);
    /// ```
    pub fn on_child_failure(&self, handler: impl Fn(&JoinError) + Send + Sync + 'static) {
        self.node.on_child_failure(handler);
    }

    /// The scope's node in the task tree.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(nursery_runtime::scope(|s| async move {
    ///     // Named, so it is in the tree from its spawn on (see `NodeInfo::starting_children`).
    ///     let child = nursery_runtime::task::Builder::new()
    ///         .name("child")
    ///         .spawn_in(&s, std::future::pending::<()>());
    ///     let mut children = Vec::new();
    ///     s.node().walk(|depth, node| {
    ///         if depth == 1 {
    ///             children.push(node.id);
    ///         }
    ///     });
    ///     assert_eq!(children, [child.id()]);
    ///     child.cancel();
    /// }));
    /// ```
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

/// The future of [`Scope::shutdown_requested`].
///
/// ```
/// use std::time::Duration;
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(nursery_runtime::scope(|s| async move {
///     let mut requested = s.shutdown_requested();
///     assert!(futures::poll!(&mut requested).is_pending());
///     s.shutdown(Duration::from_secs(5));
///     requested.await; // completes now
/// }));
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct ShutdownRequested {
    control: Arc<Control>,
    /// This future's slot among the scope's waiters, once it has waited.
    key: Option<usize>,
    /// The waker stored in that slot.
    registered: Option<Waker>,
}

impl Future for ShutdownRequested {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        // Waiting already, for the same task: nothing to store, so no lock to take. A request
        // sets the flag before it takes the waiters, and wakes the stored waker after.
        let waiting = this.key.is_some()
            && this
                .registered
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()));
        let polled = match waiting && !this.control.is_shutdown_requested() {
            true => Poll::Pending,
            false => {
                let polled = this.control.poll_shutdown(&mut this.key, cx);
                this.registered = polled.is_pending().then(|| cx.waker().clone());
                polled
            }
        };
        if polled.is_pending() {
            nursery_scheduler::current_node::record_wait(nursery_scheduler::Wait::Other {
                what: "the scope's shutdown request",
            });
        }
        polled
    }
}

impl Drop for ShutdownRequested {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.control.forget_shutdown_waiter(key);
        }
    }
}

impl fmt::Debug for ShutdownRequested {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShutdownRequested")
    }
}
