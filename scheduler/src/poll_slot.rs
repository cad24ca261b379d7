//! What each worker is polling right now, published for a stall detector: two plain stores per
//! poll on the worker's side, reads from any thread on the other.

use std::panic::Location;
use std::ptr;

use crate::sync::atomic::{AtomicPtr, AtomicU64, Ordering::*};

/// One worker's slot, alone on its cache lines: every poll writes it, and two workers' slots on
/// one line would bounce that line between cores on every poll.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct PollSlot {
    /// Odd while a poll is in progress; bumped at every start and end.
    seq: AtomicU64,
    task_id: AtomicU64,
    location: AtomicPtr<Location<'static>>,
}

/// A reading of a worker's slot.
///
/// A stall detector reads one per worker now and then: a poll whose `seq` is still the same,
/// odd value much later has blocked its worker that long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSnapshot {
    /// Changes at every poll start and end; odd while a poll is in progress.
    pub seq: u64,
    /// The id of the task being polled (meaningful while `seq` is odd).
    pub task_id: u64,
    /// Where that task was spawned, if known.
    pub location: Option<&'static Location<'static>>,
}

impl PollSnapshot {
    /// Whether the worker was inside a poll.
    pub fn in_poll(&self) -> bool {
        self.seq % 2 == 1
    }
}

impl PollSlot {
    /// Called by the slot's own worker only.
    pub(crate) fn begin(&self, task_id: u64, location: Option<&'static Location<'static>>) {
        self.task_id.store(task_id, Relaxed);
        let location = location.map_or(ptr::null_mut(), |l| l as *const _ as *mut _);
        self.location.store(location, Relaxed);
        let seq = self.seq.load(Relaxed);
        self.seq.store(seq + 1, Release);
    }

    /// The sequence number alone, as a peer sees it (odd during a poll).
    pub(crate) fn seq(&self) -> u64 {
        self.seq.load(Acquire)
    }

    /// The owner's own view of its sequence number (odd during a poll).
    pub(crate) fn own_seq(&self) -> u64 {
        self.seq.load(Relaxed)
    }

    /// Called by the slot's own worker only.
    pub(crate) fn end(&self) {
        let seq = self.seq.load(Relaxed);
        self.seq.store(seq + 1, Release);
    }

    pub(crate) fn snapshot(&self) -> PollSnapshot {
        let seq = self.seq.load(Acquire);
        let location = self.location.load(Relaxed);
        PollSnapshot {
            seq,
            task_id: self.task_id.load(Relaxed),
            // SAFETY: the pointer is null or came from a `&'static Location`.
            location: unsafe { location.as_ref() },
        }
    }
}
