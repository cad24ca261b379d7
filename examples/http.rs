//! An HTTP/1 server on nursery with hyper, and the same server on tokio for comparison.
//!
//! The nursery server is a tree: the app scope holds the accept loop, whose connections are
//! children of a **supervised** scope (a failing connection is reported; the others go on, and
//! none outlives the server). Ctrl-C (or `SIGTERM`) asks the server's scope to **shut down
//! gracefully** (`Scope::shutdown_on`): the accept loop stops, each connection finishes the
//! request in flight and closes, and whatever is still running after a one-second grace is
//! cancelled; a second Ctrl-C cancels at once. For measurements it can also stop by itself,
//! after `--requests N` responses or `--seconds S`, through the same graceful shutdown.
//!
//! ```text
//! # a demo: the server and a built-in load generator in one runtime, for half a second
//! cargo run --release --example http
//!
//! # a server for an external load generator (it prints its address), for 15 s or until Ctrl-C
//! cargo run --release --example http -- --addr 127.0.0.1:8080 --seconds 15
//! cargo run --release --example http -- --addr 127.0.0.1:8080
//! wrk -t2 -c64 -d10s --latency http://127.0.0.1:8080/
//!
//! # the same server on tokio (hyper-util's TokioIo and TokioTimer), same worker count
//! cargo run --release --example http -- --runtime tokio --addr 127.0.0.1:8080 --seconds 15
//!
//! # the built-in load generator (a hyper client on nursery), where wrk is not at hand
//! cargo run --release --example http -- --load 127.0.0.1:8080 --connections 64 --seconds 10
//! ```
//!
//! Options: `--runtime nursery|tokio` (default nursery), `--workers N` (default 2),
//! `--addr ADDR` (default 127.0.0.1:0), `--requests N`, `--seconds S`, `--load ADDR`,
//! `--connections C` (default 64). With none of `--addr`, `--requests`, `--seconds`, `--load`:
//! the demo. (The tokio server has no signal handling: Ctrl-C simply kills it.) Results and
//! exact commands: `docs/http.md`.

use std::convert::Infallible;
use std::error::Error;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::{select, Either};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{header, Request, Response};
use nursery::net::{TcpListener, TcpStream};
use nursery::signal::unix::SignalKind;
use nursery::Scope;
use nursery_hyper::{NurseryIo, NurseryTimer};

/// How long open connections get to finish once the server is asked to stop.
const GRACE: Duration = Duration::from_secs(1);

type BoxError = Box<dyn Error + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Flavor {
    Nursery,
    Tokio,
}

#[derive(Debug, Clone)]
struct Options {
    runtime: Flavor,
    workers: usize,
    addr: SocketAddr,
    /// `--addr` was given: serve (until a stop or Ctrl-C) rather than run the demo.
    addr_given: bool,
    requests: Option<u64>,
    seconds: Option<f64>,
    load: Option<SocketAddr>,
    connections: usize,
}

/// When the server stops: after this many responses, or this long after it started.
#[derive(Debug, Clone, Copy)]
struct Stop {
    requests: Option<u64>,
    after: Option<Duration>,
}

fn usage() -> ! {
    eprintln!(
        "usage: http [--runtime nursery|tokio] [--workers N] [--addr ADDR] \
         [--requests N] [--seconds S]\n       http --load ADDR [--connections C] [--seconds S] \
         [--workers N]\n       http            (a short demo: server and load together)"
    );
    std::process::exit(2)
}

fn parse_options() -> Options {
    let mut options = Options {
        runtime: Flavor::Nursery,
        workers: 2,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        addr_given: false,
        requests: None,
        seconds: None,
        load: None,
        connections: 64,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--runtime" => {
                options.runtime = match value().as_str() {
                    "nursery" => Flavor::Nursery,
                    "tokio" => Flavor::Tokio,
                    _ => usage(),
                }
            }
            "--workers" => options.workers = value().parse().unwrap_or_else(|_| usage()),
            "--addr" => {
                options.addr = value().parse().unwrap_or_else(|_| usage());
                options.addr_given = true;
            }
            "--requests" => options.requests = Some(value().parse().unwrap_or_else(|_| usage())),
            "--seconds" => options.seconds = Some(value().parse().unwrap_or_else(|_| usage())),
            "--load" => options.load = Some(value().parse().unwrap_or_else(|_| usage())),
            "--connections" => options.connections = value().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    if options.workers == 0 || options.connections == 0 {
        usage();
    }
    options
}

fn main() -> Result<(), BoxError> {
    let options = parse_options();
    let stop = Stop {
        requests: options.requests,
        after: options.seconds.map(Duration::from_secs_f64),
    };
    if let Some(target) = options.load {
        let seconds = Duration::from_secs_f64(options.seconds.unwrap_or(10.0));
        let report = nursery_runtime(options.workers)?.block_on(load(
            target,
            options.connections,
            seconds,
        ))?;
        println!("{report}");
        return Ok(());
    }
    if stop.requests.is_none() && stop.after.is_none() && !options.addr_given {
        return demo(options.workers);
    }
    let started = Instant::now();
    let served = match options.runtime {
        Flavor::Nursery => nursery_runtime(options.workers)?.block_on(nursery_server(
            options.addr,
            stop,
            |_, _| {},
        ))?,
        Flavor::Tokio => tokio_server::run(options.workers, options.addr, stop)?,
    };
    println!(
        "{} server: {served} responses in {:.2?}, shut down gracefully",
        match options.runtime {
            Flavor::Nursery => "nursery",
            Flavor::Tokio => "tokio",
        },
        started.elapsed()
    );
    Ok(())
}

fn nursery_runtime(workers: usize) -> io::Result<nursery::Runtime> {
    nursery::Runtime::builder()
        .worker_threads(workers)
        .thread_name("http-worker")
        .build()
}

/// The one response: a plain-text hello, as in the usual plaintext benchmarks.
fn hello() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"Hello, World!")));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    response
}

/// Counts responses; the one that reaches the limit asks the server to stop.
#[derive(Clone)]
struct Counter {
    served: Arc<AtomicU64>,
    limit: Option<u64>,
}

impl Counter {
    /// Counts one response; true if it is the last one wanted.
    fn count(&self) -> bool {
        let n = self.served.fetch_add(1, Ordering::Relaxed) + 1;
        self.limit == Some(n)
    }
}

/// The nursery server. Calls `listening` with the bound address and the server's scope (whose
/// [`shutdown`](Scope::shutdown) stops it gracefully), then serves until `stop` or Ctrl-C
/// (`SIGINT`/`SIGTERM`; a second one cancels at once); returns the number of responses.
async fn nursery_server(
    addr: SocketAddr,
    stop: Stop,
    listening: impl FnOnce(SocketAddr, Scope),
) -> io::Result<u64> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    println!("listening on http://{local}/");
    io::stdout().flush()?;
    let counter = Counter {
        served: Arc::new(AtomicU64::new(0)),
        limit: stop.requests,
    };
    let served = counter.served.clone();
    nursery::scope(|server| async move {
        // Watched for as long as the scope lives, connections draining included.
        let signals = [SignalKind::interrupt(), SignalKind::terminate()];
        if let Err(e) = server.shutdown_on(signals, GRACE) {
            eprintln!("Ctrl-C will not stop the server gracefully: {e}");
        }
        listening(local, server.clone());
        if let Some(after) = stop.after {
            let timer = server.clone();
            server.spawn(async move {
                let sleep = pin!(nursery::time::sleep(after));
                if let Either::Left(_) = select(sleep, pin!(timer.shutdown_requested())).await {
                    timer.shutdown(GRACE);
                }
            });
        }
        nursery::supervised(|connections| async move {
            connections.on_child_failure(|err| eprintln!("connection failed: {err}"));
            loop {
                let accept = pin!(listener.accept());
                match select(accept, pin!(server.shutdown_requested())).await {
                    Either::Left((Ok((stream, peer)), _)) => {
                        let _ = stream.set_nodelay(true);
                        nursery::task::Builder::new()
                            .name(format!("conn {peer}"))
                            .spawn_in(&connections, serve(stream, server.clone(), counter.clone()));
                    }
                    Either::Left((Err(e), _)) => {
                        // Out of file descriptors, a reset before accept: keep serving.
                        eprintln!("accept: {e}");
                        nursery::time::sleep(Duration::from_millis(10)).await;
                    }
                    Either::Right(_) => return,
                }
            }
        })
        .await;
    })
    .await;
    Ok(served.load(Ordering::Relaxed))
}

/// One connection: HTTP/1 with keep-alive until the client closes, or until the server shuts
/// down (then the request in flight is finished and the connection closed).
async fn serve(stream: TcpStream, server: Scope, counter: Counter) {
    let stopper = server.clone();
    let service = service_fn(move |_request: Request<Incoming>| {
        if counter.count() {
            stopper.shutdown(GRACE);
        }
        async { Ok::<_, Infallible>(hello()) }
    });
    let io = NurseryIo::new(stream).with_vectored_writes(true);
    let mut connection = pin!(http1::Builder::new()
        .timer(NurseryTimer::new())
        .serve_connection(io, service));
    let result = match select(connection.as_mut(), pin!(server.shutdown_requested())).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        // Clients that hang up mid-request are routine under load; anything else is worth a line.
        if !e.is_incomplete_message() {
            eprintln!("connection: {e}");
        }
    }
}

/// The built-in load generator: `connections` kept-alive HTTP/1 connections, each sending
/// `GET /` and reading the whole response, one request at a time, for `duration`. The first
/// client error cancels the other clients and is returned.
async fn load(target: SocketAddr, connections: usize, duration: Duration) -> io::Result<Report> {
    let started = Instant::now();
    let deadline = started + duration;
    let per_connection = nursery::try_scope(|clients| async move {
        let handles: Vec<_> = (0..connections)
            .map(|_| clients.spawn(client(target, deadline)))
            .collect();
        let mut all = Vec::with_capacity(handles.len());
        for handle in handles {
            // `None`: that client failed, and its error is what the scope returns.
            all.push(handle.await.ok().flatten().unwrap_or_default());
        }
        Ok::<_, io::Error>(all)
    })
    .await?;
    let elapsed = started.elapsed();
    let mut latencies: Vec<Duration> = per_connection.into_iter().flatten().collect();
    latencies.sort_unstable();
    Ok(Report { latencies, elapsed })
}

/// One load connection; returns the latency of every request it completed.
async fn client(target: SocketAddr, deadline: Instant) -> io::Result<Vec<Duration>> {
    let stream = TcpStream::connect(target).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(NurseryIo::new(stream))
        .await
        .map_err(io::Error::other)?;
    // The connection's driver is a child of this client task: it cannot outlive it.
    nursery::spawn(connection);
    let mut latencies = Vec::new();
    while Instant::now() < deadline {
        let sent = Instant::now();
        sender.ready().await.map_err(io::Error::other)?;
        let request = Request::get("/")
            .header(header::HOST, target.to_string())
            .body(Full::new(Bytes::new()))
            .map_err(io::Error::other)?;
        let response = sender
            .send_request(request)
            .await
            .map_err(io::Error::other)?;
        response
            .into_body()
            .collect()
            .await
            .map_err(io::Error::other)?;
        latencies.push(sent.elapsed());
    }
    Ok(latencies)
}

struct Report {
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.latencies.len();
        let at = |q: f64| {
            self.latencies
                .get(((n as f64 * q) as usize).min(n.saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        write!(
            f,
            "{n} requests in {:.2?}: {:.0} requests/s, latency median {:.0?}, p99 {:.0?}, max {:.0?}",
            self.elapsed,
            n as f64 / self.elapsed.as_secs_f64(),
            at(0.5),
            at(0.99),
            self.latencies.last().copied().unwrap_or_default(),
        )
    }
}

/// No options: the server and a short load in one runtime, both in one scope.
fn demo(workers: usize) -> Result<(), BoxError> {
    let rt = nursery_runtime(workers)?;
    let handle = rt.handle().clone();
    rt.block_on(nursery::scope(|app| async move {
        // `start` waits until the server has bound, and hands back its address and scope.
        let forever = Stop {
            requests: None,
            after: None,
        };
        let ((addr, server_scope), server) = app
            .start(|ready| {
                nursery_server(
                    SocketAddr::from(([127, 0, 0, 1], 0)),
                    forever,
                    |addr, scope| ready.ready((addr, scope)),
                )
            })
            .await
            .map_err(|e| format!("the server did not start: {e:?}"))?;
        let report = nursery::spawn(load(addr, 16, Duration::from_millis(500)));
        nursery::time::sleep(Duration::from_millis(250)).await;
        println!("the task tree under load (abridged):");
        for line in handle.task_tree().to_string().lines().take(10) {
            println!("  {line}");
        }
        let report = report.await.map_err(|e| e.to_string())??;
        println!("built-in load, 16 connections: {report}");
        // The load is over: stop the server gracefully through its scope.
        server_scope.shutdown(GRACE);
        let served = server.await.map_err(|e| e.to_string())??;
        println!("server: {served} responses, shut down gracefully");
        Ok::<(), BoxError>(())
    }))
}

/// The same server on tokio, written as a tokio user would: hyper-util's `TokioIo` and
/// `TokioTimer`, `tokio::spawn` per connection in a `JoinSet`, a watch channel to stop.
mod tokio_server {
    use super::*;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tokio::sync::watch;
    use tokio::task::JoinSet;

    pub fn run(workers: usize, addr: SocketAddr, stop: Stop) -> io::Result<u64> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("http-worker")
            .enable_all()
            .build()?;
        rt.block_on(server(addr, stop))
    }

    async fn server(addr: SocketAddr, stop: Stop) -> io::Result<u64> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!("listening on http://{}/", listener.local_addr()?);
        io::stdout().flush()?;
        let (stop_tx, mut stop_rx) = watch::channel(false);
        let stop_tx = Arc::new(stop_tx);
        let counter = Counter {
            served: Arc::new(AtomicU64::new(0)),
            limit: stop.requests,
        };
        let timer = stop.after.map(|after| {
            let stop_tx = stop_tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                stop_tx.send_replace(true);
            })
        });
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _peer)) => {
                        let _ = stream.set_nodelay(true);
                        connections.spawn(serve(
                            stream,
                            stop_tx.clone(),
                            stop_rx.clone(),
                            counter.clone(),
                        ));
                    }
                    Err(e) => {
                        eprintln!("accept: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                },
                () = stopped(&mut stop_rx) => break,
            }
            while connections.try_join_next().is_some() {}
        }
        if let Some(timer) = timer {
            timer.abort();
        }
        let drained = tokio::time::timeout(GRACE, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            connections.shutdown().await;
        }
        Ok(counter.served.load(Ordering::Relaxed))
    }

    /// Completes once the server is asked to stop.
    async fn stopped(stop: &mut watch::Receiver<bool>) {
        let _ = stop.wait_for(|stop| *stop).await;
    }

    async fn serve(
        stream: tokio::net::TcpStream,
        stop_tx: Arc<watch::Sender<bool>>,
        mut stop_rx: watch::Receiver<bool>,
        counter: Counter,
    ) {
        let service = service_fn(move |_request: Request<Incoming>| {
            if counter.count() {
                stop_tx.send_replace(true);
            }
            async { Ok::<_, Infallible>(hello()) }
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .serve_connection(TokioIo::new(stream), service);
        tokio::pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            () = stopped(&mut stop_rx) => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(e) = result {
            if !e.is_incomplete_message() {
                eprintln!("connection: {e}");
            }
        }
    }
}
