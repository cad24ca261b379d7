//! R4 (dropped scopes cannot leak) and R5 (failures are never silent).

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

use futures::channel::oneshot;
use futures::FutureExt as _;
use support::{panic_message, pending_forever, runtime, stays_pending, DropCounter};

#[test]
fn dropping_a_scope_future_cancels_its_children() {
    let rt = runtime(2);
    rt.block_on(async {
        let drops = DropCounter::new();
        let d = drops.clone();
        let (started_tx, started_rx) = oneshot::channel::<()>();
        let mut scope = Box::pin(nursery::scope(|s| async move {
            for _ in 0..20 {
                s.spawn(pending_forever(d.token()));
            }
            let _ = started_tx.send(());
            std::future::pending::<()>().await
        }));
        // Drive the scope until its body has spawned the children, then drop it (as a timeout
        // or a select would).
        let mut started = started_rx;
        loop {
            assert!(support::poll_once(&mut scope).is_none());
            if support::poll_once(&mut started).is_some() {
                break;
            }
            nursery::task::yield_now().await;
        }
        drop(scope);
        // The children are cancelled but still owned by this task; give them time to go.
        while drops.count() < 20 {
            nursery::task::yield_now().await;
        }
        assert_eq!(drops.count(), 20);
    });
}

#[test]
fn a_task_whose_scope_was_dropped_still_waits_for_the_scopes_children() {
    let rt = runtime(2);
    rt.block_on(async {
        let (release_tx, release_rx) = oneshot::channel::<()>();
        let (spawned_tx, spawned_rx) = oneshot::channel::<()>();
        let child_done = Arc::new(AtomicBool::new(false));
        let flag = child_done.clone();
        let mut task = nursery::spawn(async move {
            // Cancellation finds this child holding a drop guard that must finish first. It
            // is built here and moved in, so it is dropped even if the child never ran.
            struct Finish(Arc<AtomicBool>, Option<oneshot::Receiver<()>>);
            impl Drop for Finish {
                fn drop(&mut self) {
                    // Blocks teardown until released: the enclosing task must wait.
                    let rx = self.1.take().unwrap();
                    futures::executor::block_on(rx).ok();
                    self.0.store(true, SeqCst);
                }
            }
            let finish = Finish(flag, Some(release_rx));
            let scope = nursery::scope(|s| async move {
                s.spawn(async move {
                    let _finish = finish;
                    std::future::pending::<()>().await
                });
                let _ = spawned_tx.send(());
                std::future::pending::<()>().await
            });
            // A timeout-like drop: poll the scope a little, then abandon it.
            let mut scope = Box::pin(scope);
            for _ in 0..100 {
                let _ = (&mut scope).now_or_never();
                nursery::task::yield_now().await;
            }
            drop(scope);
        });
        spawned_rx.await.unwrap();
        assert!(
            stays_pending(&mut task, 2000).await,
            "the task completed while a child of its dropped scope was still alive"
        );
        release_tx.send(()).unwrap();
        task.await.unwrap();
        assert!(child_done.load(SeqCst));
    });
}

#[test]
fn a_forgotten_scope_future_cannot_leak_its_children() {
    let rt = runtime(2);
    rt.block_on(async {
        let drops = DropCounter::new();
        let d = drops.clone();
        let task = nursery::spawn(async move {
            let mut scope = Box::pin(nursery::scope(|s| async move {
                for _ in 0..5 {
                    s.spawn(pending_forever(d.token()));
                }
                std::future::pending::<()>().await
            }));
            let _ = (&mut scope).now_or_never();
            std::mem::forget(scope);
        });
        task.await.unwrap();
        assert_eq!(
            drops.count(),
            5,
            "the task completed before its leaked scope's children"
        );
    });
}

#[test]
fn a_child_panic_cancels_its_siblings_and_is_reraised_at_the_scope() {
    let rt = runtime(2);
    let drops = DropCounter::new();
    let d = drops.clone();
    let body_cancelled = DropCounter::new();
    let b = body_cancelled.clone();
    let result = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async move {
            nursery::scope(|s| async move {
                for _ in 0..10 {
                    s.spawn(pending_forever(d.token()));
                }
                nursery::task::Builder::new()
                    .name("faulty")
                    .spawn_in(&s, async { panic!("boom") });
                pending_forever(b.token()).await;
            })
            .await;
            unreachable!("the scope must re-raise the panic");
        })
    }));
    let payload = result.expect_err("the panic must reach block_on's caller");
    let message = panic_message(&*payload);
    assert!(message.contains("boom"), "{message}");
    assert!(
        message.contains("faulty"),
        "the child's name is carried: {message}"
    );
    assert_eq!(
        drops.count(),
        10,
        "every sibling was cancelled before the re-raise"
    );
    assert_eq!(body_cancelled.count(), 1, "the scope's body was cancelled");
}

#[test]
fn a_child_panic_reaches_the_parents_join_handle_after_the_teardown() {
    let rt = runtime(2);
    let drops = DropCounter::new();
    let d = drops.clone();
    // The parent sits under the root, which keeps a failure in the handle (a parent inside
    // block_on would pass it further up, to block_on).
    let parent = rt.handle().spawn(async move {
        for _ in 0..10 {
            nursery::spawn(pending_forever(d.token()));
        }
        nursery::task::Builder::new()
            .name("crasher")
            .spawn(async { panic!("child exploded") });
        pending_forever(d.token()).await;
    });
    let err = rt.block_on(parent).unwrap_err();
    assert!(err.is_panic(), "{err}");
    assert_eq!(err.task_name(), Some("'crasher'"));
    assert_eq!(err.panic_message(), Some("child exploded"));
    assert_eq!(
        drops.count(),
        11,
        "siblings and the parent's body were dropped first"
    );
    let payload = err.into_panic();
    assert!(panic_message(&*payload).contains("child exploded"));
}

#[test]
fn a_panic_travels_up_through_tasks_to_the_nearest_scope() {
    let rt = runtime(2);
    let drops = DropCounter::new();
    let d = drops.clone();
    let result = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async move {
            nursery::scope(|s| async move {
                s.spawn(async move {
                    nursery::spawn(async move {
                        nursery::spawn(async { panic!("deep") });
                        pending_forever(d.token()).await
                    });
                    std::future::pending::<()>().await
                });
            })
            .await
        })
    }));
    let message = panic_message(&*result.unwrap_err());
    assert!(message.contains("deep"), "{message}");
    assert_eq!(drops.count(), 1);
}

#[test]
fn a_panic_of_a_task_spawned_inside_block_on_is_reraised_by_block_on() {
    let rt = runtime(2);
    let result = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async {
            nursery::spawn(async { panic!("from a child of block_on") });
            std::future::pending::<()>().await
        })
    }));
    let message = panic_message(&*result.unwrap_err());
    assert!(message.contains("from a child of block_on"), "{message}");
}

#[test]
fn a_root_task_panic_stays_in_its_join_handle_and_spares_other_root_tasks() {
    let rt = runtime(2);
    let (tx, rx) = oneshot::channel::<()>();
    let survivor = rt.handle().spawn(async move { rx.await.is_ok() });
    let failing = rt.handle().spawn(async { panic!("root child") });
    let err = rt.block_on(failing).unwrap_err();
    assert!(err.is_panic());
    tx.send(()).unwrap();
    assert!(
        rt.block_on(survivor).unwrap(),
        "a sibling under the root was not cancelled"
    );
}

#[test]
fn spawning_into_a_closed_scope_fails_with_a_clear_error() {
    let rt = runtime(1);
    rt.block_on(async {
        let escaped = nursery::scope(|s| async move { s.clone() }).await;
        let err = escaped.try_spawn(async {}).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("closed scope"), "{message}");
        let panic = catch_unwind(AssertUnwindSafe(|| drop(escaped.spawn(async {})))).unwrap_err();
        assert!(panic_message(&*panic).contains("closed scope"));
    });
}

#[test]
fn dropping_a_scope_future_that_waits_for_its_children_cancels_them() {
    // The body has returned; the scope future waits for a child; a timeout drops it (R4).
    let drops = DropCounter::new();
    let d = drops.clone();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = runtime(2);
        rt.block_on(async move {
            let outcome = nursery::time::timeout(
                std::time::Duration::from_millis(20),
                nursery::scope(|s| async move {
                    s.spawn(pending_forever(d.token()));
                }),
            )
            .await;
            assert!(outcome.is_err());
        });
        let _ = done_tx.send(());
    });
    done_rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("block_on hung: the dropped scope's child was never cancelled");
    assert_eq!(
        drops.count(),
        1,
        "the waiting scope's child was cancelled and dropped"
    );
}
