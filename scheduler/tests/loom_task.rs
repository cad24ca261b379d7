//! Loom models of one task's state word: wake, run, cancel, complete and join-handle drop
//! racing each other (`task/state.rs`, `task/mod.rs::run`, `task/join.rs`, `task/tree.rs`).
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p nursery-scheduler --test loom_task --release`
//! (or `scripts/loom.sh`). Every model checks that the future is dropped exactly once, that the
//! handle resolves (a hang is a loom deadlock), and that nothing leaks (loom's `Arc` leak check:
//! every task holds an `Arc` of the scheduler, every future and output a `Drops` token).
#![cfg(loom)]

mod loom_support;

use loom_support::*;

#[test]
fn a_wake_racing_a_cancel_drops_the_future_once_and_resolves_the_handle() {
    model(|| {
        let rt = Harness::new(1);
        let event = Event::new();
        let future_drops = Drops::new();
        let token = future_drops.token();
        let wait = event.wait();
        let mut handle = rt.spawn_root(async move {
            let _token = token;
            wait.await;
            7
        });
        event.fire();
        handle.cancel();
        match join(&mut handle) {
            Ok(v) => assert_eq!(v, 7),
            Err(e) => assert!(e.is_cancelled()),
        }
        assert_eq!(
            future_drops.count(),
            1,
            "resolved only after the future is gone"
        );
        drop(handle);
        rt.finish();
    });
}

#[test]
fn a_wake_and_a_cancel_from_two_threads_race_the_poll() {
    model(|| {
        let rt = Harness::new(1);
        let event = Event::new();
        let future_drops = Drops::new();
        let token = future_drops.token();
        let wait = event.wait();
        let mut handle = rt.spawn_root(async move {
            let _token = token;
            wait.await;
        });
        let waker = loom::thread::spawn(move || event.fire());
        handle.cancel();
        let _ = join(&mut handle);
        assert_eq!(future_drops.count(), 1);
        waker.join().unwrap();
        drop(handle);
        rt.finish();
    });
}

#[test]
fn a_cancel_racing_completion_yields_the_output_or_cancelled_never_both() {
    model(|| {
        let rt = Harness::new(1);
        let output_drops = Drops::new();
        let token = output_drops.token();
        let mut handle = rt.spawn_root(async move { token });
        handle.cancel();
        match join(&mut handle) {
            Ok(output) => {
                assert_eq!(output_drops.count(), 0);
                drop(output);
            }
            Err(e) => assert!(e.is_cancelled()),
        }
        assert_eq!(
            output_drops.count(),
            1,
            "the output (or the unpolled future) dropped once"
        );
        drop(handle);
        rt.finish();
    });
}

#[test]
fn dropping_the_handle_racing_completion_drops_the_output_exactly_once() {
    model(|| {
        let rt = Harness::new(1);
        let output_drops = Drops::new();
        let token = output_drops.token();
        let handle = rt.spawn_root(async move { token });
        drop(handle);
        rt.finish();
        assert_eq!(output_drops.count(), 1);
    });
}

#[test]
fn dropping_the_handle_of_a_waiting_task_racing_its_wake() {
    model(|| {
        let rt = Harness::new(1);
        let event = Event::new();
        let output_drops = Drops::new();
        let token = output_drops.token();
        let wait = event.wait();
        let handle = rt.spawn_root(async move {
            wait.await;
            token
        });
        let waker = loom::thread::spawn(move || event.fire());
        drop(handle);
        waker.join().unwrap();
        rt.finish();
        assert_eq!(output_drops.count(), 1);
    });
}

#[test]
fn cancelling_twice_from_two_threads_drops_the_future_once() {
    model(|| {
        let rt = Harness::new(1);
        let future_drops = Drops::new();
        let token = future_drops.token();
        let mut handle = rt.spawn_root(async move {
            let _token = token;
            std::future::pending::<()>().await;
        });
        let node = handle.node().clone();
        let other = loom::thread::spawn(move || node.cancel());
        handle.cancel();
        assert!(join(&mut handle).unwrap_err().is_cancelled());
        other.join().unwrap();
        assert_eq!(future_drops.count(), 1);
        drop(handle);
        rt.finish();
    });
}

#[test]
fn shutting_down_with_a_task_that_is_never_woken_drops_it() {
    // `Runtime::drop`: cancel the root, wait for it to complete, stop the workers.
    model(|| {
        let rt = Harness::new(1);
        let future_drops = Drops::new();
        let token = future_drops.token();
        let handle = rt.spawn_root(async move {
            let _token = token;
            std::future::pending::<()>().await;
        });
        drop(handle);
        rt.shut_down();
        assert_eq!(future_drops.count(), 1);
    });
}
