//! Loom models of parking: a push racing with a worker going to sleep never leaves work unrun
//! (the Dekker handshake of `idle.rs` between `Shared::schedule` and the worker loop).
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p nursery-scheduler --test loom_park --release`
//! (or `scripts/loom.sh`). A lost wake-up shows as a loom deadlock: the worker parked forever
//! while the model's main thread waits for the task.
#![cfg(loom)]
#![allow(dead_code, unused_imports)]

// The scheduler's source, compiled with loom's thread-locals and loom-aware run queues: see
// loom_support/mod.rs.
extern crate self as crossbeam_deque;
include!("loom_support/mod.rs");

#[test]
fn a_task_spawned_from_outside_runs_while_the_worker_falls_asleep() {
    model(|| {
        let rt = Harness::new(1);
        let ran = Drops::new();
        let token = ran.token();
        let mut handle = rt.spawn_root(async move { drop(token) });
        assert!(join(&mut handle).is_ok());
        assert_eq!(ran.count(), 1);
        drop(handle);
        rt.finish();
    });
}

#[test]
fn a_wake_from_another_thread_reaches_a_sleeping_worker() {
    model(|| {
        let rt = Harness::new(1);
        let event = Event::new();
        let mut handle = rt.spawn_root(event.wait());
        // The main thread is not a worker: its wake goes through the injector and `notify_one`.
        event.fire();
        assert!(join(&mut handle).is_ok());
        drop(handle);
        rt.finish();
    });
}

#[test]
fn with_two_workers_a_spawn_is_never_stranded_in_a_sleeping_workers_queue() {
    // A task spawns a child from inside a worker (it lands in that worker's LIFO slot, not the
    // injector) and returns, racing with the other worker going to sleep: whichever worker
    // holds the child must run it.
    model(|| {
        let rt = Harness::new(2);
        let scheduler = rt.scheduler.clone();
        let child_ran = Drops::new();
        let token = child_ran.token();
        let mut parent = rt.spawn_root(async move {
            let child = context::with_current_node(|node| {
                scheduler.spawn(
                    node.expect("a task"),
                    async move { drop(token) },
                    SpawnMeta::here(),
                    "task",
                )
            })
            .unwrap();
            drop(child);
        });
        assert!(join(&mut parent).is_ok());
        assert_eq!(
            child_ran.count(),
            1,
            "the parent completes only after its child"
        );
        drop(parent);
        rt.finish();
    });
}

/// Both tasks land in the injector; a worker takes a batch into its own queue
/// (`steal_batch_and_pop`) and the other may steal from it, or sleep: neither task may be left
/// behind.
fn two_tasks_from_outside_on_two_workers() {
    let rt = Harness::new(2);
    let ran = Drops::new();
    let (a, b) = (ran.token(), ran.token());
    let mut first = rt.spawn_root(async move { drop(a) });
    let mut second = rt.spawn_root(async move { drop(b) });
    assert!(join(&mut first).is_ok());
    assert!(join(&mut second).is_ok());
    assert_eq!(ran.count(), 2);
    drop((first, second));
    rt.finish();
}

#[test]
fn with_two_workers_two_tasks_from_outside_both_run_whoever_steals_them() {
    // Three threads and two queues: about 5 s at one preemption, ~12 min at two.
    model_bounded(1, two_tasks_from_outside_on_two_workers);
}

#[test]
#[ignore = "slow: about 12 minutes (scripts/loom.sh loom_park two_tasks --ignored)"]
fn with_two_workers_two_tasks_from_outside_both_run_with_two_preemptions() {
    model_bounded(2, two_tasks_from_outside_on_two_workers);
}
