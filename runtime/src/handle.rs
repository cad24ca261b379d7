//! `Handle`: a cloneable reference to a runtime, usable from any thread.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use nursery_scheduler::{Group, JoinError, JoinHandle, NodeRef, Scheduler, SpawnError, SpawnMeta};

use crate::worker_park::Driver;

pub(crate) struct Inner {
    pub(crate) blocking: Arc<crate::blocking::BlockingPool>,
    pub(crate) scheduler: Scheduler,
    pub(crate) root: Group,
    pub(crate) driver: Arc<Driver>,
}

/// A reference to a runtime: spawn onto it from any thread, dump its task tree.
///
/// ```
/// let rt = nursery_runtime::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// let answer = std::thread::spawn(move || {
///     let task = handle.spawn(async { 6 * 7 });
///     handle.block_on(task).unwrap()
/// })
/// .join()
/// .unwrap();
/// assert_eq!(answer, 42);
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) inner: Arc<Inner>,
}

impl Handle {
    /// The runtime of the calling thread (a worker, or inside `block_on`).
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::new().unwrap();
    /// let workers = rt.block_on(async { nursery_runtime::Handle::current().worker_threads() });
    /// assert_eq!(workers, rt.handle().worker_threads());
    /// assert!(nursery_runtime::Handle::try_current().is_none(), "not inside a runtime here");
    /// ```
    ///
    /// # Panics
    /// Outside a runtime, with a message saying so.
    #[track_caller]
    pub fn current() -> Handle {
        crate::current_runtime::expect_handle()
    }

    /// The runtime of the calling thread, if any.
    ///
    /// ```
    /// use nursery_runtime::Handle;
    ///
    /// assert!(Handle::try_current().is_none());
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// assert!(rt.block_on(async { Handle::try_current().is_some() }));
    /// ```
    pub fn try_current() -> Option<Handle> {
        crate::current_runtime::with_handle(|h| h.cloned())
    }

    /// Spawns a task into the runtime's root nursery (it has no other parent).
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let handle = rt.handle().clone();
    /// // From a plain thread, outside the runtime:
    /// let task = std::thread::spawn(move || handle.spawn(async { 6 * 7 }))
    ///     .join()
    ///     .unwrap();
    /// assert_eq!(rt.block_on(task).unwrap(), 42);
    /// ```
    ///
    /// # Panics
    /// If the runtime has shut down.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = SpawnMeta::here();
        self.spawn_root(future, meta)
            .unwrap_or_else(|e| panic!("Handle::spawn: {e}"))
    }

    /// Like [`spawn`](Handle::spawn), but returns an error once the runtime has shut down.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// drop(rt);
    /// assert!(handle.try_spawn(async {}).unwrap_err().is_closed());
    /// ```
    #[track_caller]
    pub fn try_spawn<F>(&self, future: F) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_root(future, SpawnMeta::here())
    }

    pub(crate) fn spawn_root<F>(
        &self,
        future: F,
        meta: SpawnMeta,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let root = self.inner.root.node();
        let future = crate::trace::task(future, &meta, root, crate::trace::Parent::Root);
        crate::task_local::spawn(&self.inner.scheduler, root, future, meta, "runtime")
    }

    /// Runs `future` to completion on the calling thread (see [`Runtime::block_on`](crate::Runtime::block_on)).
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let handle = rt.handle().clone();
    /// let n = std::thread::spawn(move || {
    ///     handle.block_on(async { nursery_runtime::spawn(async { 5 }).await.unwrap() })
    /// })
    /// .join()
    /// .unwrap();
    /// assert_eq!(n, 5);
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        crate::block_on::block_on(self, future)
    }

    /// Calls `handler` for the failure of every task that is a child of the runtime's root
    /// (spawned with [`Handle::spawn`] from outside any task): the root keeps such a failure in
    /// the task's `JoinHandle` instead of passing it on, and this is where to log it when the
    /// handle was dropped.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let failures = Arc::new(Mutex::new(Vec::new()));
    /// let log = failures.clone();
    /// rt.handle().on_task_failure(move |err| {
    ///     log.lock().unwrap().push(err.panic_message().map(str::to_owned));
    /// });
    /// let task = rt.handle().spawn(async { panic!("lost connection") });
    /// assert!(rt.block_on(task).unwrap_err().is_panic());
    /// assert_eq!(*failures.lock().unwrap(), [Some("lost connection".to_owned())]);
    /// ```
    pub fn on_task_failure(&self, handler: impl Fn(&JoinError) + Send + Sync + 'static) {
        self.inner.root.node().on_child_failure(handler);
    }

    /// The runtime's root node. Crate-private: cancelling it, or holding it, would break the
    /// runtime for good; users see the tree through [`Handle::task_tree`].
    pub(crate) fn root(&self) -> &NodeRef {
        self.inner.root.node()
    }

    /// Threads currently in the blocking pool (it grows on demand and retires idle threads).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = nursery_runtime::Runtime::builder()
    ///     .worker_threads(1)
    ///     .thread_keep_alive(Duration::from_secs(3600))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(rt.handle().blocking_threads(), 0);
    /// rt.block_on(async { nursery_runtime::task::spawn_blocking(|| ()).await.unwrap() });
    /// assert_eq!(rt.handle().blocking_threads(), 1); // idle, kept alive for the next job
    /// ```
    pub fn blocking_threads(&self) -> usize {
        self.inner.blocking.threads()
    }

    /// The number of worker threads.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(2).build().unwrap();
    /// assert_eq!(rt.handle().worker_threads(), 2);
    /// ```
    pub fn worker_threads(&self) -> usize {
        self.inner.scheduler.workers()
    }

    /// Timers registered and neither fired nor cancelled (a dropped `Sleep` leaves none).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     let handle = nursery_runtime::Handle::current();
    ///     let mut sleep = nursery_runtime::time::sleep(Duration::from_secs(3600));
    ///     assert_eq!(handle.pending_timers(), 0); // registered at its first poll
    ///     assert!(futures::poll!(&mut sleep).is_pending());
    ///     assert_eq!(handle.pending_timers(), 1);
    ///     drop(sleep);
    ///     assert_eq!(handle.pending_timers(), 0);
    /// });
    /// ```
    pub fn pending_timers(&self) -> usize {
        self.inner.driver.timers.len()
    }

    pub(crate) fn scheduler(&self) -> &Scheduler {
        &self.inner.scheduler
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.worker_threads())
            .finish_non_exhaustive()
    }
}
