//! Peak memory: 1,000,000 tasks each sleeping an hour, spawned from a plain thread.
//!
//! Meant to run in a fresh process per runtime (the `compare` binary re-runs itself), since
//! the peak (`VmHWM` in `/proc/self/status`) only ever grows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{tick_after_first_poll, Countdown};

/// Sleeping tasks per measurement.
pub const TASKS: usize = 1_000_000;
/// How long each sleeps: far longer than the measurement.
pub const SLEEP: Duration = Duration::from_secs(3_600);

/// What a measurement found.
#[derive(Clone, Copy, Debug)]
pub struct MemoryReport {
    /// Peak resident memory (KiB) once the runtime was built, before any task.
    pub baseline_kib: u64,
    /// Peak resident memory (KiB) once every task had been polled and was sleeping.
    pub peak_kib: u64,
    /// Resident memory (KiB) at that moment.
    pub rss_kib: u64,
    /// Time to spawn every task and have each polled once.
    pub spawn_time: Duration,
    /// Time to drop the runtime (cancelling every sleeping task).
    pub shutdown_time: Duration,
}

impl MemoryReport {
    /// Bytes of peak memory per task above the baseline.
    pub fn bytes_per_task(&self) -> f64 {
        (self.peak_kib.saturating_sub(self.baseline_kib) as f64 * 1024.0) / TASKS as f64
    }
}

/// A field of `/proc/self/status` in KiB (`VmHWM`, `VmRSS`).
///
/// # Panics
/// If the file or the field is missing (not Linux).
pub fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    status
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.trim().trim_end_matches("kB").trim().parse().ok()
        })
        .unwrap_or_else(|| panic!("/proc/self/status has no {field}"))
}

/// Measures nursery with `workers` workers.
pub fn nursery(workers: usize) -> MemoryReport {
    let rt = crate::runtimes::nursery(workers);
    let baseline_kib = status_kib("VmHWM");
    let start = Instant::now();
    let (started, all_started) = Countdown::new(TASKS);
    let started = Arc::new(started);
    for _ in 0..TASKS {
        let started = started.clone();
        // The handle is dropped: the task lives on, a child of the root nursery.
        rt.handle().spawn(async move {
            tick_after_first_poll(nursery::time::sleep(SLEEP), &started).await;
        });
    }
    drop(started);
    futures::executor::block_on(all_started).expect("every task starts");
    let spawn_time = start.elapsed();
    let peak_kib = status_kib("VmHWM");
    let rss_kib = status_kib("VmRSS");
    let start = Instant::now();
    drop(rt);
    MemoryReport {
        baseline_kib,
        peak_kib,
        rss_kib,
        spawn_time,
        shutdown_time: start.elapsed(),
    }
}

/// Measures tokio with `workers` workers.
pub fn tokio(workers: usize) -> MemoryReport {
    let rt = crate::runtimes::tokio(workers);
    let baseline_kib = status_kib("VmHWM");
    let start = Instant::now();
    let (started, all_started) = Countdown::new(TASKS);
    let started = Arc::new(started);
    for _ in 0..TASKS {
        let started = started.clone();
        rt.spawn(async move {
            tick_after_first_poll(tokio::time::sleep(SLEEP), &started).await;
        });
    }
    drop(started);
    futures::executor::block_on(all_started).expect("every task starts");
    let spawn_time = start.elapsed();
    let peak_kib = status_kib("VmHWM");
    let rss_kib = status_kib("VmRSS");
    let start = Instant::now();
    drop(rt);
    MemoryReport {
        baseline_kib,
        peak_kib,
        rss_kib,
        spawn_time,
        shutdown_time: start.elapsed(),
    }
}
