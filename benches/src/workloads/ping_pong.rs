//! `ping_pong`: a task spawns 1,000 tasks; each spawns a partner and they exchange two
//! `futures` oneshots; the last pair to finish signals a std channel (tokio's
//! `rt_multi_threaded.rs` shape, with `futures::channel::oneshot` on both runtimes).

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{mpsc, Arc};

use futures::channel::oneshot;

/// Pairs per run.
pub const PINGS: usize = 1_000;

/// One run on nursery.
pub fn nursery(rt: &nursery::Runtime) {
    let (done_tx, done_rx) = mpsc::sync_channel(1000);
    let rem = Arc::new(AtomicUsize::new(PINGS));
    rt.block_on(async {
        nursery::spawn(async move {
            for _ in 0..PINGS {
                let rem = rem.clone();
                let done_tx = done_tx.clone();
                nursery::spawn(async move {
                    let (tx1, rx1) = oneshot::channel();
                    let (tx2, rx2) = oneshot::channel();
                    nursery::spawn(async move {
                        rx1.await.expect("ping");
                        tx2.send(()).expect("pong");
                    });
                    tx1.send(()).expect("ping");
                    rx2.await.expect("pong");
                    if rem.fetch_sub(1, Relaxed) == 1 {
                        done_tx.send(()).expect("the block_on body waits for this");
                    }
                });
            }
        });
        done_rx.recv().expect("the last pair signals");
    });
}

/// One run on tokio.
pub fn tokio(rt: &tokio::runtime::Runtime) {
    let (done_tx, done_rx) = mpsc::sync_channel(1000);
    let rem = Arc::new(AtomicUsize::new(PINGS));
    rt.block_on(async {
        tokio::spawn(async move {
            for _ in 0..PINGS {
                let rem = rem.clone();
                let done_tx = done_tx.clone();
                tokio::spawn(async move {
                    let (tx1, rx1) = oneshot::channel();
                    let (tx2, rx2) = oneshot::channel();
                    tokio::spawn(async move {
                        rx1.await.expect("ping");
                        tx2.send(()).expect("pong");
                    });
                    tx1.send(()).expect("ping");
                    rx2.await.expect("pong");
                    if rem.fetch_sub(1, Relaxed) == 1 {
                        done_tx.send(()).expect("the block_on body waits for this");
                    }
                });
            }
        });
        done_rx.recv().expect("the last pair signals");
    });
}
