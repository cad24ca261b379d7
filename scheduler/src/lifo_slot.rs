//! A worker's LIFO slot: the task it runs next, which a peer may take while the worker is
//! stuck in the poll that filled it.
//!
//! A task woken by the running task goes here, not to the back of the queue: it usually runs
//! right after the poll that woke it ends, its data still in this core's cache. But if that
//! poll goes on (a dispatcher that computes after sending), the woken task must not wait for
//! it while a peer sleeps (the work-conserving rule, docs/architecture.md). So the slot is
//! shared: the owner swaps tasks in and out, and a peer may take the task out, but only while
//! the owner is still in the poll that put it there (`put_seq`, the owner's poll sequence
//! number then, is odd and still current). Once that poll has ended the owner runs the task
//! itself, within a few instructions.
//!
//! Ownership of the task is the pointer: whoever swaps or compare-exchanges it out of the slot
//! owns the queue reference it stands for, so a task is never taken twice.

use std::ptr::{self, NonNull};

use crate::sync::atomic::{AtomicPtr, AtomicU64, Ordering::*};
use crate::task::header::Header;
use crate::task::NodeRef;

/// Alone on its cache lines (as `PollSlot`): the owner writes it on nearly every wake, and two
/// workers' slots on one line made each worker miss on its own slot whenever the other used
/// its own (padding them took 22 % off `spawn_recursively`'s time per run).
#[repr(align(128))]
pub(crate) struct LifoSlot {
    /// The queued task (it holds the queue's reference), or null.
    task: AtomicPtr<Header>,
    /// The owner's poll sequence number when the task was put (odd: during that poll).
    put_seq: AtomicU64,
}

impl LifoSlot {
    pub(crate) fn new() -> LifoSlot {
        LifoSlot {
            task: AtomicPtr::new(ptr::null_mut()),
            put_seq: AtomicU64::new(0),
        }
    }

    /// Owner: whether a task is in the slot.
    pub(crate) fn is_occupied(&self) -> bool {
        !self.task.load(Relaxed).is_null()
    }

    /// Owner: puts `task` in the slot during (odd `seq`) or between (even) polls; returns the
    /// task it displaces.
    pub(crate) fn put(&self, task: NodeRef, seq: u64) -> Option<NodeRef> {
        self.put_seq.store(seq, Relaxed);
        let task = task.into_raw().as_ptr();
        if self.task.load(Relaxed).is_null() {
            // Only the owner fills the slot (peers only empty it): a plain store will do.
            self.task.store(task, Release);
            return None;
        }
        let previous = self.task.swap(task, AcqRel);
        // SAFETY: a non-null pointer in the slot stands for a queue reference, which the swap
        // handed to us.
        NonNull::new(previous).map(|p| unsafe { NodeRef::from_raw(p) })
    }

    /// Owner (or shutdown): takes the task out.
    pub(crate) fn take(&self) -> Option<NodeRef> {
        if self.task.load(Relaxed).is_null() {
            // Peers never fill it: empty it stays.
            return None;
        }
        let task = self.task.swap(ptr::null_mut(), AcqRel);
        // SAFETY: as in `put`.
        NonNull::new(task).map(|p| unsafe { NodeRef::from_raw(p) })
    }

    /// Whether the slot holds a task put during the owner's poll that is still running
    /// (`owner_seq` reads the owner's current poll sequence number): the owner will not get to
    /// it before that poll ends.
    pub(crate) fn stuck_behind(&self, owner_seq: impl FnOnce() -> u64) -> bool {
        !self.task.load(Acquire).is_null() && self.put_seq.load(Relaxed) == odd(owner_seq())
    }

    /// Peer: takes the task if it is stuck behind the owner's poll (see `stuck_behind`).
    pub(crate) fn steal(&self, owner_seq: impl FnOnce() -> u64) -> Option<NodeRef> {
        let task = self.task.load(Acquire);
        if task.is_null() || self.put_seq.load(Relaxed) != odd(owner_seq()) {
            return None;
        }
        self.task
            .compare_exchange(task, ptr::null_mut(), AcqRel, Relaxed)
            .ok()
            // SAFETY: the exchange handed us the queue reference the pointer stands for.
            .map(|p| unsafe { NodeRef::from_raw(NonNull::new_unchecked(p)) })
    }
}

/// `seq` if odd (a poll is running), else a value no `put_seq` of a poll can have.
fn odd(seq: u64) -> u64 {
    if seq % 2 == 1 {
        seq
    } else {
        u64::MAX - 1
    }
}

impl Drop for LifoSlot {
    fn drop(&mut self) {
        drop(self.take());
    }
}
