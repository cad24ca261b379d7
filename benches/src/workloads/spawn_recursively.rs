//! `spawn_recursively`: from smol's `async-executor` benches (`executor::spawn_recursively`).
//! `block_on` spawns 300 tasks; each spawns a child and awaits it, 300 levels deep: 90,300
//! tasks per run, every one of them awaited by its parent.

use std::future::Future;

use futures::FutureExt;

/// Chains per run.
pub const TASKS: usize = 300;
/// Depth of each chain.
pub const STEPS: usize = 300;

// An `async fn` could not name its own future as `Send` while recursing through it.
#[allow(clippy::manual_async_fn)]
fn nursery_go(i: usize) -> impl Future<Output = ()> + Send + 'static {
    async move {
        if i != 0 {
            nursery::spawn(async move { nursery_go(i - 1).boxed().await })
                .await
                .expect("a link cannot fail");
        }
    }
}

// An `async fn` could not name its own future as `Send` while recursing through it.
#[allow(clippy::manual_async_fn)]
fn tokio_go(i: usize) -> impl Future<Output = ()> + Send + 'static {
    async move {
        if i != 0 {
            tokio::spawn(async move { tokio_go(i - 1).boxed().await })
                .await
                .expect("a link cannot fail");
        }
    }
}

/// One run on nursery.
pub fn nursery(rt: &nursery::Runtime) {
    rt.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| nursery::spawn(nursery_go(STEPS)))
            .collect();
        for task in tasks {
            task.await.expect("a chain cannot fail");
        }
    });
}

/// One run on tokio.
pub fn tokio(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let tasks: Vec<_> = (0..TASKS).map(|_| tokio::spawn(tokio_go(STEPS))).collect();
        for task in tasks {
            task.await.expect("a chain cannot fail");
        }
    });
}
