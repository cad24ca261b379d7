//! Embedding nursery in a plain synchronous program: no `#[nursery::main]`, a runtime built by
//! hand, used from the program's own threads, and shut down with a time limit.
//!
//! What it shows, in order:
//!
//! 1. `Runtime::builder()` with thread names and `on_thread_start` / `on_thread_stop` hooks
//!    (they print, so you can see the workers come and go);
//! 2. a background service started with `Handle::spawn`: a child of the runtime's **root**,
//!    the one place a task with no other parent can live;
//! 3. `Runtime::block_on` from `main` around a scope of children;
//! 4. three of the program's own threads, each with a cloned `Handle`, spawning tasks and
//!    waiting for them with `Handle::block_on`;
//! 5. the live task tree, printed once;
//! 6. `Runtime::shutdown_timeout`: every task, the background service included, is cancelled,
//!    and the workers are joined, or the call gives up after the timeout.
//!
//! ```text
//! cargo run --example embed
//! ```
//!
//! It finishes by itself in a few tens of milliseconds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

fn thread_name() -> String {
    thread::current().name().unwrap_or("unnamed").to_owned()
}

fn main() {
    let started = Instant::now();

    // 1. A runtime built by hand.
    let rt = nursery::Runtime::builder()
        .worker_threads(2)
        .thread_name("embed-worker")
        .on_thread_start(|| println!("[hook] {} started", thread_name()))
        .on_thread_stop(|| println!("[hook] {} stopping", thread_name()))
        .build()
        .expect("the runtime starts");

    // 2. A background service: it has no parent task, so it lives under the root until the
    //    runtime shuts down (nothing is ever detached: shutdown cancels it and waits for it).
    let ticks = Arc::new(AtomicU64::new(0));
    let counted = ticks.clone();
    rt.handle().spawn(async move {
        let mut interval = nursery::time::interval(Duration::from_millis(2));
        loop {
            interval.tick().await;
            counted.fetch_add(1, Ordering::Relaxed);
        }
    });

    // 3. Runtime::block_on from main: returns once the scope and all of its children are done.
    let squares = rt.block_on(nursery::scope(|s| async move {
        let children: Vec<_> = (1..=4u64).map(|i| s.spawn(async move { i * i })).collect();
        let mut sum = 0;
        for child in children {
            sum += child.await.expect("a square");
        }
        sum
    }));
    println!("[main] Runtime::block_on: 1² + 2² + 3² + 4² = {squares}");

    // 4. The program's own threads, each with a cloned Handle. The barrier holds them
    //    between spawning and waiting, so that main can print the tree with their jobs in it.
    let barrier = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..3u64)
        .map(|i| {
            let handle = rt.handle().clone();
            let barrier = barrier.clone();
            thread::Builder::new()
                .name(format!("app-thread-{i}"))
                .spawn(move || {
                    // Handle::spawn from a plain thread: a child of the root.
                    let job = handle.spawn(async move {
                        nursery::time::sleep(Duration::from_millis(5)).await;
                        (i + 1) * 100
                    });
                    barrier.wait(); // spawned
                    barrier.wait(); // main has printed the tree
                                    // Handle::block_on: run a future on this thread, with the workers.
                    let result = handle.block_on(job).expect("the job finishes");
                    println!("[{}] Handle::block_on -> {result}", thread_name());
                    result
                })
                .expect("a thread starts")
        })
        .collect();
    barrier.wait();

    // 5. The live task tree, once: the background service and three jobs under the root.
    print!("[main] the task tree:\n{}", rt.handle().task_tree());
    barrier.wait();
    let total: u64 = threads
        .into_iter()
        .map(|t| t.join().expect("the thread ran"))
        .sum();
    println!("[main] the threads' jobs returned {total} in all");

    // 6. Shut down within a time limit: the background service is cancelled at its next
    //    poll point, the workers run their stop hooks and are joined.
    let shutdown = Instant::now();
    let clean = rt.shutdown_timeout(Duration::from_millis(500));
    println!(
        "[main] shutdown_timeout: clean = {clean} in {:.1?}; the service ticked {} times; \
         total {:.1?}",
        shutdown.elapsed(),
        ticks.load(Ordering::Relaxed),
        started.elapsed()
    );
    assert!(clean, "every task could be cancelled");
}
