//! The scheduler of nursery: task cells, the task tree, wakers, run queues, work stealing and
//! idle workers.
//!
//! It owns everything about *running* tasks and the tree they form (parent links, child lists,
//! cancellation, failure propagation, completion only after the subtree is gone). It deliberately
//! knows nothing of I/O or time: an idle worker blocks through the [`Park`] trait, which the
//! runtime implements by driving the reactor and the timers.
//!
//! Users meet its [`JoinHandle`] and [`JoinError`] through the runtime:
//!
//! ```
//! use nursery_scheduler::JoinHandle;
//!
//! let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
//! rt.block_on(async {
//!     let task: JoinHandle<u32> = nursery_runtime::spawn(async { 7 });
//!     assert_eq!(task.await.unwrap(), 7);
//!
//!     let stuck = nursery_runtime::spawn(std::future::pending::<()>());
//!     stuck.cancel();
//!     assert!(stuck.await.unwrap_err().is_cancelled());
//! });
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod context;
pub mod coop;
pub mod diagnostics;
mod group;
mod idle;
mod lifo_slot;
mod metrics;
mod park;
mod poll_slot;
mod sync;
mod task;
mod worker;

pub use group::Group;
pub use metrics::WorkerMetrics;
pub use park::Park;
pub use poll_slot::PollSnapshot;
pub use task::{
    Hold, JoinError, JoinHandle, NodeInfo, NodeRef, SocketWait, SpawnError, SpawnMeta, Wait,
};
pub use worker::{Scheduler, WorkerRunner};

/// The bytes of task cells the shared recycling pool holds now (see `task/recycle.rs`); for
/// tests of the pool's bounds and of its emptying when the last runtime is dropped.
#[doc(hidden)]
pub fn pooled_task_cell_bytes() -> usize {
    task::recycle::pooled_bytes()
}
