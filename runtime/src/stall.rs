//! The stall detector: a monitor thread that reports a poll blocking its worker for longer than
//! a threshold, with the task's name and spawn location. A blocked worker is never silent.
//!
//! Workers publish what they poll (`Scheduler::poll_snapshot`: two plain stores per poll). The
//! monitor looks every `threshold / 2` (at most every millisecond); a poll whose sequence number
//! is still the same, odd value after `threshold` is reported once. A worker seen in the same
//! poll twice has its queued tasks handed to a peer (`Scheduler::share_backlog_of`). When no
//! worker has polled anything since the previous look, or every thread of the runtime waits,
//! the monitor sleeps until a worker wakes up, so an idle runtime costs no CPU.

use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::handle::Handle;
use crate::sleeper::Sleeper;

/// A poll that has blocked a worker for longer than the stall threshold.
///
/// Given to the [`on_stall`](crate::Builder::on_stall) hook; `Display` says what happened and
/// what to do about it.
///
/// ```
/// use std::time::Duration;
/// use nursery_runtime::StallReport;
///
/// let (reports, stalls) = std::sync::mpsc::channel();
/// let rt = nursery_runtime::Runtime::builder()
///     .worker_threads(1)
///     .stall_threshold(Some(Duration::from_millis(20)))
///     .on_stall(move |report: &StallReport| {
///         let _ = reports.send(report.to_string());
///     })
///     .build()
///     .unwrap();
/// let message = rt.block_on(async {
///     nursery_runtime::task::Builder::new()
///         .name("parser")
///         // Blocks its worker (never do this) until the detector has reported it.
///         .spawn(async move { stalls.recv().unwrap() })
///         .await
///         .unwrap()
/// });
/// assert!(message.starts_with("task 'parser'"), "{message}");
/// assert!(message.contains("has blocked worker 0"), "{message}");
/// ```
#[derive(Debug, Clone)]
pub struct StallReport {
    /// The worker thread's index.
    pub worker: usize,
    /// The task's id.
    pub task_id: u64,
    /// The task's name, if it has one.
    pub task_name: Option<String>,
    /// Where the task was spawned.
    pub location: Option<&'static Location<'static>>,
    /// How long the poll had been running when it was reported (at least the threshold).
    pub blocked_for: Duration,
}

impl fmt::Display for StallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.task_name {
            Some(name) => write!(f, "task '{name}' (#{})", self.task_id)?,
            None => write!(f, "task#{}", self.task_id)?,
        }
        if let Some(at) = self.location {
            write!(f, " spawned at {at}")?;
        }
        write!(
            f,
            " has blocked worker {} for {:.1?} in one poll: move blocking work to \
             task::spawn_blocking, or .await instead of blocking",
            self.worker, self.blocked_for
        )
    }
}

pub(crate) type StallHook = Arc<dyn Fn(&StallReport) + Send + Sync>;

/// Shared between the monitor thread, the workers (which wake it) and the runtime (which stops
/// it).
#[derive(Default)]
pub(crate) struct Monitor {
    state: Sleeper<MonitorState>,
    /// Mirrors `MonitorState::sleeping` for the workers' park path, which must not take the lock
    /// just to find the monitor awake.
    asleep: AtomicBool,
}

#[derive(Default)]
struct MonitorState {
    stop: bool,
    /// The monitor waits for `wake` with no timeout.
    sleeping: bool,
}

impl Monitor {
    /// A worker woke up: make sure the monitor is watching.
    pub(crate) fn wake(&self) {
        let mut state = self.state.lock();
        if state.sleeping {
            state.sleeping = false;
            self.asleep.store(false, Relaxed);
            self.state.wake_one();
        }
    }

    pub(crate) fn stop(&self) {
        self.state.lock().stop = true;
        self.state.wake_one();
    }

    /// Whether the monitor is asleep (cheap check for the workers' fast path).
    pub(crate) fn is_sleeping(&self) -> bool {
        self.asleep.load(Relaxed)
    }
}

/// Starts the monitor thread for `handle`'s runtime.
pub(crate) fn spawn_monitor(
    handle: Handle,
    monitor: Arc<Monitor>,
    threshold: Duration,
    hook: StallHook,
) -> std::io::Result<thread::JoinHandle<()>> {
    thread::Builder::new()
        .name("nursery-stall-monitor".to_owned())
        .spawn(move || watch(&handle, &monitor, threshold, &*hook))
}

fn watch(
    handle: &Handle,
    monitor: &Monitor,
    threshold: Duration,
    hook: &(dyn Fn(&StallReport) + Send + Sync),
) {
    let workers = handle.worker_threads();
    // Looks every `threshold / 2` while the runtime is busy (it sleeps once quiet). The
    // scheduler itself keeps tasks from waiting behind a long poll (a push during a poll wakes
    // a peer; a stuck LIFO task can be taken), so the backlog it hands over is a safety net,
    // and it need not look often. It did every 10 ms: on two cores shared with the load
    // generator, those 100 wake-ups a second preempted a worker each and put hyper's p99 at
    // 16 connections 1.12x tokio's (0.95x with the monitor off).
    let interval = (threshold / 2).max(Duration::from_millis(1));
    // Per worker: the poll seen last time, since when, and whether it was reported.
    let mut seen: Vec<(u64, Instant, bool)> = vec![(0, Instant::now(), false); workers];
    let mut quiet_rounds = 0;
    loop {
        {
            let mut state = monitor.state.lock();
            if state.stop {
                return;
            }
            // One quiet look (no poll since the one before, or every thread waiting): the
            // runtime is idle, and a worker that wakes up wakes the monitor.
            if quiet_rounds >= 1 {
                state.sleeping = true;
                monitor.asleep.store(true, Relaxed);
                monitor
                    .state
                    .sleep_while(&mut state, None, |s| s.sleeping && !s.stop);
                quiet_rounds = 0;
            } else {
                let until = Instant::now() + interval;
                monitor
                    .state
                    .sleep_while(&mut state, Some(until), |s| !s.stop);
            }
            if state.stop {
                return;
            }
        }
        let now = Instant::now();
        let mut any_activity = false;
        for (worker, last) in seen.iter_mut().enumerate() {
            let poll = handle.scheduler().poll_snapshot(worker);
            if poll.seq != last.0 {
                any_activity = true;
                *last = (poll.seq, now, false);
                continue;
            }
            if poll.in_poll() {
                any_activity = true;
                // Stuck in one poll since the last look: the tasks queued behind it need
                // another worker.
                handle.scheduler().share_backlog_of(worker);
                let blocked_for = now.duration_since(last.1);
                if blocked_for >= threshold && !last.2 {
                    last.2 = true;
                    let report = StallReport {
                        worker,
                        task_id: poll.task_id,
                        task_name: name_of(handle, poll.task_id),
                        location: poll.location,
                        blocked_for,
                    };
                    hook(&report);
                }
            }
        }
        // Every thread waiting now counts as quiet too, whatever ran since the last look.
        let quiet = !any_activity || handle.inner.driver.all_idle();
        quiet_rounds = if quiet { quiet_rounds + 1 } else { 0 };
    }
}

/// The task is alive (it is being polled), so the tree has it.
fn name_of(handle: &Handle, id: u64) -> Option<String> {
    let mut name = None;
    handle.root().walk(|_, node| {
        if node.id == id {
            name = node.name.clone();
        }
    });
    name
}

/// The default hook: print the report.
pub(crate) fn print_report(report: &StallReport) {
    eprintln!("nursery: stall: {report}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_monitor_sleeps_once_the_runtime_is_idle() {
        let rt = crate::Runtime::builder()
            .worker_threads(2)
            .stall_threshold(Some(Duration::from_millis(200)))
            .build()
            .unwrap();
        let monitor = rt.handle().inner.driver.monitor.clone().unwrap();
        let asleep_within = |limit: Duration| {
            let deadline = Instant::now() + limit;
            while !monitor.is_sleeping() {
                if Instant::now() > deadline {
                    return false;
                }
                thread::sleep(Duration::from_millis(5));
            }
            true
        };
        for _round in 0..2 {
            rt.block_on(async {
                for _ in 0..100 {
                    crate::spawn(async {}).await.unwrap();
                }
            });
            // Looks every 100 ms: asleep a look or two after the last poll.
            assert!(
                asleep_within(Duration::from_secs(5)),
                "the monitor kept looking"
            );
        }
    }
}
