//! The work-conserving rule (docs/architecture.md): while a worker sleeps, no runnable task
//! waits for a busy one, whatever made it runnable — a task's wake (into the LIFO slot or the
//! queue), a spawn, a timer, I/O readiness or a plain thread.
//!
//! Each scenario makes two things runnable on a two-worker runtime where one of them computes
//! until the other has started (at most 10 s): on a runtime that leaves the second queued behind
//! the first, the computation never sees it and the test fails. The stall monitor, which would
//! hand a stuck worker's queue to a peer after ~10 ms, is switched off: it is a safety net for
//! blocking code, not part of scheduling.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use futures::io::AsyncReadExt as _;

mod support;

use support::compute_until;

fn runtime() -> nursery::Runtime {
    nursery::Runtime::builder()
        .worker_threads(2)
        .stall_threshold(None)
        .build()
        .expect("runtime")
}

/// Two flags: each side sets its own when it starts, then computes until the other's is set.
#[derive(Clone, Default)]
struct Pair(Arc<(AtomicBool, AtomicBool)>);

impl Pair {
    fn first(&self) -> bool {
        self.0 .0.store(true, SeqCst);
        compute_until(&self.0 .1)
    }
    fn second(&self) -> bool {
        self.0 .1.store(true, SeqCst);
        compute_until(&self.0 .0)
    }
}

/// Two tasks, each waiting for its oneshot, then computing until the other has started.
fn woken_pair() -> ([oneshot::Sender<()>; 2], [nursery::JoinHandle<bool>; 2]) {
    let pair = Pair::default();
    let (tx1, rx1) = oneshot::channel::<()>();
    let (tx2, rx2) = oneshot::channel::<()>();
    let p = pair.clone();
    let a = nursery::spawn(async move {
        rx1.await.unwrap();
        p.first()
    });
    let b = nursery::spawn(async move {
        rx2.await.unwrap();
        pair.second()
    });
    ([tx1, tx2], [a, b])
}

/// Spawns a task that reads one byte from `stream` (registered with the runtime), then runs
/// `then`; resolves once the task is about to wait for the byte.
async fn reader_then(
    stream: std::os::unix::net::UnixStream,
    then: impl FnOnce() -> bool + Send + 'static,
) -> nursery::JoinHandle<bool> {
    let (waiting_tx, waiting_rx) = oneshot::channel::<()>();
    let task = nursery::spawn(async move {
        let mut r = nursery::net::UnixStream::from_std(stream).unwrap();
        let mut byte = [0];
        let read = r.read_exact(&mut byte);
        let _ = waiting_tx.send(());
        read.await.unwrap();
        then()
    });
    waiting_rx.await.unwrap();
    task
}

/// Two reader tasks (see [`reader_then`]) on one [`Pair`]: the first reader to get its byte
/// plays `first`, the other `second`.
async fn paired_readers(
    r1: std::os::unix::net::UnixStream,
    r2: std::os::unix::net::UnixStream,
) -> (Pair, nursery::JoinHandle<bool>, nursery::JoinHandle<bool>) {
    let pair = Pair::default();
    let p = pair.clone();
    let a = reader_then(r1, move || p.first()).await;
    let p = pair.clone();
    let b = reader_then(r2, move || p.second()).await;
    (pair, a, b)
}

#[test]
fn a_task_woken_by_a_task_that_goes_on_computing_runs_on_the_idle_worker() {
    let rt = runtime();
    let ok = rt.block_on(async {
        let pair = Pair::default();
        let (tx, rx) = oneshot::channel::<()>();
        let p = pair.clone();
        let woken = nursery::spawn(async move {
            rx.await.unwrap();
            p.second()
        });
        let p = pair.clone();
        let dispatcher = nursery::spawn(async move {
            nursery::task::yield_now().await;
            tx.send(()).unwrap();
            p.first() // goes on computing in the poll that woke the task
        });
        dispatcher.await.unwrap() && woken.await.unwrap()
    });
    assert!(ok, "the woken task waited for the dispatcher's poll to end");
}

#[test]
fn two_tasks_woken_by_a_task_run_at_once() {
    let rt = runtime();
    let ok = rt.block_on(async {
        let ([tx1, tx2], [a, b]) = woken_pair();
        nursery::spawn(async move {
            nursery::task::yield_now().await;
            tx1.send(()).unwrap();
            tx2.send(()).unwrap();
        })
        .await
        .unwrap();
        a.await.unwrap() && b.await.unwrap()
    });
    assert!(ok, "one woken task waited behind the other");
}

#[test]
fn a_task_spawned_by_a_task_that_goes_on_computing_runs_on_the_idle_worker() {
    let rt = runtime();
    let ok = rt.block_on(async {
        nursery::spawn(async {
            let pair = Pair::default();
            let p = pair.clone();
            let child = nursery::spawn(async move { p.second() });
            pair.first() && child.await.unwrap()
        })
        .await
        .unwrap()
    });
    assert!(ok, "the new task waited for its parent's poll to end");
}

#[test]
fn two_tasks_a_timer_wakes_at_once_run_at_once() {
    let rt = runtime();
    let ok = rt.block_on(async {
        let pair = Pair::default();
        let at = nursery::time::Instant::now() + Duration::from_millis(30);
        let p = pair.clone();
        let a = nursery::spawn(async move {
            nursery::time::sleep_until(at).await;
            p.first()
        });
        let p = pair.clone();
        let b = nursery::spawn(async move {
            nursery::time::sleep_until(at).await;
            p.second()
        });
        a.await.unwrap() && b.await.unwrap()
    });
    assert!(ok, "one task woken by the timer waited behind the other");
}

#[test]
fn two_tasks_woken_by_io_at_once_run_at_once() {
    let rt = runtime();
    let (mut w1, r1) = std::os::unix::net::UnixStream::pair().unwrap();
    let (mut w2, r2) = std::os::unix::net::UnixStream::pair().unwrap();
    let ok = rt.block_on(async move {
        let (_pair, a, b) = paired_readers(r1, r2).await;
        // Both wait for bytes (or will at their next poll): write from outside the runtime.
        nursery::time::sleep(Duration::from_millis(20)).await;
        w1.write_all(b"x").unwrap();
        w2.write_all(b"y").unwrap();
        a.await.unwrap() && b.await.unwrap()
    });
    assert!(ok, "one task woken by I/O waited behind the other");
}

#[test]
fn two_tasks_a_plain_thread_wakes_run_at_once() {
    let rt = runtime();
    let ok = rt.block_on(async {
        let ([tx1, tx2], [a, b]) = woken_pair();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx1.send(()).unwrap();
            tx2.send(()).unwrap();
        });
        a.await.unwrap() && b.await.unwrap()
    });
    assert!(
        ok,
        "one task woken from a plain thread waited behind the other"
    );
}

#[test]
fn io_that_becomes_ready_while_the_worker_that_saw_the_last_event_computes_is_served() {
    // The worker blocked in the reactor wakes for the first byte and runs its reader, which
    // computes; the second byte comes later: a sleeping worker must be watching the reactor.
    let rt = runtime();
    let (mut w1, r1) = std::os::unix::net::UnixStream::pair().unwrap();
    let (mut w2, r2) = std::os::unix::net::UnixStream::pair().unwrap();
    let ok = rt.block_on(async move {
        let (pair, a, b) = paired_readers(r1, r2).await;
        nursery::time::sleep(Duration::from_millis(20)).await;
        w1.write_all(b"x").unwrap();
        // Only once the first reader computes does the second byte go out.
        let started = pair.0.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !started.0.load(SeqCst) && Instant::now() < deadline {
                std::thread::yield_now();
            }
            std::thread::sleep(Duration::from_millis(5));
            w2.write_all(b"y").unwrap();
        });
        a.await.unwrap() && b.await.unwrap()
    });
    assert!(
        ok,
        "the second byte's reader waited for the first one's computation"
    );
}

/// A waker that only raises a flag: a timer registered with it wakes no task, so the test sees
/// when the timer fired, not when a worker got round to a task.
fn flag_waker(flag: &Arc<AtomicBool>) -> std::task::Waker {
    struct Flag(Arc<AtomicBool>);
    impl futures::task::ArcWake for Flag {
        fn wake_by_ref(arc_self: &Arc<Self>) {
            arc_self.0.store(true, SeqCst);
        }
    }
    futures::task::waker(Arc::new(Flag(flag.clone())))
}

/// Registers a 1 ms timer whose expiry raises `fired`, from the calling thread.
fn register_timer(fired: &Arc<AtomicBool>) -> std::pin::Pin<Box<nursery::time::Sleep>> {
    let mut sleep = Box::pin(nursery::time::sleep(Duration::from_millis(1)));
    let waker = flag_waker(fired);
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(std::future::Future::poll(sleep.as_mut(), &mut cx).is_pending());
    sleep
}

#[test]
fn a_timer_set_by_a_worker_that_goes_on_computing_is_fired_by_the_sleeping_one() {
    // The timer goes into the wheel of the worker that registers it, which then blocks in a
    // long poll. The other worker went to sleep before the timer existed, so it planned no
    // wake-up for it: it must be told of the new deadline, or the timer waits for the poll.
    let rt = runtime();
    let ok = rt.block_on(async {
        nursery::spawn(async {
            // Blocks this worker while the other one goes to sleep (nothing else is runnable).
            std::thread::sleep(Duration::from_millis(5));
            let fired = Arc::new(AtomicBool::new(false));
            let _sleep = register_timer(&fired);
            compute_until(&fired)
        })
        .await
        .unwrap()
    });
    assert!(
        ok,
        "the timer waited for the poll of the worker that set it"
    );
}

#[test]
fn a_timer_set_from_outside_in_a_computing_workers_wheel_is_fired_by_the_sleeping_one() {
    // Timers registered outside the workers go to the wheels in turn, so over eight rounds
    // some land in the wheel of the worker that computes; the other one sleeps meanwhile.
    let rt = runtime();
    rt.block_on(async {
        for round in 0..8 {
            let computing = Arc::new(AtomicBool::new(false));
            let fired = Arc::new(AtomicBool::new(false));
            let (c, f) = (computing.clone(), fired.clone());
            let task = nursery::spawn(async move {
                c.store(true, SeqCst);
                compute_until(&f)
            });
            let deadline = Instant::now() + Duration::from_secs(10);
            while !computing.load(SeqCst) && Instant::now() < deadline {
                std::thread::yield_now();
            }
            // This thread waits while the idle worker goes back to sleep.
            std::thread::sleep(Duration::from_millis(5));
            let _sleep = register_timer(&fired);
            assert!(
                task.await.unwrap(),
                "round {round}: the timer waited for the poll of its wheel's worker"
            );
        }
    });
}
