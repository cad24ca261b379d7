//! Signals: every listener of a signal sees each delivery made after it was created, signals
//! that cannot be handled are refused with an error naming them, and `Scope::shutdown_on` turns
//! the first signal into a graceful shutdown and the next into a cancellation, without ever
//! keeping its scope open.
//!
//! Signals belong to the process and the tests of this file run in parallel in one process, so
//! each in-process test uses its own signal number. The Ctrl-C tests send a real `SIGINT` (and
//! `SIGTERM`) with `kill(2)` to a child process: this test binary, started again with
//! `NURSERY_SIGNAL_CHILD` naming what to run (see `child_process`).

mod support;

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::pin::pin;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures::future::{select, Either};
use futures::StreamExt;
use nursery::signal::unix::{signal, SignalKind};
use nursery::time::{sleep, timeout};
use support::DropCounter;

/// How long a test waits for something that should happen at once before it fails.
const PATIENCE: Duration = Duration::from_secs(10);

fn runtime() -> nursery::Runtime {
    nursery::Runtime::builder()
        .worker_threads(2)
        .build()
        .expect("runtime")
}

/// Sends `signum` to this thread (the handler runs before `raise` returns).
fn raise(signum: libc::c_int) {
    // SAFETY: raise(3) has no preconditions; every signal raised here has a listener, so its
    // handler runs instead of the default action.
    let rc = unsafe { libc::raise(signum) };
    assert_eq!(rc, 0, "raise({signum})");
}

/// Sends `signum` to this process (any thread may handle it).
fn kill_self(signum: libc::c_int) {
    // SAFETY: kill(2) with our own pid has no memory-safety preconditions.
    let rc = unsafe { libc::kill(libc::getpid(), signum) };
    assert_eq!(rc, 0, "kill(self, {signum})");
}

/// Runs `future` as a task for at most `limit`; on time out the task is cancelled, its whole
/// subtree with it, so a regression fails the test instead of leaving children running.
async fn within<T: Send + 'static>(
    limit: Duration,
    future: impl Future<Output = T> + Send + 'static,
) -> Option<T> {
    let task = nursery::spawn(future);
    match select(task, pin!(sleep(limit))).await {
        Either::Left((done, _)) => Some(done.expect("the task does not fail")),
        Either::Right((_, task)) => {
            task.cancel();
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Listeners
// ---------------------------------------------------------------------------------------------

#[test]
fn a_raised_signal_reaches_every_listener_of_it() {
    runtime().block_on(async {
        // The same signal listened for twice: one listener awaits `recv`, the other is a stream.
        let mut first = signal(SignalKind::user_defined1()).expect("listen");
        let mut second = signal(SignalKind::user_defined1()).expect("listen again");
        let waiting = nursery::spawn(async move {
            let mut seen = 0;
            while seen < 2 {
                second.next().await.expect("the runtime runs");
                seen += 1;
            }
            seen
        });
        for round in 0..2 {
            raise(libc::SIGUSR1);
            let got = timeout(PATIENCE, first.recv()).await;
            assert_eq!(
                got,
                Ok(Some(())),
                "round {round}: the first listener missed it"
            );
        }
        let seen = timeout(PATIENCE, waiting).await;
        assert_eq!(
            seen.map(Result::ok),
            Ok(Some(2)),
            "the second listener missed a delivery"
        );
    });
}

#[test]
fn each_delivery_counts_even_when_the_listener_is_polled_late() {
    runtime().block_on(async {
        let mut listener = signal(SignalKind::user_defined2()).expect("listen");
        // Two deliveries before the listener looks: two presses of Ctrl-C are two, not one.
        raise(libc::SIGUSR2);
        raise(libc::SIGUSR2);
        for n in 1..=2 {
            let got = timeout(PATIENCE, listener.recv()).await;
            assert_eq!(got, Ok(Some(())), "delivery {n} was merged or lost");
        }
        let third = timeout(Duration::from_millis(50), listener.recv()).await;
        assert!(third.is_err(), "there were only two deliveries");
    });
}

#[test]
fn a_listener_sees_only_deliveries_made_after_it_was_created() {
    runtime().block_on(async {
        let mut early = signal(SignalKind::window_change()).expect("listen");
        // Not drained yet: nobody has polled `early`.
        raise(libc::SIGWINCH);
        let mut late = signal(SignalKind::window_change()).expect("listen");
        assert_eq!(timeout(PATIENCE, early.recv()).await, Ok(Some(())));
        let before = timeout(Duration::from_millis(50), late.recv()).await;
        assert!(before.is_err(), "the late listener saw an older delivery");
        raise(libc::SIGWINCH);
        assert_eq!(timeout(PATIENCE, late.recv()).await, Ok(Some(())));
        assert_eq!(timeout(PATIENCE, early.recv()).await, Ok(Some(())));
    });
}

#[test]
fn signals_that_cannot_be_handled_are_refused_with_an_error_naming_them() {
    runtime().block_on(async {
        for (signum, name) in [
            (libc::SIGKILL, "SIGKILL"),
            (libc::SIGSTOP, "SIGSTOP"),
            (libc::SIGSEGV, "SIGSEGV"),
            (libc::SIGILL, "SIGILL"),
            (libc::SIGFPE, "SIGFPE"),
            (0, "signal 0"),
            (100_000, "signal 100000"),
        ] {
            let err = signal(SignalKind::from_raw(signum)).expect_err(name);
            assert!(err.to_string().contains(name), "{name}: {err}");
            let err = nursery::scope(|s| async move {
                s.shutdown_on([SignalKind::from_raw(signum)], Duration::from_secs(1))
            })
            .await
            .expect_err(name);
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
    });
}

#[test]
fn listening_outside_a_runtime_panics_with_a_message_naming_the_problem() {
    let panic = std::panic::catch_unwind(|| signal(SignalKind::user_defined1()))
        .expect_err("no runtime here");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("nursery::signal") && message.contains("no nursery runtime"),
        "{message}"
    );
}

// ---------------------------------------------------------------------------------------------
// Scope::shutdown_on, in this process
// ---------------------------------------------------------------------------------------------

#[test]
fn a_scope_watching_signals_ends_as_soon_as_its_work_is_done() {
    runtime().block_on(async {
        // The body returns at once; a child still works for a moment.
        let ended = within(
            PATIENCE,
            nursery::scope(|s| async move {
                s.shutdown_on([SignalKind::hangup()], Duration::from_secs(3600))
                    .expect("listen");
                s.spawn(sleep(Duration::from_millis(20)));
                "body returned"
            }),
        )
        .await;
        assert_eq!(
            ended,
            Some("body returned"),
            "the signal watcher kept the scope open"
        );
        // And one whose body does the work itself.
        let ended = within(
            PATIENCE,
            nursery::scope(|s| async move {
                s.shutdown_on([SignalKind::hangup()], Duration::from_secs(3600))
                    .expect("listen");
                sleep(Duration::from_millis(5)).await;
            }),
        )
        .await;
        assert!(ended.is_some(), "the signal watcher kept the scope open");
    });
}

#[test]
fn a_first_signal_shuts_the_scope_down_and_a_second_cancels_children_still_draining() {
    let rt = runtime();
    // The second signal comes from another thread once the body has returned.
    let (send_second, second_wanted) = mpsc::channel::<()>();
    let sender = std::thread::spawn(move || {
        if second_wanted.recv_timeout(PATIENCE).is_ok() {
            kill_self(libc::SIGALRM);
        }
    });
    let drained = DropCounter::new();
    let token = drained.token();
    let started = Instant::now();
    let ended = rt.block_on(async {
        within(
            PATIENCE,
            nursery::supervised(|s| async move {
                s.shutdown_on([SignalKind::alarm()], Duration::from_secs(3600))
                    .expect("listen");
                let (saw_shutdown, shutdown_seen) = futures::channel::oneshot::channel();
                let server = s.clone();
                s.spawn(async move {
                    let _token = token; // dropped when this task is cancelled
                    server.shutdown_requested().await;
                    let _ = saw_shutdown.send(());
                    sleep(Duration::from_secs(3600)).await; // ignores the request
                });
                raise(libc::SIGALRM);
                shutdown_seen
                    .await
                    .expect("the child saw the shutdown request");
                assert!(s.is_shutting_down());
                send_second.send(()).expect("the sender thread waits");
            }),
        )
        .await
    });
    assert!(
        ended.is_some(),
        "the second signal did not cancel the child left draining after the body returned"
    );
    assert_eq!(drained.count(), 1, "the draining child was cancelled");
    assert!(started.elapsed() < Duration::from_secs(60));
    sender.join().expect("the sender thread");
}

#[test]
fn after_a_shutdown_requested_another_way_the_first_signal_cancels() {
    runtime().block_on(async {
        let ended = within(
            PATIENCE,
            nursery::scope(|s| async move {
                s.shutdown_on([SignalKind::quit()], Duration::from_secs(3600))
                    .expect("listen");
                s.spawn(sleep(Duration::from_secs(3600)));
                s.shutdown(Duration::from_secs(3600)); // by the application itself
                raise(libc::SIGQUIT);
            }),
        )
        .await;
        assert!(ended.is_some(), "the signal did not cancel the scope");
    });
}

// ---------------------------------------------------------------------------------------------
// Real signals to a child process
// ---------------------------------------------------------------------------------------------

/// The environment variable that makes `child_process` run a mode instead of returning.
const CHILD_ENV: &str = "NURSERY_SIGNAL_CHILD";

/// Not a test of its own: in a child process started by the tests below, runs the program
/// `NURSERY_SIGNAL_CHILD` names, printing what it does line by line, each line marked with `@`
/// (the test harness prints around them, and before the first on the same line).
#[test]
fn child_process() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = runtime();
    match mode.as_str() {
        "ctrl_c" => rt.block_on(async {
            let mut ctrl_c = pin!(nursery::signal::ctrl_c());
            assert!(futures::poll!(&mut ctrl_c).is_pending());
            println!("@ready");
            ctrl_c.await.expect("ctrl_c");
            println!("@got ctrl-c");
        }),
        "graceful" => {
            let out = rt.block_on(nursery::supervised(|s| async move {
                let both = [SignalKind::interrupt(), SignalKind::terminate()];
                s.shutdown_on(both, Duration::from_secs(30))
                    .expect("listen");
                let server = s.clone();
                s.spawn(async move {
                    server.shutdown_requested().await;
                    println!("@draining");
                    sleep(Duration::from_millis(20)).await;
                    println!("@drained");
                });
                println!("@ready");
                s.shutdown_requested().await;
                "body returned"
            }));
            println!("@{out}");
        }
        "cancel" => rt.block_on(nursery::supervised(|s| async move {
            let both = [SignalKind::interrupt(), SignalKind::terminate()];
            s.shutdown_on(both, Duration::from_secs(3600))
                .expect("listen");
            let server = s.clone();
            s.spawn(async move {
                let _cancelled = PrintOnDrop("worker dropped");
                server.shutdown_requested().await;
                println!("@shutdown requested");
                sleep(Duration::from_secs(3600)).await; // ignores the request
                println!("@worker finished");
            });
            println!("@ready");
            s.shutdown_requested().await;
        })),
        other => panic!("unknown child mode {other:?}"),
    }
    drop(rt);
    println!("@exited");
}

struct PrintOnDrop(&'static str);

impl Drop for PrintOnDrop {
    fn drop(&mut self) {
        println!("@{}", self.0);
    }
}

/// A child process running `child_process` in `mode`, its output read line by line.
struct Child {
    process: std::process::Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Child {
    fn start(mode: &str) -> Child {
        let mut process = Command::new(std::env::current_exe().expect("the test binary"))
            .args([
                "child_process",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, mode)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the child");
        let stdout = process.stdout.take().expect("piped");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // Only what the child program printed, without the harness's prefix.
                let Some((_, printed)) = line.split_once('@') else {
                    continue;
                };
                if send.send(printed.to_owned()).is_err() {
                    return;
                }
            }
        });
        Child {
            process,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (bounded) until the child prints `want`.
    fn expect_line(&mut self, want: &str) {
        let give_up = Instant::now() + PATIENCE;
        while !self.seen.iter().any(|l| l == want) {
            let left = give_up.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => {
                    let _ = self.process.kill();
                    panic!(
                        "the child never printed {want:?}; it printed {:?}",
                        self.seen
                    );
                }
            }
        }
    }

    fn send(&self, signum: libc::c_int) {
        let pid = libc::pid_t::try_from(self.process.id()).expect("a pid");
        // SAFETY: kill(2) has no memory-safety preconditions; the child has not been waited
        // for, so the pid is still its own.
        let rc = unsafe { libc::kill(pid, signum) };
        assert_eq!(rc, 0, "kill({pid}, {signum})");
    }

    /// Waits (bounded) for the child to exit; its status and every line it printed.
    fn finish(mut self) -> (ExitStatus, Vec<String>) {
        let give_up = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.process.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > give_up {
                let _ = self.process.kill();
                panic!("the child did not exit; it printed {:?}", self.seen);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        // The reader thread ends at EOF, closing the channel.
        while let Ok(line) = self.lines.recv_timeout(PATIENCE) {
            self.seen.push(line);
        }
        (status, self.seen)
    }
}

fn position(lines: &[String], want: &str) -> usize {
    lines
        .iter()
        .position(|l| l == want)
        .unwrap_or_else(|| panic!("no line {want:?} in {lines:?}"))
}

#[test]
fn ctrl_c_in_a_child_process_completes_on_sigint() {
    let mut child = Child::start("ctrl_c");
    child.expect_line("ready");
    child.send(libc::SIGINT);
    let (status, lines) = child.finish();
    assert!(status.success(), "{status}: {lines:?}");
    assert!(position(&lines, "got ctrl-c") < position(&lines, "exited"));
}

#[test]
fn sigint_shuts_a_child_process_down_gracefully() {
    let mut child = Child::start("graceful");
    child.expect_line("ready");
    child.send(libc::SIGINT);
    let (status, lines) = child.finish();
    assert!(status.success(), "{status}: {lines:?}");
    // The worker finished its work within the grace period, before the scope ended.
    assert!(position(&lines, "draining") < position(&lines, "drained"));
    assert!(position(&lines, "drained") < position(&lines, "body returned"));
    assert!(position(&lines, "body returned") < position(&lines, "exited"));
}

#[test]
fn a_second_signal_cancels_a_child_process_still_draining() {
    let mut child = Child::start("cancel");
    child.expect_line("ready");
    child.send(libc::SIGINT);
    child.expect_line("shutdown requested");
    let started = Instant::now();
    child.send(libc::SIGTERM);
    let (status, lines) = child.finish();
    assert!(status.success(), "{status}: {lines:?}");
    assert!(started.elapsed() < PATIENCE);
    assert!(position(&lines, "worker dropped") < position(&lines, "exited"));
    assert!(!lines.iter().any(|l| l == "worker finished"), "{lines:?}");
}
