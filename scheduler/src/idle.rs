//! Which workers are asleep, so a new task can wake one. Uses the classic Dekker handshake: the
//! pusher publishes the task, then (SeqCst) reads the sleeper count; a sleeper increments the
//! count, then (SeqCst) looks at the queues once more. One of the two always sees the other.

use crate::sync::atomic::{fence, AtomicUsize, Ordering::*};
use crate::sync::Mutex;

pub(crate) struct Idle {
    sleeping: AtomicUsize,
    sleepers: Mutex<Vec<usize>>,
}

impl Idle {
    pub(crate) fn new(workers: usize) -> Idle {
        Idle {
            sleeping: AtomicUsize::new(0),
            sleepers: Mutex::new(Vec::with_capacity(workers)),
        }
    }

    /// After publishing work: the worker to wake, if any is asleep.
    pub(crate) fn worker_to_wake(&self) -> Option<usize> {
        fence(SeqCst);
        if self.sleeping.load(SeqCst) == 0 {
            return None;
        }
        let mut sleepers = self.sleepers.lock();
        let index = sleepers.pop()?;
        self.sleeping.fetch_sub(1, SeqCst);
        Some(index)
    }

    /// Before parking: after this the caller must look for work once more.
    pub(crate) fn register(&self, index: usize) {
        let mut sleepers = self.sleepers.lock();
        sleepers.push(index);
        self.sleeping.fetch_add(1, SeqCst);
        drop(sleepers);
        fence(SeqCst);
    }

    /// After waking (or finding work before parking).
    pub(crate) fn unregister(&self, index: usize) {
        let mut sleepers = self.sleepers.lock();
        if let Some(pos) = sleepers.iter().position(|&i| i == index) {
            sleepers.swap_remove(pos);
            self.sleeping.fetch_sub(1, SeqCst);
        }
    }
}
