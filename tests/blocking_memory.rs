//! The blocking pool's memory follows its live threads: a pool that grows and retires threads
//! over and over does not keep the stacks of the retired ones. Alone in its binary, so that no
//! other test's threads move the process's address space.

#![cfg(target_os = "linux")]

use std::sync::{Arc, Barrier};
use std::time::Duration;

use nursery::task::spawn_blocking;

mod support;

/// The process's virtual memory size, in KiB.
fn vm_size_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmSize:"))
        .expect("/proc/self/status has VmSize");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn bursts_of_blocking_jobs_hold_memory_for_live_threads_only() {
    const BURST: usize = 16;
    let rt = nursery::Runtime::builder()
        .worker_threads(1)
        .max_blocking_threads(BURST)
        .thread_keep_alive(Duration::from_millis(5))
        .build()
        .unwrap();
    let burst = || {
        let barrier = Arc::new(Barrier::new(BURST));
        rt.block_on(async {
            let jobs: Vec<_> = (0..BURST)
                .map(|_| {
                    let barrier = barrier.clone();
                    spawn_blocking(move || {
                        barrier.wait(); // the pool grows to BURST threads
                    })
                })
                .collect();
            for job in jobs {
                job.await.unwrap();
            }
        });
        support::eventually(Duration::from_secs(10), || {
            match rt.handle().blocking_threads() {
                0 => Ok(()),
                n => Err(format!("{n} idle threads never retired")),
            }
        });
    };
    // The first burst sets up what the later ones reuse (allocator arenas, cached stacks).
    burst();
    let before = vm_size_kib();
    for _ in 0..20 {
        burst();
    }
    let growth_mib = vm_size_kib().saturating_sub(before) / 1024;
    // Keeping every retired thread's stack (2 MiB each) would grow by 20 * 16 * 2 = 640 MiB.
    assert!(
        growth_mib < 128,
        "virtual memory grew by {growth_mib} MiB over 320 retired threads"
    );
}
