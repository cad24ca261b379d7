//! `churn_client`: connection churn against an HTTP/1 server, one new connection per request,
//! for the churn workload of `scripts/real_workloads.sh`.
//!
//! ```text
//! churn_client --addr ADDR [--connections 200000] [--concurrency 16] [--max-seconds 120]
//!     [--server-pid PID] [--settle-ms 1000]
//! ```
//!
//! `--concurrency` blocking std threads (no async runtime: the peer is neither of the runtimes
//! compared) each loop: connect, send `GET /` with `Connection: close`, read the response to
//! the end of the stream, close. They stop after `--connections` requests in all, or after
//! `--max-seconds`. Latency is connect to end of stream.
//!
//! With `--server-pid` it also reads the server's resident memory before the first connection
//! (`rss_base_kib`), its peak (`VmHWM`, `rss_peak_kib`) and its resident memory `--settle-ms`
//! after the last connection closed (`rss_final_kib`): a server that leaks per connection ends
//! far above its baseline. And the server's CPU time per connection (`cpu_us`).
//!
//! Prints one `RESULT key=value ...` line.

use std::io::{self, Read as _, Write as _};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nursery_bench::real::{
    cpu_time, peak_rss_kib, print_result, raise_open_file_limit, rate_fields, rss_kib, Flags,
    Latencies,
};

/// How long a connect or a read may take before the request counts as failed.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "churn_client: {e}\nusage: churn_client --addr ADDR [--connections N] \
                 [--concurrency K] [--max-seconds S] [--server-pid PID] [--settle-ms MS]"
            );
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut flags = Flags::parse(std::env::args().skip(1))?;
    let addr: SocketAddr = flags.require("addr")?;
    let connections: u64 = flags.get("connections", 200_000)?;
    let concurrency: usize = flags.get("concurrency", 16)?;
    let max_seconds: f64 = flags.get("max-seconds", 120.0)?;
    let server: Option<u32> = flags.optional("server-pid")?;
    let settle = Duration::from_millis(flags.get("settle-ms", 1000)?);
    flags.finish()?;
    if concurrency == 0 {
        return Err("--concurrency must be at least 1".into());
    }
    raise_open_file_limit().map_err(|e| format!("raising RLIMIT_NOFILE: {e}"))?;
    let read = |f: fn(u32) -> io::Result<u64>| -> Result<Option<u64>, String> {
        server.map(f).transpose().map_err(|e| e.to_string())
    };

    let rss_base = read(rss_kib)?;
    let cpu_before = server
        .map(cpu_time)
        .transpose()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(max_seconds);
    let claimed = Arc::new(AtomicU64::new(0));
    let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let threads: Vec<_> = (0..concurrency)
        .map(|t| {
            let claimed = claimed.clone();
            let request = request.clone();
            std::thread::Builder::new()
                .name(format!("churn-{t}"))
                .stack_size(256 * 1024)
                .spawn(move || churn(addr, &request, &claimed, connections, deadline))
                .map_err(|e| format!("spawning client thread {t}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let mut latencies = Latencies::new();
    let mut errors = 0u64;
    for thread in threads {
        let (mine, failed) = thread
            .join()
            .map_err(|_| "a client thread panicked".to_string())?;
        latencies.merge(mine);
        errors += failed;
    }
    let elapsed = started.elapsed();
    let cpu = match (server, cpu_before) {
        (Some(pid), Some(before)) => Some(cpu_time(pid).map_err(|e| e.to_string())? - before),
        _ => None,
    };
    let rss_peak = read(peak_rss_kib)?;
    std::thread::sleep(settle);
    let rss_final = read(rss_kib)?;

    let n = latencies.len();
    let show = |v: Option<u64>| v.map_or_else(|| "nan".to_string(), |v| v.to_string());
    let mut fields = vec![("connections", n.to_string())];
    fields.extend(rate_fields(&mut latencies, elapsed, errors, cpu));
    fields.push(("rss_base_kib", show(rss_base)));
    fields.push(("rss_peak_kib", show(rss_peak)));
    fields.push(("rss_final_kib", show(rss_final)));
    print_result(&fields);
    if n == 0 {
        return Err("no request completed".into());
    }
    Ok(())
}

/// One client thread: claims request numbers until `total` are claimed or `deadline` passes;
/// returns the latencies of those that completed and how many failed.
fn churn(
    addr: SocketAddr,
    request: &str,
    claimed: &AtomicU64,
    total: u64,
    deadline: Instant,
) -> (Latencies, u64) {
    let mut latencies = Latencies::new();
    let mut failed = 0;
    let mut response = Vec::with_capacity(512);
    while claimed.fetch_add(1, Ordering::Relaxed) < total && Instant::now() < deadline {
        let sent = Instant::now();
        match one_request(addr, request, &mut response) {
            Ok(()) => latencies.push(sent.elapsed()),
            Err(e) => {
                failed += 1;
                if failed <= 3 {
                    eprintln!("churn request: {e}");
                }
                if e.kind() == io::ErrorKind::AddrNotAvailable {
                    // Out of local ports (TIME_WAIT): give the kernel a moment.
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
    (latencies, failed)
}

fn one_request(addr: SocketAddr, request: &str, response: &mut Vec<u8>) -> io::Result<()> {
    let mut stream = std::net::TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.write_all(request.as_bytes())?;
    response.clear();
    stream.read_to_end(response)?;
    if !response.starts_with(b"HTTP/1.1 200") {
        return Err(io::Error::other(format!(
            "unexpected response {:?}",
            String::from_utf8_lossy(&response[..response.len().min(40)])
        )));
    }
    Ok(())
}
