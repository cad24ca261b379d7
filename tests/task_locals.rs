//! Task-locals flow down the task tree: a child sees the values its spawner saw when it spawned
//! it (a snapshot), a child's own `scope` overrides them for itself and its descendants only,
//! and code spawned from outside any scope sees nothing.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use futures::channel::oneshot;
use support::{panic_message, runtime};

nursery::task_local! {
    static REQUEST_ID: u64;
    /// A second key, to check that keys do not shadow each other.
    static USER: String;
}

nursery::task_local! {
    pub(crate) static ATTEMPT: u8
}

/// The request id the running code sees, `None` if it sees none.
fn request_id() -> Option<u64> {
    REQUEST_ID.try_with(|id| *id).ok()
}

/// Runs `f` on a fresh runtime with `workers` workers on another thread; fails (instead of
/// hanging) if it takes more than 10 s.
fn within_10s<T: Send + 'static>(
    workers: usize,
    f: impl FnOnce(&nursery::Runtime) -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = runtime(workers);
        let _ = tx.send(f(&rt));
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the test hung")
}

/// Library code that starts work with the free function, knowing nothing of task-locals.
fn start_lookup() -> nursery::JoinHandle<Option<u64>> {
    nursery::spawn(async { request_id() })
}

#[test]
fn a_child_sees_the_value_its_spawner_set() {
    let seen = within_10s(2, |rt| {
        rt.block_on(REQUEST_ID.scope(7, async {
            nursery::spawn(async { REQUEST_ID.get() }).await.unwrap()
        }))
    });
    assert_eq!(seen, 7);
}

#[test]
fn a_grandchild_inherits_through_a_scope_and_a_helper_that_spawns() {
    let seen = within_10s(2, |rt| {
        rt.block_on(REQUEST_ID.scope(11, async {
            nursery::spawn(async {
                nursery::scope(|s| async move {
                    let through_scope = s.spawn(async { start_lookup().await.unwrap() });
                    through_scope.await.unwrap()
                })
                .await
            })
            .await
            .unwrap()
        }))
    });
    assert_eq!(seen, Some(11));
}

#[test]
fn every_way_to_spawn_from_a_task_carries_the_values() {
    let seen = within_10s(2, |rt| {
        rt.block_on(REQUEST_ID.scope(3, async {
            nursery::scope(|s| async move {
                let named = nursery::task::Builder::new()
                    .name("named")
                    .spawn(async { request_id() });
                let in_scope = nursery::task::Builder::new().spawn_in(&s, async { request_id() });
                let mut set = s.task_set();
                set.spawn(async { request_id() });
                let waited = s.spawn_wait(async { request_id() }).await.unwrap();
                let handle = nursery::Handle::current().spawn(async { request_id() });
                let tried = nursery::try_scope(|t| async move {
                    let child = t.spawn(async { Ok::<_, ()>(request_id()) });
                    Ok(child.await.unwrap().unwrap())
                })
                .await
                .unwrap();
                vec![
                    named.await.unwrap(),
                    in_scope.await.unwrap(),
                    set.join_next().await.unwrap().unwrap(),
                    waited.await.unwrap(),
                    handle.await.unwrap(),
                    tried,
                ]
            })
            .await
        }))
    });
    assert_eq!(seen, vec![Some(3); 6]);
}

#[test]
fn a_childs_override_reaches_its_descendants_but_not_its_parent_or_siblings() {
    let (parent, overridden, grandchild, sibling) = within_10s(2, |rt| {
        rt.block_on(REQUEST_ID.scope(1, async {
            let overriding = nursery::spawn(REQUEST_ID.scope(2, async {
                let grandchild = start_lookup();
                (request_id(), grandchild.await.unwrap())
            }));
            let sibling = nursery::spawn(async { request_id() });
            let (overridden, grandchild) = overriding.await.unwrap();
            (request_id(), overridden, grandchild, sibling.await.unwrap())
        }))
    });
    assert_eq!(parent, Some(1));
    assert_eq!(overridden, Some(2));
    assert_eq!(grandchild, Some(2));
    assert_eq!(sibling, Some(1));
}

#[test]
fn keys_are_independent_and_an_inner_scope_shadows_only_its_own_key() {
    let seen = within_10s(1, |rt| {
        rt.block_on(REQUEST_ID.scope(
            1,
            USER.scope("ada".to_owned(), async {
                let inner = REQUEST_ID
                    .scope(2, async {
                        nursery::spawn(async { (request_id(), USER.get()) }).await
                    })
                    .await
                    .unwrap();
                (inner, (request_id(), USER.get()))
            }),
        ))
    });
    assert_eq!(seen.0, (Some(2), "ada".to_owned()));
    assert_eq!(seen.1, (Some(1), "ada".to_owned()));
}

/// Would fail if a child referred to its spawner's values instead of copying them: the parent
/// enters a new scope while the child is still running, and the child must not see it.
#[test]
fn a_child_keeps_the_values_of_spawn_time_when_its_parent_sets_new_ones() {
    let (child_saw, parent_saw) = within_10s(2, |rt| {
        rt.block_on(REQUEST_ID.scope(1, async {
            let (go, wait) = oneshot::channel::<()>();
            let (answer, seen) = oneshot::channel();
            let child = nursery::spawn(async move {
                wait.await.unwrap();
                answer.send(request_id()).unwrap();
            });
            // The child reads while the parent is inside its new scope.
            let parent_saw = REQUEST_ID
                .scope(2, async move {
                    go.send(()).unwrap();
                    let child_saw = seen.await.unwrap();
                    (child_saw, request_id())
                })
                .await;
            child.await.unwrap();
            parent_saw
        }))
    });
    assert_eq!(child_saw, Some(1));
    assert_eq!(parent_saw, Some(2));
}

/// The spawner's values travel, not the parent's: a child spawned into a scope from a sibling
/// task sees what that sibling saw.
#[test]
fn a_child_spawned_through_a_scope_handle_sees_its_spawners_values() {
    let seen = within_10s(2, |rt| {
        rt.block_on(REQUEST_ID.scope(1, async {
            nursery::scope(|s| async move {
                let siblings = s.clone();
                let spawner = s.spawn(REQUEST_ID.scope(5, async move {
                    let sibling = siblings.spawn(async { request_id() });
                    sibling.await.unwrap()
                }));
                let from_body = s.spawn(async { request_id() });
                (spawner.await.unwrap(), from_body.await.unwrap())
            })
            .await
        }))
    });
    assert_eq!(seen, (Some(5), Some(1)));
}

/// Many tasks, each with its own value, yield many times on four workers: each sees its own
/// value after every await, whichever worker resumes it, and tasks without one see nothing.
#[test]
fn values_stay_with_their_task_across_awaits_and_workers() {
    let most_threads = within_10s(4, |rt| {
        rt.block_on(async {
            let mut tasks = Vec::new();
            for id in 0..16u64 {
                let check = async move {
                    let mut threads = std::collections::HashSet::new();
                    let start = std::time::Instant::now();
                    // Until it has moved (or for 5 s), and at least 200 awaits.
                    for round in 0.. {
                        assert_eq!(request_id(), (id % 2 == 0).then_some(id));
                        threads.insert(std::thread::current().id());
                        if round >= 200 && (threads.len() > 1 || start.elapsed().as_secs() >= 5) {
                            break;
                        }
                        if round % 8 == 0 {
                            // Whichever worker drives the timer wakes it: it may move.
                            nursery::time::sleep(Duration::from_micros(100)).await;
                        } else {
                            nursery::task::yield_now().await;
                        }
                    }
                    threads.len()
                };
                tasks.push(match id % 4 {
                    // Set in the task itself.
                    0 => nursery::spawn(async move { REQUEST_ID.scope(id, check).await }),
                    // Inherited from the spawner.
                    2 => REQUEST_ID.sync_scope(id, || nursery::spawn(check)),
                    _ => nursery::spawn(check),
                });
            }
            let mut most_threads = 0;
            for task in tasks {
                most_threads = most_threads.max(task.await.unwrap());
            }
            most_threads
        })
    });
    assert!(most_threads >= 2, "no task moved to another worker in 5 s");
}

#[test]
fn with_outside_any_scope_panics_with_a_message_naming_the_key() {
    let panic = std::panic::catch_unwind(|| REQUEST_ID.with(|id| *id)).unwrap_err();
    let message = panic_message(&*panic);
    assert!(
        message.contains("task-local `REQUEST_ID` is not set"),
        "{message}"
    );
    let err = REQUEST_ID.try_with(|id| *id).unwrap_err();
    assert_eq!(err.to_string(), message);
    // Inside a task spawned from outside any scope too.
    let in_task = within_10s(1, |rt| {
        rt.block_on(async { nursery::spawn(async { request_id() }).await })
    });
    assert_eq!(in_task.unwrap(), None);
}

#[test]
fn a_blocking_closure_sees_its_callers_values() {
    let seen = within_10s(1, |rt| {
        rt.block_on(REQUEST_ID.scope(9, async {
            let blocking = nursery::task::spawn_blocking(|| {
                // And what it spawns inherits them too.
                (request_id(), start_lookup())
            });
            let (seen, spawned) = blocking.await.unwrap();
            let after = nursery::task::spawn_blocking(request_id);
            (seen, spawned.await.unwrap(), after.await.unwrap())
        }))
    });
    assert_eq!(seen, (Some(9), Some(9), Some(9)));
    // The pool thread does not keep them.
    let later = within_10s(1, |rt| {
        rt.block_on(async { nursery::task::spawn_blocking(request_id).await.unwrap() })
    });
    assert_eq!(later, None);
}

#[test]
fn a_task_spawned_from_a_plain_thread_through_a_handle_sees_nothing() {
    let rt = runtime(1);
    let handle = rt.handle().clone();
    let (ready, wait) = mpsc::channel();
    let plain_done = Arc::new(AtomicBool::new(false));
    let done = plain_done.clone();
    // A task with a value keeps the one worker busy, turn by turn, until the plain task is done.
    let busy = REQUEST_ID.sync_scope(4, || {
        rt.handle().spawn(async move {
            let _ = ready.send(());
            while !done.load(SeqCst) {
                nursery::task::yield_now().await;
            }
            request_id()
        })
    });
    wait.recv_timeout(Duration::from_secs(10)).unwrap();
    let plain = std::thread::spawn(move || {
        handle.spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..100 {
                seen.extend(request_id());
                nursery::task::yield_now().await;
            }
            plain_done.store(true, SeqCst);
            seen
        })
    })
    .join()
    .unwrap();
    assert_eq!(rt.block_on(plain).unwrap(), []);
    // `Handle::spawn` inside `sync_scope` on a plain thread carries the value, like any spawn.
    assert_eq!(rt.block_on(busy).unwrap(), Some(4));
}

#[test]
fn a_cancelled_childs_destructors_still_see_its_values() {
    struct Report(mpsc::Sender<Option<u64>>);
    impl Drop for Report {
        fn drop(&mut self) {
            let _ = self.0.send(request_id());
        }
    }
    let (tx, rx) = mpsc::channel();
    let started = Arc::new(AtomicUsize::new(0));
    within_10s(2, move |rt| {
        rt.block_on(REQUEST_ID.scope(6, async move {
            let report = Report(tx);
            let started2 = started.clone();
            let child = nursery::spawn(async move {
                let _report = report;
                started2.fetch_add(1, SeqCst);
                std::future::pending::<()>().await;
            });
            while started.load(SeqCst) == 0 {
                nursery::task::yield_now().await;
            }
            child.cancel();
            assert!(child.await.unwrap_err().is_cancelled());
        }));
    });
    assert_eq!(rx.recv_timeout(Duration::from_secs(1)).unwrap(), Some(6));
}

#[test]
fn sync_scope_restores_the_outer_value_even_after_a_panic() {
    REQUEST_ID.sync_scope(1, || {
        let inner = std::panic::catch_unwind(|| REQUEST_ID.sync_scope(2, || panic!("boom")));
        assert!(inner.is_err());
        assert_eq!(request_id(), Some(1));
        // A key declared without a trailing `;` works the same.
        assert_eq!(ATTEMPT.sync_scope(3, || ATTEMPT.get()), 3);
    });
    assert_eq!(request_id(), None);
}
