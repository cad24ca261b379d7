//! Virtual time: with the clock paused, timers fire as soon as the runtime is idle, in deadline
//! order, at exactly their deadlines; `advance` moves the clock by exactly what it is told; work
//! in flight (a busy task, a blocking job, I/O that has arrived) holds the clock still.
//!
//! Every test runs under a watchdog: a regression that stops the clock from moving aborts the
//! test binary after a while of real time instead of hanging it.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use nursery::time::{advance, interval, pause, sleep, timeout, Instant};

const HOUR: Duration = Duration::from_secs(3600);

/// Aborts the process if not dropped within `limit` of real time.
struct Watchdog(Option<mpsc::Sender<()>>);

fn watchdog(limit: Duration) -> Watchdog {
    let (done, wait) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(limit) {
            eprintln!("virtual_time: a test ran for {limit:?} of real time: the clock is stuck");
            std::process::abort();
        }
    });
    Watchdog(Some(done))
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(done) = self.0.take() {
            let _ = done.send(());
        }
    }
}

fn paused(workers: usize) -> nursery::Runtime {
    nursery::Runtime::builder()
        .worker_threads(workers)
        .start_paused(true)
        .build()
        .unwrap()
}

#[test]
fn a_one_hour_fail_after_resolves_at_once_under_paused_time() {
    let _watchdog = watchdog(Duration::from_secs(30));
    let real = std::time::Instant::now();
    let (out, waited) = paused(1).block_on(async {
        let start = Instant::now();
        let out = nursery::fail_after(HOUR, |s| async move {
            s.spawn(sleep(2 * HOUR));
            std::future::pending::<()>().await
        })
        .await;
        (out, start.elapsed())
    });
    assert!(out.is_err(), "the deadline fired");
    assert_eq!(waited, HOUR, "the clock read exactly the deadline");
    assert!(
        real.elapsed() < Duration::from_secs(1),
        "{:?}",
        real.elapsed()
    );
}

#[test]
fn an_interval_ticks_exactly_at_multiples_of_its_period() {
    let _watchdog = watchdog(Duration::from_secs(30));
    paused(1).block_on(async {
        let period = Duration::from_millis(250);
        let start = Instant::now();
        let mut ticks = interval(period);
        for k in 0..20u32 {
            let tick = Instant::from(ticks.tick().await);
            assert_eq!(
                tick - start,
                period * k,
                "tick {k} was scheduled off the grid"
            );
            assert_eq!(Instant::now(), tick, "tick {k} was taken at its instant");
        }
    });
}

#[test]
fn sleeping_tasks_wake_in_deadline_order() {
    let _watchdog = watchdog(Duration::from_secs(30));
    let woken = paused(1).block_on(async {
        let start = Instant::now();
        let woken = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for secs in [50u64, 10, 40, 20, 30, 10] {
            let woken = woken.clone();
            tasks.push(nursery::spawn(async move {
                sleep(Duration::from_secs(secs)).await;
                woken.lock().unwrap().push((secs, start.elapsed()));
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        Arc::try_unwrap(woken).unwrap().into_inner().unwrap()
    });
    let order: Vec<u64> = woken.iter().map(|&(secs, _)| secs).collect();
    assert_eq!(order, [10, 10, 20, 30, 40, 50]);
    for (secs, at) in woken {
        assert_eq!(
            at,
            Duration::from_secs(secs),
            "woke at its deadline, not later"
        );
    }
}

#[test]
fn advance_moves_the_clock_exactly_and_fires_the_timers_then_due() {
    let _watchdog = watchdog(Duration::from_secs(30));
    paused(1).block_on(async {
        let start = Instant::now();
        let fired = Arc::new(AtomicBool::new(false));
        let flag = fired.clone();
        let ten_seconds = sleep(Duration::from_secs(10)); // the deadline is fixed here
        let alarm = nursery::spawn(async move {
            ten_seconds.await;
            flag.store(true, SeqCst);
            start.elapsed()
        });
        advance(Duration::from_millis(9_500)).await;
        assert_eq!(start.elapsed(), Duration::from_millis(9_500));
        assert!(!fired.load(SeqCst), "a timer fired before its deadline");
        advance(Duration::from_millis(700)).await;
        assert_eq!(start.elapsed(), Duration::from_millis(10_200));
        assert_eq!(alarm.await.unwrap(), Duration::from_millis(10_200));
        assert_eq!(start.elapsed(), Duration::from_millis(10_200));
    });
}

#[test]
fn advance_on_a_running_clock_panics_with_a_clear_message() {
    let rt = nursery::Runtime::builder()
        .worker_threads(1)
        .build()
        .unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(advance(Duration::from_secs(1)))
    }));
    let message = panic_message(caught.unwrap_err());
    assert!(message.contains("clock is not paused"), "{message}");
}

#[test]
fn a_timeout_around_a_wait_that_then_retries() {
    let _watchdog = watchdog(Duration::from_secs(30));
    let (attempts, waited) = paused(2).block_on(async {
        let start = Instant::now();
        let (send, mut reply) = futures::channel::oneshot::channel();
        nursery::spawn(async move {
            sleep(Duration::from_secs(75)).await; // a slow server
            let _ = send.send("pong");
        });
        let mut attempts = 0;
        loop {
            attempts += 1;
            match timeout(Duration::from_secs(30), &mut reply).await {
                Ok(answer) => {
                    assert_eq!(answer.unwrap(), "pong");
                    break;
                }
                Err(_) => assert!(attempts < 10, "never answered"),
            }
        }
        (attempts, start.elapsed())
    });
    assert_eq!(attempts, 3, "timed out at 30 s and 60 s, answered at 75 s");
    assert_eq!(waited, Duration::from_secs(75));
}

/// Documented in docs/semantics.md: I/O that has arrived is handled before the clock moves;
/// I/O that may still come does not hold the clock.
#[test]
fn real_io_mixes_with_paused_time() {
    let _watchdog = watchdog(Duration::from_secs(30));
    let real = std::time::Instant::now();
    // Without the writer's shortcut to its local peer: the echo travels through the reactor.
    let rt = nursery::Runtime::builder()
        .worker_threads(2)
        .start_paused(true)
        .wake_local_peers(false)
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = nursery::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        nursery::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0; 4];
            while conn.read_exact(&mut buf).await.is_ok() {
                conn.write_all(&buf).await.unwrap();
            }
        });
        let mut client = nursery::net::TcpStream::connect(addr).await.unwrap();
        let start = Instant::now();
        for _ in 0..20 {
            client.write_all(b"ping").await.unwrap();
            let mut reply = [0; 4];
            let read = timeout(Duration::from_secs(1), client.read_exact(&mut reply)).await;
            read.expect("the echo came back before the clock moved")
                .unwrap();
            assert_eq!(&reply, b"ping");
        }
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "echoes take no virtual time"
        );
        // Nothing is on its way: the clock jumps past a read that waits for nothing.
        let mut reply = [0; 4];
        let read = timeout(Duration::from_secs(600), client.read_exact(&mut reply)).await;
        assert!(read.is_err());
        assert_eq!(start.elapsed(), Duration::from_secs(600));
    });
    assert!(
        real.elapsed() < Duration::from_secs(10),
        "{:?}",
        real.elapsed()
    );
}

#[test]
fn a_multi_worker_runtime_starts_paused_and_wakes_every_sleeper_on_time() {
    let _watchdog = watchdog(Duration::from_secs(60));
    let real = std::time::Instant::now();
    paused(4).block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (1..=64u64)
            .map(|i| {
                nursery::spawn(async move {
                    for step in 1..=4u64 {
                        sleep(Duration::from_secs(i)).await;
                        assert_eq!(start.elapsed(), Duration::from_secs(i * step));
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::from_secs(64 * 4));
    });
    assert!(
        real.elapsed() < Duration::from_secs(20),
        "{:?}",
        real.elapsed()
    );
}

#[test]
fn a_busy_worker_holds_the_clock_while_its_peers_sleep() {
    let _watchdog = watchdog(Duration::from_secs(30));
    paused(4).block_on(async {
        let start = Instant::now();
        let sleeper = nursery::spawn(async move {
            sleep(HOUR).await;
            start.elapsed()
        });
        let busy = nursery::spawn(async move {
            // Real work inside a poll: the other workers are idle, one timer is pending.
            std::thread::sleep(Duration::from_millis(200));
            start.elapsed()
        });
        let blocking = nursery::task::spawn_blocking(move || {
            std::thread::sleep(Duration::from_millis(300));
            start.elapsed()
        });
        assert_eq!(
            busy.await.unwrap(),
            Duration::ZERO,
            "time moved under a busy task"
        );
        assert_eq!(
            blocking.await.unwrap(),
            Duration::ZERO,
            "time moved under a blocking job"
        );
        assert_eq!(sleeper.await.unwrap(), HOUR);
    });
}

#[test]
fn pause_outside_a_runtime_panics_with_a_clear_message() {
    let caught = std::panic::catch_unwind(pause);
    let message = panic_message(caught.unwrap_err());
    assert!(message.contains("inside a nursery runtime"), "{message}");
}

#[test]
fn pause_and_resume_switch_a_running_clock() {
    let _watchdog = watchdog(Duration::from_secs(30));
    let rt = nursery::Runtime::builder()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        pause();
        let start = Instant::now();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(Instant::now(), start, "a paused clock stands still");
        sleep(HOUR).await;
        assert_eq!(start.elapsed(), HOUR);
        nursery::time::resume();
        let resumed = Instant::now();
        sleep(Duration::from_millis(20)).await;
        assert!(resumed.elapsed() >= Duration::from_millis(20));
        assert!(
            resumed.elapsed() < HOUR,
            "the clock did not jump once resumed"
        );
    });
}

#[nursery::test(start_paused = true)]
async fn the_test_attribute_starts_the_clock_paused() {
    let _watchdog = watchdog(Duration::from_secs(30));
    let start = Instant::now();
    sleep(30 * 60 * Duration::from_secs(1)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(30 * 60));
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}
