//! How an idle worker waits: the scheduler knows nothing of I/O or time, so the runtime supplies
//! a `Park` that blocks in the reactor or on a condition variable with the nearest timer
//! deadline as timeout.

/// Blocking and waking idle workers.
///
/// `unpark` is a token: one that comes before `park` makes that `park` return at once, so a
/// wake racing a worker going to sleep is never lost. The simplest implementation (a scheduler
/// without I/O or timers) gives each worker a flag and a condition variable, as in the
/// [`Scheduler::new`](crate::Scheduler::new) example; the runtime's waits in its reactor
/// instead, with the nearest timer deadline as timeout, and fires timers in `poll_events`.
pub trait Park: Send + Sync + 'static {
    /// Blocks worker `index` until [`unpark`](Park::unpark) is called for it or an event (I/O,
    /// timer) woke some task. An `unpark` that came before the call makes it return at once.
    fn park(&self, index: usize);

    /// Wakes worker `index` from [`park`](Park::park), or makes its next park return at once.
    fn unpark(&self, index: usize);

    /// Processes ready events (expired timers, I/O readiness) without blocking; called now and
    /// then by a busy worker so that events are not starved by a long run queue. Wakers are
    /// woken outside any lock the implementation holds.
    fn poll_events(&self, index: usize);

    /// Waits at most `timeout` (tens of microseconds) without taking on the reactor's wait,
    /// returning early on [`unpark`](Park::unpark) (at once after one that came before), then
    /// processes ready events as [`poll_events`](Park::poll_events) does. A searcher dozes
    /// while a peer works through tasks queued behind it, to look again at that peer's progress
    /// (`worker/search.rs`). The default sleeps out `timeout`, then polls events.
    fn doze(&self, index: usize, timeout: std::time::Duration) {
        std::thread::sleep(timeout);
        self.poll_events(index);
    }

    /// Called on worker `index`'s own thread when its loop starts, before any task (per-thread
    /// setup).
    fn on_worker_start(&self, _index: usize) {}

    /// Called on worker `index`'s own thread when its loop ends, after `shutdown` (per-thread
    /// teardown: flushing thread-local buffers).
    fn on_worker_stop(&self, _index: usize) {}
}
