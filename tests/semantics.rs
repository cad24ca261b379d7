//! Structured concurrency beyond the basics (docs/semantics.md): try_scope, supervision,
//! deadlines, graceful shutdown, shielded children, limits, start.

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nursery::time::sleep;
use support::{panic_message, pending_forever, runtime, DropCounter};

#[test]
fn try_scope_returns_the_first_error_after_cancelling_siblings_and_body() {
    let rt = runtime(2);
    rt.block_on(async {
        let drops = DropCounter::new();
        let (d, b) = (drops.clone(), drops.clone());
        let out: Result<(), String> = nursery::try_scope(|s| async move {
            for _ in 0..10 {
                // Created here, not in the child: a child cancelled before its first poll
                // still drops its token.
                let token = d.token();
                s.spawn(async move {
                    pending_forever(token).await;
                    Ok::<(), String>(())
                });
            }
            s.spawn(async { Err::<(), _>("first".to_owned()) });
            pending_forever(b.token()).await;
            Ok(())
        })
        .await;
        assert_eq!(out, Err("first".to_owned()));
        assert_eq!(
            drops.count(),
            11,
            "siblings and body were dropped before it returned"
        );
    });
}

#[test]
fn try_scope_keeps_errors_after_the_first() {
    let rt = runtime(2);
    rt.block_on(async {
        let keeper = Arc::new(Mutex::new(None));
        let k = keeper.clone();
        let out: Result<(), u32> = nursery::try_scope(|s| async move {
            *k.lock().unwrap() = Some(s.clone());
            // Shielded children keep running after the first error, and then fail too.
            for i in 1..5u32 {
                let scope = s.scope().clone();
                s.spawn_shielded(async move {
                    while !scope.is_cancelled() {
                        nursery::task::yield_now().await;
                    }
                    Err::<(), _>(i)
                });
            }
            s.spawn(async { Err::<(), _>(0) });
            Ok(())
        })
        .await;
        assert_eq!(out, Err(0), "the first error is returned");
        let handle = keeper.lock().unwrap().take().unwrap();
        let mut later = handle.take_later_errors();
        later.sort();
        assert_eq!(
            later,
            vec![1, 2, 3, 4],
            "later errors are kept, not dropped"
        );
    });
}

#[test]
fn try_scope_returns_the_body_value_when_no_child_fails() {
    let rt = runtime(2);
    let out: Result<u32, String> = rt.block_on(nursery::try_scope(|s| async move {
        let a = s.spawn(async { Ok::<_, String>(20) });
        let b = s.spawn(async { Ok::<_, String>(22) });
        Ok(a.await.unwrap().unwrap() + b.await.unwrap().unwrap())
    }));
    assert_eq!(out, Ok(42));
}

#[test]
fn a_supervised_scope_keeps_a_child_failure_in_its_handle_and_siblings_run_on() {
    let rt = runtime(2);
    rt.block_on(async {
        let reported = Arc::new(Mutex::new(Vec::new()));
        let r = reported.clone();
        let survivors = nursery::supervised(|s| async move {
            s.on_child_failure(move |err| r.lock().unwrap().push(err.to_string()));
            let crash = nursery::task::Builder::new()
                .name("conn-1")
                .spawn_in(&s, async { panic!("bad request") });
            let mut fine = Vec::new();
            for i in 0..5 {
                fine.push(s.spawn(async move {
                    nursery::task::yield_now().await;
                    i
                }));
            }
            let err = crash.await.unwrap_err();
            assert!(err.is_panic() && err.panic_message() == Some("bad request"));
            let mut sum = 0;
            for h in fine {
                sum += h.await.expect("a sibling was cancelled by the failure");
            }
            sum
        })
        .await;
        assert_eq!(survivors, 10);
        let reported = reported.lock().unwrap();
        assert_eq!(reported.len(), 1);
        assert!(reported[0].contains("conn-1") && reported[0].contains("bad request"));
    });
}

#[test]
fn move_on_after_cancels_the_body_and_every_child_and_says_the_deadline_fired() {
    let rt = runtime(2);
    rt.block_on(async {
        let drops = DropCounter::new();
        let (d, b) = (drops.clone(), drops.clone());
        let start = Instant::now();
        let out = nursery::move_on_after(Duration::from_millis(20), |s| async move {
            for _ in 0..10 {
                s.spawn(pending_forever(d.token()));
            }
            pending_forever(b.token()).await;
        })
        .await;
        assert!(out.is_none(), "the deadline fired");
        assert!(
            start.elapsed() >= Duration::from_millis(20),
            "not before the deadline"
        );
        assert_eq!(drops.count(), 11);
        let quick = nursery::move_on_after(Duration::from_secs(60), |_s| async { 5 }).await;
        assert_eq!(
            quick,
            Some(5),
            "a scope that finishes in time keeps its value"
        );
    });
}

#[test]
fn a_deadline_reaches_tasks_inside_nested_scopes() {
    let rt = runtime(2);
    rt.block_on(async {
        let drops = DropCounter::new();
        // Created up front and moved down the tree: dropped wherever the deadline finds it.
        let token = drops.token();
        let out = nursery::fail_after(Duration::from_millis(10), |outer| async move {
            outer.spawn(async move {
                nursery::scope(|inner| async move {
                    inner.spawn(async move {
                        nursery::spawn(pending_forever(token));
                        std::future::pending::<()>().await
                    });
                })
                .await
            });
            std::future::pending::<()>().await
        })
        .await;
        assert!(out.is_err());
        assert_eq!(
            drops.count(),
            1,
            "the grandchild of a nested scope was cancelled too"
        );
    });
}

#[test]
fn an_inner_deadline_cannot_outlive_an_outer_one() {
    let rt = runtime(2);
    rt.block_on(async {
        let start = Instant::now();
        let out = nursery::move_on_after(Duration::from_millis(10), |_| async {
            nursery::move_on_after(Duration::from_secs(60), |_| sleep(Duration::from_secs(60)))
                .await
        })
        .await;
        assert!(out.is_none());
        assert!(start.elapsed() < Duration::from_secs(30));
    });
}

#[test]
fn graceful_shutdown_lets_tasks_finish_then_hard_cancels_the_rest() {
    let rt = runtime(2);
    rt.block_on(async {
        let finished_cleanly = Arc::new(AtomicUsize::new(0));
        let stubborn = DropCounter::new();
        let (f, st) = (finished_cleanly.clone(), stubborn.clone());
        let start = Instant::now();
        let value = nursery::scope(|s| async move {
            for _ in 0..5 {
                let (s2, f) = (s.clone(), f.clone());
                s.spawn(async move {
                    s2.shutdown_requested().await;
                    sleep(Duration::from_millis(2)).await; // wrap up
                    f.fetch_add(1, SeqCst);
                });
            }
            // This one ignores the request.
            s.spawn(pending_forever(st.token()));
            // A generous grace: the cooperative tasks must finish within it even on a loaded
            // machine.
            s.shutdown(Duration::from_millis(300));
            s.shutdown_requested().await;
            "body returned"
        })
        .await;
        assert_eq!(value, "body returned");
        assert_eq!(
            finished_cleanly.load(SeqCst),
            5,
            "cooperative tasks finished their work"
        );
        assert_eq!(
            stubborn.count(),
            1,
            "the stubborn task was cancelled after the grace"
        );
        assert!(
            start.elapsed() >= Duration::from_millis(300),
            "not before the grace ran out"
        );
    });
}

#[test]
fn a_shutdown_request_reaches_a_select_loop_that_re_polls_its_wait_and_a_wait_moved_to_a_task() {
    use futures::future::{select, Either};
    use futures::StreamExt;
    use nursery::time::timeout;

    let rt = runtime(2);
    rt.block_on(async {
        let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
        let served = nursery::scope(|s| async move {
            // A connection's loop: every message re-polls its wait for the request.
            let scope = s.clone();
            let connection = s.spawn(async move {
                let (mut rx, mut stop) = (rx, scope.shutdown_requested());
                let mut served = 0;
                loop {
                    match select(rx.next(), &mut stop).await {
                        Either::Left((Some(_), _)) => served += 1,
                        Either::Left((None, _)) => panic!("the stream ended before the request"),
                        Either::Right(((), _)) => return served,
                    }
                }
            });
            // A wait that started elsewhere (here: one poll with a no-op waker), then is
            // awaited by a task: the request must wake that task.
            let mut moved = s.shutdown_requested();
            assert!(support::poll_once(&mut moved).is_none());
            let mover = s.spawn(moved);
            for i in 0..100 {
                tx.unbounded_send(i).unwrap();
                nursery::task::yield_now().await;
            }
            // A grace far beyond the timeouts below: only the request can end these tasks.
            s.shutdown(Duration::from_secs(60));
            let served = timeout(Duration::from_secs(10), connection).await;
            let moved = timeout(Duration::from_secs(10), mover).await;
            assert!(
                moved.is_ok(),
                "the task awaiting the moved wait was never woken"
            );
            served
                .expect("the select loop never saw the request")
                .unwrap()
        })
        .await;
        assert_eq!(
            served, 100,
            "select polls the stream first: every message is served"
        );
    });
}

#[test]
fn a_shielded_child_is_not_cancelled_with_its_scope_but_is_awaited() {
    let rt = runtime(2);
    rt.block_on(async {
        let cleaned = Arc::new(AtomicUsize::new(0));
        let c = cleaned.clone();
        let out = nursery::move_on_after(Duration::from_millis(5), |s| async move {
            s.spawn_shielded(async move {
                sleep(Duration::from_millis(30)).await; // must finish
                c.fetch_add(1, SeqCst);
            });
            std::future::pending::<()>().await
        })
        .await;
        assert!(out.is_none());
        assert_eq!(
            cleaned.load(SeqCst),
            1,
            "the scope returned before its shielded child"
        );
    });
}

#[test]
fn a_shielded_child_survives_a_sibling_panic_and_runtime_shutdown_still_cancels_it() {
    let rt = runtime(2);
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    let result = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(nursery::scope(|s| async move {
            s.spawn_shielded(async move {
                sleep(Duration::from_millis(20)).await;
                d.fetch_add(1, SeqCst);
            });
            s.spawn(async { panic!("sibling") });
        }))
    }));
    assert!(panic_message(&*result.unwrap_err()).contains("sibling"));
    assert_eq!(done.load(SeqCst), 1);

    let drops = DropCounter::new();
    let token = drops.token();
    let handle = rt.handle().clone();
    let (tx, rx) = std::sync::mpsc::channel();
    handle.spawn(async move {
        nursery::task::Builder::new()
            .shielded(true)
            .spawn(pending_forever(token));
        tx.send(()).unwrap();
    });
    rx.recv().unwrap();
    drop(rt);
    assert_eq!(drops.count(), 1, "shutdown goes through shields");
}

#[test]
fn a_scope_limit_bounds_how_many_children_run_at_once() {
    let rt = runtime(2);
    rt.block_on(nursery::scope(|s| async move {
        s.set_limit(3);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        for _ in 0..30 {
            let (r, p) = (running.clone(), peak.clone());
            s.spawn_wait(async move {
                let now = r.fetch_add(1, SeqCst) + 1;
                p.fetch_max(now, SeqCst);
                sleep(Duration::from_millis(1)).await;
                r.fetch_sub(1, SeqCst);
            })
            .await
            .unwrap();
        }
        let err = loop {
            match s.try_spawn(sleep(Duration::from_millis(50))) {
                Ok(_) => continue,
                Err(e) => break e,
            }
        };
        assert!(err.is_full(), "{err}");
        assert!(err.to_string().contains("limit of 3"));
        let peak = peak.clone();
        let s2 = s.clone();
        s.spawn_wait(async move {
            assert!(peak.load(SeqCst) <= 3, "more than 3 ran at once");
            drop(s2);
        })
        .await
        .unwrap();
    }));
}

#[test]
fn start_returns_the_value_the_child_reported_when_ready() {
    let rt = runtime(2);
    rt.block_on(nursery::scope(|s| async move {
        let (addr, server) = s
            .start(|ready| async move {
                let listener = nursery::net::TcpListener::bind("127.0.0.1:0").await?;
                ready.ready(listener.local_addr()?);
                let (_conn, _) = listener.accept().await?;
                Ok::<_, std::io::Error>("served one")
            })
            .await
            .unwrap();
        nursery::net::TcpStream::connect(addr).await.unwrap();
        assert_eq!(server.await.unwrap().unwrap(), "served one");
    }));
}

#[test]
fn start_returns_an_error_raised_before_ready() {
    let rt = runtime(2);
    rt.block_on(nursery::scope(|s| async move {
        let err = s
            .start(|_ready: nursery::Ready<()>| async { Err::<(), _>("bind failed") })
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            nursery::StartError::Exited(Err("bind failed"))
        ));
    }));
}

#[test]
fn a_task_tree_dump_shows_names_parents_states_and_locations() {
    let rt = runtime(2);
    let handle = rt.handle().clone();
    rt.block_on(nursery::scope(|s| async move {
        let (tx, rx) = futures::channel::oneshot::channel::<()>();
        nursery::task::Builder::new()
            .name("listener")
            .spawn_in(&s, async move {
                let _ = rx.await;
            });
        nursery::task::yield_now().await;
        let tree = handle.task_tree();
        let text = tree.to_string();
        let listener = tree
            .nodes
            .iter()
            .find(|(_, n)| n.name.as_deref() == Some("listener"))
            .expect("named task in the dump");
        assert_eq!(listener.1.parent, Some(s.node().id()));
        assert!(listener
            .1
            .location
            .unwrap()
            .file()
            .ends_with("semantics.rs"));
        assert!(
            text.contains("'listener'") && text.contains("semantics.rs"),
            "{text}"
        );
        tx.send(()).unwrap();
    }));
}

#[test]
fn a_task_that_has_not_yet_waited_is_counted_as_starting_in_the_dump() {
    // One worker, busy with the parent: the child cannot have been polled yet when the parent
    // takes the dump. An unnamed task joins the tree's lists only when it first waits.
    let rt = runtime(1);
    let handle = rt.handle().clone();
    let parent = nursery::task::Builder::new()
        .name("parent")
        .spawn_on(rt.handle(), async move {
            let child = nursery::spawn(std::future::pending::<()>());
            let tree = handle.task_tree();
            child.cancel();
            tree
        });
    let tree = rt.block_on(parent).unwrap();
    let (_, parent) = tree
        .nodes
        .iter()
        .find(|(_, n)| n.name.as_deref() == Some("parent"))
        .expect("a named task is listed from its spawn on");
    assert_eq!(parent.live_children, 1);
    assert_eq!(parent.starting_children, 1);
    assert_eq!(tree.task_count(), 2, "the parent and its starting child");
    assert!(tree.to_string().contains("1 starting"), "{tree}");
}

#[test]
fn a_poll_that_blocks_a_worker_is_reported_with_the_tasks_name_and_location() {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let r = reports.clone();
    let rt = nursery::Runtime::builder()
        .worker_threads(2)
        .stall_threshold(Some(Duration::from_millis(50)))
        .on_stall(move |report| r.lock().unwrap().push(report.clone()))
        .build()
        .unwrap();
    rt.block_on(async {
        let blocker = nursery::task::Builder::new().name("blocker").spawn(async {
            std::thread::sleep(Duration::from_millis(400)); // blocks its worker
        });
        // The other worker keeps running tasks meanwhile.
        for i in 0..100 {
            assert_eq!(nursery::spawn(async move { i }).await.unwrap(), i);
        }
        blocker.await.unwrap();
    });
    let reports = reports.lock().unwrap();
    assert_eq!(reports.len(), 1, "reported once: {reports:?}");
    let report = &reports[0];
    assert_eq!(report.task_name.as_deref(), Some("blocker"));
    assert!(report.location.unwrap().file().ends_with("semantics.rs"));
    assert!(report.blocked_for >= Duration::from_millis(50));
    assert!(
        report.to_string().contains("spawn_blocking"),
        "says what to do: {report}"
    );
}

#[test]
fn short_polls_are_never_reported_as_stalls() {
    let reports = Arc::new(AtomicUsize::new(0));
    let r = reports.clone();
    let rt = nursery::Runtime::builder()
        .worker_threads(2)
        .stall_threshold(Some(Duration::from_millis(100)))
        .on_stall(move |_| {
            r.fetch_add(1, SeqCst);
        })
        .build()
        .unwrap();
    rt.block_on(async {
        for _ in 0..300 {
            nursery::spawn(sleep(Duration::from_millis(1)))
                .await
                .unwrap();
        }
    });
    drop(rt);
    assert_eq!(reports.load(SeqCst), 0);
}

#[test]
fn the_printed_task_tree_of_a_deep_chain_stays_small() {
    let rt = runtime(2);
    let handle = rt.handle().clone();
    let text = rt.block_on(async move {
        // A chain 200 deep: each task spawns the next and waits on a signal that never comes.
        fn link(depth: usize) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
            Box::pin(async move {
                if depth > 0 {
                    nursery::spawn(link(depth - 1));
                }
                std::future::pending::<()>().await
            })
        }
        let chain = nursery::spawn(link(200));
        while handle.task_tree().task_count() < 201 {
            nursery::task::yield_now().await;
        }
        let text = handle.task_tree().to_string();
        chain.cancel();
        let _ = chain.await;
        text
    });
    // 64 columns of indentation at most, the node, and what it waits on (here: "something
    // outside nursery (for ...)", about 70 more).
    let longest = text.lines().map(str::len).max().unwrap();
    assert!(
        longest < 280,
        "indentation grew with depth: {longest} chars"
    );
    assert!(text.contains("[depth 150]"), "deep lines say their depth");
}
