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

#[test]
fn shutdown_timeout_returns_in_time_even_if_a_task_blocks_its_worker() {
    let rt = support::runtime(2);
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    rt.handle().spawn(async move {
        started_tx.send(()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(800)); // blocks its worker
    });
    started_rx.recv().unwrap();
    let start = std::time::Instant::now();
    let clean = rt.shutdown_timeout(std::time::Duration::from_millis(50));
    assert!(!clean, "the blocked task could not be dropped in time");
    assert!(start.elapsed() < std::time::Duration::from_millis(700));
}

#[test]
fn shutdown_timeout_is_clean_when_every_task_can_be_cancelled() {
    let drops = DropCounter::new();
    let rt = support::runtime(2);
    let started = Arc::new(AtomicUsize::new(0));
    for _ in 0..10 {
        rt.handle()
            .spawn(started_pending_forever(drops.token(), started.clone()));
    }
    wait_for_count(&started, 10);
    assert!(rt.shutdown_timeout(std::time::Duration::from_secs(5)));
    assert_eq!(drops.count(), 10);
}
