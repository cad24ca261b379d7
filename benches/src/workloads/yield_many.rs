//! `yield_many`: 200 tasks spawned from a plain thread, each yielding 1,000 times, then
//! signalling a std channel (tokio's `rt_multi_threaded.rs` shape).

use std::sync::mpsc;

/// Tasks per run.
pub const TASKS: usize = 200;
/// `yield_now` calls per task.
pub const YIELDS: usize = 1_000;

/// One run on nursery.
pub fn nursery(rt: &nursery::Runtime) {
    let (tx, rx) = mpsc::sync_channel(TASKS);
    for _ in 0..TASKS {
        let tx = tx.clone();
        rt.handle().spawn(async move {
            for _ in 0..YIELDS {
                nursery::task::yield_now().await;
            }
            tx.send(()).expect("the benchmark thread waits for this");
        });
    }
    for _ in 0..TASKS {
        rx.recv().expect("every task signals");
    }
}

/// One run on tokio.
pub fn tokio(rt: &tokio::runtime::Runtime) {
    let (tx, rx) = mpsc::sync_channel(TASKS);
    for _ in 0..TASKS {
        let tx = tx.clone();
        rt.spawn(async move {
            for _ in 0..YIELDS {
                tokio::task::yield_now().await;
            }
            tx.send(()).expect("the benchmark thread waits for this");
        });
    }
    for _ in 0..TASKS {
        rx.recv().expect("every task signals");
    }
}
