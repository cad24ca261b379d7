//! How an idle worker waits: the scheduler knows nothing of I/O or time, so the runtime supplies
//! a `Park` that blocks in the reactor or on a condition variable with the nearest timer
//! deadline as timeout.

/// Blocking and waking idle workers.
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
