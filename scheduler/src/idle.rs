//! Which workers are asleep or looking for work, so that a new task wakes a worker only when
//! nobody is already on the way to it.
//!
//! One word counts the workers that are *unparked* and, among them, those *searching* (awake
//! without work, about to look in the queues). A push wakes a sleeper only if no worker is
//! searching; the worker it wakes starts out searching, so the pushes that follow wake nobody
//! until it has found work. A searcher that finds work and was the last one wakes a peer, so that
//! a burst of work ramps every worker up one at a time.
//!
//! No push is lost: the pusher publishes the task, then (SeqCst) reads the word; a worker going
//! to sleep first records that it is no longer searching, then (SeqCst) looks at the queues once
//! more. One of the two always sees the other (the Dekker handshake).

use crate::sync::atomic::{fence, AtomicUsize, Ordering::*};
use crate::sync::Mutex;

const SEARCHING_MASK: usize = 0xFFFF;
const UNPARKED_ONE: usize = 1 << 16;

pub(crate) struct Idle {
    /// `unparked << 16 | searching`.
    state: AtomicUsize,
    sleepers: Mutex<Vec<usize>>,
    workers: usize,
}

fn searching(state: usize) -> usize {
    state & SEARCHING_MASK
}

fn unparked(state: usize) -> usize {
    state >> 16
}

impl Idle {
    pub(crate) fn new(workers: usize) -> Idle {
        assert!(workers <= SEARCHING_MASK, "too many workers");
        Idle {
            state: AtomicUsize::new(workers * UNPARKED_ONE),
            sleepers: Mutex::new(Vec::with_capacity(workers)),
            workers,
        }
    }

    /// After publishing work: the worker to wake, if one is asleep and none is searching. The
    /// woken worker is counted as unparked and searching from here on.
    pub(crate) fn worker_to_wake(&self) -> Option<usize> {
        fence(SeqCst);
        let state = self.state.load(SeqCst);
        if searching(state) != 0 || unparked(state) >= self.workers {
            return None;
        }
        let mut sleepers = self.sleepers.lock();
        // Checked again under the lock: a worker may have started searching meanwhile.
        if searching(self.state.load(SeqCst)) != 0 {
            return None;
        }
        let index = sleepers.pop()?;
        self.state.fetch_add(UNPARKED_ONE + 1, SeqCst);
        Some(index)
    }

    /// A hint, without the fence of [`worker_to_wake`](Idle::worker_to_wake): every worker is
    /// awake, or one is searching. Only for work that an awake worker will run anyway if the
    /// hint is stale.
    pub(crate) fn nobody_to_wake_hint(&self) -> bool {
        let state = self.state.load(Relaxed);
        searching(state) != 0 || unparked(state) >= self.workers
    }

    /// A worker without local work wants to steal from its peers. At most half the workers
    /// search at once (more would only contend on the same queues).
    pub(crate) fn try_start_searching(&self) -> bool {
        let mut state = self.state.load(SeqCst);
        loop {
            if 2 * searching(state) >= self.workers.max(2) {
                return false;
            }
            match self
                .state
                .compare_exchange_weak(state, state + 1, SeqCst, SeqCst)
            {
                Ok(_) => return true,
                Err(actual) => state = actual,
            }
        }
    }

    /// Whether some worker is searching (and will look at every queue).
    pub(crate) fn anyone_searching(&self) -> bool {
        searching(self.state.load(SeqCst)) != 0
    }

    /// A searching worker found work. Returns true if it was the last searcher: then the caller
    /// should wake a peer, as more work may be waiting.
    pub(crate) fn stop_searching(&self) -> bool {
        searching(self.state.fetch_sub(1, SeqCst)) == 1
    }

    /// Before parking: after this the caller must look for work once more (and call
    /// [`unparked`](Idle::unparked) whether or not it then parks).
    pub(crate) fn park(&self, index: usize, was_searching: bool) {
        let mut sleepers = self.sleepers.lock();
        sleepers.push(index);
        let delta = UNPARKED_ONE + usize::from(was_searching);
        self.state.fetch_sub(delta, SeqCst);
        drop(sleepers);
        fence(SeqCst);
    }

    /// After waking (or after finding work instead of parking). Returns whether the worker is
    /// searching: it was woken for new work by [`worker_to_wake`](Idle::worker_to_wake).
    pub(crate) fn unparked(&self, index: usize) -> bool {
        let mut sleepers = self.sleepers.lock();
        match sleepers.iter().position(|&i| i == index) {
            Some(pos) => {
                // Nobody woke us (a timer, I/O, or our own recheck): unparked, not searching.
                sleepers.swap_remove(pos);
                self.state.fetch_add(UNPARKED_ONE, SeqCst);
                false
            }
            None => true,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_push_wakes_a_sleeper_only_when_nobody_searches() {
        let idle = Idle::new(2);
        idle.park(0, false);
        idle.park(1, false);
        assert_eq!(idle.worker_to_wake(), Some(1));
        assert_eq!(
            idle.worker_to_wake(),
            None,
            "worker 1 is on its way: no second wake"
        );
        assert!(idle.unparked(1), "woken for work: searching");
        assert!(idle.stop_searching(), "it was the last searcher");
        assert_eq!(idle.worker_to_wake(), Some(0));
    }

    #[test]
    fn at_most_half_the_workers_search() {
        let idle = Idle::new(4);
        assert!(idle.try_start_searching());
        assert!(idle.try_start_searching());
        assert!(!idle.try_start_searching());
        assert!(!idle.stop_searching());
        assert!(idle.stop_searching());
    }

    #[test]
    fn a_worker_woken_by_a_timer_is_not_searching() {
        let idle = Idle::new(1);
        idle.park(0, false);
        assert!(!idle.unparked(0));
        assert_eq!(idle.worker_to_wake(), None, "every worker is unparked");
    }
}
