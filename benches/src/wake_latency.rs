//! Wake-to-run latency: the time from a wake to the woken task's first poll after it, written
//! once over a [`Side`] so that nursery and tokio run the very same code (the `wake_latency`
//! binary prints the tables; its module docs say what each scenario does).
//!
//! Every waiter is a spawned task that awaits one wake source (a `futures` oneshot, or one byte
//! on a Unix socket), ticks a [`Countdown`] after its first poll so the waker knows it is
//! parked, and on the poll that finds the wake takes `Instant::now()`. The waker notes an
//! `Instant` for each waiter just before waking it (for a timer: the deadline). Latency =
//! first poll after the wake − wake instant.

use std::future::Future;
use std::io::Write;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use futures::future::BoxFuture;

use crate::support::{tick_after_first_poll, Countdown};

/// What a CPU-bound waiter computes (spins) after it recorded its wake-up.
pub const CPU_WORK: Duration = Duration::from_millis(2);
/// What a busy waker goes on computing (spins) after it sent the wakes.
pub const BUSY_WAKER: Duration = Duration::from_millis(5);
/// What a task or I/O waker computes before the wakes, so that the workers that ran the
/// waiters' first polls have gone back to sleep: the wakes find a runtime at rest.
pub const SETTLE_SPIN: Duration = Duration::from_micros(200);
/// What the outside thread sleeps before the wakes, for the same reason.
pub const SETTLE_THREAD: Duration = Duration::from_micros(500);
/// How far ahead of its first poll the timer waker sets its deadline.
pub const TIMER_DELAY: Duration = Duration::from_millis(2);
/// What each task of the fan-out-compute case computes after its wake.
pub const FANOUT_COMPUTE: Duration = Duration::from_millis(40);

/// How long the worker that registered a timer computes in the timer-behind-a-poll case.
pub const BLOCKING_POLL: Duration = Duration::from_millis(20);

/// The fan-outs of the latency scenarios.
pub const FANOUTS: [usize; 3] = [2, 4, 64];
/// The fan-outs of the fan-out-compute case.
pub const COMPUTE_FANOUTS: [usize; 3] = [2, 4, 8];

/// Spins (busy-waits) for `d`: computation that never yields.
pub fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// One runtime under test: how to run a task on it and the few runtime-specific futures the
/// scenarios need. Everything else (channels, timestamps, spinning) is shared.
pub trait Side: 'static {
    /// `nursery` or `tokio`.
    const NAME: &'static str;

    /// Runs `task` as a spawned task (on a worker, not on the calling thread) and waits for
    /// its output.
    fn run<T: Send + 'static>(&self, task: BoxFuture<'static, T>) -> T;

    /// Spawns `future` on the current runtime; the returned future waits for its output.
    fn spawn<T: Send + 'static>(
        future: impl Future<Output = T> + Send + 'static,
    ) -> BoxFuture<'static, T>;

    /// The runtime's own `sleep_until`.
    fn sleep_until(deadline: Instant) -> BoxFuture<'static, ()>;

    /// Registers `stream` with the runtime's reactor and reads one byte from it.
    fn read_one_byte(stream: StdUnixStream) -> BoxFuture<'static, ()>;
}

/// nursery, built by [`crate::runtimes::nursery`].
#[derive(Debug)]
pub struct NurserySide(pub nursery::Runtime);

impl Side for NurserySide {
    const NAME: &'static str = "nursery";

    fn run<T: Send + 'static>(&self, task: BoxFuture<'static, T>) -> T {
        self.0.block_on(async {
            nursery::spawn(task)
                .await
                .expect("a benchmark round does not fail")
        })
    }

    fn spawn<T: Send + 'static>(
        future: impl Future<Output = T> + Send + 'static,
    ) -> BoxFuture<'static, T> {
        let handle = nursery::spawn(future);
        Box::pin(async move { handle.await.expect("a waiter does not fail") })
    }

    fn sleep_until(deadline: Instant) -> BoxFuture<'static, ()> {
        Box::pin(nursery::time::sleep_until(deadline))
    }

    fn read_one_byte(stream: StdUnixStream) -> BoxFuture<'static, ()> {
        use futures::io::AsyncReadExt;
        Box::pin(async move {
            let mut stream =
                nursery::net::UnixStream::from_std(stream).expect("registering a Unix socket");
            let mut byte = [0u8; 1];
            let n = stream.read(&mut byte).await.expect("reading a Unix socket");
            assert_eq!(n, 1, "the waker writes one byte");
        })
    }
}

/// tokio, built by [`crate::runtimes::tokio`].
#[derive(Debug)]
pub struct TokioSide(pub tokio::runtime::Runtime);

impl Side for TokioSide {
    const NAME: &'static str = "tokio";

    fn run<T: Send + 'static>(&self, task: BoxFuture<'static, T>) -> T {
        self.0.block_on(async {
            tokio::spawn(task)
                .await
                .expect("a benchmark round does not fail")
        })
    }

    fn spawn<T: Send + 'static>(
        future: impl Future<Output = T> + Send + 'static,
    ) -> BoxFuture<'static, T> {
        let handle = tokio::spawn(future);
        Box::pin(async move { handle.await.expect("a waiter does not fail") })
    }

    fn sleep_until(deadline: Instant) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }

    fn read_one_byte(stream: StdUnixStream) -> BoxFuture<'static, ()> {
        use tokio::io::AsyncReadExt;
        Box::pin(async move {
            stream
                .set_nonblocking(true)
                .expect("making a Unix socket non-blocking");
            let mut stream =
                tokio::net::UnixStream::from_std(stream).expect("registering a Unix socket");
            let mut byte = [0u8; 1];
            let n = stream.read(&mut byte).await.expect("reading a Unix socket");
            assert_eq!(n, 1, "the waker writes one byte");
        })
    }
}

/// Who wakes the waiters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waker {
    /// A task on a worker sends on the waiters' oneshots.
    Task,
    /// A task whose `sleep_until` ends sends on the waiters' oneshots; latency counts from the
    /// deadline, so the timer's own lateness is included.
    Timer,
    /// A task on a worker writes one byte into each waiter's Unix socket through a plain
    /// (unregistered) std socket: the runtime learns of it from its reactor (epoll).
    Io,
    /// A plain thread outside the runtime sends on the waiters' oneshots.
    Thread,
}

impl Waker {
    /// Every waker, in table order.
    pub const ALL: [Waker; 4] = [Waker::Task, Waker::Timer, Waker::Io, Waker::Thread];

    /// The name used in scenario names.
    pub fn name(self) -> &'static str {
        match self {
            Waker::Task => "task",
            Waker::Timer => "timer",
            Waker::Io => "io",
            Waker::Thread => "thread",
        }
    }
}

/// What a waiter does once woken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// Records the timestamp and finishes.
    Short,
    /// Records the timestamp, then spins [`CPU_WORK`].
    Cpu,
}

impl Work {
    /// The name used in scenario names.
    pub fn name(self) -> &'static str {
        match self {
            Work::Short => "short",
            Work::Cpu => "cpu",
        }
    }
}

/// One latency scenario: `fanout` waiters doing `work`, woken by `waker`, which spins
/// [`BUSY_WAKER`] after the wakes if `busy` and otherwise awaits the waiters at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// Who wakes.
    pub waker: Waker,
    /// Whether the waker goes on computing after the wakes.
    pub busy: bool,
    /// What the woken tasks do.
    pub work: Work,
    /// How many tasks one round wakes.
    pub fanout: usize,
}

impl Scenario {
    /// Every scenario, in table order.
    pub fn all() -> Vec<Scenario> {
        let mut all = Vec::new();
        for waker in Waker::ALL {
            for busy in [true, false] {
                for work in [Work::Short, Work::Cpu] {
                    for fanout in FANOUTS {
                        all.push(Scenario {
                            waker,
                            busy,
                            work,
                            fanout,
                        });
                    }
                }
            }
        }
        all
    }

    /// `waker/busy|idle/short|cpu/fanout`, e.g. `task/busy/short/4`.
    pub fn name(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.waker.name(),
            if self.busy { "busy" } else { "idle" },
            self.work.name(),
            self.fanout
        )
    }
}

/// One round of `scenario` on `side`: the latency of each waiter.
pub fn latency_round<S: Side>(side: &S, scenario: Scenario) -> Vec<Duration> {
    side.run(Box::pin(latency_task::<S>(scenario)))
}

/// The wake sources of one round, the waker's ends.
enum Wakes {
    Oneshots(Vec<oneshot::Sender<()>>),
    Sockets(Vec<StdUnixStream>),
}

async fn latency_task<S: Side>(scenario: Scenario) -> Vec<Duration> {
    let n = scenario.fanout;
    let (countdown, all_parked) = Countdown::new(n);
    let countdown = Arc::new(countdown);
    let mut senders = Vec::with_capacity(n);
    let mut sockets = Vec::with_capacity(n);
    let mut waiters = Vec::with_capacity(n);
    for _ in 0..n {
        let wait: BoxFuture<'static, ()> = if scenario.waker == Waker::Io {
            let (writer, reader) = StdUnixStream::pair().expect("creating a Unix socket pair");
            sockets.push(writer);
            S::read_one_byte(reader)
        } else {
            let (tx, rx) = oneshot::channel::<()>();
            senders.push(tx);
            Box::pin(async move { rx.await.expect("the waker sends") })
        };
        let countdown = countdown.clone();
        let work = scenario.work;
        waiters.push(S::spawn(async move {
            tick_after_first_poll(wait, &countdown).await;
            let woken = Instant::now();
            if work == Work::Cpu {
                spin(CPU_WORK);
            }
            woken
        }));
    }
    all_parked.await.expect("every waiter ticks the countdown");
    let wakes = if scenario.waker == Waker::Io {
        Wakes::Sockets(sockets)
    } else {
        Wakes::Oneshots(senders)
    };

    let from_thread;
    let wake_instants = match scenario.waker {
        Waker::Task | Waker::Io => {
            spin(SETTLE_SPIN);
            let instants = wake_all(wakes);
            if scenario.busy {
                spin(BUSY_WAKER);
            }
            from_thread = None;
            instants
        }
        Waker::Timer => {
            let deadline = Instant::now() + TIMER_DELAY;
            S::sleep_until(deadline).await;
            wake_all(wakes);
            if scenario.busy {
                spin(BUSY_WAKER);
            }
            from_thread = None;
            vec![deadline; n]
        }
        Waker::Thread => {
            let (instants_tx, instants_rx) = oneshot::channel();
            let busy = scenario.busy;
            let thread = std::thread::Builder::new()
                .name("outside-waker".to_owned())
                .spawn(move || {
                    std::thread::sleep(SETTLE_THREAD);
                    let instants = wake_all(wakes);
                    if busy {
                        spin(BUSY_WAKER);
                    }
                    // The round takes them after its waiters are done, so nobody is woken.
                    let _ = instants_tx.send(instants);
                })
                .expect("starting the outside waker thread");
            from_thread = Some((thread, instants_rx));
            Vec::new()
        }
    };

    let mut woken = Vec::with_capacity(n);
    for waiter in waiters {
        woken.push(waiter.await);
    }
    let wake_instants = match from_thread {
        None => wake_instants,
        Some((thread, instants_rx)) => {
            let instants = instants_rx
                .await
                .expect("the outside waker sends its instants");
            thread.join().expect("the outside waker does not panic");
            instants
        }
    };
    woken
        .iter()
        .zip(&wake_instants)
        .map(|(woken, wake)| woken.saturating_duration_since(*wake))
        .collect()
}

/// Wakes every waiter, noting the instant just before each wake.
fn wake_all(wakes: Wakes) -> Vec<Instant> {
    match wakes {
        Wakes::Oneshots(senders) => senders
            .into_iter()
            .map(|tx| {
                let at = Instant::now();
                tx.send(()).expect("the waiter is parked on its receiver");
                at
            })
            .collect(),
        Wakes::Sockets(sockets) => sockets
            .iter()
            .map(|mut socket| {
                let at = Instant::now();
                // One byte into an empty socket buffer: a blocking socket does not block.
                socket.write_all(&[1]).expect("writing a Unix socket");
                at
            })
            .collect(),
    }
}

/// One round of the fan-out-compute case on `side`: a task wakes `fanout` parked tasks through
/// oneshots and awaits them; each computes [`FANOUT_COMPUTE`]. The time from the first wake
/// until the last of them finished.
pub fn compute_round<S: Side>(side: &S, fanout: usize) -> Duration {
    side.run(Box::pin(compute_task::<S>(fanout)))
}

async fn compute_task<S: Side>(fanout: usize) -> Duration {
    let (countdown, all_parked) = Countdown::new(fanout);
    let countdown = Arc::new(countdown);
    let mut senders = Vec::with_capacity(fanout);
    let mut workers = Vec::with_capacity(fanout);
    for _ in 0..fanout {
        let (tx, rx) = oneshot::channel::<()>();
        senders.push(tx);
        let countdown = countdown.clone();
        workers.push(S::spawn(async move {
            tick_after_first_poll(rx, &countdown)
                .await
                .expect("the waker sends");
            spin(FANOUT_COMPUTE);
            Instant::now()
        }));
    }
    all_parked.await.expect("every task ticks the countdown");
    spin(SETTLE_SPIN);
    let start = Instant::now();
    for tx in senders {
        tx.send(()).expect("the task is parked on its receiver");
    }
    let mut last = start;
    for worker in workers {
        last = last.max(worker.await);
    }
    last - start
}

/// One round of the timer-behind-a-poll case on `side`: a task registers a timer
/// [`TIMER_DELAY`] ahead, and the worker that polled it then computes [`BLOCKING_POLL`] in
/// another task's poll. The timer's lateness: its task's first poll after the deadline − the
/// deadline. `None` if the timer was registered on another worker than the one that computes
/// (the round then says nothing about a timer behind a poll).
pub fn timer_behind_poll_round<S: Side>(side: &S) -> Option<Duration> {
    side.run(Box::pin(timer_behind_poll_task::<S>()))
}

async fn timer_behind_poll_task<S: Side>() -> Option<Duration> {
    let (countdown, registered) = Countdown::new(1);
    let countdown = Arc::new(countdown);
    let deadline = Instant::now() + TIMER_DELAY;
    let sleeper = S::spawn(async move {
        let thread = std::thread::current().id();
        tick_after_first_poll(S::sleep_until(deadline), &countdown).await;
        (Instant::now().saturating_duration_since(deadline), thread)
    });
    registered.await.expect("the sleeper ticks the countdown");
    let computing = std::thread::current().id();
    spin(BLOCKING_POLL);
    let (late, registered_on) = sleeper.await;
    (registered_on == computing).then_some(late)
}

/// How long the two tasks of the chain-behind-a-poll case take turns before one of them turns
/// long: long enough for the idle worker to have judged their queue and dozed beside it.
pub const CHAIN_TURNS: Duration = Duration::from_millis(1);

/// One round of the chain-behind-a-poll case on `side`: two tasks take turns on a worker (each
/// yields after its turn: a queue that is never empty but moves, which a nursery searcher
/// leaves to its owner and dozes beside) for [`CHAIN_TURNS`], then one of them computes
/// [`BUSY_WAKER`] in its poll with the other queued behind it. The time from the start of that
/// long poll to the other's first poll after it. `None` if the other's last poll before it was
/// not on the computing worker (the pair was split: nothing was queued behind the poll).
pub fn chain_behind_poll_round<S: Side>(side: &S) -> Option<Duration> {
    side.run(Box::pin(chain_behind_poll_task::<S>()))
}

/// What the pair of the chain-behind-a-poll case shares: when the turns began, and the start
/// and worker thread of the long poll once one of them began it.
struct Pair {
    began: Instant,
    long_poll: std::sync::OnceLock<(Instant, std::thread::ThreadId)>,
}

async fn chain_behind_poll_task<S: Side>() -> Option<Duration> {
    let pair = Arc::new(Pair {
        began: Instant::now(),
        long_poll: std::sync::OnceLock::new(),
    });
    let taker = |pair: Arc<Pair>| async move {
        let mut last_thread = std::thread::current().id();
        loop {
            let now = Instant::now();
            let thread = std::thread::current().id();
            if let Some(&(start, computing)) = pair.long_poll.get() {
                // The first poll since the other began computing.
                return (last_thread == computing).then(|| now.saturating_duration_since(start));
            }
            if now - pair.began >= CHAIN_TURNS && pair.long_poll.set((now, thread)).is_ok() {
                spin(BUSY_WAKER);
                return None;
            }
            last_thread = thread;
            yield_once().await;
        }
    };
    let first = S::spawn(taker(pair.clone()));
    let second = S::spawn(taker(pair));
    let (first, second) = futures::join!(first, second);
    first.or(second)
}

/// Wakes its own task and returns `Pending` once: the task goes to the back of its worker's
/// queue on either runtime.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if std::mem::replace(&mut yielded, true) {
            std::task::Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}

/// The percentiles a latency table shows, by nearest rank.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Percentiles {
    /// The median (the lower middle one for an even count).
    pub p50: Duration,
    /// The 99th percentile: with fewer than 100 samples, the highest.
    pub p99: Duration,
    /// The highest sample.
    pub max: Duration,
}

impl Percentiles {
    /// The percentiles of `samples`; `None` if there are none.
    pub fn of(samples: &[Duration]) -> Option<Percentiles> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        Some(Percentiles {
            p50: nearest_rank(&sorted, 0.50),
            p99: nearest_rank(&sorted, 0.99),
            max: sorted[sorted.len() - 1],
        })
    }
}

/// The smallest sample with at least a `q` share of the samples at or below it.
fn nearest_rank(sorted: &[Duration], q: f64) -> Duration {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_p99_of_a_hundred_samples_is_the_second_highest() {
        let samples: Vec<_> = (1..=100).rev().map(Duration::from_micros).collect();
        let p = Percentiles::of(&samples).expect("non-empty");
        assert_eq!(p.p50, Duration::from_micros(50));
        assert_eq!(p.p99, Duration::from_micros(99));
        assert_eq!(p.max, Duration::from_micros(100));
    }

    #[test]
    fn the_p99_of_few_samples_is_the_highest() {
        let us = Duration::from_micros;
        let p = Percentiles::of(&[us(3), us(1), us(2)]).expect("non-empty");
        assert_eq!(p.p50, us(2));
        assert_eq!(p.p99, us(3));
    }

    #[test]
    fn every_scenario_has_its_own_name() {
        let mut names: Vec<_> = Scenario::all().iter().map(Scenario::name).collect();
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count);
        assert_eq!(count, 4 * 2 * 2 * FANOUTS.len());
    }
}
