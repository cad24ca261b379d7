//! `spawn_many_remote_idle`: 10,000 `spawn(async {})` through the runtime's handle from a plain
//! thread (the benchmark's), then a `block_on` that awaits every handle.

/// Tasks spawned per run.
pub const SPAWNS: usize = 10_000;

/// One run on nursery: the tasks are children of the root nursery.
pub fn nursery(rt: &nursery::Runtime) {
    let handle = rt.handle();
    let tasks: Vec<_> = (0..SPAWNS).map(|_| handle.spawn(async {})).collect();
    rt.block_on(async {
        for task in tasks {
            task.await.expect("an empty task cannot fail");
        }
    });
}

/// One run on tokio.
pub fn tokio(rt: &tokio::runtime::Runtime) {
    let handle = rt.handle();
    let tasks: Vec<_> = (0..SPAWNS).map(|_| handle.spawn(async {})).collect();
    rt.block_on(async {
        for task in tasks {
            task.await.expect("an empty task cannot fail");
        }
    });
}
