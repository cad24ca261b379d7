//! R6: dropping a runtime cancels every task, drops every future and unclaimable output, and
//! joins its threads.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use support::{started_pending_forever, wait_for_count, DropCounter};

#[test]
fn dropping_the_runtime_drops_every_task_future_including_grandchildren() {
    let drops = DropCounter::new();
    let started = Arc::new(AtomicUsize::new(0));
    let rt = support::runtime(2);
    for _ in 0..50 {
        let d = drops.clone();
        let st = started.clone();
        rt.handle().spawn(async move {
            for _ in 0..4 {
                let d = d.clone();
                let st = st.clone();
                nursery::spawn(async move {
                    nursery::spawn(started_pending_forever(d.token(), st.clone()));
                    started_pending_forever(d.token(), st).await
                });
            }
            started_pending_forever(d.token(), st).await
        });
    }
    wait_for_count(&started, 50 * (1 + 4 * 2));
    drop(rt);
    assert_eq!(
        drops.count(),
        50 * (1 + 4 * 2),
        "a future survived runtime shutdown"
    );
}

#[test]
fn dropping_the_runtime_drops_outputs_nobody_can_claim() {
    let drops = DropCounter::new();
    let rt = support::runtime(2);
    for _ in 0..20 {
        let token = drops.token();
        let handle = rt.handle().spawn(async move { token });
        drop(handle);
    }
    drop(rt);
    assert_eq!(drops.count(), 20);
}

#[test]
fn dropping_the_runtime_joins_every_worker_thread() {
    let stopped = Arc::new(AtomicUsize::new(0));
    let s = stopped.clone();
    let rt = nursery::Runtime::builder()
        .worker_threads(3)
        .on_thread_stop(move || {
            s.fetch_add(1, SeqCst);
        })
        .build()
        .unwrap();
    rt.block_on(async {});
    drop(rt);
    assert_eq!(
        stopped.load(SeqCst),
        3,
        "drop returned before every worker stopped"
    );
}

#[test]
fn a_handle_outliving_its_runtime_refuses_to_spawn_with_a_clear_error() {
    let rt = support::runtime(1);
    let handle = rt.handle().clone();
    drop(rt);
    let err = handle.try_spawn(async {}).unwrap_err();
    assert!(err.to_string().contains("closed runtime"), "{err}");
}
