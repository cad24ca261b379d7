//! spawn_blocking: a pool of threads whose jobs are tasks of the tree.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

use nursery::task::spawn_blocking;
use support::{panic_message, runtime, stays_pending};

#[test]
fn a_blocking_job_returns_its_value_through_its_handle() {
    let rt = runtime(2);
    let name = rt
        .block_on(async {
            spawn_blocking(|| std::thread::current().name().map(str::to_owned)).await
        })
        .unwrap()
        .unwrap();
    assert!(name.ends_with("-blocking"), "ran on a pool thread: {name}");
}

#[test]
fn a_cancelled_blocking_job_still_holds_its_parent_until_the_closure_returns() {
    let rt = runtime(2);
    rt.block_on(async {
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = futures::channel::oneshot::channel::<()>();
        let finished = Arc::new(AtomicUsize::new(0));
        let f = finished.clone();
        let mut parent = nursery::spawn(async move {
            let job = spawn_blocking(move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                f.fetch_add(1, SeqCst);
            });
            job.cancel();
            let err = job.await.unwrap_err();
            assert!(err.is_cancelled());
        });
        started_rx.await.unwrap();
        assert!(
            stays_pending(&mut parent, 2000).await,
            "the parent completed while its blocking child still ran"
        );
        release_tx.send(()).unwrap();
        parent.await.unwrap();
        assert_eq!(finished.load(SeqCst), 1);
    });
}

#[test]
fn a_panic_in_a_blocking_job_is_a_panic_of_its_task() {
    let rt = runtime(2);
    // Under the root, the failure stays in the task's handle.
    let task = rt
        .handle()
        .spawn(async { spawn_blocking(|| panic!("blocking boom")).await.unwrap() });
    let err = rt.block_on(task).unwrap_err();
    assert!(err.is_panic());
    assert_eq!(err.panic_message(), Some("blocking boom"));

    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(nursery::scope(|s| async move {
            s.spawn(async { spawn_blocking(|| panic!("inside a scope")).await });
        }))
    }));
    assert!(panic_message(&*caught.unwrap_err()).contains("inside a scope"));
}

#[test]
fn the_pool_grows_on_demand_within_its_bound_and_retires_idle_threads() {
    let rt = nursery::Runtime::builder()
        .worker_threads(1)
        .max_blocking_threads(3)
        .thread_keep_alive(Duration::from_millis(20))
        .build()
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(3));
    rt.block_on(async {
        let mut jobs = Vec::new();
        for i in 0..9 {
            let (running, peak, barrier) = (running.clone(), peak.clone(), barrier.clone());
            jobs.push(spawn_blocking(move || {
                let now = running.fetch_add(1, SeqCst) + 1;
                peak.fetch_max(now, SeqCst);
                if i < 3 {
                    barrier.wait(); // three must run at once: the pool grew to three
                }
                running.fetch_sub(1, SeqCst);
            }));
        }
        for job in jobs {
            job.await.unwrap();
        }
    });
    assert_eq!(peak.load(SeqCst), 3, "the pool never exceeds its bound");
    support::eventually(Duration::from_secs(10), || {
        match rt.handle().blocking_threads() {
            0 => Ok(()),
            _ => Err("idle threads never retired".to_owned()),
        }
    });
}

#[test]
fn two_jobs_submitted_while_one_thread_is_idle_run_at_once() {
    // One pool thread is idle after a first job. The next two jobs each wait until the other
    // has started: if both were handed to that one thread (the second queued behind the
    // first), neither would ever see the other.
    let rt = runtime(2);
    rt.block_on(async {
        spawn_blocking(|| ()).await.unwrap();
        support::eventually(Duration::from_secs(10), || {
            match rt.handle().metrics().idle_blocking_threads {
                1 => Ok(()),
                n => Err(format!(
                    "{n} idle blocking threads, expected the one that ran"
                )),
            }
        });
        let started = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..2)
            .map(|_| {
                let started = started.clone();
                spawn_blocking(move || {
                    started.fetch_add(1, SeqCst);
                    let deadline = std::time::Instant::now() + Duration::from_secs(10);
                    while started.load(SeqCst) < 2 && std::time::Instant::now() < deadline {
                        std::thread::yield_now();
                    }
                    started.load(SeqCst) == 2
                })
            })
            .collect();
        for job in jobs {
            assert!(
                job.await.unwrap(),
                "the second job waited for the first one's thread"
            );
        }
    });
}

#[test]
fn tasks_spawned_inside_a_blocking_job_are_its_children() {
    let rt = runtime(2);
    rt.block_on(async {
        let (release_tx, release_rx) = futures::channel::oneshot::channel::<()>();
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        let mut job = spawn_blocking(move || {
            nursery::spawn(async move {
                let _ = release_rx.await;
                d.fetch_add(1, SeqCst);
            });
        });
        assert!(stays_pending(&mut job, 2000).await, "done before its child");
        release_tx.send(()).unwrap();
        job.await.unwrap();
        assert_eq!(done.load(SeqCst), 1);
    });
}

#[test]
fn handle_block_on_works_inside_a_blocking_job() {
    let rt = runtime(2);
    let out = rt.block_on(async {
        let handle = nursery::Handle::current();
        spawn_blocking(move || {
            handle.block_on(async { nursery::spawn(async { 9 }).await.unwrap() })
        })
        .await
        .unwrap()
    });
    assert_eq!(out, 9);
}

/// How many threads of this process are called `name` (Linux: at most 15 bytes).
#[cfg(target_os = "linux")]
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

#[cfg(target_os = "linux")]
#[test]
fn bursts_of_blocking_jobs_leave_no_thread_behind_once_the_runtime_is_dropped() {
    const BURST: usize = 8;
    let rt = nursery::Runtime::builder()
        .worker_threads(1)
        .thread_name("bursts") // pool threads: "bursts-blocking"
        .max_blocking_threads(BURST)
        .thread_keep_alive(Duration::from_millis(5))
        .build()
        .unwrap();
    for _ in 0..10 {
        let barrier = Arc::new(Barrier::new(BURST));
        rt.block_on(async {
            let jobs: Vec<_> = (0..BURST)
                .map(|_| {
                    let barrier = barrier.clone();
                    spawn_blocking(move || {
                        barrier.wait(); // the pool grows to BURST threads
                    })
                })
                .collect();
            for job in jobs {
                job.await.unwrap();
            }
        });
        // Retiring threads exit: the process's threads follow the pool's live threads.
        support::eventually(Duration::from_secs(10), || {
            match (
                rt.handle().blocking_threads(),
                threads_named("bursts-blocking"),
            ) {
                (0, n) if n <= 1 => Ok(()),
                (live, n) => Err(format!(
                    "{live} live in the pool, {n} threads in the process"
                )),
            }
        });
    }
    drop(rt);
    assert_eq!(
        threads_named("bursts-blocking"),
        0,
        "a blocking thread outlived its runtime"
    );
}

#[test]
fn spawn_blocking_in_a_cancelled_scope_never_panics_and_resolves_every_handle() {
    // A task spawned into a cancelled scope can be taken by the other worker and end, cancelled,
    // before `spawn_blocking` returns; that must not panic the caller.
    let rt = runtime(2);
    let ran = Arc::new(AtomicUsize::new(0));
    let (ok, cancelled) = rt.block_on(nursery::scope(|s| {
        let ran = ran.clone();
        async move {
            s.cancel();
            let (mut ok, mut cancelled) = (0, 0);
            for _ in 0..2_000 {
                let ran = ran.clone();
                match spawn_blocking(move || ran.fetch_add(1, SeqCst)).await {
                    Ok(_) => ok += 1,
                    Err(e) => {
                        assert!(e.is_cancelled(), "only cancelled, not {e}");
                        cancelled += 1;
                    }
                }
            }
            (ok, cancelled)
        }
    }));
    assert_eq!(ok + cancelled, 2_000);
    // A job runs exactly when its handle did not resolve as cancelled before it started.
    assert!(ran.load(SeqCst) >= ok);
}
