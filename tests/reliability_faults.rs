//! Faults (design brief §6): a future whose `Drop` panics during cancellation, a waker that
//! panics when the timer or the reactor wakes it, a task that blocks its worker for seconds, a
//! connection reset in the middle of a read, and an output whose `Drop` panics. In each, a set of
//! bystander tasks (timers, yields, a loopback TCP echo) must keep making progress, and the
//! runtime must shut down cleanly afterwards: `Runtime::drop` returns (a watchdog turns a hang
//! into a failure), does not panic, and drops every bystander's future.
//!
//! (`EMFILE` on accept has its own test binary, `tests/net_emfile.rs`.)

mod reliability_support;

use std::future::Future;
use std::io::{self, Write as _};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use futures::io::{AsyncReadExt, AsyncWriteExt};
use nursery::net::{TcpListener, TcpStream};
use nursery::task::yield_now;
use nursery::time::sleep;
use nursery::{Handle, Runtime};

use reliability_support::{runtime, serial, watchdog, Flag, Probe};

// ---- bystanders -------------------------------------------------------------------------------

/// Tasks that must keep running whatever happens to the others: timer tickers, yielders and a
/// loopback TCP echo, each counting its rounds.
struct Bystanders {
    counters: Vec<(&'static str, Arc<AtomicUsize>)>,
    probe: Probe,
}

impl Bystanders {
    fn start(handle: &Handle) -> Bystanders {
        let probe = Probe::new();
        let mut counters = Vec::new();
        for i in 0..4u64 {
            let count = Arc::new(AtomicUsize::new(0));
            counters.push(("timer", count.clone()));
            let token = probe.token();
            handle.spawn(async move {
                let _token = token;
                loop {
                    sleep(Duration::from_millis(1 + i)).await;
                    count.fetch_add(1, SeqCst);
                }
            });
        }
        for _ in 0..2 {
            let count = Arc::new(AtomicUsize::new(0));
            counters.push(("yield", count.clone()));
            let token = probe.token();
            handle.spawn(async move {
                let _token = token;
                loop {
                    for _ in 0..10 {
                        yield_now().await;
                    }
                    count.fetch_add(1, SeqCst);
                    // Not a busy loop: leave the workers time to park (and fire timers there).
                    sleep(Duration::from_millis(1)).await;
                }
            });
        }
        for _ in 0..2 {
            let count = Arc::new(AtomicUsize::new(0));
            counters.push(("spawn and join", count.clone()));
            let token = probe.token();
            handle.spawn(async move {
                let _token = token;
                loop {
                    let (tx, rx) = futures::channel::oneshot::channel::<()>();
                    let child = nursery::spawn(async move {
                        yield_now().await;
                        let _ = tx.send(());
                    });
                    let _ = rx.await;
                    let _ = child.await;
                    count.fetch_add(1, SeqCst);
                    sleep(Duration::from_millis(1)).await;
                }
            });
        }
        let count = Arc::new(AtomicUsize::new(0));
        counters.push(("tcp echo", count.clone()));
        let token = probe.token();
        handle.spawn(async move {
            let _token = token;
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            nursery::scope(|s| async move {
                s.spawn(async move {
                    let (mut conn, _) = listener.accept().await.unwrap();
                    let mut buf = [0u8; 8];
                    while conn.read_exact(&mut buf).await.is_ok() {
                        if conn.write_all(&buf).await.is_err() {
                            break;
                        }
                    }
                });
                let mut conn = TcpStream::connect(addr).await.unwrap();
                let mut buf = [0u8; 8];
                loop {
                    conn.write_all(b"ping1234").await.unwrap();
                    conn.read_exact(&mut buf).await.unwrap();
                    count.fetch_add(1, SeqCst);
                    sleep(Duration::from_millis(1)).await;
                }
            })
            .await
        });
        let bystanders = Bystanders { counters, probe };
        bystanders.assert_progress("at start", Duration::from_millis(200));
        bystanders
    }

    /// The rounds each bystander made during `window` (measured from a plain thread).
    fn progress_during(&self, window: Duration) -> Vec<(&'static str, usize)> {
        let before: Vec<usize> = self.counters.iter().map(|(_, c)| c.load(SeqCst)).collect();
        std::thread::sleep(window);
        self.counters
            .iter()
            .zip(before)
            .map(|((what, count), before)| (*what, count.load(SeqCst) - before))
            .collect()
    }

    /// Every bystander makes progress within `window` (or, if slow, within 5 s).
    fn assert_progress(&self, when: &str, window: Duration) {
        let deadline = Instant::now() + window.max(Duration::from_secs(5));
        let before: Vec<usize> = self.counters.iter().map(|(_, c)| c.load(SeqCst)).collect();
        std::thread::sleep(window);
        // Past the window, wait a little more for a slow one before calling it stuck.
        for ((what, count), before) in self.counters.iter().zip(before) {
            while count.load(SeqCst) <= before && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            assert!(
                count.load(SeqCst) > before,
                "{when}: the {what} bystander made no progress in {window:?} (and 5 s more)"
            );
        }
    }

    /// Drops the runtime: it must return, without a panic, having dropped every bystander.
    fn shut_down(self, rt: Runtime, what: &'static str) {
        watchdog::arm(what, 1, Duration::from_secs(20));
        let dropped = catch_unwind(AssertUnwindSafe(move || drop(rt)));
        watchdog::disarm();
        assert!(dropped.is_ok(), "{what}: Runtime::drop panicked");
        self.probe.assert_all_dropped_once(what);
    }
}

/// Runs `body` on a fresh two-worker runtime with bystanders, under the watchdog, serialised
/// with the other tests of this binary (they measure progress, and each bystander set keeps
/// both cores fairly busy); then shuts the runtime down and checks the bystanders. If `body`
/// fails, the runtime is leaked rather than dropped, so that the failure is reported at once
/// instead of hanging in a `Runtime::drop` the fault may have broken.
/// What `body` returns is dropped after the runtime (and must not panic then).
fn fault_test<T>(name: &'static str, body: impl FnOnce(&Runtime, &Bystanders) -> T) {
    let _serial = serial();
    watchdog::arm(name, 0, Duration::from_secs(40));
    let rt = runtime(2);
    let bystanders = Bystanders::start(rt.handle());
    let kept = match catch_unwind(AssertUnwindSafe(|| body(&rt, &bystanders))) {
        Ok(kept) => kept,
        Err(panic) => {
            watchdog::disarm();
            std::mem::forget(rt);
            std::panic::resume_unwind(panic);
        }
    };
    bystanders.assert_progress(&format!("{name}: at the end"), Duration::from_millis(100));
    bystanders.shut_down(rt, name);
    let dropped = catch_unwind(AssertUnwindSafe(move || drop(kept)));
    assert!(
        dropped.is_ok(),
        "{name}: a value dropped after shutdown panicked"
    );
    watchdog::disarm();
}

// ---- a future whose Drop panics ---------------------------------------------------------------

/// Pending forever; panics when dropped.
struct PanicOnDrop;

impl Future for PanicOnDrop {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("intentional: a future that panics when dropped");
        }
    }
}

#[test]
fn a_future_whose_drop_panics_when_cancelled_fails_only_its_own_handle() {
    fault_test("drop_panics_on_cancel", |rt, bystanders| {
        let handle = rt.handle().spawn(PanicOnDrop);
        std::thread::sleep(Duration::from_millis(20));
        handle.cancel();
        let outcome = rt.block_on(handle);
        let err = outcome.expect_err("a task whose drop panicked has no output");
        // R5: the panic of the drop is not lost in a plain "cancelled".
        assert!(err.is_panic(), "the handle carries the drop's panic: {err}");
        assert!(
            err.panic_message()
                .is_some_and(|m| m.contains("intentional")),
            "{err}"
        );
        bystanders.assert_progress("after the drop panicked", Duration::from_millis(200));
    });
}

#[test]
fn a_drop_panic_inside_a_scope_is_re_raised_at_the_scope_and_nowhere_else() {
    fault_test("drop_panics_in_scope", |rt, bystanders| {
        let parent = rt.handle().spawn(async {
            nursery::scope(|s| async move {
                s.spawn(PanicOnDrop);
                yield_now().await;
                s.cancel();
            })
            .await
        });
        let err = rt
            .block_on(parent)
            .expect_err("the scope re-raises the drop's panic");
        assert!(err.is_panic(), "{err}");
        bystanders.assert_progress("after the scope failed", Duration::from_millis(200));
    });
}

#[test]
fn a_future_whose_drop_panics_at_shutdown_does_not_break_runtime_drop() {
    fault_test("drop_panics_at_shutdown", |rt, bystanders| {
        for _ in 0..3 {
            drop(rt.handle().spawn(PanicOnDrop));
        }
        std::thread::sleep(Duration::from_millis(20));
        bystanders.assert_progress("with panicking drops pending", Duration::from_millis(100));
    });
}

// ---- a waker that panics ------------------------------------------------------------------

struct PanickingWaker;

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("intentional: a waker that panics when woken");
    }
}

/// Polls `future` once with a waker that panics when woken, then keeps it (registered) alive
/// for `hold`, awaiting a plain sleep in the meantime.
async fn register_panicking_waker<F: Future + Send>(future: F, hold: Duration) {
    let mut future = Box::pin(future);
    {
        let waker = Waker::from(Arc::new(PanickingWaker));
        let mut cx = Context::from_waker(&waker);
        assert!(future.as_mut().poll(&mut cx).is_pending());
    }
    sleep(hold).await;
    drop(future);
}

#[test]
fn a_waker_that_panics_when_the_timer_fires_leaves_the_others_running() {
    fault_test("waker_panics_timer", |rt, bystanders| {
        let culprits: Vec<_> = (0..4)
            .map(|_| {
                rt.handle().spawn(async {
                    let short = sleep(Duration::from_millis(5));
                    register_panicking_waker(short, Duration::from_millis(100)).await
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50)); // the timers have fired
        bystanders.assert_progress("after panicking timer wakes", Duration::from_millis(200));
        for culprit in culprits {
            watchdog::arm("waker_panics_timer: culprit", 0, Duration::from_secs(10));
            // Its own sleep lives in a wheel too: it must still fire.
            assert!(rt.block_on(culprit).is_ok());
        }
    });
}

#[test]
fn a_waker_that_panics_when_the_reactor_wakes_it_leaves_the_others_running() {
    fault_test("waker_panics_reactor", |rt, bystanders| {
        let culprit = rt.handle().spawn(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut client = TcpStream::connect(addr).await.unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            let read = async move {
                let mut buf = [0u8; 4];
                let _ = server.read(&mut buf).await;
            };
            let wake_it = async move {
                sleep(Duration::from_millis(10)).await;
                client.write_all(b"wake").await.unwrap();
                sleep(Duration::from_millis(100)).await;
            };
            nursery::scope(|s| async move {
                s.spawn(wake_it);
                register_panicking_waker(read, Duration::from_millis(150)).await;
            })
            .await;
        });
        std::thread::sleep(Duration::from_millis(50)); // the write has been seen
        bystanders.assert_progress("after a panicking I/O wake", Duration::from_millis(200));
        watchdog::arm("waker_panics_reactor: culprit", 0, Duration::from_secs(10));
        assert!(rt.block_on(culprit).is_ok());
    });
}

#[test]
fn a_waker_that_panics_when_a_child_completes_leaves_the_tree_intact() {
    // The join waker is woken by whichever worker completes the child, in the middle of the
    // tree's completion (`complete_one`).
    fault_test("waker_panics_join", |rt, bystanders| {
        let parent = rt.handle().spawn(async {
            let child = nursery::spawn(sleep(Duration::from_millis(5)));
            register_panicking_waker(child, Duration::from_millis(100)).await;
            "parent done"
        });
        std::thread::sleep(Duration::from_millis(50)); // the child has completed
        bystanders.assert_progress("after a panicking join wake", Duration::from_millis(200));
        watchdog::arm("waker_panics_join: parent", 0, Duration::from_secs(10));
        assert_eq!(rt.block_on(parent).unwrap(), "parent done");
    });
}

// ---- a task blocking its worker --------------------------------------------------------------

/// Blocks a worker for 2 s in a poll (on purpose) and measures the bystanders for 1 s while it
/// is blocked.
fn progress_while_a_worker_is_blocked(
    rt: &Runtime,
    bystanders: &Bystanders,
) -> Vec<(&'static str, usize)> {
    let blocking = Arc::new(Flag::default());
    let started = blocking.clone();
    let blocker = rt.handle().spawn(async move {
        started.set();
        std::thread::sleep(Duration::from_secs(2));
    });
    while !blocking.is_set() {
        std::thread::yield_now();
    }
    std::thread::sleep(Duration::from_millis(100));
    let progress = bystanders.progress_during(Duration::from_secs(1));
    assert!(rt.block_on(blocker).is_ok());
    bystanders.assert_progress("after the block", Duration::from_millis(100));
    progress
}

#[test]
fn a_task_blocking_its_worker_for_seconds_does_not_stop_the_other_worker() {
    fault_test("blocking_task", |rt, bystanders| {
        let progress = progress_while_a_worker_is_blocked(rt, bystanders);
        let total: usize = progress.iter().map(|(_, n)| n).sum();
        assert!(
            total > 0,
            "no task ran while one worker was blocked: {progress:?}"
        );
    });
}

#[test]
fn every_other_task_keeps_running_while_a_worker_is_blocked() {
    fault_test("blocking_task_every_task", |rt, bystanders| {
        let progress = progress_while_a_worker_is_blocked(rt, bystanders);
        let stuck: Vec<_> = progress.iter().filter(|(_, n)| *n == 0).collect();
        assert!(
            stuck.is_empty(),
            "bystanders stuck for 1 s while one worker was blocked: {stuck:?} (all: {progress:?})"
        );
    });
}

// ---- connection reset in the middle of a read ----------------------------------------------

/// Closes `stream` with an RST instead of a FIN (SO_LINGER with a zero timeout).
fn reset(stream: std::net::TcpStream) {
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .expect("setsockopt(SO_LINGER)");
}

#[test]
fn a_connection_reset_mid_read_fails_that_read_only() {
    fault_test("reset_mid_read", |rt, bystanders| {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let server = rt.handle().spawn(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 8];
            let first = conn.read_exact(&mut buf).await; // only half of it ever arrives
                                                         // Writing to a reset connection fails too (EPIPE / ECONNRESET), without SIGPIPE.
            let mut write = Ok(());
            for _ in 0..100 {
                write = conn.write_all(&[0u8; 1024]).await;
                if write.is_err() {
                    break;
                }
                sleep(Duration::from_millis(1)).await;
            }
            (first, write)
        });
        let addr = addr_rx.recv().unwrap();
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        client.write_all(b"half").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        reset(client);
        let (first, write) = rt.block_on(server).unwrap();
        let kind = first.expect_err("the read saw the reset").kind();
        assert!(
            matches!(
                kind,
                io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
            ),
            "read error: {kind:?}"
        );
        assert!(write.is_err(), "writing to a reset connection fails");
        bystanders.assert_progress("after the reset", Duration::from_millis(200));
    });
}

// ---- an output whose Drop panics ------------------------------------------------------------

/// An output that panics when dropped.
struct PanicOnDropOutput;

impl Drop for PanicOnDropOutput {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("intentional: an output that panics when dropped");
        }
    }
}

#[test]
fn an_output_whose_drop_panics_is_contained_wherever_it_is_dropped() {
    fault_test("output_drop_panics", |rt, bystanders| {
        let handle = rt.handle().clone();

        // The handle is dropped before the task finishes: the completer drops the output.
        let gate = Arc::new(Flag::default());
        let open = gate.clone();
        drop(handle.spawn(async move {
            while !open.is_set() {
                sleep(Duration::from_millis(1)).await;
            }
            PanicOnDropOutput
        }));
        gate.set();

        // The handle is dropped after the task finished: the handle drops the output.
        let finished = handle.spawn(async { PanicOnDropOutput });
        while !finished.is_finished() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let dropped = catch_unwind(AssertUnwindSafe(move || drop(finished)));
        assert!(
            dropped.is_ok(),
            "dropping a JoinHandle let the output's panic out"
        );

        // The handle outlives the runtime: its drop, after shutdown, drops the output.
        let outlives = handle.spawn(async { PanicOnDropOutput });

        std::thread::sleep(Duration::from_millis(50));
        bystanders.assert_progress("after output drops panicked", Duration::from_millis(200));
        drop(handle);
        outlives
    });
}
