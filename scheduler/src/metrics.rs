//! Per-worker counters: what each worker did, cheap enough to keep on always.
//!
//! Each worker owns one [`Counters`], alone on its cache lines, and is the only thread that
//! writes it: a count goes up with a relaxed load and a relaxed store (no read-modify-write, no
//! fence), so the hot path pays two plain moves to a line nobody else writes. Anyone may read
//! the counters with relaxed loads ([`Scheduler::worker_metrics`](crate::Scheduler::worker_metrics));
//! a reading is a snapshot of each counter at some recent moment, not of all of them at once.
//!
//! The counters are plain `std` atomics even under loom: they take no part in any
//! synchronisation, and modelling them would only slow the models down.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// One worker's counters, written by that worker only.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct Counters {
    pub(crate) polls: Counter,
    pub(crate) steals: Counter,
    pub(crate) lifo_steals: Counter,
    pub(crate) injector_pulls: Counter,
    pub(crate) parks: Counter,
    pub(crate) unparks: Counter,
    pub(crate) dozes: Counter,
    pub(crate) budget_exhaustions: Counter,
}

/// A counter with a single writer.
#[derive(Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Only the owning worker may call it: a load and a store, no atomic
    /// read-modify-write, so two writers would lose counts.
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// A reading of one worker's counters (see [`Scheduler::worker_metrics`](crate::Scheduler::worker_metrics)).
///
/// The counts are totals since the scheduler started; each is read on its own (relaxed), so
/// two fields may come from slightly different moments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// The worker's index (`0..workers`).
    pub index: usize,
    /// Tasks polled.
    pub polls: u64,
    /// Tasks this worker stole from its peers' run queues.
    pub steals: u64,
    /// Tasks this worker took from a peer's LIFO slot, stuck behind that peer's long poll.
    pub lifo_steals: u64,
    /// Tasks this worker took from the injector (tasks spawned or woken outside the workers).
    pub injector_pulls: u64,
    /// Times the worker went to sleep (blocked in its `Park`) for want of work.
    pub parks: u64,
    /// Times the worker was woken to look for new work (by a spawn or a wake elsewhere), as
    /// opposed to waking by itself for I/O or a timer.
    pub unparks: u64,
    /// Times the worker, searching, dozed instead of stealing: a peer's queued tasks were
    /// moving through that peer's polls faster than they would by being taken.
    pub dozes: u64,
    /// Times a resource returned `Pending` to a task polled here because the task had spent
    /// its cooperative budget (see [`coop`](crate::coop)).
    pub budget_exhaustions: u64,
    /// Tasks in the worker's run queue when read (not counting its LIFO slot).
    pub queue_depth: usize,
}

impl Counters {
    pub(crate) fn read(&self, index: usize, queue_depth: usize) -> WorkerMetrics {
        WorkerMetrics {
            index,
            polls: self.polls.get(),
            steals: self.steals.get(),
            lifo_steals: self.lifo_steals.get(),
            injector_pulls: self.injector_pulls.get(),
            parks: self.parks.get(),
            unparks: self.unparks.get(),
            dozes: self.dozes.get(),
            budget_exhaustions: self.budget_exhaustions.get(),
            queue_depth,
        }
    }
}

impl fmt::Display for WorkerMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "worker {}: polls {}, steals {}, lifo steals {}, injector pulls {}, parks {}, \
             unparks {}, dozes {}, budget exhaustions {}, queue {}",
            self.index,
            self.polls,
            self.steals,
            self.lifo_steals,
            self.injector_pulls,
            self.parks,
            self.unparks,
            self.dozes,
            self.budget_exhaustions,
            self.queue_depth
        )
    }
}
