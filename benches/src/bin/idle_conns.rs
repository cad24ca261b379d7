//! `idle_conns`: many mostly idle HTTP/1 keep-alive connections with a trickle of requests, for
//! the idle workload of `scripts/real_workloads.sh`.
//!
//! ```text
//! idle_conns --addr ADDR [--connections 10000] [--active-percent 1] [--interval-ms 10]
//!     [--rotate-ms 100] --seconds S [--server-pid PID] [--connect-concurrency 256]
//! ```
//!
//! The client runs on a single-threaded tokio runtime (the same outside peer for both servers
//! compared). It
//! 1. opens `--connections` connections (at most `--connect-concurrency` connects at a time)
//!    and reads the server's resident memory: `rss_open_kib`;
//! 2. sends one `GET /` on every connection, as a browser's keep-alive connection would have
//!    done before going quiet, and reads it again: `rss_used_kib`;
//! 3. for `--seconds`, keeps `--active-percent` of the connections busy: each of those many
//!    tasks owns an equal share of the connections, sends a request every `--interval-ms` on
//!    one of them, and moves on to its next one every `--rotate-ms`, so that every connection
//!    is used again every `rotate × connections / active` ms (10 s with the defaults: well
//!    within hyper's 30 s header-read timeout, which closes keep-alive connections idle that
//!    long). A connection that fails is counted and reopened.
//!
//! Prints one `RESULT key=value ...` line: the trickle's p50/p99/p99.9 (µs), its request rate,
//! the server's CPU µs per trickle request, and the server's memory per connection in bytes,
//! `(rss_open − rss_before) / connections` (`mem_open_b`) and the same after the one request
//! each (`mem_used_b`). A line on stderr says when the trickle starts (to aim a profiler at it).

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use nursery_bench::real::{
    cpu_time, http_response_len, print_result, raise_open_file_limit, rate_fields, rss_kib, Flags,
    Latencies,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a connect or a response may take before it counts as failed.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest the opening and the first-request phases may each take.
const PHASE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the server gets to settle before its memory is read.
const SETTLE: Duration = Duration::from_millis(500);

struct Options {
    addr: SocketAddr,
    connections: usize,
    active_percent: f64,
    interval: Duration,
    rotate: Duration,
    duration: Duration,
    server: Option<u32>,
    connect_concurrency: usize,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "idle_conns: {e}\nusage: idle_conns --addr ADDR [--connections N] \
                 [--active-percent P] [--interval-ms MS] [--rotate-ms MS] --seconds S \
                 [--server-pid PID] [--connect-concurrency K]"
            );
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut flags = Flags::parse(std::env::args().skip(1))?;
    let options = Options {
        addr: flags.require("addr")?,
        connections: flags.get("connections", 10_000)?,
        active_percent: flags.get("active-percent", 1.0)?,
        interval: Duration::from_millis(flags.get("interval-ms", 10)?),
        rotate: Duration::from_millis(flags.get("rotate-ms", 100)?),
        duration: Duration::from_secs_f64(flags.require("seconds")?),
        server: flags.optional("server-pid")?,
        connect_concurrency: flags.get("connect-concurrency", 256)?,
    };
    flags.finish()?;
    if options.connections == 0
        || options.connect_concurrency == 0
        || options.rotate.is_zero()
        || !(options.active_percent > 0.0 && options.active_percent <= 100.0)
    {
        return Err(
            "--connections, --connect-concurrency and --rotate-ms must be at least 1, \
                    --active-percent in (0, 100]"
                .into(),
        );
    }
    let limit = raise_open_file_limit().map_err(|e| format!("raising RLIMIT_NOFILE: {e}"))?;
    if limit < options.connections as u64 + 64 {
        eprintln!(
            "idle_conns: RLIMIT_NOFILE is {limit}, too low for {} connections; \
             raise it (ulimit -n) or expect connect errors",
            options.connections
        );
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("building the client runtime: {e}"))?
        .block_on(measure(options))
}

async fn measure(o: Options) -> Result<(), String> {
    let rss = |pid: Option<u32>| pid.map(rss_kib).transpose().map_err(|e| e.to_string());
    let rss_before = rss(o.server)?;
    let request = format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", o.addr).into_bytes();

    // 1. Open them all.
    let opened: Vec<io::Result<TcpStream>> = tokio::time::timeout(
        PHASE_TIMEOUT,
        stream::iter(0..o.connections)
            .map(|_| connect(o.addr))
            .buffer_unordered(o.connect_concurrency)
            .collect(),
    )
    .await
    .map_err(|_| format!("opening the connections took over {PHASE_TIMEOUT:?}"))?;
    let mut connect_errors = 0;
    let mut streams = Vec::with_capacity(opened.len());
    for result in opened {
        match result {
            Ok(stream) => streams.push(stream),
            Err(e) => {
                connect_errors += 1;
                if connect_errors <= 3 {
                    eprintln!("connect: {e}");
                }
            }
        }
    }
    tokio::time::sleep(SETTLE).await;
    let rss_open = rss(o.server)?;

    // 2. One request on each.
    let used: Vec<io::Result<TcpStream>> = tokio::time::timeout(
        PHASE_TIMEOUT,
        stream::iter(streams)
            .map(|mut stream| {
                let request = &request;
                async move {
                    let mut buf = Vec::with_capacity(256);
                    exchange(&mut stream, request, &mut buf).await?;
                    Ok(stream)
                }
            })
            .buffer_unordered(o.connect_concurrency)
            .collect(),
    )
    .await
    .map_err(|_| format!("the first requests took over {PHASE_TIMEOUT:?}"))?;
    let mut first_errors = 0;
    let mut streams = Vec::with_capacity(used.len());
    for result in used {
        match result {
            Ok(stream) => streams.push(stream),
            Err(e) => {
                first_errors += 1;
                if first_errors <= 3 {
                    eprintln!("first request: {e}");
                }
            }
        }
    }
    if streams.is_empty() {
        return Err("no connection is open".into());
    }
    tokio::time::sleep(SETTLE).await;
    let rss_used = rss(o.server)?;
    let open = streams.len();

    // 3. The trickle: `active` tasks, each owning every active-th connection.
    let active = ((open as f64 * o.active_percent / 100.0).ceil() as usize).clamp(1, open);
    let mut shares: Vec<Vec<TcpStream>> = (0..active).map(|_| Vec::new()).collect();
    for (i, stream) in streams.into_iter().enumerate() {
        shares[i % active].push(stream);
    }
    let cpu_before = o
        .server
        .map(cpu_time)
        .transpose()
        .map_err(|e| e.to_string())?;
    // On stderr, so that a profiler can be aimed at the trickle (`RESULT` stays on stdout).
    eprintln!(
        "idle_conns: {open} connections open, {active} busy: the trickle starts now and runs \
         {:?}",
        o.duration
    );
    let started = Instant::now();
    let tasks: Vec<_> = shares
        .into_iter()
        .enumerate()
        .map(|(i, share)| {
            // Spread the tasks' ticks over one interval instead of firing them all at once.
            let offset = o.interval.mul_f64(i as f64 / active as f64);
            tokio::spawn(trickle(
                share,
                o.addr,
                request.clone(),
                started + offset,
                started + o.duration,
                o.interval,
                o.rotate,
            ))
        })
        .collect();
    let mut latencies = Latencies::new();
    let mut errors = 0u64;
    // The connections are closed only after the window: closing 10,000 of them is not part of
    // the trickle's cost.
    let mut keep = Vec::with_capacity(active);
    for task in tasks {
        let (mine, failed, share) = task
            .await
            .map_err(|e| format!("a trickle task failed: {e}"))?;
        latencies.merge(mine);
        errors += failed;
        keep.push(share);
    }
    let elapsed = started.elapsed();
    let cpu = match (o.server, cpu_before) {
        (Some(pid), Some(before)) => Some(cpu_time(pid).map_err(|e| e.to_string())? - before),
        _ => None,
    };
    drop(keep);

    let n = latencies.len();
    let nan = || "nan".to_string();
    let per_connection = |after: Option<u64>| match (rss_before, after) {
        (Some(before), Some(after)) => format!(
            "{:.0}",
            (after as f64 - before as f64) * 1024.0 / open as f64
        ),
        _ => nan(),
    };
    let show = |v: Option<u64>| v.map_or_else(nan, |v| v.to_string());
    let mut fields = vec![
        ("connections", open.to_string()),
        (
            "connect_errors",
            (connect_errors + first_errors).to_string(),
        ),
        ("active", active.to_string()),
        ("requests", n.to_string()),
    ];
    fields.extend(rate_fields(&mut latencies, elapsed, errors, cpu));
    fields.push(("rss_before_kib", show(rss_before)));
    fields.push(("rss_open_kib", show(rss_open)));
    fields.push(("rss_used_kib", show(rss_used)));
    fields.push(("mem_open_b", per_connection(rss_open)));
    fields.push(("mem_used_b", per_connection(rss_used)));
    print_result(&fields);
    Ok(())
}

async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// One request and its whole response on a kept-alive connection.
async fn exchange(stream: &mut TcpStream, request: &[u8], buf: &mut Vec<u8>) -> io::Result<()> {
    stream.write_all(request).await?;
    buf.clear();
    let deadline = tokio::time::Instant::now() + IO_TIMEOUT;
    loop {
        if let Some(len) = http_response_len(buf).map_err(io::Error::other)? {
            if len != buf.len() {
                return Err(io::Error::other("bytes after the response"));
            }
            return Ok(());
        }
        buf.reserve(1024);
        let read = tokio::time::timeout_at(deadline, stream.read_buf(buf))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "response timed out"))??;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
    }
}

/// One active slot: from `first` until `deadline`, a request every `interval` on one of
/// `share`, moving to the next every `rotate`. Returns the latencies, the failures, and the
/// connections (still open).
async fn trickle(
    mut share: Vec<TcpStream>,
    addr: SocketAddr,
    request: Vec<u8>,
    first: Instant,
    deadline: Instant,
    interval: Duration,
    rotate: Duration,
) -> (Latencies, u64, Vec<TcpStream>) {
    let mut latencies = Latencies::new();
    let mut failed = 0;
    let mut buf = Vec::with_capacity(256);
    let mut ticks = tokio::time::interval_at(first.into(), interval.max(Duration::from_micros(1)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let turn = (now.duration_since(first).as_nanos() / rotate.as_nanos()) as usize;
        let at = turn % share.len();
        let stream = &mut share[at];
        match exchange(stream, &request, &mut buf).await {
            Ok(()) => latencies.push(now.elapsed()),
            Err(e) => {
                failed += 1;
                if failed <= 3 {
                    eprintln!("trickle request: {e}");
                }
                if let Ok(fresh) = connect(addr).await {
                    *stream = fresh;
                }
            }
        }
    }
    (latencies, failed, share)
}
