//! `chained_spawn`: a chain of 1,000 tasks, each spawning the next; the last signals a std
//! channel (tokio's `rt_multi_threaded.rs` shape). On nursery each task is the parent of the
//! next, so the chain is also 1,000 deep in the task tree.

use std::sync::mpsc;

/// Length of the chain.
pub const CHAIN: usize = 1_000;

fn nursery_link(done_tx: mpsc::SyncSender<()>, n: usize) {
    if n == 0 {
        done_tx.send(()).expect("the block_on body waits for this");
    } else {
        nursery::spawn(async move { nursery_link(done_tx, n - 1) });
    }
}

fn tokio_link(done_tx: mpsc::SyncSender<()>, n: usize) {
    if n == 0 {
        done_tx.send(()).expect("the block_on body waits for this");
    } else {
        tokio::spawn(async move { tokio_link(done_tx, n - 1) });
    }
}

/// One run on nursery.
pub fn nursery(rt: &nursery::Runtime) {
    let (done_tx, done_rx) = mpsc::sync_channel(1000);
    rt.block_on(async {
        nursery::spawn(async move { nursery_link(done_tx, CHAIN) });
        done_rx.recv().expect("the end of the chain signals");
    });
}

/// One run on tokio.
pub fn tokio(rt: &tokio::runtime::Runtime) {
    let (done_tx, done_rx) = mpsc::sync_channel(1000);
    rt.block_on(async {
        tokio::spawn(async move { tokio_link(done_tx, CHAIN) });
        done_rx.recv().expect("the end of the chain signals");
    });
}
