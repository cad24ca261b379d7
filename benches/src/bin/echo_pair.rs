//! `echo_pair`: a TCP echo server on nursery or tokio and a round-trip client, for the echo
//! workload of `scripts/real_workloads.sh`.
//!
//! ```text
//! # the server: prints `listening on ADDR`, echoes every byte back, exits after --seconds
//! echo_pair serve --runtime nursery|tokio [--workers 2] [--addr 127.0.0.1:0] --seconds S
//!
//! # the peer is not ours: C blocking std threads (no async runtime), one connection each,
//! # round trips of --size bytes for --seconds once all are connected; with --server-pid, the
//! # server's CPU time over that window
//! echo_pair client --addr ADDR [--conns 64] [--size 64] --seconds S [--server-pid PID]
//!
//! # the peer is ours: the same server and C client tasks in one runtime, one process
//! echo_pair local --runtime nursery|tokio [--workers 2] [--conns 64] [--size 64] --seconds S
//! ```
//!
//! `client` and `local` print one `RESULT key=value ...` line: round trips, round trips per
//! second, p50/p99/p99.9 in µs, failed connections, and CPU µs per round trip (`client`: the
//! server process's; `local`: the whole process's, client tasks included).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use nursery_bench::idle::process_usage;
use nursery_bench::real::{
    cpu_time, print_result, raise_open_file_limit, rate_fields, Flags, Flavor, Latencies,
};
use nursery_bench::runtimes;

const USAGE: &str = "\
usage: echo_pair serve --runtime nursery|tokio [--workers N] [--addr ADDR] --seconds S
       echo_pair client --addr ADDR [--conns C] [--size BYTES] --seconds S [--server-pid PID]
       echo_pair local --runtime nursery|tokio [--workers N] [--conns C] [--size BYTES] --seconds S";

/// How long a connect or a read may take before the round trip counts as failed.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let result = Flags::parse(args).and_then(|flags| match mode.as_str() {
        "serve" => serve(flags),
        "client" => client(flags),
        "local" => local(flags),
        other => Err(format!("unknown mode {other:?}")),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_pair: {e}\n{USAGE}");
            ExitCode::FAILURE
        }
    }
}

/// What the clients of one run measured.
struct Outcome {
    latencies: Latencies,
    elapsed: Duration,
    failed: usize,
}

impl Outcome {
    fn new() -> Outcome {
        Outcome {
            latencies: Latencies::new(),
            elapsed: Duration::ZERO,
            failed: 0,
        }
    }

    /// Adds one client's result: its latencies, or a failed connection (its I/O error
    /// printed), or a client thread or task that failed (`Err` of its join).
    fn record<E>(&mut self, client: Result<std::io::Result<Latencies>, E>) {
        match client {
            Ok(Ok(latencies)) => self.latencies.merge(latencies),
            Ok(Err(e)) => {
                eprintln!("client connection: {e}");
                self.failed += 1;
            }
            Err(_) => self.failed += 1,
        }
    }

    /// The result line, with `cpu` the CPU time spent over the run (by the server, or by the
    /// whole process).
    fn print(mut self, conns: usize, cpu: Option<Duration>) {
        let n = self.latencies.len();
        let mut fields = vec![("conns", conns.to_string()), ("round_trips", n.to_string())];
        fields.extend(rate_fields(
            &mut self.latencies,
            self.elapsed,
            self.failed,
            cpu,
        ));
        print_result(&fields);
    }
}

fn serve(mut flags: Flags) -> Result<(), String> {
    let flavor: Flavor = flags.require("runtime")?;
    let workers: usize = flags.get("workers", 2)?;
    let addr: SocketAddr = flags.get("addr", SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let seconds: f64 = flags.require("seconds")?;
    flags.finish()?;
    raise_open_file_limit().map_err(|e| format!("raising RLIMIT_NOFILE: {e}"))?;
    // The server's whole life is bounded: the driver kills it sooner, this stops it if the
    // driver itself died.
    let life = Duration::from_secs_f64(seconds);
    std::thread::spawn(move || {
        std::thread::sleep(life);
        std::process::exit(0);
    });
    // Never fired: the server runs until the process exits.
    let (_stop, stop_rx) = futures::channel::oneshot::channel::<()>();
    match flavor {
        Flavor::Nursery => runtimes::nursery(workers).block_on(async move {
            let listener = nursery::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("bind {addr}: {e}"))?;
            announce(listener.local_addr());
            on_nursery::accept_loop(listener, stop_rx).await;
            Ok(())
        }),
        Flavor::Tokio => runtimes::tokio(workers).block_on(async move {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("bind {addr}: {e}"))?;
            announce(listener.local_addr());
            on_tokio::accept_loop(listener, stop_rx).await;
            Ok(())
        }),
    }
}

/// The line the driver waits for.
fn announce(addr: std::io::Result<SocketAddr>) {
    use std::io::Write as _;
    match addr {
        Ok(addr) => println!("listening on {addr}"),
        Err(e) => eprintln!("local address: {e}"),
    }
    let _ = std::io::stdout().flush();
}

fn client(mut flags: Flags) -> Result<(), String> {
    let addr: SocketAddr = flags.require("addr")?;
    let conns: usize = flags.get("conns", 64)?;
    let size: usize = flags.get("size", 64)?;
    let seconds: f64 = flags.require("seconds")?;
    let server: Option<u32> = flags.optional("server-pid")?;
    flags.finish()?;
    if conns == 0 || size == 0 {
        return Err("--conns and --size must be at least 1".into());
    }
    raise_open_file_limit().map_err(|e| format!("raising RLIMIT_NOFILE: {e}"))?;
    let duration = Duration::from_secs_f64(seconds);
    // Every thread connects, then all start together with the measured window.
    let start = Arc::new(Barrier::new(conns + 1));
    let mut threads = Vec::with_capacity(conns);
    for c in 0..conns {
        let start = start.clone();
        let thread = std::thread::Builder::new()
            .name(format!("echo-client-{c}"))
            .stack_size(256 * 1024)
            .spawn(move || blocking_client(addr, c, size, duration, &start))
            .map_err(|e| format!("spawning client thread {c}: {e}"))?;
        threads.push(thread);
    }
    start.wait();
    let cpu_before = server
        .map(cpu_time)
        .transpose()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut outcome = Outcome::new();
    for thread in threads {
        outcome.record(thread.join());
    }
    outcome.elapsed = started.elapsed();
    let cpu = match (server, cpu_before) {
        (Some(pid), Some(before)) => Some(cpu_time(pid).map_err(|e| e.to_string())? - before),
        _ => None,
    };
    outcome.print(conns, cpu);
    Ok(())
}

/// One connection of the outside client: connect, wait for the others, then round trips
/// until `duration` has passed.
fn blocking_client(
    addr: SocketAddr,
    c: usize,
    size: usize,
    duration: Duration,
    start: &Barrier,
) -> std::io::Result<Latencies> {
    use std::io::{Read as _, Write as _};
    let stream = std::net::TcpStream::connect_timeout(&addr, IO_TIMEOUT);
    start.wait();
    let mut stream = stream?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    let message = vec![c as u8; size];
    let mut buf = vec![0u8; size];
    let mut latencies = Latencies::new();
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        let sent = Instant::now();
        stream.write_all(&message)?;
        stream.read_exact(&mut buf)?;
        latencies.push(sent.elapsed());
    }
    if !latencies.is_empty() && buf != message {
        return Err(std::io::Error::other("the echo returned other bytes"));
    }
    Ok(latencies)
}

fn local(mut flags: Flags) -> Result<(), String> {
    let flavor: Flavor = flags.require("runtime")?;
    let workers: usize = flags.get("workers", 2)?;
    let conns: usize = flags.get("conns", 64)?;
    let size: usize = flags.get("size", 64)?;
    let seconds: f64 = flags.require("seconds")?;
    flags.finish()?;
    if conns == 0 || size == 0 {
        return Err("--conns and --size must be at least 1".into());
    }
    raise_open_file_limit().map_err(|e| format!("raising RLIMIT_NOFILE: {e}"))?;
    let duration = Duration::from_secs_f64(seconds);
    let (cpu_before, _) = process_usage();
    let outcome = match flavor {
        Flavor::Nursery => {
            runtimes::nursery(workers).block_on(on_nursery::local(conns, size, duration))
        }
        Flavor::Tokio => runtimes::tokio(workers).block_on(on_tokio::local(conns, size, duration)),
    }?;
    let (cpu_after, _) = process_usage();
    outcome.print(conns, Some(cpu_after.saturating_sub(cpu_before)));
    Ok(())
}

mod on_nursery {
    use super::*;
    use futures::channel::oneshot;
    use futures::future::{select, Either};
    use futures::io::{AsyncReadExt, AsyncWriteExt};
    use nursery::net::{TcpListener, TcpStream};
    use std::pin::pin;

    /// Accepts until `stop` fires (or its sender is dropped); one echo task per connection.
    pub async fn accept_loop(listener: TcpListener, mut stop: oneshot::Receiver<()>) {
        loop {
            match select(pin!(listener.accept()), &mut stop).await {
                Either::Left((Ok((stream, _)), _)) => {
                    nursery::spawn(echo(stream));
                }
                Either::Left((Err(e), _)) => {
                    // Out of descriptors, a reset before accept: keep serving.
                    eprintln!("accept: {e}");
                    nursery::time::sleep(Duration::from_millis(10)).await;
                }
                Either::Right(_) => return,
            }
        }
    }

    /// Writes back whatever arrives until the peer closes.
    async fn echo(mut stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let mut buf = vec![0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if stream.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    pub async fn local(conns: usize, size: usize, duration: Duration) -> Result<Outcome, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let (stop, stop_rx) = oneshot::channel();
        let server = nursery::spawn(accept_loop(listener, stop_rx));
        let started = Instant::now();
        let clients: Vec<_> = (0..conns)
            .map(|c| nursery::spawn(client(addr, c, size, duration)))
            .collect();
        let mut outcome = Outcome::new();
        for client in clients {
            outcome.record(client.await);
        }
        outcome.elapsed = started.elapsed();
        let _ = stop.send(());
        let _ = server.await;
        Ok(outcome)
    }

    async fn client(
        addr: SocketAddr,
        c: usize,
        size: usize,
        duration: Duration,
    ) -> std::io::Result<Latencies> {
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let message = vec![c as u8; size];
        let mut buf = vec![0u8; size];
        let mut latencies = Latencies::new();
        let deadline = Instant::now() + duration;
        while Instant::now() < deadline {
            let sent = Instant::now();
            stream.write_all(&message).await?;
            stream.read_exact(&mut buf).await?;
            latencies.push(sent.elapsed());
        }
        if !latencies.is_empty() && buf != message {
            return Err(std::io::Error::other("the echo returned other bytes"));
        }
        Ok(latencies)
    }
}

mod on_tokio {
    use super::*;
    use futures::channel::oneshot;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// Accepts until `stop` fires (or its sender is dropped); one echo task per connection.
    pub async fn accept_loop(listener: TcpListener, mut stop: oneshot::Receiver<()>) {
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        tokio::spawn(echo(stream));
                    }
                    Err(e) => {
                        eprintln!("accept: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                },
                _ = &mut stop => return,
            }
        }
    }

    /// Writes back whatever arrives until the peer closes.
    async fn echo(mut stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let mut buf = vec![0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if stream.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    pub async fn local(conns: usize, size: usize, duration: Duration) -> Result<Outcome, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let (stop, stop_rx) = oneshot::channel();
        let server = tokio::spawn(accept_loop(listener, stop_rx));
        let started = Instant::now();
        let clients: Vec<_> = (0..conns)
            .map(|c| tokio::spawn(client(addr, c, size, duration)))
            .collect();
        let mut outcome = Outcome::new();
        for client in clients {
            outcome.record(client.await);
        }
        outcome.elapsed = started.elapsed();
        let _ = stop.send(());
        let _ = server.await;
        Ok(outcome)
    }

    async fn client(
        addr: SocketAddr,
        c: usize,
        size: usize,
        duration: Duration,
    ) -> std::io::Result<Latencies> {
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let message = vec![c as u8; size];
        let mut buf = vec![0u8; size];
        let mut latencies = Latencies::new();
        let deadline = Instant::now() + duration;
        while Instant::now() < deadline {
            let sent = Instant::now();
            stream.write_all(&message).await?;
            stream.read_exact(&mut buf).await?;
            latencies.push(sent.elapsed());
        }
        if !latencies.is_empty() && buf != message {
            return Err(std::io::Error::other("the echo returned other bytes"));
        }
        Ok(latencies)
    }
}
