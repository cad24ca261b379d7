//! `Handle::metrics`: the counters move when the runtime does what they count.
//!
//! Conditions that depend on other threads (a worker parking, a peer stealing) are awaited with
//! a bounded wait, so that a counter that never moves fails the test instead of hanging it.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nursery::{Runtime, RuntimeMetrics};

fn runtime(workers: usize) -> Runtime {
    Runtime::builder()
        .worker_threads(workers)
        .stall_threshold(None)
        .thread_keep_alive(Duration::from_secs(3600))
        .build()
        .expect("runtime")
}

fn total(metrics: &RuntimeMetrics, count: impl Fn(&nursery::WorkerMetrics) -> u64) -> u64 {
    metrics.workers.iter().map(count).sum()
}

/// Reads the metrics until `done` holds, for at most 10 s; returns the last reading.
fn wait_for(rt: &Runtime, what: &str, done: impl Fn(&RuntimeMetrics) -> bool) -> RuntimeMetrics {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = rt.handle().metrics();
        if done(&metrics) {
            return metrics;
        }
        assert!(Instant::now() < deadline, "never saw {what}:\n{metrics}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Keeps the worker busy for about `d` (a CPU-bound piece of work).
fn spin_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

#[test]
fn polls_and_injector_pulls_grow_after_running_tasks() {
    let rt = runtime(2);
    let before = rt.handle().metrics();
    rt.block_on(async {
        for _ in 0..10 {
            nursery::spawn(async {}).await.unwrap();
        }
    });
    let after = rt.handle().metrics();
    assert_eq!(after.worker_count(), 2);
    assert!(
        total(&after, |w| w.polls) >= total(&before, |w| w.polls) + 10,
        "{after}"
    );
    // Spawned from outside the workers: each came through the injector.
    assert!(
        total(&after, |w| w.injector_pulls) >= total(&before, |w| w.injector_pulls) + 10,
        "{after}"
    );
}

#[test]
fn parks_grow_on_an_idle_runtime_after_a_burst_whose_first_spawn_unparks_a_worker() {
    let rt = runtime(2);
    let idle = wait_for(&rt, "every worker parked at start", |m| {
        m.workers.iter().all(|w| w.parks > 0)
    });
    rt.block_on(async {
        let tasks: Vec<_> = (0..50).map(|_| nursery::spawn(async {})).collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    // Every worker was asleep: the first spawn from outside had to wake one.
    let after_burst = rt.handle().metrics();
    assert!(
        total(&after_burst, |w| w.unparks) > total(&idle, |w| w.unparks),
        "before:\n{idle}\nafter:\n{after_burst}"
    );
    wait_for(&rt, "a worker parking again after the burst", |m| {
        total(m, |w| w.parks) > total(&idle, |w| w.parks)
    });
}

#[test]
fn a_fan_out_on_one_worker_is_stolen_by_the_idle_other() {
    let rt = runtime(2);
    // One task spawns 100 short CPU-bound tasks into its own worker's queue; the other worker,
    // idle, is woken to steal some. Tried a few times, in case the first fan-out ran entirely
    // where it was spawned.
    for _ in 0..20 {
        rt.block_on(async {
            nursery::spawn(async {
                let tasks: Vec<_> = (0..100)
                    .map(|_| nursery::spawn(async { spin_for(Duration::from_micros(200)) }))
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            })
            .await
            .unwrap()
        });
        if total(&rt.handle().metrics(), |w| w.steals) > 0 {
            return;
        }
    }
    panic!("no steal after 20 fan-outs:\n{}", rt.handle().metrics());
}

#[test]
fn a_task_out_of_budget_counts_budget_exhaustions() {
    let rt = runtime(1);
    rt.block_on(async {
        nursery::spawn(async {
            // Ten times the budget (128 steps a poll).
            for _ in 0..1280 {
                nursery::task::consume_budget().await;
            }
        })
        .await
        .unwrap()
    });
    let metrics = rt.handle().metrics();
    assert!(metrics.workers[0].budget_exhaustions >= 9, "{metrics}");
}

#[test]
fn blocking_threads_are_counted_busy_then_idle() {
    let rt = runtime(1);
    assert_eq!(rt.handle().metrics().blocking_threads, 0);
    let release = Arc::new(AtomicBool::new(false));
    let job_release = release.clone();
    let job = rt.handle().spawn(async move {
        nursery::task::spawn_blocking(move || {
            // Bounded, so that a failing test still shuts its runtime down.
            let deadline = Instant::now() + Duration::from_secs(20);
            while !job_release.load(SeqCst) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        })
        .await
    });
    let busy = wait_for(&rt, "a blocking thread", |m| m.blocking_threads == 1);
    assert_eq!(busy.idle_blocking_threads, 0, "{busy}");
    release.store(true, SeqCst);
    rt.block_on(job).unwrap().unwrap();
    wait_for(&rt, "the blocking thread idle", |m| {
        m.blocking_threads == 1 && m.idle_blocking_threads == 1
    });
}

#[test]
fn a_pending_sleep_counts_as_a_timer_and_a_live_task() {
    let rt = runtime(1);
    let before = rt.handle().metrics();
    assert_eq!(before.timers, 0, "{before}");
    let sleeper = rt
        .handle()
        .spawn(async { nursery::time::sleep(Duration::from_secs(3600)).await });
    let sleeping = wait_for(&rt, "the sleeper's timer", |m| m.timers == 1);
    assert!(sleeping.live_tasks > before.live_tasks, "{sleeping}");
    sleeper.cancel();
    assert!(rt.block_on(sleeper).unwrap_err().is_cancelled());
    wait_for(&rt, "the timer gone", |m| m.timers == 0);
}

#[test]
fn an_open_socket_counts_as_an_io_registration() {
    let rt = runtime(1);
    let before = rt.handle().metrics().io_registrations;
    let listener = rt
        .block_on(nursery::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let open = rt.handle().metrics();
    assert_eq!(open.io_registrations, before + 1, "{open}");
    drop(listener);
    assert_eq!(rt.handle().metrics().io_registrations, before);
}

#[test]
fn the_display_has_a_line_per_worker() {
    let rt = runtime(3);
    let text = rt.handle().metrics().to_string();
    assert!(text.starts_with("runtime: workers 3,"), "{text}");
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.contains("worker 2: polls"), "{text}");
}
