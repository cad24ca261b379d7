//! How late nursery's timers fire on an idle runtime: 200 sleeps of 1–20 ms, one at a time,
//! each measured from its deadline to the moment the sleeping task runs again. A timer never
//! fires early; the target is to be within 2 ms of the deadline under no load.
//!
//! `cargo run --release --example timer_latency`

use std::time::{Duration, Instant};

#[nursery::main(worker_threads = 2)]
async fn main() {
    let mut lateness = Vec::new();
    for i in 0..200u64 {
        let wait = Duration::from_micros(1_000 + (i * 7_919) % 19_000);
        // From a task on a worker (the common case) and from the block_on thread, alternately.
        let measured = if i % 2 == 0 {
            nursery::spawn(async move {
                let deadline = Instant::now() + wait;
                nursery::time::sleep_until(deadline).await;
                Instant::now().duration_since(deadline)
            })
            .await
            .unwrap()
        } else {
            let deadline = Instant::now() + wait;
            nursery::time::sleep_until(deadline).await;
            Instant::now().duration_since(deadline)
        };
        lateness.push(measured);
    }
    lateness.sort();
    let pct = |p: usize| lateness[(lateness.len() - 1) * p / 100];
    println!(
        "timer lateness over {} sleeps: median {:.2?}, p90 {:.2?}, p99 {:.2?}, max {:.2?}",
        lateness.len(),
        pct(50),
        pct(90),
        pct(99),
        lateness[lateness.len() - 1]
    );
}
