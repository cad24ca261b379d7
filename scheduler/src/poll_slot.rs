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
///
/// (`Parker`, a [`Park`](crate::Park) on condition variables, the worker thread and the shutdown
/// are as in the [`Scheduler::new`](crate::Scheduler::new) example, hidden here.)
///
/// ```
/// # use std::sync::{Condvar, Mutex};
/// # struct Parker { workers: Vec<(Mutex<bool>, Condvar)> }
/// # impl Parker {
/// #     fn new(workers: usize) -> Parker {
/// #         Parker { workers: (0..workers).map(|_| Default::default()).collect() }
/// #     }
/// # }
/// # impl nursery_scheduler::Park for Parker {
/// #     fn park(&self, index: usize) {
/// #         let (notified, wake) = &self.workers[index];
/// #         let mut notified = notified.lock().unwrap();
/// #         while !*notified {
/// #             notified = wake.wait(notified).unwrap();
/// #         }
/// #         *notified = false;
/// #     }
/// #     fn unpark(&self, index: usize) {
/// #         let (notified, wake) = &self.workers[index];
/// #         *notified.lock().unwrap() = true;
/// #         wake.notify_one();
/// #     }
/// #     fn poll_events(&self, _index: usize) {}
/// # }
/// # let (scheduler, runners) = nursery_scheduler::Scheduler::new(1, Parker::new(1));
/// # let threads: Vec<_> = runners
/// #     .into_iter()
/// #     .map(|runner| std::thread::spawn(move || runner.run()))
/// #     .collect();
/// # let root = scheduler.new_root();
/// let idle = scheduler.poll_snapshot(0); // between polls
/// assert!(!idle.in_poll());
/// let inside = scheduler.clone();
/// let meta = nursery_scheduler::SpawnMeta::here();
/// let spawned_at = meta.location;
/// let task = scheduler
///     .spawn(root.node(), async move { inside.poll_snapshot(0) }, meta, "root")
///     .unwrap();
/// let id = task.id();
/// let busy = futures::executor::block_on(task).unwrap(); // read during the task's poll
/// assert!(busy.in_poll());
/// assert!(busy.seq > idle.seq);
/// assert_eq!(busy.task_id, id);
/// assert_eq!(busy.location, Some(spawned_at));
/// # root.close();
/// # futures::executor::block_on(std::future::poll_fn(|cx| root.poll_complete(cx)));
/// # scheduler.shutdown();
/// # for thread in threads {
/// #     thread.join().unwrap();
/// # }
/// # scheduler.drain();
/// ```
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
    ///
    /// (`Parker`, a [`Park`](crate::Park) on condition variables, the worker thread and the
    /// shutdown are as in the [`Scheduler::new`](crate::Scheduler::new) example, hidden here.)
    ///
    /// ```
    /// # use std::sync::{Condvar, Mutex};
    /// # struct Parker { workers: Vec<(Mutex<bool>, Condvar)> }
    /// # impl Parker {
    /// #     fn new(workers: usize) -> Parker {
    /// #         Parker { workers: (0..workers).map(|_| Default::default()).collect() }
    /// #     }
    /// # }
    /// # impl nursery_scheduler::Park for Parker {
    /// #     fn park(&self, index: usize) {
    /// #         let (notified, wake) = &self.workers[index];
    /// #         let mut notified = notified.lock().unwrap();
    /// #         while !*notified {
    /// #             notified = wake.wait(notified).unwrap();
    /// #         }
    /// #         *notified = false;
    /// #     }
    /// #     fn unpark(&self, index: usize) {
    /// #         let (notified, wake) = &self.workers[index];
    /// #         *notified.lock().unwrap() = true;
    /// #         wake.notify_one();
    /// #     }
    /// #     fn poll_events(&self, _index: usize) {}
    /// # }
    /// # let (scheduler, runners) = nursery_scheduler::Scheduler::new(1, Parker::new(1));
    /// # let threads: Vec<_> = runners
    /// #     .into_iter()
    /// #     .map(|runner| std::thread::spawn(move || runner.run()))
    /// #     .collect();
    /// # let root = scheduler.new_root();
    /// assert!(!scheduler.poll_snapshot(0).in_poll()); // the worker is idle
    /// use nursery_scheduler::SpawnMeta;
    ///
    /// let inside = scheduler.clone();
    /// let in_poll = async move { inside.poll_snapshot(0).in_poll() };
    /// let task = scheduler.spawn(root.node(), in_poll, SpawnMeta::here(), "root").unwrap();
    /// assert!(futures::executor::block_on(task).unwrap()); // read during the task's own poll
    /// # root.close();
    /// # futures::executor::block_on(std::future::poll_fn(|cx| root.poll_complete(cx)));
    /// # scheduler.shutdown();
    /// # for thread in threads {
    /// #     thread.join().unwrap();
    /// # }
    /// # scheduler.drain();
    /// ```
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
