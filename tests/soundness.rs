//! R10: no public item lets safe code reach freed memory or break the tree — a guard that
//! borrows nothing, a parent from another runtime, a hook that reaches the root.
//!
//! The first test reads freed memory without the counted guard: it fails under
//! AddressSanitizer or valgrind (`scripts/asan.sh`, `scripts/memcheck.sh`), and may pass by
//! luck in a plain run.

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};

use nursery_scheduler::current_node::{enter, with_current_node};
use support::{panic_message, runtime};

#[test]
fn a_forgotten_enter_guard_keeps_its_node_alive() {
    let rt = runtime(1);
    let (release_tx, release_rx) = futures::channel::oneshot::channel::<()>();
    let task = rt.handle().spawn(async move {
        let _ = release_rx.await;
    });
    let id = task.id();
    let node = task.node().clone();
    std::thread::spawn(move || {
        std::mem::forget(enter(&node));
        drop(node);
        // The task completes and its handle goes: nothing but the forgotten guard refers to it.
        release_tx.send(()).unwrap();
        // (Waited for without `block_on`, which would enter a node of its own.)
        futures::executor::block_on(task).unwrap();
        // The thread still points at the node: it must still be there.
        assert_eq!(with_current_node(|n| n.map(|n| n.id())), Some(id));
        assert!(with_current_node(|n| n.unwrap().is_complete()));
    })
    .join()
    .unwrap();
}

#[test]
fn enter_guards_dropped_out_of_order_panic_with_a_message() {
    let rt = runtime(1);
    let a = rt.handle().spawn(std::future::pending::<()>());
    let b = rt.handle().spawn(std::future::pending::<()>());
    let (a_node, b_node) = (a.node().clone(), b.node().clone());
    let message = std::thread::spawn(move || {
        let outer = enter(&a_node);
        let inner = enter(&b_node);
        let caught = catch_unwind(AssertUnwindSafe(|| drop(outer)));
        drop(inner);
        panic_message(&*caught.unwrap_err())
    })
    .join()
    .unwrap();
    assert!(message.contains("dropped out of order"), "{message}");
    a.cancel();
    b.cancel();
}

#[test]
fn a_task_cannot_be_spawned_under_a_node_of_another_runtime() {
    let (rt_a, rt_b) = (runtime(1), runtime(1));
    let foreign = rt_b.handle().spawn(std::future::pending::<()>());
    let message = rt_a.block_on(async {
        let _inside = enter(foreign.node());
        let spawned = catch_unwind(|| drop(nursery::spawn(async {})));
        panic_message(&*spawned.unwrap_err())
    });
    assert!(message.contains("another runtime"), "{message}");

    let message = rt_a.block_on(async {
        let _inside = enter(foreign.node());
        let opened = AssertUnwindSafe(nursery::scope(|_s| async {}));
        let opened = futures::FutureExt::catch_unwind(opened).await;
        panic_message(&*opened.unwrap_err())
    });
    assert!(message.contains("another runtime"), "{message}");
    foreign.cancel();
    // Both runtimes still work.
    assert_eq!(
        rt_a.block_on(async { nursery::spawn(async { 1 }).await.unwrap() }),
        1
    );
    assert_eq!(
        rt_b.block_on(async { nursery::spawn(async { 2 }).await.unwrap() }),
        2
    );
}
