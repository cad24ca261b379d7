//! `cancel_group`: 10,000 children that never finish on their own, in one group; once every
//! child has been polled (and is parked), the group is cancelled and the run waits until all
//! are gone. nursery: one `scope` and `Scope::cancel`; tokio: one `JoinSet`, `abort_all`, then
//! drain it with `join_next`.

use std::sync::Arc;

use crate::support::Countdown;

/// Children per run.
pub const CHILDREN: usize = 10_000;

/// One run on nursery: the scope future returns only after every child has been dropped.
pub fn nursery(rt: &nursery::Runtime) {
    rt.block_on(async {
        let (started, all_started) = Countdown::new(CHILDREN);
        let started = Arc::new(started);
        nursery::scope(|s| async move {
            for _ in 0..CHILDREN {
                let started = started.clone();
                s.spawn(async move {
                    started.tick();
                    std::future::pending::<()>().await;
                });
            }
            all_started.await.expect("every child starts");
            s.cancel();
        })
        .await;
    });
}

/// One run on tokio: `join_next` reports a task only after its future has been dropped.
pub fn tokio(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let (started, all_started) = Countdown::new(CHILDREN);
        let started = Arc::new(started);
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..CHILDREN {
            let started = started.clone();
            set.spawn(async move {
                started.tick();
                std::future::pending::<()>().await;
            });
        }
        all_started.await.expect("every child starts");
        set.abort_all();
        while let Some(joined) = set.join_next().await {
            let error = joined.expect_err("a pending child can only be aborted");
            assert!(error.is_cancelled());
        }
    });
}
