//! How an idle worker waits: the scheduler knows nothing of I/O or time, so the runtime supplies
//! a `Park` that blocks in the reactor or on a condition variable with the nearest timer
//! deadline as timeout.

/// Blocking and waking idle workers.
///
/// An implementation for a scheduler without I/O or timers: each worker waits on its own
/// condition variable. (The runtime's waits in its reactor instead, with the nearest timer
/// deadline as timeout, and fires timers in `poll_events`.)
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::{Arc, Condvar, Mutex};
/// use nursery_scheduler::{Park, Scheduler};
///
/// struct Parker {
///     workers: Vec<(Mutex<bool>, Condvar)>,
///     started: Arc<AtomicUsize>,
/// }
///
/// impl Park for Parker {
///     fn park(&self, index: usize) {
///         let (notified, wake) = &self.workers[index];
///         let mut notified = notified.lock().unwrap();
///         while !*notified {
///             notified = wake.wait(notified).unwrap();
///         }
///         *notified = false; // consumed: the next park blocks again
///     }
///
///     fn unpark(&self, index: usize) {
///         let (notified, wake) = &self.workers[index];
///         *notified.lock().unwrap() = true; // remembered if the worker is not parked yet
///         wake.notify_one();
///     }
///
///     fn poll_events(&self, _index: usize) {} // no events to process
///
///     fn on_worker_start(&self, _index: usize) {
///         self.started.fetch_add(1, Ordering::SeqCst);
///     }
/// }
///
/// let started = Arc::new(AtomicUsize::new(0));
/// let park = Parker {
///     workers: (0..2).map(|_| Default::default()).collect(),
///     started: started.clone(),
/// };
/// let (scheduler, runners) = Scheduler::new(2, park);
/// let threads: Vec<_> = runners
///     .into_iter()
///     .map(|runner| std::thread::spawn(move || runner.run()))
///     .collect();
/// scheduler.shutdown(); // unparks each worker, which then leaves its loop
/// for thread in threads {
///     thread.join().unwrap();
/// }
/// assert_eq!(started.load(Ordering::SeqCst), 2);
/// ```
pub trait Park: Send + Sync + 'static {
    /// Blocks worker `index` until [`unpark`](Park::unpark) is called for it or an event (I/O,
    /// timer) woke some task. An `unpark` that came before the call makes it return at once.
    ///
    /// (`Parker`, a `Park` on condition variables as in the trait's example, is hidden here.)
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
    /// use nursery_scheduler::Park;
    ///
    /// let parker = Parker::new(1);
    /// parker.unpark(0); // an unpark that comes first...
    /// parker.park(0); // ...makes the next park return at once
    /// ```
    fn park(&self, index: usize);

    /// Wakes worker `index` from [`park`](Park::park), or makes its next park return at once.
    ///
    /// (`Parker`, a `Park` on condition variables as in the trait's example, is hidden here.)
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
    /// use std::sync::Arc;
    /// use nursery_scheduler::Park;
    ///
    /// let parker = Arc::new(Parker::new(1));
    /// let worker = {
    ///     let parker = parker.clone();
    ///     std::thread::spawn(move || parker.park(0))
    /// };
    /// parker.unpark(0); // wakes it, whether it has parked already or not yet
    /// worker.join().unwrap();
    /// ```
    fn unpark(&self, index: usize);

    /// Processes ready events (expired timers, I/O readiness) without blocking; called now and
    /// then by a busy worker so that events are not starved by a long run queue.
    ///
    /// A `Park` with timers fires the expired ones here (its `park` and `unpark`, as in the
    /// trait's example, are hidden):
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::{Arc, Mutex};
    /// use std::task::{Wake, Waker};
    /// use std::time::Instant;
    /// use nursery_scheduler::Park;
    ///
    /// struct Parker {
    /// #     workers: Vec<(std::sync::Mutex<bool>, std::sync::Condvar)>,
    ///     timers: Mutex<Vec<(Instant, Waker)>>,
    /// }
    ///
    /// impl Park for Parker {
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
    ///     fn poll_events(&self, _index: usize) {
    ///         let now = Instant::now();
    ///         let mut due = Vec::new();
    ///         self.timers.lock().unwrap().retain(|(at, waker)| {
    ///             let expired = *at <= now;
    ///             if expired {
    ///                 due.push(waker.clone());
    ///             }
    ///             !expired
    ///         });
    ///         for waker in due {
    ///             waker.wake(); // not while holding the lock
    ///         }
    ///     }
    /// }
    ///
    /// struct Flag(AtomicBool);
    ///
    /// impl Wake for Flag {
    ///     fn wake(self: Arc<Self>) {
    ///         self.0.store(true, Ordering::SeqCst);
    ///     }
    /// }
    ///
    /// let fired = Arc::new(Flag(AtomicBool::new(false)));
    /// let parker = Parker {
    /// #   workers: (0..2).map(|_| Default::default()).collect(),
    ///     timers: Mutex::new(vec![(Instant::now(), Waker::from(fired.clone()))]),
    /// };
    /// parker.poll_events(0);
    /// assert!(fired.0.load(Ordering::SeqCst));
    /// ```
    fn poll_events(&self, index: usize);

    /// Called on the worker thread when its loop starts (before any task) and ends.
    ///
    /// (The rest of `Parker`, as in the trait's example, is hidden.)
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use nursery_scheduler::{Park, Scheduler};
    ///
    /// struct Parker {
    /// #     workers: Vec<(std::sync::Mutex<bool>, std::sync::Condvar)>,
    ///     threads: Arc<Mutex<Vec<String>>>,
    /// }
    ///
    /// impl Park for Parker {
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
    ///     fn on_worker_start(&self, index: usize) {
    ///         // Per-thread setup; here, note which thread runs worker `index`.
    ///         let name = std::thread::current().name().unwrap_or("?").to_owned();
    ///         self.threads.lock().unwrap().push(format!("{index} on {name}"));
    ///     }
    /// }
    ///
    /// let threads = Arc::new(Mutex::new(Vec::new()));
    /// let parker = Parker {
    /// #   workers: (0..2).map(|_| Default::default()).collect(),
    ///     threads: threads.clone(),
    /// };
    /// let (scheduler, runners) = Scheduler::new(2, parker);
    /// let handles: Vec<_> = runners
    ///     .into_iter()
    ///     .map(|runner| {
    ///         let name = format!("w-{}", runner.index());
    ///         std::thread::Builder::new().name(name).spawn(move || runner.run()).unwrap()
    ///     })
    ///     .collect();
    /// scheduler.shutdown();
    /// for handle in handles {
    ///     handle.join().unwrap();
    /// }
    /// let mut seen = threads.lock().unwrap().clone();
    /// seen.sort();
    /// assert_eq!(seen, ["0 on w-0", "1 on w-1"]);
    /// ```
    fn on_worker_start(&self, _index: usize) {}
    /// See [`on_worker_start`](Park::on_worker_start).
    ///
    /// (The rest of `Parker`, as in the trait's example, is hidden.)
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use nursery_scheduler::{Park, Scheduler};
    ///
    /// struct Parker {
    /// #     workers: Vec<(std::sync::Mutex<bool>, std::sync::Condvar)>,
    ///     stopped: Arc<AtomicUsize>,
    /// }
    ///
    /// impl Park for Parker {
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
    ///     fn on_worker_stop(&self, _index: usize) {
    ///         // Per-thread teardown (flush thread-local buffers, ...); here, count.
    ///         self.stopped.fetch_add(1, Ordering::SeqCst);
    ///     }
    /// }
    ///
    /// let stopped = Arc::new(AtomicUsize::new(0));
    /// let parker = Parker {
    /// #   workers: (0..2).map(|_| Default::default()).collect(),
    ///     stopped: stopped.clone(),
    /// };
    /// let (scheduler, runners) = Scheduler::new(2, parker);
    /// let threads: Vec<_> = runners
    ///     .into_iter()
    ///     .map(|runner| std::thread::spawn(move || runner.run()))
    ///     .collect();
    /// scheduler.shutdown();
    /// for thread in threads {
    ///     thread.join().unwrap();
    /// }
    /// assert_eq!(stopped.load(Ordering::SeqCst), 2); // each loop called it on its way out
    /// ```
    fn on_worker_stop(&self, _index: usize) {}
}
