//! `ring`: 300 tasks in a ring, linked by bounded `futures::channel::mpsc` channels of capacity
//! one (`channel(0)`: one slot per sender, and each has one sender). One of them sends a token
//! around the ring 300 times; the 299 others forward it. Only one message is ever in flight,
//! so the run measures the latency of a wake-up and a task switch, 90,000 times.

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};

/// Tasks in the ring.
pub const TASKS: usize = 300;
/// Times the token goes around.
pub const LAPS: usize = 300;

/// The ring's body, generic over how a forwarder is spawned; returns the forwarders' handles.
async fn run_ring<H>(spawn: impl Fn(mpsc::Receiver<usize>, mpsc::Sender<usize>) -> H) -> Vec<H> {
    let (mut head_tx, mut rx) = mpsc::channel::<usize>(0);
    let mut forwarders = Vec::with_capacity(TASKS - 1);
    for _ in 1..TASKS {
        let (tx, next_rx) = mpsc::channel(0);
        forwarders.push(spawn(rx, tx));
        rx = next_rx;
    }
    for _ in 0..LAPS {
        head_tx.send(0).await.expect("the ring is alive");
        let hops = rx.next().await.expect("the token comes back");
        assert_eq!(hops, TASKS - 1);
    }
    // Closing the head closes every link in turn: the forwarders end.
    drop(head_tx);
    forwarders
}

async fn forward(mut rx: mpsc::Receiver<usize>, mut tx: mpsc::Sender<usize>) {
    while let Some(hops) = rx.next().await {
        if tx.send(hops + 1).await.is_err() {
            break;
        }
    }
}

/// One run on nursery: the ring's head is a task, not the `block_on` thread.
pub fn nursery(rt: &nursery::Runtime) {
    rt.block_on(async {
        nursery::spawn(async {
            let forwarders = run_ring(|rx, tx| nursery::spawn(forward(rx, tx))).await;
            for forwarder in forwarders {
                forwarder.await.expect("a forwarder cannot fail");
            }
        })
        .await
        .expect("the ring cannot fail");
    });
}

/// One run on tokio.
pub fn tokio(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        tokio::spawn(async {
            let forwarders = run_ring(|rx, tx| tokio::spawn(forward(rx, tx))).await;
            for forwarder in forwarders {
                forwarder.await.expect("a forwarder cannot fail");
            }
        })
        .await
        .expect("the ring cannot fail");
    });
}
