//! Loom models of parking: a push racing with a worker going to sleep never leaves work unrun
//! (the Dekker handshake of `idle.rs` between `Shared::schedule` and the worker loop), and a
//! push from outside the workers never notifies a scheduler that has been freed.
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p nursery-scheduler --test loom_park --release`
//! (or `scripts/loom.sh`). A lost wake-up shows as a loom deadlock: the worker parked forever
//! while the model's main thread waits for the task.
#![cfg(loom)]

mod loom_support;

use std::future::poll_fn;
use std::task::Poll;

use loom_support::*;
use nursery_scheduler::{current_node, SpawnMeta};

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
            let child = current_node::with_current_node(|node| {
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

#[test]
fn a_wake_from_a_plain_thread_racing_the_runtimes_drop_never_outlives_the_scheduler() {
    // A task hands its waker to a plain thread and completes once woken; the main thread drops
    // the runtime as soon as it has. The wake pushes the task into the injector and then
    // notifies a worker: in between, the worker may run the task to completion and the runtime
    // may be dropped. The model's `Park` is dropped with the scheduler and checks then that the
    // wake is not under way on the plain thread (`WakeWatch`). Reaching that interleaving takes
    // 2 preemptions (the worker awake at the push, the plain thread stopped right after it):
    // at `LOOM_MAX_PREEMPTIONS=1` this model passes even on a scheduler without the count.
    model(|| {
        let watch = WakeWatch::default();
        let rt = Harness::watched(1, &watch);
        let plain = std::sync::Arc::new(std::sync::Mutex::new(None));
        let started = plain.clone();
        let mut first = true;
        let task = rt.spawn_root(poll_fn(move |cx| {
            if !std::mem::replace(&mut first, false) {
                return Poll::Ready(());
            }
            let (watch, waker) = (watch.clone(), cx.waker().clone());
            let thread = loom::thread::spawn(move || watch.during(|| waker.wake_by_ref()));
            *started.lock().unwrap() = Some(thread);
            Poll::Pending
        }));
        drop(task);
        // `Runtime::drop` once the task is done (it has nothing left to cancel).
        rt.finish();
        let thread = plain.lock().unwrap().take();
        thread.expect("the task ran").join().unwrap();
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
