//! Loom models of the task tree: a child completing while its parent is cancelled, a spawn into
//! a group racing the group's close or cancel, a cancel racing a task's first poll (before it
//! or its child is listed), a hold racing completion (`task/tree.rs`,
//! `group.rs`, `task/node.rs`).
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p nursery-scheduler --test loom_tree --release`
//! (or `scripts/loom.sh`). A node that completes too early shows as a failed assertion on the
//! drop counters; one that never completes, as a loom deadlock; a lost node, as a leaked `Arc`.
#![cfg(loom)]

mod loom_support;

use std::future::Future;
use std::task::Poll;

use loom_support::*;
use nursery_scheduler::{current_node, Group, JoinHandle, Scheduler, SpawnMeta};

/// A scope (group) under the harness's root.
fn new_scope(rt: &Harness) -> Group {
    rt.scheduler
        .new_group(rt.root.node(), false, None, "scope")
        .unwrap()
}

/// Closes a scope's body and waits until the scope is complete.
fn close_and_wait(group: &Group) {
    group.close();
    wait(|cx| group.poll_complete(cx));
}

/// Spawns `future` as a child of the task being polled.
fn spawn_child<F>(scheduler: &Scheduler, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    current_node::with_current_node(|node| {
        scheduler.spawn(
            node.expect("inside a task"),
            future,
            SpawnMeta::here(),
            "task",
        )
    })
    .expect("the parent is running, so it is open")
}

#[test]
fn a_child_completing_while_its_parent_is_cancelled_is_gone_before_the_parent_resolves() {
    model(|| {
        let rt = Harness::new(1);
        let scheduler = rt.scheduler.clone();
        let event = Event::new();
        let child_drops = Drops::new();
        let parent_drops = Drops::new();
        let (child_token, parent_token) = (child_drops.token(), parent_drops.token());
        let wait = event.wait();
        let mut parent = rt.spawn_root(async move {
            let _token = parent_token;
            let child = spawn_child(&scheduler, async move {
                let _token = child_token;
                wait.await;
            });
            let _ = child.await;
        });
        event.fire();
        parent.cancel();
        let _ = join(&mut parent);
        assert_eq!(
            child_drops.count(),
            1,
            "R2: the child is gone before the parent resolves"
        );
        assert_eq!(parent_drops.count(), 1);
        drop(parent);
        rt.finish();
    });
}

#[test]
fn a_spawn_into_a_group_racing_its_close_either_fails_or_is_awaited() {
    model(|| {
        let rt = Harness::new(1);
        let group = new_scope(&rt);
        let child_drops = Drops::new();
        let token = child_drops.token();
        let (scheduler, node) = (rt.scheduler.clone(), group.node().clone());
        let spawner = loom::thread::spawn(move || {
            scheduler
                .spawn(
                    &node,
                    async move { drop(token) },
                    SpawnMeta::here(),
                    "scope",
                )
                .is_ok()
        });
        close_and_wait(&group);
        let dropped_at_completion = child_drops.count();
        let spawned = spawner.join().unwrap();
        if spawned {
            assert_eq!(
                dropped_at_completion, 1,
                "the group completed before its child"
            );
        }
        drop(group);
        rt.finish();
    });
}

#[test]
fn a_spawn_into_a_group_racing_its_cancel_is_born_cancelled_or_cancelled_by_the_walk() {
    // The child never finishes on its own: if the cancel missed it, the group would never
    // complete (a loom deadlock).
    model(|| {
        let rt = Harness::new(1);
        let group = new_scope(&rt);
        let child_drops = Drops::new();
        let token = child_drops.token();
        let (scheduler, node) = (rt.scheduler.clone(), group.node().clone());
        let spawner = loom::thread::spawn(move || {
            let future = async move {
                let _token = token;
                std::future::pending::<()>().await;
            };
            drop(scheduler.spawn(&node, future, SpawnMeta::here(), "scope"));
        });
        group.cancel();
        spawner.join().unwrap();
        close_and_wait(&group);
        assert_eq!(child_drops.count(), 1);
        drop(group);
        rt.finish();
    });
}

#[test]
fn a_cancel_racing_a_tasks_first_poll_reaches_it_and_the_child_it_spawns() {
    // A task joins its parent's list only when it first waits, and its child is not listed
    // when the task is: the cancel walk may find neither. The first-poll check and the
    // inheritance at listing time must still stop both (else: a loom deadlock).
    model(|| {
        let rt = Harness::new(1);
        let group = new_scope(&rt);
        let drops = Drops::new();
        let (task_token, child_token) = (drops.token(), drops.token());
        let scheduler = rt.scheduler.clone();
        let task = async move {
            let _token = task_token;
            spawn_child(&scheduler, async move {
                let _token = child_token;
                std::future::pending::<()>().await;
            });
            std::future::pending::<()>().await;
        };
        drop(
            rt.scheduler
                .spawn(group.node(), task, SpawnMeta::here(), "scope")
                .unwrap(),
        );
        let node = group.node().clone();
        let canceller = loom::thread::spawn(move || node.cancel());
        canceller.join().unwrap();
        close_and_wait(&group);
        assert_eq!(drops.count(), 2, "the task and its child were both dropped");
        drop(group);
        rt.finish();
    });
}

#[test]
fn a_hold_racing_completion_either_fails_or_delays_the_handle() {
    // `Scheduler::hold` (what a blocking job takes on its task) against the task finishing.
    model(|| {
        let rt = Harness::new(1);
        let mut task = rt.spawn_root(async {});
        let node = task.node().clone();
        let scheduler = rt.scheduler.clone();
        let holder = loom::thread::spawn(move || {
            let hold = scheduler.hold(&node);
            let held = hold.is_some();
            let complete_while_held = node.is_complete();
            drop(hold);
            (held, complete_while_held)
        });
        assert!(join(&mut task).is_ok());
        let (held, complete_while_held) = holder.join().unwrap();
        assert!(!(held && complete_while_held), "a held task completed");
        drop(task);
        rt.finish();
    });
}

/// A group's owner waiting as `runtime/src/block_on.rs` does. `check_first`: look for
/// cancellation, then register the waker (the order block_on uses); otherwise register, then
/// look.
fn owner_waits_for_a_racing_cancel(check_first: bool) {
    let rt = Harness::new(1);
    let group = rt
        .scheduler
        .new_group(rt.root.node(), false, None, "block_on")
        .unwrap();
    let node = group.node().clone();
    let canceller = loom::thread::spawn(move || node.cancel());
    wait(|cx| {
        if check_first {
            if group.node().is_cancelled() {
                return Poll::Ready(());
            }
            let _ = group.poll_complete(cx);
        } else {
            let _ = group.poll_complete(cx);
            if group.node().is_cancelled() {
                return Poll::Ready(());
            }
        }
        Poll::Pending
    });
    canceller.join().unwrap();
    group.close();
    drop(group);
    rt.finish();
}

/// A cancel (runtime shutdown) racing an owner's first wait (block_on's loop): the owner
/// registers before it looks, and the two read-modify-writes of the state word (CANCELLED,
/// JOIN_WAKER) are ordered, so one side always sees the other. (Checking first, then
/// registering — the order block_on used before 7af362d — loses the cancel.)
#[test]
fn an_owner_that_registers_before_checking_never_misses_a_cancel() {
    model(|| owner_waits_for_a_racing_cancel(false));
}
