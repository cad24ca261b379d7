//! Task utilities: `yield_now`, named spawns, cooperative budget, task-locals.
//!
//! ```
//! use nursery_runtime::task::{self, Builder};
//!
//! let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
//! let total = rt.block_on(async {
//!     let named = Builder::new().name("sum").spawn(async { (1..=10).sum::<u32>() });
//!     // Blocking work goes to the blocking pool, not to a worker.
//!     let blocking = task::spawn_blocking(|| std::thread::current().name().map(str::to_owned));
//!     task::yield_now().await;
//!     assert_eq!(blocking.await.unwrap().as_deref(), Some("nursery-worker-blocking"));
//!     named.await.unwrap()
//! });
//! assert_eq!(total, 55);
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use nursery_scheduler::{JoinHandle, SpawnMeta};

pub use crate::blocking::spawn_blocking;
pub use crate::task_local::{AccessError, LocalKey, TaskLocalFuture};
pub use nursery_scheduler::coop::consume_budget;
pub use nursery_scheduler::{JoinError, NodeInfo, NodeRef, SocketWait, SpawnError, Wait};

/// Lets other tasks run, then continues.
///
/// ```
/// nursery_runtime::Runtime::new().unwrap().block_on(async {
///     nursery_runtime::task::yield_now().await;
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
///
/// With one worker, a task that waits for a sibling in a loop must yield, or the sibling
/// never gets to run:
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(async {
///     nursery_runtime::spawn(async {
///         let done = Arc::new(AtomicBool::new(false));
///         let flag = done.clone();
///         nursery_runtime::spawn(async move { flag.store(true, Ordering::SeqCst) });
///         while !done.load(Ordering::SeqCst) {
///             let yielded: nursery_runtime::task::YieldNow = nursery_runtime::task::yield_now();
///             yielded.await;
///         }
///     })
///     .await
///     .unwrap();
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Spawns with options: a name shown in errors and task-tree dumps.
///
/// ```
/// nursery_runtime::Runtime::new().unwrap().block_on(async {
///     let h = nursery_runtime::task::Builder::new().name("worker").spawn(async { 1 });
///     assert_eq!(h.await.unwrap(), 1);
/// });
/// ```
#[derive(Debug, Default, Clone)]
pub struct Builder {
    name: Option<String>,
    shielded: bool,
}

impl Builder {
    /// A builder with no name.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     let task = nursery_runtime::task::Builder::new().spawn(async { 1 });
    ///     assert_eq!(task.await.unwrap(), 1);
    /// });
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The task's name.
    ///
    /// ```
    /// use nursery_runtime::task::Builder;
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let err = rt.block_on(nursery_runtime::supervised(|s| async move {
    ///     let parser = Builder::new().name("parser").spawn_in(&s, async { panic!("bad input") });
    ///     parser.await.unwrap_err()
    /// }));
    /// assert_eq!(err.task_name(), Some("'parser'"));
    /// assert!(err.to_string().contains("task 'parser'"));
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Shields the task: it is not cancelled with its parent (only through its own handle, or
    /// at runtime shutdown), and the parent still waits for it. For cleanup that must finish.
    ///
    /// ```
    /// use nursery_runtime::task::Builder;
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(nursery_runtime::scope(|s| async move {
    ///     let worker = s.spawn(std::future::pending::<()>());
    ///     let cleanup = Builder::new().shielded(true).spawn_in(&s, async move {
    ///         // Outlives the cancellation of the scope to see it through.
    ///         worker.await.unwrap_err().is_cancelled()
    ///     });
    ///     s.cancel();
    ///     assert!(cleanup.await.unwrap());
    /// }));
    /// ```
    pub fn shielded(mut self, shielded: bool) -> Builder {
        self.shielded = shielded;
        self
    }

    /// Spawns as a child of the current task, like [`crate::spawn`].
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     let task = nursery_runtime::task::Builder::new()
    ///         .name("checksum")
    ///         .spawn(async { b"hello".iter().map(|&b| u32::from(b)).sum::<u32>() });
    ///     assert_eq!(task.await.unwrap(), 532);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = self.meta();
        crate::spawn::spawn_with(future, meta).unwrap_or_else(|e| panic!("nursery::spawn: {e}"))
    }

    /// Spawns into `scope`, like [`crate::Scope::spawn`].
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(nursery_runtime::scope(|s| async move {
    ///     let fetch = nursery_runtime::task::Builder::new()
    ///         .name("fetch")
    ///         .spawn_in(&s, async { 3 });
    ///     assert_eq!(fetch.await.unwrap(), 3);
    /// }));
    /// ```
    #[track_caller]
    pub fn spawn_in<F>(self, scope: &crate::Scope, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = self.meta();
        scope
            .spawn_with(future, meta)
            .unwrap_or_else(|e| panic!("Scope::spawn: {e}"))
    }

    /// Spawns at the top of `handle`'s runtime (a child of its root), like
    /// [`Handle::spawn`](crate::Handle::spawn): from any thread, inside or outside the runtime.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let handle = rt.handle().clone();
    /// let task = std::thread::spawn(move || {
    ///     nursery_runtime::task::Builder::new()
    ///         .name("from a plain thread")
    ///         .spawn_on(&handle, async { 7 })
    /// })
    /// .join()
    /// .unwrap();
    /// assert_eq!(rt.block_on(task).unwrap(), 7);
    /// ```
    ///
    /// # Panics
    /// If the runtime has shut down.
    #[track_caller]
    pub fn spawn_on<F>(self, handle: &crate::Handle, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = self.meta();
        handle
            .spawn_root(future, meta)
            .unwrap_or_else(|e| panic!("Builder::spawn_on: {e}"))
    }

    /// Spawns into `scope`, or fails if the scope has closed or its limit is reached.
    ///
    /// ```
    /// use nursery_runtime::task::Builder;
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(nursery_runtime::scope(|s| async move {
    ///     s.set_limit(1);
    ///     let busy = Builder::new().name("busy").try_spawn_in(&s, std::future::pending::<()>());
    ///     let busy = busy.unwrap();
    ///     let refused = Builder::new().name("extra").try_spawn_in(&s, async {});
    ///     assert!(refused.unwrap_err().is_full());
    ///     busy.cancel();
    /// }));
    /// ```
    #[track_caller]
    pub fn try_spawn_in<F>(
        self,
        scope: &crate::Scope,
        future: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = self.meta();
        scope.spawn_with(future, meta)
    }

    #[track_caller]
    fn meta(self) -> SpawnMeta {
        let mut meta = match self.name {
            Some(name) => SpawnMeta::named(name),
            None => SpawnMeta::here(),
        };
        meta.shielded = self.shielded;
        meta
    }
}
