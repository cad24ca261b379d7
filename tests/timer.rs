//! Time: sleeps never fire early, timeouts drop what they wrap, intervals tick, timers work from
//! any thread and at scale, and a dropped timer leaves nothing behind.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nursery::time::{interval, sleep, sleep_until, timeout, MissedTickBehavior};
use support::{pending_forever, runtime, DropCounter};

#[test]
fn a_sleep_never_completes_before_its_deadline() {
    let rt = runtime(2);
    rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..200u64 {
            tasks.push(nursery::spawn(async move {
                let wait = Duration::from_micros(250 * (i % 40));
                let start = Instant::now();
                sleep(wait).await;
                start.elapsed() >= wait
            }));
        }
        for t in tasks {
            assert!(t.await.unwrap(), "a sleep completed early");
        }
    });
}

#[test]
fn sleep_until_a_past_instant_completes_at_once_without_registering() {
    let rt = runtime(1);
    rt.block_on(async {
        sleep_until(Instant::now() - Duration::from_secs(1)).await;
        sleep(Duration::ZERO).await;
    });
    assert_eq!(rt.handle().pending_timers(), 0);
}

#[test]
fn a_timeout_drops_the_future_it_wraps_when_it_expires() {
    let rt = runtime(2);
    rt.block_on(async {
        let drops = DropCounter::new();
        let result = timeout(Duration::from_millis(5), pending_forever(drops.token())).await;
        assert!(result.is_err());
        assert_eq!(drops.count(), 1);
        assert_eq!(timeout(Duration::from_secs(60), async { 3 }).await, Ok(3));
        assert_eq!(result.unwrap_err().to_string(), "deadline has elapsed");
    });
}

#[test]
fn a_timeout_around_a_scope_cancels_the_scopes_children_and_waits_for_them() {
    let rt = runtime(2);
    rt.block_on(async {
        let drops = DropCounter::new();
        let d = drops.clone();
        let task = nursery::spawn(async move {
            let out = timeout(
                Duration::from_millis(5),
                nursery::scope(|s| async move {
                    for _ in 0..50 {
                        s.spawn(pending_forever(d.token()));
                    }
                    std::future::pending::<()>().await
                }),
            )
            .await;
            assert!(out.is_err());
        });
        task.await.unwrap();
        assert_eq!(
            drops.count(),
            50,
            "the task finished before its timed-out scope's children"
        );
    });
}

#[test]
fn an_interval_ticks_at_its_period() {
    let rt = runtime(2);
    rt.block_on(async {
        let period = Duration::from_millis(3);
        let mut every = interval(period);
        let first = every.tick().await;
        let start = Instant::now();
        let mut last = first;
        for _ in 0..5 {
            let t = every.tick().await;
            assert_eq!(t - last, period, "ticks follow the schedule");
            assert!(Instant::now() >= t, "a tick came early");
            last = t;
        }
        assert!(start.elapsed() >= period * 5);
    });
}

#[test]
fn an_interval_that_fell_behind_follows_its_missed_tick_policy() {
    let rt = runtime(1);
    rt.block_on(async {
        let period = Duration::from_millis(2);
        let mut burst = interval(period);
        let mut delay = interval(period);
        delay.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let b0 = burst.tick().await;
        delay.tick().await;
        std::thread::sleep(period * 5); // the task is busy: ticks are missed
        let b1 = burst.tick().await;
        let b2 = burst.tick().await;
        assert_eq!(
            (b1 - b0, b2 - b0),
            (period, period * 2),
            "burst keeps the schedule"
        );
        let d1 = delay.tick().await;
        let after = Instant::now();
        let d2 = delay.tick().await;
        assert!(d2 - d1 >= period && d2 >= after, "delay restarts from now");
    });
}

#[test]
fn timers_registered_from_a_plain_thread_wake_a_parked_worker() {
    let rt = runtime(2);
    let handle = rt.handle().clone();
    // block_on runs on this (non-worker) thread: its sleep goes through the remote path.
    let start = Instant::now();
    rt.block_on(async { sleep(Duration::from_millis(20)).await });
    assert!(start.elapsed() >= Duration::from_millis(20));
    // A long timer first, then a short one from another thread: the short one must not wait
    // for the long one's deadline.
    let (armed_tx, armed_rx) = std::sync::mpsc::channel();
    let long = std::thread::spawn({
        let h = handle.clone();
        move || {
            h.block_on(async move {
                let mut long = Box::pin(sleep(Duration::from_secs(30)));
                assert!(support::poll_once(&mut long).is_none());
                armed_tx.send(()).unwrap();
                long.await
            })
        }
    });
    armed_rx.recv().unwrap();
    let start = Instant::now();
    let h = handle.clone();
    std::thread::spawn(move || h.block_on(async { sleep(Duration::from_millis(10)).await }))
        .join()
        .unwrap();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(10));
    assert!(
        waited < Duration::from_secs(10),
        "the short timer waited for the long one"
    );
    // Dropping the runtime ends the long block_on with a clear panic instead of hanging.
    drop(rt);
    let payload = long.join().unwrap_err();
    assert!(support::panic_message(&*payload).contains("runtime was shut down"));
}

#[test]
fn a_hundred_thousand_concurrent_timers_all_fire() {
    let rt = runtime(2);
    let fired = Arc::new(AtomicUsize::new(0));
    let f = fired.clone();
    rt.block_on(async move {
        nursery::scope(|s| async move {
            for i in 0..100_000u64 {
                let f = f.clone();
                s.spawn(async move {
                    sleep(Duration::from_micros(1000 + (i % 1000) * 10)).await;
                    f.fetch_add(1, SeqCst);
                });
            }
        })
        .await;
    });
    assert_eq!(fired.load(SeqCst), 100_000);
    assert_eq!(rt.handle().pending_timers(), 0);
}

#[test]
fn a_dropped_sleep_leaves_no_timer_behind_even_hours_away() {
    let rt = runtime(2);
    rt.block_on(async {
        let mut sleeps: Vec<_> = (0..1000)
            .map(|i| Box::pin(sleep(Duration::from_secs(3600 * (1 + i % 48)))))
            .collect();
        for s in &mut sleeps {
            assert!(support::poll_once(s).is_none());
        }
        assert_eq!(nursery::Handle::current().pending_timers(), 1000);
        drop(sleeps);
        assert_eq!(nursery::Handle::current().pending_timers(), 0);
    });
}

#[test]
fn a_sleep_re_polled_by_a_select_loop_fires_on_time_and_wakes_whoever_polled_it_last() {
    use futures::future::{select, Either};
    use futures::StreamExt;

    let rt = runtime(2);
    rt.block_on(async {
        // A message a millisecond for half a second (from a plain thread, whose clock is not
        // ours); the loop's sleep is re-polled on every message and must still end the loop at
        // its deadline.
        let (tx, mut rx) = futures::channel::mpsc::unbounded::<u32>();
        let producer = std::thread::spawn(move || {
            for i in 0..500 {
                if tx.unbounded_send(i).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let start = Instant::now();
        let mut deadline = Box::pin(sleep(Duration::from_millis(20)));
        let mut messages = 0;
        loop {
            match select(rx.next(), deadline.as_mut()).await {
                Either::Left((Some(_), _)) => messages += 1,
                Either::Left((None, _)) => panic!("the stream ended before the 20 ms sleep fired"),
                Either::Right(((), _)) => break,
            }
        }
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(20),
            "fired early: {waited:?}"
        );
        assert!(messages > 0, "the sleep was never re-polled");
        drop(rx);
        producer.join().unwrap();

        // Registered by one poller (a no-op waker), then awaited by a task: the timer must
        // wake the task, not the first poller.
        let mut moved = Box::pin(sleep(Duration::from_millis(10)));
        assert!(support::poll_once(&mut moved).is_none());
        let woken = timeout(Duration::from_secs(10), nursery::spawn(moved)).await;
        assert!(
            woken.is_ok(),
            "the task that awaited the moved sleep was never woken"
        );
    });
}

#[test]
fn a_sleep_whose_runtime_shut_down_does_not_complete_early() {
    // A registered sleep is pending until its wheel fires it; shutdown drops the wheels' timers
    // without firing them, and such a sleep must not take that for its deadline.
    let first = runtime(1);
    let mut registered = None;
    first.block_on(async {
        let mut hour = Box::pin(sleep(Duration::from_secs(3600)));
        assert!(support::poll_once(&mut hour).is_none());
        registered = Some(hour);
    });
    assert_eq!(first.handle().pending_timers(), 1);
    let mut hour = registered.unwrap();
    drop(first);
    runtime(1).block_on(async {
        assert!(
            support::poll_once(&mut hour).is_none(),
            "an hour's sleep completed when its runtime shut down"
        );
    });
}

#[test]
fn cancelling_a_sleeping_task_removes_its_timer() {
    let rt = runtime(2);
    rt.block_on(async {
        let task = nursery::spawn(sleep(Duration::from_secs(3600)));
        while nursery::Handle::current().pending_timers() == 0 {
            nursery::task::yield_now().await;
        }
        task.cancel();
        assert!(task.await.unwrap_err().is_cancelled());
        assert_eq!(nursery::Handle::current().pending_timers(), 0);
    });
}

#[test]
fn sleep_outside_a_runtime_panics_with_a_clear_message() {
    let payload = std::panic::catch_unwind(|| drop(sleep(Duration::from_secs(1)))).unwrap_err();
    assert!(support::panic_message(&*payload).contains("no nursery runtime"));
}
