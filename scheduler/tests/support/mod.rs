//! A scheduler on plain threads for the integration tests: a `Park` on condition variables (no
//! I/O, no timers) and a harness that starts the workers and tears down like the runtime does.
#![allow(dead_code)]

use std::future::{poll_fn, Future};
use std::sync::{Condvar, Mutex};
use std::thread::JoinHandle as ThreadHandle;

use futures::executor::block_on;
use nursery_scheduler::{Group, JoinHandle, Park, Scheduler, SpawnMeta, WorkerRunner};

/// Idle workers wait on a condition variable. An `unpark` before `park` makes that `park` return
/// at once (the token the runtime's driver keeps too).
pub struct Parker {
    workers: Vec<(Mutex<bool>, Condvar)>,
}

impl Parker {
    pub fn new(workers: usize) -> Parker {
        Parker {
            workers: (0..workers).map(|_| Default::default()).collect(),
        }
    }
}

impl Park for Parker {
    fn park(&self, index: usize) {
        let (notified, wake) = &self.workers[index];
        let mut notified = notified.lock().unwrap();
        while !*notified {
            notified = wake.wait(notified).unwrap();
        }
        *notified = false;
    }

    fn unpark(&self, index: usize) {
        let (notified, wake) = &self.workers[index];
        *notified.lock().unwrap() = true;
        wake.notify_one();
    }

    fn poll_events(&self, _index: usize) {}
}

/// Runs each worker on its own thread.
pub fn start(runners: Vec<WorkerRunner>) -> Vec<ThreadHandle<()>> {
    runners
        .into_iter()
        .map(|runner| std::thread::spawn(move || runner.run()))
        .collect()
}

/// A scheduler with `workers` workers on threads and a root group.
pub struct Rt {
    pub scheduler: Scheduler,
    pub root: Group,
    threads: Vec<ThreadHandle<()>>,
}

impl Rt {
    pub fn new(workers: usize) -> Rt {
        let (scheduler, runners) = Scheduler::new(workers, Parker::new(workers));
        let threads = start(runners);
        let root = scheduler.new_root();
        Rt {
            scheduler,
            root,
            threads,
        }
    }

    /// Spawns `future` under the root.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.scheduler
            .spawn(self.root.node(), future, SpawnMeta::here(), "root")
            .expect("the root is open")
    }

    /// Shuts down as the runtime does: close the root, wait until every task is gone, stop and
    /// join the workers, empty the queues.
    pub fn finish(self) {
        self.root.close();
        block_on(poll_fn(|cx| self.root.poll_complete(cx)));
        self.scheduler.shutdown();
        for thread in self.threads {
            thread.join().expect("a worker panicked");
        }
        self.scheduler.drain();
    }
}

/// Waits until `group` is complete.
pub fn wait_complete(group: &Group) {
    block_on(poll_fn(|cx| group.poll_complete(cx)));
}
