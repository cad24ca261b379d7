//! The nursery runtime: [`Runtime`], [`Builder`], [`Handle`], `block_on`, and the task tree's
//! user-facing side: [`spawn`], [`scope`], cancellation, panics, shutdown.
//!
//! It composes the `scheduler` (tasks, tree, queues, workers), the `reactor` (I/O readiness)
//! and the `timer` (a timing wheel) crates. Users depend on the `nursery` facade, which
//! re-exports everything here.
//!
//! ```
//! use std::time::Duration;
//!
//! let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
//! let sum = rt.block_on(nursery_runtime::scope(|s| async move {
//!     let a = s.spawn(async { 20 });
//!     let b = s.spawn(async { 22 });
//!     s.spawn(nursery_runtime::time::sleep(Duration::from_secs(3600)));
//!     let sum = a.await.unwrap() + b.await.unwrap();
//!     s.cancel(); // the sleeper too: the scope returns only once every child is gone
//!     sum
//! }));
//! assert_eq!(sum, 42);
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
// Pin projections go through `pin-project-lite`; the system calls std and mio lack (signal
// handlers, socket probes) are the reactor's `sys/` layer.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod block_on;
mod blocking;
mod builder;
mod current_runtime;
pub mod diagnostics;
mod dump;
mod handle;
mod metrics;
mod runtime;
mod scope;
pub mod signal;
mod sleeper;
mod spawn;
mod stall;
mod sync;
pub mod task;
mod task_local;
mod thread_waker;
pub mod time;
mod trace;
mod worker_park;

pub use builder::Builder;
pub use diagnostics::{Fault, FaultKind};
pub use dump::TaskTree;
pub use handle::Handle;
pub use metrics::RuntimeMetrics;
/// The I/O types: TCP, UDP and Unix sockets driven by the runtime's reactor.
pub use nursery_reactor::net;
pub use nursery_scheduler::WorkerMetrics;
pub use nursery_scheduler::{JoinError, JoinHandle, SpawnError};
pub use runtime::Runtime;
pub use scope::{
    fail_after, fail_at, move_on_after, move_on_at, scope, supervised, try_scope, FailAfter,
    MakeBody, MoveOnAfter, Ready, Scope, ScopeFuture, ShutdownRequested, StartError, StartResult,
    TaskSet, TryScope, TryScopeFuture,
};
pub use spawn::spawn;
pub use stall::StallReport;
