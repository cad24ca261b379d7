//! `spawn_many_local`: inside `block_on`, 10,000 spawns of a countdown task; the last one to run
//! signals a std channel that the `block_on` body waits on. The shape of tokio's own
//! `benches/rt_multi_threaded.rs`.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{mpsc, Arc};

/// Tasks spawned per run.
pub const SPAWNS: usize = 10_000;

/// One run on nursery. Its `block_on` also waits for every child to be gone (rule R2), a few
/// microseconds after the signal.
pub fn nursery(rt: &nursery::Runtime) {
    let (tx, rx) = mpsc::sync_channel(1000);
    let rem = Arc::new(AtomicUsize::new(SPAWNS));
    rt.block_on(async {
        for _ in 0..SPAWNS {
            let tx = tx.clone();
            let rem = rem.clone();
            nursery::spawn(async move {
                if rem.fetch_sub(1, Relaxed) == 1 {
                    tx.send(()).expect("the block_on body waits for this");
                }
            });
        }
        rx.recv().expect("the last task signals");
    });
}

/// One run on tokio.
pub fn tokio(rt: &tokio::runtime::Runtime) {
    let (tx, rx) = mpsc::sync_channel(1000);
    let rem = Arc::new(AtomicUsize::new(SPAWNS));
    rt.block_on(async {
        for _ in 0..SPAWNS {
            let tx = tx.clone();
            let rem = rem.clone();
            tokio::spawn(async move {
                if rem.fetch_sub(1, Relaxed) == 1 {
                    tx.send(()).expect("the block_on body waits for this");
                }
            });
        }
        rx.recv().expect("the last task signals");
    });
}
