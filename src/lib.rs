//! **nursery**: an async runtime with structured concurrency in its core.
//!
//! Every task is born inside a nursery (a task, a [`scope`], or the runtime's root), and no task
//! can outlive its parent: a [`JoinHandle`] resolves only after the task's whole subtree is gone,
//! cancellation reaches every task at its next poll point, and a panic is never lost in a
//! detached task — it cancels its siblings and is re-raised where the parent waits.
//!
//! ```
//! let rt = nursery::Runtime::new().unwrap();
//! let total = rt.block_on(async {
//!     nursery::scope(|s| async move {
//!         let a = s.spawn(async { 1 });
//!         let b = s.spawn(async { 2 });
//!         a.await.unwrap() + b.await.unwrap()
//!     })
//!     .await
//! });
//! assert_eq!(total, 3);
//! ```
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub use nursery_runtime::{
    fail_after, fail_at, move_on_after, move_on_at, scope, spawn, supervised, try_scope, Builder,
    FailAfter, Handle, JoinError, JoinHandle, MoveOnAfter, Ready, Runtime, Scope, ScopeFuture,
    ShutdownRequested, SpawnError, StallReport, StartError, TaskTree, TryScope, TryScopeFuture,
};

/// `#[nursery::main]` and `#[nursery::test]`: run an `async fn` on a fresh runtime.
#[doc(inline)]
pub use nursery_macros::{main, test};

/// Time: sleeps, timeouts, intervals.
pub mod time {
    pub use nursery_runtime::time::*;
}

/// Networking: TCP, UDP and Unix sockets (`futures_io` traits on the streams).
pub mod net {
    pub use nursery_runtime::net::*;
}

/// Task utilities: yielding, named spawns, the cooperative budget.
pub mod task {
    pub use nursery_runtime::task::*;
}
