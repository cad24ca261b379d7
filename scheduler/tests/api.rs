//! The scheduler's API as the runtime uses it, on a scheduler with plain worker threads
//! (`support::Rt`): spawning, groups, the worker queries, the `Park` hooks, the context and
//! budget functions.

mod support;

use std::future::{pending, poll_fn};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use futures::executor::block_on;
use nursery_scheduler::coop::{poll_proceed, BUDGET};
use nursery_scheduler::current_node::{self, is_worker_thread, with_current_node};
use nursery_scheduler::diagnostics::{self, Fault, FaultKind};
use nursery_scheduler::{Park, Scheduler, SpawnMeta};
use support::{start, wait_complete, Parker, Rt};

#[test]
fn a_task_spawns_a_child_through_a_clone_of_the_scheduler() {
    let rt = Rt::new(1);
    let spawner = rt.scheduler.clone();
    let parent = rt.spawn(async move {
        let node = with_current_node(|node| node.expect("inside a task").clone());
        let child = spawner
            .spawn(&node, async { 2 }, SpawnMeta::here(), "task")
            .unwrap();
        child.await.unwrap() * 21
    });
    assert_eq!(block_on(parent).unwrap(), 42);
    rt.finish();
}

#[test]
fn nothing_can_be_spawned_under_a_closed_and_complete_root() {
    let rt = Rt::new(1);
    let task = rt
        .scheduler
        .spawn(
            rt.root.node(),
            async { "done" },
            SpawnMeta::named("job"),
            "root",
        )
        .unwrap();
    assert_eq!(block_on(task).unwrap(), "done");
    rt.root.close();
    wait_complete(&rt.root);
    let err = rt
        .scheduler
        .spawn(rt.root.node(), async {}, SpawnMeta::here(), "root")
        .unwrap_err();
    assert!(err.is_closed());
    rt.finish();
}

#[test]
fn a_failure_under_a_root_stays_in_the_tasks_handle() {
    let rt = Rt::new(1);
    let crash = rt.spawn(async { panic!("boom") });
    let fine = rt.spawn(async { 1 });
    assert!(block_on(crash).unwrap_err().is_panic());
    assert_eq!(block_on(fine).unwrap(), 1, "the sibling is not cancelled");
    assert!(!rt.root.has_failed());
    rt.finish();
}

#[test]
fn after_shutdown_and_drain_an_output_waits_in_its_handle() {
    let rt = Rt::new(1);
    let task = rt.spawn(async { 1 });
    rt.finish();
    assert_eq!(block_on(task).unwrap(), 1);
}

#[test]
fn workers_are_numbered_from_zero() {
    let (scheduler, runners) = Scheduler::new(3, Parker::new(3));
    assert_eq!(scheduler.workers(), 3);
    let indices: Vec<usize> = runners.iter().map(|runner| runner.index()).collect();
    assert_eq!(indices, [0, 1, 2]);
    let threads = start(runners);
    scheduler.shutdown();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn inside_a_task_the_thread_is_the_current_worker() {
    let rt = Rt::new(1);
    assert!(!rt.scheduler.is_current_worker());
    assert_eq!(rt.scheduler.current_worker(), None);
    assert!(!is_worker_thread());
    let inside = rt.scheduler.clone();
    let task = rt.spawn(async move {
        (
            inside.is_current_worker(),
            inside.current_worker(),
            is_worker_thread(),
        )
    });
    assert_eq!(block_on(task).unwrap(), (true, Some(0), true));
    rt.finish();
}

#[test]
fn a_poll_snapshot_names_the_task_being_polled() {
    let rt = Rt::new(1);
    let idle = rt.scheduler.poll_snapshot(0);
    assert!(!idle.in_poll(), "the worker is between polls");
    let inside = rt.scheduler.clone();
    let meta = SpawnMeta::here();
    let spawned_at = meta.location;
    let task = rt
        .scheduler
        .spawn(
            rt.root.node(),
            async move { inside.poll_snapshot(0) },
            meta,
            "root",
        )
        .unwrap();
    let id = task.id();
    let busy = block_on(task).unwrap();
    assert!(busy.in_poll());
    assert!(busy.seq > idle.seq);
    assert_eq!(busy.task_id, id);
    assert_eq!(busy.location, Some(spawned_at));
    rt.finish();
}

#[test]
fn a_group_completes_once_closed_and_its_children_are_gone() {
    let rt = Rt::new(1);
    let group = rt
        .scheduler
        .new_group(rt.root.node(), false, None, "root")
        .unwrap();
    let a = rt
        .scheduler
        .spawn(group.node(), async { 1 }, SpawnMeta::here(), "scope")
        .unwrap();
    let b = rt
        .scheduler
        .spawn(group.node(), async { 2 }, SpawnMeta::here(), "scope")
        .unwrap();
    // The body has not finished: not complete, however the children are doing.
    let mut cx = Context::from_waker(Waker::noop());
    assert!(group.poll_complete(&mut cx).is_pending());
    assert!(!group.node().is_complete());
    group.close();
    group.close(); // idempotent
    wait_complete(&group);
    assert!(group.node().is_complete());
    assert!(a.is_finished() && b.is_finished());
    assert!(group.take_failure().is_none());
    assert_eq!(block_on(a).unwrap() + block_on(b).unwrap(), 3);
    rt.finish();
}

#[test]
fn abandoning_a_group_cancels_its_children() {
    let rt = Rt::new(1);
    let group = rt
        .scheduler
        .new_group(rt.root.node(), false, None, "root")
        .unwrap();
    let child = rt
        .scheduler
        .spawn(group.node(), pending::<()>(), SpawnMeta::here(), "scope")
        .unwrap();
    group.abandon();
    wait_complete(&group);
    assert!(block_on(child).unwrap_err().is_cancelled());
    rt.finish();
}

#[test]
fn a_cancelled_group_cancels_children_spawned_before_and_after() {
    let rt = Rt::new(1);
    let group = rt
        .scheduler
        .new_group(rt.root.node(), false, None, "root")
        .unwrap();
    let before = rt
        .scheduler
        .spawn(group.node(), pending::<()>(), SpawnMeta::here(), "scope")
        .unwrap();
    group.cancel();
    let after = rt
        .scheduler
        .spawn(group.node(), pending::<()>(), SpawnMeta::here(), "scope")
        .unwrap();
    assert!(block_on(before).unwrap_err().is_cancelled());
    assert!(block_on(after).unwrap_err().is_cancelled());
    // The body goes on after a cancel: the owner still closes the group.
    assert!(!group.node().is_complete());
    group.close();
    wait_complete(&group);
    rt.finish();
}

#[test]
fn a_childs_failure_reaches_the_group_before_its_handle_resolves() {
    let rt = Rt::new(1);
    let group = rt
        .scheduler
        .new_group(rt.root.node(), false, None, "root")
        .unwrap();
    assert!(!group.has_failed());
    let child = rt
        .scheduler
        .spawn(
            group.node(),
            async { panic!("boom") },
            SpawnMeta::here(),
            "scope",
        )
        .unwrap();
    let _ = block_on(child);
    assert!(group.has_failed());
    group.abandon();
    wait_complete(&group);
    let failure = group.take_failure().expect("the failure is kept");
    assert_eq!(failure.panic_message(), Some("boom"));
    assert!(group.take_failure().is_none(), "taken once");
    rt.finish();
}

#[test]
fn failures_after_the_first_are_kept_as_suppressed() {
    let rt = Rt::new(1);
    let group = rt
        .scheduler
        .new_group(rt.root.node(), false, None, "root")
        .unwrap();
    let first = rt
        .scheduler
        .spawn(
            group.node(),
            async { panic!("first") },
            SpawnMeta::here(),
            "scope",
        )
        .unwrap();
    // A shielded child is not cancelled by the first failure; it fails after it.
    let mut shielded = SpawnMeta::here();
    shielded.shielded = true;
    let second = async move {
        let _ = first.await;
        panic!("second")
    };
    let _second = rt.scheduler.spawn(group.node(), second, shielded, "scope");
    group.close();
    wait_complete(&group);
    assert_eq!(group.take_failure().unwrap().panic_message(), Some("first"));
    let later = group.suppressed_failures();
    assert_eq!(later.len(), 1);
    assert!(later[0].ends_with("panicked: second"), "{later:?}");
    rt.finish();
}

#[test]
fn inside_a_task_the_current_node_is_the_task_and_enter_overrides_it() {
    let rt = Rt::new(1);
    assert_eq!(with_current_node(|node| node.map(|n| n.id())), None);
    let task = rt.spawn(async { with_current_node(|node| node.map(|n| n.id())) });
    let id = task.id();
    assert_eq!(block_on(task).unwrap(), Some(id));

    let other = rt.spawn(pending::<()>());
    {
        let _guard = current_node::enter(other.node());
        assert!(with_current_node(|current| current == Some(other.node())));
    }
    assert!(with_current_node(|current| current.is_none()), "restored");
    other.cancel();
    rt.finish();
}

#[test]
fn a_panicking_waker_does_not_unwind_into_wake_guarded() {
    struct Faulty;
    impl Wake for Faulty {
        fn wake(self: Arc<Self>) {
            panic!("this executor's waker is broken");
        }
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let _hook = diagnostics::enter(Some(Arc::new(move |fault: &Fault| {
        log.lock().unwrap().push(fault.kind());
    })));
    current_node::wake_guarded(Waker::from(Arc::new(Faulty)));
    current_node::wake_guarded(Waker::noop().clone());
    assert_eq!(*seen.lock().unwrap(), [FaultKind::WakerPanicked]);
    diagnostics::report(Fault::new(FaultKind::WakerPanicked, "reported"));
    assert_eq!(seen.lock().unwrap().len(), 2, "report reaches the hook");
}

#[test]
fn a_task_may_proceed_budget_times_per_poll() {
    let rt = Rt::new(1);
    let steps = rt.spawn(poll_fn(|cx| {
        let mut steps = 0;
        while poll_proceed(cx).is_ready() {
            steps += 1;
        }
        Poll::Ready(steps)
    }));
    assert_eq!(block_on(steps).unwrap(), usize::from(BUDGET));
    rt.finish();
}

#[test]
fn each_worker_calls_the_start_and_stop_hooks_on_its_own_thread() {
    struct Hooks {
        parker: Parker,
        started: Arc<Mutex<Vec<String>>>,
        stopped: Arc<AtomicUsize>,
    }
    impl Park for Hooks {
        fn park(&self, index: usize) {
            self.parker.park(index)
        }
        fn unpark(&self, index: usize) {
            self.parker.unpark(index)
        }
        fn poll_events(&self, _index: usize) {}
        fn on_worker_start(&self, index: usize) {
            let name = std::thread::current().name().unwrap_or("?").to_owned();
            self.started
                .lock()
                .unwrap()
                .push(format!("{index} on {name}"));
        }
        fn on_worker_stop(&self, _index: usize) {
            self.stopped.fetch_add(1, Ordering::SeqCst);
        }
    }
    let started = Arc::new(Mutex::new(Vec::new()));
    let stopped = Arc::new(AtomicUsize::new(0));
    let hooks = Hooks {
        parker: Parker::new(2),
        started: started.clone(),
        stopped: stopped.clone(),
    };
    let (scheduler, runners) = Scheduler::new(2, hooks);
    let threads: Vec<_> = runners
        .into_iter()
        .map(|runner| {
            let name = format!("w-{}", runner.index());
            std::thread::Builder::new()
                .name(name)
                .spawn(move || runner.run())
                .unwrap()
        })
        .collect();
    scheduler.shutdown();
    for thread in threads {
        thread.join().unwrap();
    }
    let mut seen = started.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, ["0 on w-0", "1 on w-1"]);
    assert_eq!(stopped.load(Ordering::SeqCst), 2);
}

#[test]
fn spawn_meta_records_the_callers_location() {
    let (meta, here) = (SpawnMeta::here(), line!());
    assert_eq!(meta.location.line(), here);
    assert_eq!(meta.location.file(), file!());
    assert_eq!(meta.name, None);
    assert!(!meta.shielded);
    assert_eq!(
        SpawnMeta::named(format!("conn-{}", 7)).name.as_deref(),
        Some("conn-7")
    );
}

#[test]
fn an_enter_guard_kept_past_its_poll_never_restores_a_node_that_may_be_gone() {
    // A guard made in one task's poll and stashed in a thread-local replaced that task's node
    // as current. Dropped in a later poll while its node is current again (entered anew), it
    // must not make the first task current again: that task may be complete and freed.
    thread_local! {
        static STASH: std::cell::RefCell<Option<current_node::EnterGuard>> =
            const { std::cell::RefCell::new(None) };
    }
    let rt = Rt::new(1);
    let other = rt.spawn(pending::<()>());
    let node = other.node().clone();
    let stash = rt.spawn(async move {
        STASH.with(|s| *s.borrow_mut() = Some(current_node::enter(&node)));
    });
    block_on(stash).unwrap();
    let node = other.node().clone();
    let later = rt.spawn(async move {
        let _entered = current_node::enter(&node);
        let stale = STASH
            .with(|s| s.borrow_mut().take())
            .expect("stashed on this worker");
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(stale)));
        assert!(
            dropped.is_err(),
            "a guard dropped out of turn must panic, not restore the node it replaced"
        );
        with_current_node(|current| current.map(|n| n.id()))
    });
    assert_eq!(block_on(later).unwrap(), Some(other.id()));
    other.cancel();
    rt.finish();
}
