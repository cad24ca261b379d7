//! HTTP/1 through hyper's client and server, both on nursery: round trips, bodies, upgrades,
//! timeouts, and the server's connections as tasks of the tree.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::{select, Either};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use nursery::net::{TcpListener, TcpStream};
use nursery::Scope;
use nursery_hyper::{NurseryIo, NurseryTimer};

/// The test server's routes.
async fn route(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |body: Bytes| Ok(Response::new(Full::new(body)));
    match req.uri().path() {
        "/hello" => reply(Bytes::from_static(b"hello")),
        "/echo" => {
            let body = req.into_body().collect().await.map_or_else(
                |e| Bytes::from(format!("body error: {e}")),
                |b| b.to_bytes(),
            );
            reply(body)
        }
        "/slow" => {
            nursery::time::sleep(Duration::from_millis(100)).await;
            reply(Bytes::from_static(b"slow"))
        }
        "/panic" => panic!("handler bug on /panic"),
        "/upgrade" => {
            // The upgraded connection is served by a child of this connection's task.
            nursery::spawn(async move {
                let upgraded = hyper::upgrade::on(req).await.expect("upgrade");
                let mut io = NurseryIo::new(upgraded);
                let mut buf = [0u8; 64];
                loop {
                    let n = io.read(&mut buf).await.expect("read upgraded");
                    if n == 0 {
                        break;
                    }
                    io.write_all(&buf[..n]).await.expect("write upgraded");
                }
            });
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            response.headers_mut().insert(
                hyper::header::UPGRADE,
                hyper::header::HeaderValue::from_static("echo"),
            );
            Ok(response)
        }
        _ => {
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::NOT_FOUND;
            Ok(response)
        }
    }
}

/// Serves one connection until it ends; when `server` is asked to shut down, lets the
/// request in flight finish and then closes.
async fn serve_connection(stream: TcpStream, server: Scope, header_timeout: Duration) {
    let mut builder = http1::Builder::new();
    builder
        .timer(NurseryTimer::new())
        .header_read_timeout(header_timeout);
    let io = NurseryIo::new(stream).with_vectored_writes(true);
    let mut connection = pin!(builder
        .serve_connection(io, service_fn(route))
        .with_upgrades());
    let stop = pin!(server.shutdown_requested());
    let result = match select(connection.as_mut(), stop).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    // A client that vanishes mid-request is not a test failure; anything else is.
    if let Err(e) = result {
        assert!(
            e.is_incomplete_message() || e.is_timeout() || e.to_string().contains("reset"),
            "connection error: {e}"
        );
    }
}

struct Server {
    addr: SocketAddr,
    /// Connections whose handler failed (panicked), as reported to the supervisor.
    failures: Arc<AtomicUsize>,
    /// The server task: the accept loop and, under it, every connection.
    task: nursery::JoinHandle<std::io::Result<()>>,
}

/// Starts a server as a child of `app`: an accept loop in a supervised scope, one task per
/// connection, named after its peer. `app.shutdown(grace)` stops it gracefully.
async fn start_server(app: &Scope, header_timeout: Duration) -> Server {
    let failures = Arc::new(AtomicUsize::new(0));
    let counted = failures.clone();
    let stop = app.clone();
    let (addr, task) = app
        .start(move |ready| async move {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            ready.ready(listener.local_addr()?);
            nursery::supervised(|connections| async move {
                connections.on_child_failure(move |_| {
                    counted.fetch_add(1, SeqCst);
                });
                loop {
                    let accept = pin!(listener.accept());
                    match select(accept, pin!(stop.shutdown_requested())).await {
                        Either::Left((accepted, _)) => {
                            let (stream, peer) = accepted?;
                            nursery::task::Builder::new()
                                .name(format!("conn {peer}"))
                                .spawn_in(
                                    &connections,
                                    serve_connection(stream, stop.clone(), header_timeout),
                                );
                        }
                        Either::Right(_) => return Ok::<(), std::io::Error>(()),
                    }
                }
            })
            .await
        })
        .await
        .expect("the server starts");
    Server {
        addr,
        failures,
        task,
    }
}

/// Opens a client connection whose driver is a child of the calling task.
async fn connect(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(NurseryIo::new(stream))
        .await
        .unwrap();
    nursery::spawn(async move {
        let _ = connection.with_upgrades().await;
    });
    sender
}

async fn get(
    sender: &mut SendRequest<Full<Bytes>>,
    path: &str,
) -> hyper::Result<(StatusCode, Bytes)> {
    // A kept-alive HTTP/1 connection takes the next request once the last one is done.
    sender.ready().await?;
    let request = Request::get(path).body(Full::new(Bytes::new())).unwrap();
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

#[nursery::test(worker_threads = 2)]
async fn requests_round_trip_through_hyper_client_and_server_on_one_kept_alive_connection() {
    nursery::scope(|app| async move {
        let server = start_server(&app, HEADER_TIMEOUT).await;
        let mut sender = connect(server.addr).await;
        for _ in 0..10 {
            let (status, body) = get(&mut sender, "/hello").await.unwrap();
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body, "hello");
        }
        let (status, _) = get(&mut sender, "/nowhere").await.unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND);
        drop(sender);
        app.shutdown(Duration::from_secs(5));
    })
    .await;
}

#[nursery::test(worker_threads = 2)]
async fn a_four_megabyte_body_is_echoed_back_intact() {
    nursery::scope(|app| async move {
        let server = start_server(&app, HEADER_TIMEOUT).await;
        let mut sender = connect(server.addr).await;
        let sent: Bytes = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
        let request = Request::post("/echo")
            .body(Full::new(sent.clone()))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let echoed = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(echoed.len(), sent.len());
        assert!(echoed == sent, "the echoed body differs");
        drop(sender);
        app.shutdown(Duration::from_secs(5));
    })
    .await;
}

#[nursery::test(worker_threads = 2)]
async fn fifty_concurrent_connections_are_each_served() {
    nursery::scope(|app| async move {
        let server = start_server(&app, HEADER_TIMEOUT).await;
        let ok = nursery::scope(|clients| async move {
            let handles: Vec<_> = (0..50)
                .map(|_| {
                    clients.spawn(async move {
                        let mut sender = connect(server.addr).await;
                        for _ in 0..5 {
                            let (_, body) = get(&mut sender, "/hello").await.unwrap();
                            assert_eq!(body, "hello");
                        }
                    })
                })
                .collect();
            let mut ok = 0;
            for h in handles {
                h.await.unwrap();
                ok += 1;
            }
            ok
        })
        .await;
        assert_eq!(ok, 50);
        app.shutdown(Duration::from_secs(5));
    })
    .await;
}

#[nursery::test(worker_threads = 2)]
async fn each_connection_is_a_named_task_under_the_servers_supervised_scope() {
    let handle = nursery::Handle::current();
    nursery::scope(|app| async move {
        let server = start_server(&app, HEADER_TIMEOUT).await;
        let mut a = connect(server.addr).await;
        let mut b = connect(server.addr).await;
        get(&mut a, "/hello").await.unwrap();
        get(&mut b, "/hello").await.unwrap();
        let tree = handle.task_tree();
        let supervisors: Vec<u64> = tree
            .nodes
            .iter()
            .filter(|(_, n)| n.kind == "supervised scope")
            .map(|(_, n)| n.id)
            .collect();
        let connections: Vec<_> = tree
            .nodes
            .iter()
            .filter(|(_, n)| n.name.as_deref().is_some_and(|s| s.starts_with("conn ")))
            .collect();
        assert_eq!(connections.len(), 2, "{tree}");
        for (_, conn) in connections {
            assert_eq!(conn.kind, "task");
            assert!(supervisors.contains(&conn.parent.unwrap()), "{tree}");
        }
        drop((a, b));
        app.shutdown(Duration::from_secs(5));
    })
    .await;
}

#[nursery::test(worker_threads = 2)]
async fn a_panicking_handler_fails_only_its_own_connection() {
    nursery::scope(|app| async move {
        let server = start_server(&app, HEADER_TIMEOUT).await;
        let mut healthy = connect(server.addr).await;
        let mut doomed = connect(server.addr).await;
        get(&mut healthy, "/hello").await.unwrap();
        let err = get(&mut doomed, "/panic")
            .await
            .expect_err("the connection is torn down");
        assert!(err.is_incomplete_message() || err.is_canceled(), "{err}");
        let (_, body) = get(&mut healthy, "/hello").await.unwrap();
        assert_eq!(body, "hello", "the other connection is untouched");
        let deadline = Instant::now() + Duration::from_secs(5);
        while server.failures.load(SeqCst) == 0 && Instant::now() < deadline {
            nursery::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(
            server.failures.load(SeqCst),
            1,
            "the supervisor saw the panic"
        );
        drop((healthy, doomed));
        app.shutdown(Duration::from_secs(5));
    })
    .await;
}

#[nursery::test(worker_threads = 2)]
async fn graceful_shutdown_finishes_the_request_in_flight_then_closes_the_connection() {
    nursery::scope(|app| async move {
        let server = start_server(&app, HEADER_TIMEOUT).await;
        let mut sender = connect(server.addr).await;
        let in_flight = nursery::spawn(async move {
            let reply = get(&mut sender, "/slow").await;
            (reply, sender)
        });
        nursery::time::sleep(Duration::from_millis(20)).await; // the request has arrived
        app.shutdown(Duration::from_secs(5));
        let (reply, mut sender) = in_flight.await.unwrap();
        let (status, body) = reply.expect("the request in flight completes");
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"slow"[..]));
        assert!(
            get(&mut sender, "/hello").await.is_err(),
            "then the server closes the connection"
        );
    })
    .await;
}

#[nursery::test(worker_threads = 2)]
async fn cancelling_the_server_drops_every_open_connection() {
    let started = Instant::now();
    nursery::scope(|app| async move {
        let server = start_server(&app, HEADER_TIMEOUT).await;
        let mut sender = connect(server.addr).await;
        get(&mut sender, "/hello").await.unwrap();
        app.cancel();
        // The server's handle resolves only once its whole subtree is gone: the connection
        // task has been dropped, and its socket closed under the client.
        assert!(server.task.await.unwrap_err().is_cancelled());
        assert!(get(&mut sender, "/hello").await.is_err());
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[nursery::test(worker_threads = 2)]
async fn an_upgraded_connection_is_used_through_futures_io() {
    nursery::scope(|app| async move {
        let server = start_server(&app, HEADER_TIMEOUT).await;
        let mut sender = connect(server.addr).await;
        let request = Request::get("/upgrade")
            .header(hyper::header::CONNECTION, "upgrade")
            .header(hyper::header::UPGRADE, "echo")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        let upgraded = hyper::upgrade::on(response).await.unwrap();
        let mut io = NurseryIo::new(upgraded);
        for message in ["ping", "a longer message"] {
            io.write_all(message.as_bytes()).await.unwrap();
            let mut back = vec![0u8; message.len()];
            io.read_exact(&mut back).await.unwrap();
            assert_eq!(back, message.as_bytes());
        }
        io.close().await.unwrap();
        app.shutdown(Duration::from_secs(5));
    })
    .await;
}

#[nursery::test(worker_threads = 2)]
async fn the_header_read_timeout_closes_a_connection_that_sends_nothing() {
    nursery::scope(|app| async move {
        let server = start_server(&app, Duration::from_millis(50)).await;
        let started = Instant::now();
        let mut silent = TcpStream::connect(server.addr).await.unwrap();
        let mut buf = [0u8; 256];
        // hyper answers the timeout with a 408 and closes, or just closes: read to the end.
        let mut received = Vec::new();
        loop {
            let n = silent.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            received.extend_from_slice(&buf[..n]);
        }
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(50),
            "closed after {waited:?}, before the timeout"
        );
        assert!(
            waited < Duration::from_secs(5),
            "closed only after {waited:?}"
        );
        assert!(
            received.is_empty() || received.starts_with(b"HTTP/1.1 408"),
            "{}",
            String::from_utf8_lossy(&received)
        );
        app.shutdown(Duration::from_secs(5));
    })
    .await;
}

#[nursery::test(worker_threads = 2, start_paused = true)]
async fn the_header_read_timeout_runs_on_the_runtimes_clock_when_a_test_moves_it() {
    // An hour of virtual time first: a deadline hyper took from the real clock (an hour behind
    // this one) would already have passed when the connection arrives.
    nursery::time::advance(Duration::from_secs(3600)).await;
    nursery::scope(|app| async move {
        let server = start_server(&app, Duration::from_secs(10)).await;
        let started = nursery::time::Instant::now();
        let mut silent = TcpStream::connect(server.addr).await.unwrap();
        let mut buf = [0u8; 256];
        while silent.read(&mut buf).await.unwrap_or(0) > 0 {}
        // Nothing else is pending: the paused clock jumps straight to the timeout.
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(10) && waited < Duration::from_secs(11),
            "closed after {waited:?} of the runtime's time, not at the 10 s timeout"
        );
        app.shutdown(Duration::from_secs(5));
    })
    .await;
}
