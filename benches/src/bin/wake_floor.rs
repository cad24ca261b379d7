//! `wake_floor`: the operating system's own wake-up latency in the pattern of `wake_latency`'s
//! `busy` scenarios, with no async runtime: a thread notifies another, parked on a condition
//! variable, then spins 5 ms; the time until the parked thread runs is measured, 400 rounds
//! (each after 300 µs of spinning and a 200 µs sleep, so that the other core has gone idle).
//! On a VM an idle vCPU can take milliseconds to run again; a runtime cannot wake a peer faster
//! than this, so read `wake_latency`'s tails against it.
//!
//! ```text
//! cargo run --release -p nursery-bench --bin wake_floor
//! ```

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const ROUNDS: usize = 400;

fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

fn main() {
    let slot = Arc::new((Mutex::new(None::<Instant>), Condvar::new()));
    let (tx, rx) = std::sync::mpsc::channel::<Duration>();
    let sleeper = slot.clone();
    std::thread::spawn(move || loop {
        let (lock, condvar) = &*sleeper;
        let mut sent = lock.lock().expect("the waker does not panic");
        while sent.is_none() {
            sent = condvar.wait(sent).expect("the waker does not panic");
        }
        let at = sent.take().expect("checked above");
        if tx.send(at.elapsed()).is_err() {
            return;
        }
    });
    let mut latencies = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        spin(Duration::from_micros(300));
        std::thread::sleep(Duration::from_micros(200));
        let (lock, condvar) = &*slot;
        *lock.lock().expect("the sleeper does not panic") = Some(Instant::now());
        condvar.notify_one();
        spin(Duration::from_millis(5));
        latencies.push(rx.recv().expect("the sleeper answers"));
    }
    latencies.sort();
    let slow = latencies
        .iter()
        .filter(|d| **d > Duration::from_micros(500))
        .count();
    println!(
        "condvar wake while the waker spins, {ROUNDS} rounds: p50 {:?}, p99 {:?}, max {:?}, \
         over 500 µs: {slow}",
        latencies[ROUNDS / 2],
        latencies[ROUNDS * 99 / 100],
        latencies[ROUNDS - 1]
    );
}
