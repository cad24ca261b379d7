//! `group_fanout`: 100 tasks, each opening a group of 100 short children and waiting for the
//! group; `block_on` waits for the 100 tasks. nursery: a `scope` per group; tokio: a `JoinSet`
//! per group, drained with `join_next`. A child does a trivial computation.

use std::hint::black_box;

/// Groups per run (they run concurrently).
pub const GROUPS: usize = 100;
/// Children per group.
pub const CHILDREN: usize = 100;

/// One run on nursery.
pub fn nursery(rt: &nursery::Runtime) {
    rt.block_on(async {
        let groups: Vec<_> = (0..GROUPS)
            .map(|_| {
                nursery::spawn(async {
                    nursery::scope(|s| async move {
                        for i in 0..CHILDREN {
                            s.spawn(async move {
                                black_box(i);
                            });
                        }
                    })
                    .await;
                })
            })
            .collect();
        for group in groups {
            group.await.expect("a group cannot fail");
        }
    });
}

/// One run on tokio.
pub fn tokio(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let groups: Vec<_> = (0..GROUPS)
            .map(|_| {
                tokio::spawn(async {
                    let mut set = tokio::task::JoinSet::new();
                    for i in 0..CHILDREN {
                        set.spawn(async move {
                            black_box(i);
                        });
                    }
                    while let Some(joined) = set.join_next().await {
                        joined.expect("a child cannot fail");
                    }
                })
            })
            .collect();
        for group in groups {
            group.await.expect("a group cannot fail");
        }
    });
}
