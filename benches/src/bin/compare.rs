//! `compare`: the brief's workloads on nursery and tokio in one process, alternating, and a
//! markdown table of the medians.
//!
//! ```text
//! cargo run --release -p nursery-bench --bin compare -- [--workers N] [--samples K]
//!     [--filter NAME] [--only nursery|tokio] [--warmup W]
//! cargo run --release -p nursery-bench --bin compare -- --idle-cpu [--workers N]
//! cargo run --release -p nursery-bench --bin compare -- --memory [--workers N]
//! ```
//!
//! `--idle-cpu` and `--memory` run each runtime in a fresh child process of this binary, so
//! that one runtime's threads or peak memory never show in the other's figures.

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use nursery_bench::stats::{format_duration, Summary};
use nursery_bench::{idle, memory, runtimes, workloads, Workload};

const USAGE: &str = "\
usage: compare [--workers N] [--samples K] [--warmup W] [--filter NAME] [--only nursery|tokio]
       compare --idle-cpu [--workers N] [--seconds S]
       compare --memory [--workers N]
       compare --list";

/// The side a child process measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Nursery,
    Tokio,
}

impl Side {
    fn parse(s: &str) -> Result<Side, String> {
        match s {
            "nursery" => Ok(Side::Nursery),
            "tokio" => Ok(Side::Tokio),
            other => Err(format!(
                "unknown runtime {other:?}: expected nursery or tokio"
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Side::Nursery => "nursery",
            Side::Tokio => "tokio",
        }
    }
}

#[derive(Debug)]
enum Mode {
    Compare,
    List,
    IdleCpu,
    Memory,
    IdleChild(Side),
    MemoryChild(Side),
}

#[derive(Debug)]
struct Options {
    mode: Mode,
    workers: usize,
    samples: usize,
    warmup: usize,
    filter: String,
    only: Option<Side>,
    idle_seconds: f64,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        mode: Mode::Compare,
        workers: 2,
        samples: 15,
        warmup: 2,
        filter: String::new(),
        only: None,
        idle_seconds: 2.0,
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
            "--samples" => options.samples = number("--samples", value("--samples")?)?,
            "--warmup" => options.warmup = number("--warmup", value("--warmup")?)?,
            "--filter" => options.filter = value("--filter")?,
            "--only" => options.only = Some(Side::parse(&value("--only")?)?),
            "--seconds" => {
                let v = value("--seconds")?;
                options.idle_seconds = v
                    .parse()
                    .map_err(|_| format!("--seconds expects a number, got {v:?}"))?;
            }
            "--list" => options.mode = Mode::List,
            "--idle-cpu" => options.mode = Mode::IdleCpu,
            "--memory" => options.mode = Mode::Memory,
            "--idle-child" => options.mode = Mode::IdleChild(Side::parse(&value(&arg)?)?),
            "--memory-child" => options.mode = Mode::MemoryChild(Side::parse(&value(&arg)?)?),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if options.workers == 0 || options.samples == 0 {
        return Err("--workers and --samples must be at least 1".to_owned());
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let result = match options.mode {
        Mode::Compare => {
            compare(&options);
            Ok(())
        }
        Mode::List => {
            for w in workloads::WORKLOADS {
                println!("{:<24} {}", w.name, w.what);
            }
            Ok(())
        }
        Mode::IdleCpu => idle_cpu(&options),
        Mode::Memory => memory(&options),
        Mode::IdleChild(side) => {
            let window = Duration::from_secs_f64(options.idle_seconds);
            let report = match side {
                Side::Nursery => idle::nursery(options.workers, window),
                Side::Tokio => idle::tokio(options.workers, window),
            };
            println!(
                "wall_us={} cpu_us={} switches={}",
                report.wall.as_micros(),
                report.cpu.as_micros(),
                report.context_switches
            );
            Ok(())
        }
        Mode::MemoryChild(side) => {
            let report = match side {
                Side::Nursery => memory::nursery(options.workers),
                Side::Tokio => memory::tokio(options.workers),
            };
            println!(
                "baseline_kib={} peak_kib={} rss_kib={} spawn_us={} shutdown_us={}",
                report.baseline_kib,
                report.peak_kib,
                report.rss_kib,
                report.spawn_time.as_micros(),
                report.shutdown_time.as_micros()
            );
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("compare: {message}");
            ExitCode::FAILURE
        }
    }
}

/// What one timed call cost.
struct Sample {
    /// Wall-clock time.
    wall: Duration,
    /// CPU time (user + system) of the whole process meanwhile, every runtime thread included.
    cpu: Duration,
    /// Context switches of the whole process meanwhile (threads parking and waking).
    switches: i64,
}

fn time(f: impl FnOnce()) -> Sample {
    let (cpu_before, switches_before) = idle::process_usage();
    let start = Instant::now();
    f();
    let wall = start.elapsed();
    let (cpu_after, switches_after) = idle::process_usage();
    Sample {
        wall,
        cpu: cpu_after.saturating_sub(cpu_before),
        switches: switches_after - switches_before,
    }
}

/// The samples of one workload on both runtimes: wall-clock and CPU times.
struct Row {
    workload: Workload,
    nursery: Vec<Duration>,
    tokio: Vec<Duration>,
    nursery_cpu: Vec<Duration>,
    tokio_cpu: Vec<Duration>,
    nursery_switches: Vec<i64>,
    tokio_switches: Vec<i64>,
}

fn compare(options: &Options) {
    let selected = workloads::matching(&options.filter);
    if selected.is_empty() {
        eprintln!(
            "no workload matches {:?} (see --list)",
            options.filter.as_str()
        );
        return;
    }
    let run_nursery = options.only != Some(Side::Tokio);
    let run_tokio = options.only != Some(Side::Nursery);
    let nursery_rt = run_nursery.then(|| runtimes::nursery(options.workers));
    let tokio_rt = run_tokio.then(|| runtimes::tokio(options.workers));
    eprintln!(
        "{} workers, {} warm-up + {} samples per runtime and workload",
        options.workers, options.warmup, options.samples
    );

    let total = Instant::now();
    let mut rows = Vec::new();
    for workload in selected {
        let started = Instant::now();
        for _ in 0..options.warmup {
            if let Some(rt) = &nursery_rt {
                (workload.nursery)(rt);
            }
            if let Some(rt) = &tokio_rt {
                (workload.tokio)(rt);
            }
        }
        let mut row = Row {
            workload,
            nursery: Vec::with_capacity(options.samples),
            tokio: Vec::with_capacity(options.samples),
            nursery_cpu: Vec::with_capacity(options.samples),
            tokio_cpu: Vec::with_capacity(options.samples),
            nursery_switches: Vec::with_capacity(options.samples),
            tokio_switches: Vec::with_capacity(options.samples),
        };
        for sample in 0..options.samples {
            // Alternate, and swap who goes first every other sample (ABBA), so that a drift in
            // machine load or a first-after-the-other effect falls on both sides alike.
            let nursery_first = sample % 2 == 0;
            for turn in 0..2 {
                if (turn == 0) == nursery_first {
                    if let Some(rt) = &nursery_rt {
                        let sample = time(|| (workload.nursery)(rt));
                        row.nursery.push(sample.wall);
                        row.nursery_cpu.push(sample.cpu);
                        row.nursery_switches.push(sample.switches);
                    }
                } else if let Some(rt) = &tokio_rt {
                    let sample = time(|| (workload.tokio)(rt));
                    row.tokio.push(sample.wall);
                    row.tokio_cpu.push(sample.cpu);
                    row.tokio_switches.push(sample.switches);
                }
            }
        }
        eprintln!(
            "  {:<24} done in {}",
            workload.name,
            format_duration(started.elapsed())
        );
        rows.push(row);
    }
    eprintln!("total {}", format_duration(total.elapsed()));
    print_table(&rows, options);
}

fn print_table(rows: &[Row], options: &Options) {
    println!(
        "| workload | nursery median | tokio median | ratio (nursery/tokio) | target met? | spread nursery / tokio |"
    );
    println!("|---|---:|---:|---:|---|---:|");
    for row in rows {
        let n = Summary::of(&row.nursery);
        let t = Summary::of(&row.tokio);
        let cell = |s: Option<Summary>| s.map_or("-".to_owned(), |s| format_duration(s.median));
        let (ratio, verdict) = match (n, t) {
            (Some(n), Some(t)) => {
                let ratio = n.median.as_secs_f64() / t.median.as_secs_f64();
                let verdict = if ratio <= row.workload.target {
                    format!("yes (≤ {})", row.workload.target)
                } else if ratio <= 1.0 {
                    format!("no (≤ {} wanted; ≤ 1.0)", row.workload.target)
                } else {
                    format!("**no** (≤ {} wanted; > 1.0)", row.workload.target)
                };
                (format!("{ratio:.2}"), verdict)
            }
            _ => ("-".to_owned(), "-".to_owned()),
        };
        let spread = |s: Option<Summary>| {
            s.map_or("-".to_owned(), |s| format!("{:.0}%", s.spread_percent()))
        };
        let name = if row.workload.in_brief {
            row.workload.name.to_owned()
        } else {
            format!("{} †", row.workload.name)
        };
        println!(
            "| {name} | {} | {} | {ratio} | {verdict} | {} / {} |",
            cell(n),
            cell(t),
            spread(n),
            spread(t)
        );
    }
    println!();
    println!(
        "{} workers, {} samples per side (median), spread = interquartile range / median. \
         † not in the brief's table (from smol's async-executor benches).",
        options.workers, options.samples
    );
    println!();
    println!(
        "| workload | nursery CPU median | tokio CPU median | CPU ratio | context switches nursery / tokio |"
    );
    println!("|---|---:|---:|---:|---:|");
    for row in rows {
        let n = Summary::of(&row.nursery_cpu);
        let t = Summary::of(&row.tokio_cpu);
        let cell = |s: Option<Summary>| s.map_or("-".to_owned(), |s| format_duration(s.median));
        let ratio = match (n, t) {
            (Some(n), Some(t)) if !t.median.is_zero() => {
                format!("{:.2}", n.median.as_secs_f64() / t.median.as_secs_f64())
            }
            _ => "-".to_owned(),
        };
        println!(
            "| {} | {} | {} | {ratio} | {} / {} |",
            row.workload.name,
            cell(n),
            cell(t),
            median_count(&row.nursery_switches),
            median_count(&row.tokio_switches)
        );
    }
    println!();
    println!(
        "CPU = user + system time of the whole process during a run (getrusage), every thread \
         included: work plus any spinning or parking overhead. Context switches: voluntary and \
         involuntary, whole process, median per run."
    );
}

/// The median of counts, or `-` for none.
fn median_count(counts: &[i64]) -> String {
    if counts.is_empty() {
        return "-".to_owned();
    }
    let mut sorted = counts.to_vec();
    sorted.sort_unstable();
    sorted[sorted.len() / 2].to_string()
}

/// Runs this binary again with `args` and parses its `key=value` output line.
fn child(args: &[String]) -> Result<Vec<(String, u64)>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("locating this binary: {e}"))?;
    let output = Command::new(exe)
        .args(args)
        .output()
        .map_err(|e| format!("starting a child process: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "child {:?} failed ({}): {}",
            args,
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .last()
        .ok_or_else(|| format!("child {args:?} printed nothing"))?;
    line.split_whitespace()
        .map(|pair| {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("child output {line:?} is not key=value"))?;
            let value = value
                .parse()
                .map_err(|_| format!("child output {line:?}: {key} is not a number"))?;
            Ok((key.to_owned(), value))
        })
        .collect()
}

fn field(fields: &[(String, u64)], key: &str) -> u64 {
    fields.iter().find(|(k, _)| k == key).map_or(0, |(_, v)| *v)
}

fn idle_cpu(options: &Options) -> Result<(), String> {
    println!("| runtime | idle window | CPU used | CPU share | context switches |");
    println!("|---|---:|---:|---:|---:|");
    for side in [Side::Nursery, Side::Tokio] {
        let fields = child(&[
            "--idle-child".to_owned(),
            side.name().to_owned(),
            "--workers".to_owned(),
            options.workers.to_string(),
            "--seconds".to_owned(),
            options.idle_seconds.to_string(),
        ])?;
        let wall = Duration::from_micros(field(&fields, "wall_us"));
        let cpu = Duration::from_micros(field(&fields, "cpu_us"));
        println!(
            "| {} | {} | {} | {:.3}% | {} |",
            side.name(),
            format_duration(wall),
            format_duration(cpu),
            100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
            field(&fields, "switches")
        );
    }
    println!();
    println!(
        "{} workers, each runtime alone in a fresh process, after a little work and 200 ms to \
         settle; getrusage(RUSAGE_SELF) over the window (the measuring thread itself sleeps).",
        options.workers
    );
    Ok(())
}

fn memory(options: &Options) -> Result<(), String> {
    println!(
        "| runtime | peak RSS (VmHWM) | baseline | per task | spawn + first poll | drop of the runtime |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let mut peaks = Vec::new();
    for side in [Side::Nursery, Side::Tokio] {
        let fields = child(&[
            "--memory-child".to_owned(),
            side.name().to_owned(),
            "--workers".to_owned(),
            options.workers.to_string(),
        ])?;
        let peak = field(&fields, "peak_kib");
        let baseline = field(&fields, "baseline_kib");
        let per_task = (peak.saturating_sub(baseline) as f64 * 1024.0) / memory::TASKS as f64;
        println!(
            "| {} | {:.1} MiB | {:.1} MiB | {:.0} B | {} | {} |",
            side.name(),
            peak as f64 / 1024.0,
            baseline as f64 / 1024.0,
            per_task,
            format_duration(Duration::from_micros(field(&fields, "spawn_us"))),
            format_duration(Duration::from_micros(field(&fields, "shutdown_us"))),
        );
        peaks.push(peak);
    }
    println!();
    println!(
        "{} tasks each sleeping {} s, spawned from a plain thread with {} workers; each runtime \
         in a fresh process. Ratio of peaks nursery/tokio: {:.2}.",
        memory::TASKS,
        memory::SLEEP.as_secs(),
        options.workers,
        peaks[0] as f64 / peaks[1] as f64
    );
    Ok(())
}
