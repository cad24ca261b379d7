//! `wake_latency`: the time from a wake to the woken task's first poll after it, on nursery and
//! tokio in one process, alternating round by round, and a markdown table of p50 / p99 / max.
//!
//! ```text
//! cargo run --release -p nursery-bench --bin wake_latency -- [--workers N] [--rounds R]
//!     [--filter NAME]
//! cargo run --release -p nursery-bench --bin wake_latency -- --list
//! ```
//!
//! `--filter` keeps the scenarios whose name contains it (`--filter task/busy`,
//! `--filter /64`, `--filter fanout_compute`, `--filter behind_poll`).
//!
//! Both runtimes are built by `runtimes` with the same worker count (2 by default), a fresh pair
//! for every scenario (none inherits the state another left). Each round runs as a spawned task
//! (never on the `block_on` thread) that spawns the waiters, waits until every one of them has been
//! polled once and is parked (a `Countdown` ticked after the first poll), then wakes them. A waiter
//! takes `Instant::now()` on the poll that finds its wake; the waker notes `Instant::now()` just
//! before each wake. Latency = that poll − the wake. Channels are `futures::channel::oneshot` on
//! both sides.
//!
//! Latency scenarios, named `WAKER/busy|idle/short|cpu/FANOUT` (FANOUT = 2, 4, 64 waiters):
//!
//! * waker `task`: the round's task spins 200 µs (so the workers that ran the waiters' first
//!   polls are back asleep), then sends on the waiters' oneshots.
//! * waker `timer`: the round's task sleeps until a deadline 2 ms ahead (the runtime's own
//!   `sleep_until`), then sends on the oneshots. Latency counts from the **deadline**, so it
//!   includes the timer's own lateness (both runtimes have millisecond timers).
//! * waker `io`: each waiter reads one byte from its own Unix socket (the runtime's
//!   `UnixStream`, registered with its reactor); the round's task spins 200 µs, then writes one
//!   byte into each pair's other end, a plain std socket (so the runtime learns of the data
//!   from epoll, as for a remote peer, not from its own write path).
//! * waker `thread`: a plain thread outside the runtime sleeps 500 µs, then sends on the
//!   oneshots.
//! * `busy`: the waker spins 5 ms right after the wakes (a dispatcher that goes on computing;
//!   for `task`, `timer` and `io` it keeps its worker busy, and tasks left in that worker's
//!   queue wait for it). For `thread` the spinning thread is not a worker: a control case.
//!   `idle`: the waker awaits the waiters right after the wakes.
//! * `short`: a woken waiter records its timestamp and finishes. `cpu`: it records its
//!   timestamp, then spins 2 ms (so at fan-out 64 most of the latency is queueing behind the
//!   others, on either runtime).
//!
//! Fan-out-compute case, `fanout_compute/K` (K = 2, 4, 8): a task wakes K parked tasks through
//! oneshots and awaits them; each computes (spins) 40 ms. Wall time from the first wake to the
//! last finish. Ideal: ⌈K / workers⌉ × 40 ms plus a little (40–45 ms for K = 2 at 2 workers).
//!
//! Timer-behind-a-poll case, `timer_behind_poll`: a task registers a timer 2 ms ahead
//! (its first poll), and the worker that polled it goes on to compute 20 ms in the round's
//! task (a handler that blocks its worker). The timer's lateness, as for waker `timer`; only
//! rounds where the timer was registered on the computing worker count (the table says how
//! many). On nursery that worker's wheel holds the timer, and a sleeping worker must fire it;
//! tokio's parked driver fires every timer.
//!
//! Chain-behind-a-poll case, `chain_behind_poll`: two tasks take turns on a worker for 1 ms
//! (each yields after its turn), then one of them computes 5 ms in its poll with the other
//! queued behind it. The time from the start of that long poll to the other's first poll; only
//! rounds where the other's last poll before it ran on the computing worker count. On nursery
//! the idle worker leaves the moving queue to its owner and dozes beside it (50 µs), so this
//! measures how soon a dozer takes a task held up behind a poll that turned long. tokio
//! usually runs the two on both workers (its yield notifies a parked worker, which steals one),
//! so few of its rounds count.
//!
//! Every scenario gets one warm-up round per runtime, then `--rounds` paired rounds (ABBA
//! order, as in `compare`); the fan-out-64 scenarios and the fan-out-compute case, whose rounds
//! are long (up to 64 × 2 ms of work, or 8 × 40 ms), get an eighth of them (at least 3, at most
//! `--rounds`). The percentiles are by nearest rank over every waiter of every round: at the
//! default 100 rounds a fan-out-2 p99 is the second-highest of 200 samples (with fewer than 100
//! samples it is the max). At the default 100 rounds and 2 workers the work alone adds up to
//! about a minute; a full run should stay under 2 minutes on an otherwise idle machine.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use nursery_bench::runtimes;
use nursery_bench::stats::{format_duration, Summary};
use nursery_bench::wake_latency::{
    chain_behind_poll_round, compute_round, latency_round, timer_behind_poll_round, NurserySide,
    Percentiles, Scenario, Side, TokioSide, BLOCKING_POLL, BUSY_WAKER, CHAIN_TURNS,
    COMPUTE_FANOUTS, FANOUT_COMPUTE,
};

const USAGE: &str = "\
usage: wake_latency [--workers N] [--rounds R] [--filter NAME]
       wake_latency --list";

#[derive(Debug)]
struct Options {
    workers: usize,
    rounds: usize,
    filter: String,
    list: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        workers: 2,
        rounds: 100,
        filter: String::new(),
        list: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        let number = |name: &str, v: String| {
            v.parse::<usize>()
                .map_err(|_| format!("{name} expects a whole number, got {v:?}"))
        };
        match arg.as_str() {
            "--workers" => options.workers = number("--workers", value("--workers")?)?,
            "--rounds" => options.rounds = number("--rounds", value("--rounds")?)?,
            "--filter" => options.filter = value("--filter")?,
            "--list" => options.list = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if options.workers == 0 || options.rounds == 0 {
        return Err("--workers and --rounds must be at least 1".to_owned());
    }
    Ok(options)
}

/// Scenarios with at least this many waiters run [`sparse_rounds`].
const SPARSE_FANOUT: usize = 64;

/// The rounds of the long scenarios: an eighth of `rounds`, at least 3, at most `rounds`.
fn sparse_rounds(rounds: usize) -> usize {
    rounds.div_ceil(8).max(3).min(rounds)
}

fn compute_name(fanout: usize) -> String {
    format!("fanout_compute/{fanout}")
}

const TIMER_BEHIND_POLL: &str = "timer_behind_poll";
const CHAIN_BEHIND_POLL: &str = "chain_behind_poll";

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let scenarios: Vec<Scenario> = Scenario::all()
        .into_iter()
        .filter(|s| s.name().contains(&options.filter))
        .collect();
    let compute_fanouts: Vec<usize> = COMPUTE_FANOUTS
        .into_iter()
        .filter(|&k| compute_name(k).contains(&options.filter))
        .collect();
    let behind_poll = TIMER_BEHIND_POLL.contains(&options.filter);
    let chain_behind = CHAIN_BEHIND_POLL.contains(&options.filter);
    if options.list {
        for s in &scenarios {
            println!("{}", s.name());
        }
        for &k in &compute_fanouts {
            println!("{}", compute_name(k));
        }
        if behind_poll {
            println!("{TIMER_BEHIND_POLL}");
        }
        if chain_behind {
            println!("{CHAIN_BEHIND_POLL}");
        }
        return ExitCode::SUCCESS;
    }
    if scenarios.is_empty() && compute_fanouts.is_empty() && !behind_poll && !chain_behind {
        eprintln!(
            "no scenario matches {:?} (see --list)",
            options.filter.as_str()
        );
        return ExitCode::FAILURE;
    }

    // A fresh pair of runtimes per scenario: a scenario must not inherit the state (queues,
    // which worker holds the reactor, timers) that the one before it left.
    let fresh = || {
        (
            NurserySide(runtimes::nursery(options.workers)),
            TokioSide(runtimes::tokio(options.workers)),
        )
    };
    let sparse_rounds = sparse_rounds(options.rounds);
    eprintln!(
        "{} workers, 1 warm-up + {} rounds per runtime and scenario ({} at fan-out 64 and for \
         fanout_compute)",
        options.workers, options.rounds, sparse_rounds
    );
    let total = Instant::now();

    let mut latency_rows = Vec::new();
    for &scenario in &scenarios {
        let started = Instant::now();
        let rounds = if scenario.fanout >= SPARSE_FANOUT {
            sparse_rounds
        } else {
            options.rounds
        };
        let (nursery, tokio) = fresh();
        let (n, t) = paired(rounds, |side| match side {
            Turn::Nursery => latency_round(&nursery, scenario),
            Turn::Tokio => latency_round(&tokio, scenario),
        });
        eprintln!(
            "  {:<24} done in {}",
            scenario.name(),
            format_duration(started.elapsed())
        );
        latency_rows.push((scenario, n.concat(), t.concat()));
    }

    let mut compute_rows = Vec::new();
    for &k in &compute_fanouts {
        let started = Instant::now();
        let (nursery, tokio) = fresh();
        let (n, t) = paired(sparse_rounds, |side| match side {
            Turn::Nursery => compute_round(&nursery, k),
            Turn::Tokio => compute_round(&tokio, k),
        });
        eprintln!(
            "  {:<24} done in {}",
            compute_name(k),
            format_duration(started.elapsed())
        );
        compute_rows.push((k, n, t));
    }
    // The behind-a-poll cases count only the rounds that held something up behind the poll.
    let behind_a_poll = |name: &str,
                         nursery_round: fn(&NurserySide) -> Option<Duration>,
                         tokio_round: fn(&TokioSide) -> Option<Duration>| {
        let started = Instant::now();
        let (nursery, tokio) = fresh();
        let (n, t) = paired(options.rounds, |side| match side {
            Turn::Nursery => nursery_round(&nursery),
            Turn::Tokio => tokio_round(&tokio),
        });
        eprintln!(
            "  {:<24} done in {}",
            name,
            format_duration(started.elapsed())
        );
        let counted = |v: Vec<Option<Duration>>| v.into_iter().flatten().collect::<Vec<_>>();
        (counted(n), counted(t))
    };
    let behind_poll_row = behind_poll.then(|| {
        behind_a_poll(
            TIMER_BEHIND_POLL,
            timer_behind_poll_round,
            timer_behind_poll_round,
        )
    });
    let chain_behind_row = chain_behind.then(|| {
        behind_a_poll(
            CHAIN_BEHIND_POLL,
            chain_behind_poll_round,
            chain_behind_poll_round,
        )
    });
    eprintln!("total {}", format_duration(total.elapsed()));

    if !latency_rows.is_empty() {
        print_latency_table(&latency_rows, &options, sparse_rounds);
    }
    if !compute_rows.is_empty() {
        print_compute_table(&compute_rows, &options, sparse_rounds);
    }
    if let Some((n, t)) = behind_poll_row {
        let what = format!(
            "a timer set 2 ms ahead on a worker that then computes {}; its task's first poll \
             after the deadline − the deadline, over the rounds where the timer was registered \
             on the computing worker.",
            format_duration(BLOCKING_POLL)
        );
        print_behind_poll_table(TIMER_BEHIND_POLL, &what, &n, &t, &options);
    }
    if let Some((n, t)) = chain_behind_row {
        let what = format!(
            "two tasks take turns (yielding) for {}, then one computes {} with the other queued \
             behind it; the other's first poll after the long poll began − its start, over the \
             rounds where the other's last poll before it ran on the computing worker.",
            format_duration(CHAIN_TURNS),
            format_duration(BUSY_WAKER)
        );
        print_behind_poll_table(CHAIN_BEHIND_POLL, &what, &n, &t, &options);
    }
    ExitCode::SUCCESS
}

#[derive(Clone, Copy)]
enum Turn {
    Nursery,
    Tokio,
}

/// One warm-up call per side, then `rounds` calls per side, alternating, and who goes first
/// swapped every other round (ABBA), so that drift in machine load falls on both alike.
fn paired<T>(rounds: usize, mut one: impl FnMut(Turn) -> T) -> (Vec<T>, Vec<T>) {
    one(Turn::Nursery);
    one(Turn::Tokio);
    let mut nursery = Vec::with_capacity(rounds);
    let mut tokio = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [Turn::Nursery, Turn::Tokio]
        } else {
            [Turn::Tokio, Turn::Nursery]
        };
        for turn in order {
            let output = one(turn);
            match turn {
                Turn::Nursery => nursery.push(output),
                Turn::Tokio => tokio.push(output),
            }
        }
    }
    (nursery, tokio)
}

/// A table cell: p50 / p99 / max, or `-` without samples.
fn percentiles_cell(p: Option<Percentiles>) -> String {
    p.map_or("-".to_owned(), |p| {
        format!(
            "{} / {} / {}",
            format_duration(p.p50),
            format_duration(p.p99),
            format_duration(p.max)
        )
    })
}

fn print_latency_table(
    rows: &[(Scenario, Vec<Duration>, Vec<Duration>)],
    options: &Options,
    sparse_rounds: usize,
) {
    println!(
        "| scenario | {} p50 / p99 / max | {} p50 / p99 / max | p99 ratio ({}/{}) |",
        NurserySide::NAME,
        TokioSide::NAME,
        NurserySide::NAME,
        TokioSide::NAME
    );
    println!("|---|---:|---:|---:|");
    for (scenario, n, t) in rows {
        let n = Percentiles::of(n);
        let t = Percentiles::of(t);
        let ratio = match (n, t) {
            (Some(n), Some(t)) if !t.p99.is_zero() => {
                format!("{:.2}", n.p99.as_secs_f64() / t.p99.as_secs_f64())
            }
            _ => "-".to_owned(),
        };
        println!(
            "| {} | {} | {} | {ratio} |",
            scenario.name(),
            percentiles_cell(n),
            percentiles_cell(t)
        );
    }
    println!();
    println!(
        "{} workers, {} rounds per side ({sparse_rounds} at fan-out {SPARSE_FANOUT}); latency = \
         the woken task's first poll after the wake − the wake (timer: − the deadline), over \
         every waiter of every round, nearest rank.",
        options.workers, options.rounds
    );
    println!();
}

fn print_compute_table(
    rows: &[(usize, Vec<Duration>, Vec<Duration>)],
    options: &Options,
    rounds: usize,
) {
    println!(
        "| fan-out compute | {} median (min–max) | {} median (min–max) | ideal |",
        NurserySide::NAME,
        TokioSide::NAME
    );
    println!("|---|---:|---:|---:|");
    for (k, n, t) in rows {
        let cell = |samples: &[Duration]| {
            Summary::of(samples).map_or("-".to_owned(), |s| {
                format!(
                    "{} ({}–{})",
                    format_duration(s.median),
                    format_duration(s.min),
                    format_duration(s.max)
                )
            })
        };
        let ideal = FANOUT_COMPUTE * k.div_ceil(options.workers) as u32;
        println!(
            "| {} | {} | {} | {} |",
            compute_name(*k),
            cell(n),
            cell(t),
            format_duration(ideal)
        );
    }
    println!();
    println!(
        "{} workers, {rounds} rounds per side: a task wakes K tasks through oneshots and awaits \
         them, each spins {}; wall time from the first wake to the last finish.",
        options.workers,
        format_duration(FANOUT_COMPUTE)
    );
}

fn print_behind_poll_table(
    name: &str,
    what: &str,
    n: &[Duration],
    t: &[Duration],
    options: &Options,
) {
    println!(
        "| behind a poll | {} p50 / p99 / max (rounds) | {} p50 / p99 / max (rounds) |",
        NurserySide::NAME,
        TokioSide::NAME
    );
    println!("|---|---:|---:|");
    let cell = |samples: &[Duration]| {
        format!(
            "{} ({})",
            percentiles_cell(Percentiles::of(samples)),
            samples.len()
        )
    };
    println!("| {name} | {} | {} |", cell(n), cell(t));
    println!();
    println!(
        "{} workers, {} rounds per side: {what}",
        options.workers, options.rounds
    );
}
