//! Idle CPU: how much CPU time a runtime's threads burn while it has nothing to do.
//!
//! Meant to run in a process that holds only the runtime under test (the `compare` binary
//! starts a fresh child process per runtime): `getrusage(RUSAGE_SELF)` counts every thread.

use std::time::{Duration, Instant};

/// What an idle window cost the process.
#[derive(Clone, Copy, Debug)]
pub struct IdleReport {
    /// The length of the window.
    pub wall: Duration,
    /// User plus system CPU time used by the whole process during the window.
    pub cpu: Duration,
    /// Context switches (voluntary and involuntary) during the window: each is a thread
    /// waking up or being scheduled out; an idle runtime should have almost none.
    pub context_switches: i64,
}

/// CPU time (user + system) and context switches of the whole process so far.
///
/// # Panics
/// If `getrusage` fails, which it cannot with these arguments.
pub fn process_usage() -> (Duration, i64) {
    // SAFETY: `rusage` is plain old data; an all-zero value is valid and getrusage overwrites it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage`; RUSAGE_SELF is a valid `who`.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(rc, 0, "getrusage(RUSAGE_SELF) failed");
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    let cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
    let switches = usage.ru_nvcsw + usage.ru_nivcsw;
    (cpu, switches)
}

/// Lets the process sit idle for `window` and reports what it cost. Call it once the runtime
/// has run something and settled.
pub fn measure(window: Duration) -> IdleReport {
    let (cpu_before, switches_before) = process_usage();
    let start = Instant::now();
    std::thread::sleep(window);
    let wall = start.elapsed();
    let (cpu_after, switches_after) = process_usage();
    IdleReport {
        wall,
        cpu: cpu_after.saturating_sub(cpu_before),
        context_switches: switches_after - switches_before,
    }
}

/// Builds a nursery runtime with `workers` workers, runs a little work on it, lets it settle,
/// then measures an idle `window`.
pub fn nursery(workers: usize, window: Duration) -> IdleReport {
    let rt = crate::runtimes::nursery(workers);
    rt.block_on(async {
        let tasks: Vec<_> = (0..100)
            .map(|_| nursery::spawn(nursery::time::sleep(Duration::from_millis(1))))
            .collect();
        for task in tasks {
            task.await.expect("a sleep cannot fail");
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    let report = measure(window);
    drop(rt);
    report
}

/// The same for tokio.
pub fn tokio(workers: usize, window: Duration) -> IdleReport {
    let rt = crate::runtimes::tokio(workers);
    rt.block_on(async {
        let tasks: Vec<_> = (0..100)
            .map(|_| tokio::spawn(tokio::time::sleep(Duration::from_millis(1))))
            .collect();
        for task in tasks {
            task.await.expect("a sleep cannot fail");
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    let report = measure(window);
    drop(rt);
    report
}
