//! `sleep_many`: 10,000 tasks, each sleeping between 0.5 and 1.5 ms (spread evenly by a fixed
//! pattern, the same on both runtimes), awaited from `block_on`. Both runtimes have millisecond
//! timers, so the time is mostly the longest sleep rounded up plus the wake-up storm.

use std::time::Duration;

/// Tasks per run.
pub const TASKS: usize = 10_000;

/// The sleep of task `i`: 500 µs plus a pseudo-random 0–999 µs (multiplying by a prime
/// coprime with 1,000 visits every value).
pub fn duration(i: usize) -> Duration {
    let micros = 500 + (i * 7_919) % 1_000;
    Duration::from_micros(micros as u64)
}

/// One run on nursery.
pub fn nursery(rt: &nursery::Runtime) {
    rt.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|i| nursery::spawn(nursery::time::sleep(duration(i))))
            .collect();
        for task in tasks {
            task.await.expect("a sleep cannot fail");
        }
    });
}

/// One run on tokio.
pub fn tokio(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|i| tokio::spawn(tokio::time::sleep(duration(i))))
            .collect();
        for task in tasks {
            task.await.expect("a sleep cannot fail");
        }
    });
}
