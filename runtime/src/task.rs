//! Task utilities: `yield_now`, named spawns, cooperative budget.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use nursery_scheduler::{JoinHandle, SpawnMeta};

pub use crate::blocking::spawn_blocking;
pub use nursery_scheduler::coop::consume_budget;
pub use nursery_scheduler::{JoinError, NodeInfo, NodeRef, SpawnError};

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
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The task's name.
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Shields the task: it is not cancelled with its parent (only through its own handle, or
    /// at runtime shutdown), and the parent still waits for it. For cleanup that must finish.
    pub fn shielded(mut self, shielded: bool) -> Builder {
        self.shielded = shielded;
        self
    }

    /// Spawns as a child of the current task, like [`crate::spawn`].
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

    /// Spawns into `scope`, or fails if the scope has closed or its limit is reached.
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
