//! The scheduler of nursery: task cells, the task tree, wakers, run queues, work stealing and
//! idle workers.
//!
//! It owns everything about *running* tasks and the tree they form (parent links, child lists,
//! cancellation, failure propagation, completion only after the subtree is gone). It deliberately
//! knows nothing of I/O or time: an idle worker blocks through the [`Park`] trait, which the
//! runtime implements by driving the reactor and the timers.
//!
//! Internal to nursery: used by `nursery-runtime` only, not published, no stability promise.
//! Users meet [`JoinHandle`], [`JoinError`], [`SpawnError`] and [`NodeRef`] through the runtime
//! and the facade. [`Scheduler::new`] shows a scheduler run by hand.
//!
//! Where things happen: `task/` is the task core (the cell, its state word, wakers, join handles,
//! the tree: cancellation, completion and failure propagation); `worker/` runs the workers
//! (`wake.rs`: where a task is queued and who is woken; `run.rs`: the worker loop, where a task is
//! polled; `search.rs`: stealing); `idle.rs` is the sleep/wake handshake; `group.rs` is the owner's
//! side of a scope or `block_on`; `sync/` is the std/loom switch every synchronisation primitive
//! comes from.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod coop;
pub mod current_node;
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
    timer_epoch, Hold, JoinError, JoinHandle, NodeInfo, NodeRef, SocketWait, SpawnError, SpawnMeta,
    Wait,
};
pub use worker::{Scheduler, WorkerRunner};

/// The bytes of task cells the shared recycling pool holds now (see `task/recycle.rs`); for
/// tests of the pool's bounds and of its emptying when the last runtime is dropped.
#[doc(hidden)]
pub fn pooled_task_cell_bytes() -> usize {
    task::recycle::pooled_bytes()
}
