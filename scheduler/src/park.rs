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
    fn park(&self, index: usize);

    /// Wakes worker `index` from [`park`](Park::park), or makes its next park return at once.
    fn unpark(&self, index: usize);

    /// Processes ready events (expired timers, I/O readiness) without blocking; called now and
    /// then by a busy worker so that events are not starved by a long run queue.
    fn poll_events(&self, index: usize);

    /// Called on the worker thread when its loop starts (before any task) and ends.
    fn on_worker_start(&self, _index: usize) {}
    /// See [`on_worker_start`](Park::on_worker_start).
    fn on_worker_stop(&self, _index: usize) {}
}
