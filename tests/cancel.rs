//! R3: cancellation reaches the whole subtree, at poll points only, promptly.

mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::channel::oneshot;
use support::{pending_forever, runtime, started_pending_forever, DropCounter};

#[test]
fn cancelling_a_task_drops_every_future_in_its_subtree_before_its_handle_resolves() {
    let rt = runtime(2);
    rt.block_on(async {
        let drops = DropCounter::new();
        let started = Arc::new(AtomicUsize::new(0));
        let (d, st) = (drops.clone(), started.clone());
        let parent = nursery::spawn(async move {
            for _ in 0..10 {
                let (d, st) = (d.clone(), st.clone());
                nursery::spawn(async move {
                    for _ in 0..10 {
                        nursery::spawn(started_pending_forever(d.token(), st.clone()));
                    }
                    started_pending_forever(d.token(), st).await;
                });
            }
            started_pending_forever(d.token(), st).await;
        });
        while started.load(SeqCst) < 111 {
            nursery::task::yield_now().await;
        }
        parent.cancel();
        let err = parent.await.unwrap_err();
        assert!(err.is_cancelled(), "{err}");
        // 1 parent + 10 children + 100 grandchildren, all dropped before the handle resolved.
        assert_eq!(drops.count(), 111);
    });
}

#[test]
fn cancel_reaches_a_task_waiting_for_a_wake_that_never_comes() {
    let rt = runtime(1);
    rt.block_on(async {
        let drops = DropCounter::new();
        let task = nursery::spawn(pending_forever(drops.token()));
        nursery::task::yield_now().await;
        task.cancel();
        assert!(task.await.unwrap_err().is_cancelled());
        assert_eq!(drops.count(), 1);
    });
}

/// A future that is inside `poll` until told to leave, and checks it is never dropped mid-poll.
struct SlowPoll {
    entered: Arc<AtomicBool>,
    leave: Arc<AtomicBool>,
    in_poll: Arc<AtomicBool>,
    dropped_mid_poll: Arc<AtomicBool>,
}

impl Future for SlowPoll {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        self.in_poll.store(true, SeqCst);
        self.entered.store(true, SeqCst);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !self.leave.load(SeqCst) && std::time::Instant::now() < deadline {
            std::hint::spin_loop();
        }
        self.in_poll.store(false, SeqCst);
        Poll::Pending
    }
}

impl Drop for SlowPoll {
    fn drop(&mut self) {
        if self.in_poll.load(SeqCst) {
            self.dropped_mid_poll.store(true, SeqCst);
        }
    }
}

#[test]
fn cancellation_is_never_delivered_during_a_poll() {
    let rt = runtime(2);
    let entered = Arc::new(AtomicBool::new(false));
    let leave = Arc::new(AtomicBool::new(false));
    let dropped_mid_poll = Arc::new(AtomicBool::new(false));
    let fut = SlowPoll {
        entered: entered.clone(),
        leave: leave.clone(),
        in_poll: Arc::new(AtomicBool::new(false)),
        dropped_mid_poll: dropped_mid_poll.clone(),
    };
    let task = rt.handle().spawn(fut);
    while !entered.load(SeqCst) {
        std::hint::spin_loop();
    }
    task.cancel(); // while the worker is inside poll
    assert!(
        !task.is_finished(),
        "completed while its poll was still running"
    );
    leave.store(true, SeqCst);
    let err = rt.block_on(task).unwrap_err();
    assert!(err.is_cancelled());
    assert!(!dropped_mid_poll.load(SeqCst));
}

#[test]
fn cancelling_twice_or_after_completion_does_nothing() {
    let rt = runtime(2);
    rt.block_on(async {
        let finished = nursery::spawn(async { 7 });
        let polled = Arc::new(AtomicUsize::new(0));
        while !finished.is_finished() {
            nursery::task::yield_now().await;
        }
        finished.cancel();
        finished.cancel();
        assert_eq!(
            finished.await.unwrap(),
            7,
            "a finished task keeps its output"
        );

        let p = polled.clone();
        let pending = nursery::spawn(async move {
            p.fetch_add(1, SeqCst);
            std::future::pending::<()>().await
        });
        pending.cancel();
        pending.cancel();
        assert!(pending.await.unwrap_err().is_cancelled());
        assert!(polled.load(SeqCst) <= 1);
    });
}

#[test]
fn a_task_cancelled_before_its_first_poll_never_runs() {
    // One worker, busy running the parent: the child cannot run before the parent yields.
    let rt = runtime(1);
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let parent = rt.handle().spawn(async move {
        let task = nursery::spawn(async move { r.store(true, SeqCst) });
        task.cancel();
        task.await
    });
    assert!(rt.block_on(parent).unwrap().unwrap_err().is_cancelled());
    assert!(!ran.load(SeqCst));
}

#[test]
fn children_spawned_by_a_cancelled_task_during_teardown_are_cancelled_too() {
    let rt = runtime(2);
    rt.block_on(async {
        let drops = DropCounter::new();
        let d = drops.clone();
        let (ready_tx, ready_rx) = oneshot::channel::<()>();
        let parent = nursery::spawn(async move {
            struct SpawnOnDrop(DropCounter);
            impl Drop for SpawnOnDrop {
                fn drop(&mut self) {
                    // Spawned while the cancelled parent's future is being dropped.
                    nursery::spawn(pending_forever(self.0.token()));
                }
            }
            let _guard = SpawnOnDrop(d);
            let _ = ready_tx.send(());
            std::future::pending::<()>().await
        });
        ready_rx.await.unwrap();
        parent.cancel();
        assert!(parent.await.unwrap_err().is_cancelled());
        assert_eq!(drops.count(), 1, "the late child was cancelled and awaited");
    });
}

/// Runs `f` on its own thread and fails the test if it has not returned within 10 s: for rules
/// whose violation shows as a task that is never cancelled, so a hang.
fn within_10_s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || done_tx.send(f()).unwrap());
    done_rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("a cancelled subtree was not gone within 10 s")
}

// A task joins its parent's child list only when it first waits (so short tasks never take the
// parent's lock). The next three tests pin down that a cancel still reaches every task, wherever
// it lands in that life.

#[test]
fn a_child_whose_parent_is_cancelled_before_the_childs_first_poll_never_runs() {
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    within_10_s(move || {
        // One worker, busy in the scope body: the child cannot run before the cancel.
        let rt = runtime(1);
        let outer = rt.handle().spawn(nursery::scope(|s| async move {
            let child = s.spawn(async move { r.store(true, SeqCst) });
            s.cancel();
            child.await
        }));
        let child = rt.block_on(outer).unwrap();
        assert!(child.unwrap_err().is_cancelled());
    });
    assert!(
        !ran.load(SeqCst),
        "the child's body ran after its scope was cancelled"
    );
}

#[test]
fn a_cancel_landing_during_a_tasks_first_poll_reaches_it_and_the_children_it_spawned() {
    let ran = Arc::new(AtomicBool::new(false));
    let drops = DropCounter::new();
    let (r, d) = (ran.clone(), drops.clone());
    within_10_s(move || {
        // One worker: the scope's cancel walk runs inside the task's first poll, before the task
        // or its child is in any list.
        let rt = runtime(1);
        let outer = rt.handle().spawn(nursery::scope(|s| async move {
            let scope = s.clone();
            s.spawn(async move {
                nursery::spawn(async move { r.store(true, SeqCst) });
                scope.cancel();
                pending_forever(d.token()).await
            });
        }));
        rt.block_on(outer).unwrap();
    });
    assert_eq!(drops.count(), 1, "the task's future was dropped");
    assert!(!ran.load(SeqCst), "its child ran after the cancel");
}

#[test]
fn a_task_that_returns_while_its_children_run_stays_reachable_by_a_cancel() {
    let drops = DropCounter::new();
    let d = drops.clone();
    within_10_s(move || {
        let rt = runtime(2);
        rt.block_on(nursery::scope(|s| async move {
            let (spawned_tx, spawned_rx) = oneshot::channel::<()>();
            s.spawn(async move {
                // Returns at once; the child keeps its parent (this task) waiting.
                nursery::spawn(pending_forever(d.token()));
                spawned_tx.send(()).unwrap();
            });
            spawned_rx.await.unwrap();
            s.cancel();
        }));
    });
    assert_eq!(drops.count(), 1, "the grandchild was cancelled and awaited");
}
