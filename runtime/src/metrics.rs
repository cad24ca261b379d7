//! `Handle::metrics`: a snapshot of the runtime's counters, for logs and dashboards.
//!
//! The per-worker counts come from the scheduler (`nursery_scheduler::WorkerMetrics`), each
//! written by its own worker with plain relaxed stores; the per-runtime numbers are read from
//! the blocking pool, the timer wheels, the reactor and the task tree when asked.

use std::fmt;

use nursery_scheduler::WorkerMetrics;

use crate::Handle;

/// A snapshot of a runtime's metrics, from [`Handle::metrics`].
///
/// Counts are totals since the runtime started; gauges (`live_tasks`, `blocking_threads`, ...)
/// are values at the time of reading. Each number is read on its own, so they may come from
/// slightly different moments. `Display` prints one line for the runtime, then one per worker.
///
/// ```
/// let rt = nursery_runtime::Runtime::builder().worker_threads(2).build().unwrap();
/// rt.block_on(async {
///     nursery_runtime::spawn(async {}).await.unwrap();
/// });
/// let metrics = rt.handle().metrics();
/// assert_eq!(metrics.workers.len(), 2);
/// assert!(metrics.workers.iter().map(|w| w.polls).sum::<u64>() >= 1);
/// println!("{metrics}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// One reading per worker thread, in index order (its length is the worker count).
    pub workers: Vec<WorkerMetrics>,
    /// Tasks alive in the tree (spawned and not yet completed), counted by walking the whole
    /// task tree as [`Handle::task_tree`] does: the one number here that costs time in
    /// proportion to the tasks.
    pub live_tasks: usize,
    /// Threads in the blocking pool, busy or idle.
    pub blocking_threads: usize,
    /// Of those, the idle ones, waiting for a job until they retire.
    pub idle_blocking_threads: usize,
    /// Timers registered and neither fired nor cancelled.
    pub timers: usize,
    /// I/O sources (sockets, pipes, `AsyncFd`s) registered with the reactor.
    pub io_registrations: usize,
}

impl RuntimeMetrics {
    /// The number of worker threads.
    pub fn worker_count(&self) -> usize {
        self.workers.len()
    }
}

impl fmt::Display for RuntimeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "runtime: workers {}, live tasks {}, blocking threads {} ({} idle), timers {}, \
             io registrations {}",
            self.worker_count(),
            self.live_tasks,
            self.blocking_threads,
            self.idle_blocking_threads,
            self.timers,
            self.io_registrations
        )?;
        for worker in &self.workers {
            write!(f, "\n  {worker}")?;
        }
        Ok(())
    }
}

impl Handle {
    /// A snapshot of the runtime's metrics: per worker, polls, steals, parks, queue depth and
    /// the rest; per runtime, live tasks, blocking threads, timers and I/O registrations.
    ///
    /// Reading does not disturb the workers (relaxed loads of counters each worker writes
    /// alone), except `live_tasks`, which walks the task tree (see [`RuntimeMetrics`]).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     let handle = nursery_runtime::Handle::current();
    ///     let mut sleep = nursery_runtime::time::sleep(Duration::from_secs(3600));
    ///     assert!(futures::poll!(&mut sleep).is_pending()); // registers its timer
    ///     assert_eq!(handle.metrics().timers, 1);
    /// });
    /// println!("{}", rt.handle().metrics());
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        let scheduler = &self.inner.scheduler;
        let (blocking_threads, idle_blocking_threads) = self.inner.blocking.thread_counts();
        RuntimeMetrics {
            workers: (0..scheduler.workers())
                .map(|i| scheduler.worker_metrics(i))
                .collect(),
            live_tasks: self.task_tree().task_count(),
            blocking_threads,
            idle_blocking_threads,
            timers: self.inner.driver.timers.len(),
            io_registrations: self.inner.driver.io_handle.registrations(),
        }
    }
}
