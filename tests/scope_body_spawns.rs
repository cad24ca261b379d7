//! R1: while a scope's body is polled, the scope is the current nursery. Work the body starts
//! with `nursery::spawn` — directly, through a helper, from the closure that makes the body, or
//! from a nested scope — belongs to the scope: the scope waits for it, and its deadline, cancel,
//! shutdown and a sibling's failure reach it.

mod support;

use std::panic::AssertUnwindSafe;

use futures::FutureExt as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use support::{panic_message, pending_forever, runtime, DropCounter};

/// Runs `f` on a fresh runtime on another thread; fails (instead of hanging) if it takes more
/// than 10 s.
fn within_10s<T: Send + 'static>(f: impl FnOnce(&nursery::Runtime) -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = runtime(2);
        let _ = tx.send(f(&rt));
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the program hung: a task the scope should own kept running")
}

/// A helper that starts work the way library code does: with the free function.
fn start_background(done: Arc<AtomicBool>) {
    nursery::spawn(async move {
        nursery::time::sleep(Duration::from_millis(30)).await;
        done.store(true, SeqCst);
    });
}

#[test]
fn a_scope_waits_for_work_its_body_spawned_with_the_free_function() {
    within_10s(|rt| {
        rt.block_on(async {
            let done = Arc::new(AtomicBool::new(false));
            let flag = done.clone();
            nursery::scope(|_s| async move {
                nursery::spawn(async move {
                    nursery::time::sleep(Duration::from_millis(30)).await;
                    flag.store(true, SeqCst);
                });
            })
            .await;
            assert!(done.load(SeqCst), "scope returned while its work still ran");
        })
    });
}

#[test]
fn a_scope_waits_for_work_a_helper_called_by_its_body_spawned() {
    within_10s(|rt| {
        rt.block_on(async {
            let done = Arc::new(AtomicBool::new(false));
            let flag = done.clone();
            nursery::scope(|_s| async move { start_background(flag) }).await;
            assert!(
                done.load(SeqCst),
                "scope returned while the helper's work still ran"
            );
        })
    });
}

#[test]
fn a_spawn_in_the_closure_that_makes_the_body_belongs_to_the_scope() {
    within_10s(|rt| {
        rt.block_on(async {
            let done = Arc::new(AtomicBool::new(false));
            let flag = done.clone();
            nursery::scope(|_s| {
                start_background(flag);
                async {}
            })
            .await;
            assert!(
                done.load(SeqCst),
                "scope returned while the closure's work still ran"
            );
        })
    });
}

#[test]
fn move_on_after_cancels_work_its_body_spawned_and_block_on_returns() {
    let drops = DropCounter::new();
    let d = drops.clone();
    let outcome = within_10s(move |rt| {
        rt.block_on(nursery::move_on_after(
            Duration::from_millis(20),
            |_s| async move {
                nursery::spawn(pending_forever(d.token()));
                std::future::pending::<()>().await
            },
        ))
    });
    assert!(outcome.is_none(), "the deadline passed");
    assert_eq!(
        drops.count(),
        1,
        "the spawned task was cancelled and dropped"
    );
}

#[test]
fn fail_after_cancels_work_spawned_through_a_helper() {
    let outcome = within_10s(|rt| {
        rt.block_on(async {
            nursery::fail_after(Duration::from_millis(20), |_s| async {
                nursery::spawn(std::future::pending::<()>());
                std::future::pending::<()>().await
            })
            .await
        })
    });
    assert!(outcome.is_err(), "the deadline passed");
}

#[test]
fn cancelling_a_scope_reaches_what_its_body_spawned() {
    within_10s(|rt| {
        rt.block_on(async {
            let drops = DropCounter::new();
            let d = drops.clone();
            nursery::scope(|s| async move {
                let task = nursery::spawn(pending_forever(d.token()));
                nursery::task::yield_now().await;
                s.cancel();
                assert!(task.await.unwrap_err().is_cancelled());
            })
            .await;
            assert_eq!(drops.count(), 1);
        })
    });
}

#[test]
fn a_scope_shutdown_reaches_what_its_body_spawned() {
    within_10s(|rt| {
        rt.block_on(async {
            let observed = Arc::new(AtomicBool::new(false));
            let seen = observed.clone();
            nursery::scope(|s| async move {
                let scope = s.clone();
                let (waiting_tx, waiting_rx) = futures::channel::oneshot::channel();
                nursery::spawn(async move {
                    let _ = waiting_tx.send(());
                    scope.shutdown_requested().await;
                    seen.store(true, SeqCst);
                    std::future::pending::<()>().await
                });
                waiting_rx.await.unwrap();
                s.shutdown(Duration::from_millis(10));
            })
            .await;
            assert!(observed.load(SeqCst));
        })
    });
}

#[test]
fn a_panic_in_work_the_body_spawned_cancels_the_body_and_is_raised_at_the_scope() {
    let message = within_10s(|rt| {
        rt.block_on(async {
            let drops = DropCounter::new();
            let d = drops.clone();
            let caught = AssertUnwindSafe(nursery::scope(|_s| async move {
                let _body = d.token();
                nursery::spawn(async { panic!("helper work failed") });
                std::future::pending::<()>().await
            }))
            .catch_unwind()
            .await;
            // The body was cancelled (its token dropped) and the panic was re-raised at the
            // scope's await, where this task catches it and carries on.
            assert_eq!(drops.count(), 1);
            panic_message(&*caught.unwrap_err())
        })
    });
    assert!(message.contains("helper work failed"), "{message}");
}

#[test]
fn try_scope_and_supervised_own_what_their_bodies_spawn() {
    within_10s(|rt| {
        rt.block_on(async {
            let finished = Arc::new(AtomicUsize::new(0));
            let f = finished.clone();
            let r: Result<(), ()> = nursery::try_scope(|_s| async move {
                nursery::spawn(async move {
                    nursery::time::sleep(Duration::from_millis(20)).await;
                    f.fetch_add(1, SeqCst);
                });
                Ok(())
            })
            .await;
            assert!(r.is_ok());
            assert_eq!(
                finished.load(SeqCst),
                1,
                "try_scope returned before its work"
            );

            let f = finished.clone();
            nursery::supervised(|_s| async move {
                nursery::spawn(async move {
                    nursery::time::sleep(Duration::from_millis(20)).await;
                    f.fetch_add(1, SeqCst);
                });
            })
            .await;
            assert_eq!(
                finished.load(SeqCst),
                2,
                "supervised returned before its work"
            );
        })
    });
}

#[test]
fn a_nested_scope_opened_in_a_body_is_cancelled_with_the_outer_scope() {
    within_10s(|rt| {
        rt.block_on(async {
            let drops = DropCounter::new();
            let d = drops.clone();
            nursery::scope(|outer| async move {
                let (spawned_tx, spawned_rx) = futures::channel::oneshot::channel();
                let inner = nursery::spawn(async move {
                    // Not opened by this task's own body: by the outer scope's child, as usual.
                    nursery::scope(|_inner| async move {
                        nursery::spawn(pending_forever(d.token()));
                        let _ = spawned_tx.send(());
                        std::future::pending::<()>().await
                    })
                    .await
                });
                spawned_rx.await.unwrap();
                outer.cancel();
                assert!(inner.await.unwrap_err().is_cancelled());
            })
            .await;
            assert_eq!(drops.count(), 1);

            // A scope opened directly in another scope's body belongs to that scope.
            let drops = DropCounter::new();
            let d = drops.clone();
            let outcome = nursery::move_on_after(Duration::from_millis(20), |_outer| async move {
                nursery::scope(|_inner| async move {
                    nursery::spawn(pending_forever(d.token()));
                    std::future::pending::<()>().await
                })
                .await
            })
            .await;
            assert!(outcome.is_none());
            assert_eq!(drops.count(), 1);
        })
    });
}

#[test]
fn spawns_inside_a_child_task_still_belong_to_that_task() {
    within_10s(|rt| {
        rt.block_on(async {
            let done = Arc::new(AtomicBool::new(false));
            let flag = done.clone();
            nursery::scope(|s| async move {
                let inner_flag = flag.clone();
                let child = s.spawn(async move {
                    start_background(inner_flag);
                });
                child.await.unwrap();
                // The child's JoinHandle resolves only after its own subtree is gone (R2).
                assert!(flag.load(SeqCst));
            })
            .await;
            assert!(done.load(SeqCst));
        })
    });
}

#[test]
fn dropping_a_scope_future_cancels_work_its_body_spawned() {
    within_10s(|rt| {
        rt.block_on(async {
            let drops = DropCounter::new();
            let d = drops.clone();
            let outcome = nursery::time::timeout(
                Duration::from_millis(20),
                nursery::scope(|_s| async move {
                    nursery::spawn(pending_forever(d.token()));
                    std::future::pending::<()>().await
                }),
            )
            .await;
            assert!(outcome.is_err());
            // Owned by this (block_on's) task until gone; awaiting a fresh scope that spawns
            // nothing does not wait for them, so look for the drop.
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while drops.count() < 1 && std::time::Instant::now() < deadline {
                nursery::time::sleep(Duration::from_millis(1)).await;
            }
            assert_eq!(drops.count(), 1, "the scope's cancelled work was dropped");
        })
    });
}
