//! `timer_churn`: 4 tasks, each running 25,000 `timeout(10 s, yield_now())`. Every timeout
//! registers a timer at its first poll (the `yield_now` is pending once) and cancels it when
//! the `yield_now` completes: a register/cancel pair per iteration, never a fire.

use std::time::Duration;

/// Tasks per run.
pub const TASKS: usize = 4;
/// Timeouts per task.
pub const TIMEOUTS: usize = 25_000;
/// The timeout: long enough never to fire.
pub const LIMIT: Duration = Duration::from_secs(10);

/// One run on nursery.
pub fn nursery(rt: &nursery::Runtime) {
    rt.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                nursery::spawn(async {
                    for _ in 0..TIMEOUTS {
                        nursery::time::timeout(LIMIT, nursery::task::yield_now())
                            .await
                            .expect("10 s never elapse here");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("the task cannot fail");
        }
    });
}

/// One run on tokio.
pub fn tokio(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                tokio::spawn(async {
                    for _ in 0..TIMEOUTS {
                        tokio::time::timeout(LIMIT, tokio::task::yield_now())
                            .await
                            .expect("10 s never elapse here");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("the task cannot fail");
        }
    });
}
