//! hyper-util's pooled client (`hyper_util::client::legacy::Client`) on nursery: its connection
//! drivers are handed to the executor while a request task polls, and must not become children
//! of that request.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, Uri};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use nursery::net::{TcpListener, TcpStream};
use nursery_hyper::{NurseryExecutor, NurseryIo};

/// Connects with `nursery::net::TcpStream` to the `host:port` of the URI (an IP address).
#[derive(Clone, Copy, Debug)]
struct Connector;

impl tower_service::Service<Uri> for Connector {
    type Response = Conn;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Conn>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(async move {
            let addr: SocketAddr = uri
                .authority()
                .and_then(|a| a.as_str().parse().ok())
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not ip:port"))?;
            Ok(Conn(NurseryIo::new(TcpStream::connect(addr).await?)))
        })
    }
}

/// A connected stream as hyper-util's client wants it (`Connection` is its trait).
struct Conn(NurseryIo<TcpStream>);

impl Connection for Conn {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Serves HTTP/1 on `listener` with nursery-hyper until cancelled, counting the connections it
/// accepts and those that have closed.
async fn server(listener: TcpListener, accepted: Arc<AtomicUsize>, closed: Arc<AtomicUsize>) {
    nursery::supervised(|connections| async move {
        loop {
            let (stream, _) = listener.accept().await.expect("accept");
            accepted.fetch_add(1, SeqCst);
            let closed = closed.clone();
            let service = service_fn(|_req: Request<Incoming>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"pong"))))
            });
            connections.spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(NurseryIo::new(stream), service)
                    .await;
                closed.fetch_add(1, SeqCst);
            });
        }
    })
    .await
}

async fn get(client: &Client<Connector, Empty<Bytes>>, uri: Uri) -> Bytes {
    let response = client.get(uri).await.expect("request");
    response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
}

/// Waits (at most 5 s) until `counter` reaches `n`.
async fn until(counter: &AtomicUsize, n: usize) {
    let reached = nursery::time::timeout(Duration::from_secs(5), async {
        while counter.load(SeqCst) < n {
            nursery::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    assert!(reached.is_ok(), "counter stuck at {}", counter.load(SeqCst));
}

#[nursery::test(worker_threads = 2)]
async fn a_request_task_ends_at_once_while_the_pool_keeps_its_connection() {
    nursery::scope(|app| async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri: Uri = format!("http://{}/", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        app.spawn(server(listener, accepted.clone(), closed.clone()));

        let client: Client<Connector, Empty<Bytes>> =
            Client::builder(NurseryExecutor::new()).build(Connector);

        // A request task, as a handler would spawn one: one request, then it returns.
        let request = nursery::spawn({
            let client = client.clone();
            let uri = uri.clone();
            async move { get(&client, uri).await }
        });
        let body = nursery::time::timeout(Duration::from_secs(2), request)
            .await
            .expect("the request task ends without waiting for the pooled connection")
            .unwrap();
        assert_eq!(body, "pong");
        assert_eq!(accepted.load(SeqCst), 1);
        assert_eq!(closed.load(SeqCst), 0, "the pool keeps the connection open");

        // hyper-util puts the connection back into the pool from a future of its own once the
        // connection is ready again; its own keep-alive tests give it 50 ms too.
        nursery::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(get(&client, uri).await, "pong");
        assert_eq!(
            accepted.load(SeqCst),
            1,
            "the second request reused the connection"
        );

        // The pool owned the connection: dropping the client closes it.
        drop(client);
        until(&closed, 1).await;
        app.cancel();
    })
    .await;
}

#[nursery::test(worker_threads = 2)]
async fn a_client_whose_scope_has_closed_spawns_its_connections_at_the_root() {
    nursery::scope(|app| async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri: Uri = format!("http://{}/", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        app.spawn(server(listener, accepted, closed.clone()));

        // Built on a scope that then closes at once: the client outlives it.
        let client: Client<Connector, Empty<Bytes>> = nursery::scope(|s| async move {
            Client::builder(NurseryExecutor::scope(s)).build(Connector)
        })
        .await;
        let body = nursery::time::timeout(Duration::from_secs(2), get(&client, uri))
            .await
            .expect("the request is answered");
        assert_eq!(body, "pong");

        drop(client);
        until(&closed, 1).await;
        app.cancel();
    })
    .await;
}
