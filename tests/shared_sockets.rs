//! Several tasks on one socket (rule R9, docs/semantics.md): tasks waiting on the same listener,
//! UDP socket or stream are each woken by the readiness meant for them, and one that gives up
//! passes its turn on.
//!
//! Every test lets each task reach `Pending` (its waker stored in the reactor) before the next
//! one starts and before anything arrives, so the tasks truly wait side by side. A lost wake-up
//! would leave a task waiting forever: every wait is bounded, and fails the test instead.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::channel::oneshot;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::FutureExt;
use nursery::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use nursery::time::timeout;
use nursery::JoinHandle;

/// How long a task may wait for what was sent to it before the test fails.
const DEADLINE: Duration = Duration::from_secs(10);

/// `fut`, failing the test if it takes longer than [`DEADLINE`].
async fn within_deadline<F: Future>(what: &str, fut: F) -> F::Output {
    match timeout(DEADLINE, fut).await {
        Ok(output) => output,
        Err(_) => panic!("{what}: still waiting after {DEADLINE:?} (a wake-up was lost)"),
    }
}

/// Wraps `inner` and completes `waiting` the first time `inner` returns `Pending`.
struct WhenPending<F> {
    inner: Pin<Box<F>>,
    waiting: Option<oneshot::Sender<()>>,
}

impl<F: Future> Future for WhenPending<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let poll = self.inner.as_mut().poll(cx);
        if poll.is_pending() {
            if let Some(waiting) = self.waiting.take() {
                let _ = waiting.send(());
            }
        }
        poll
    }
}

/// Spawns `op` and returns once it waits (has returned `Pending`).
async fn spawn_waiting<F>(what: &str, op: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    let task = nursery::spawn(WhenPending {
        inner: Box::pin(op),
        waiting: Some(tx),
    });
    within_deadline(what, rx)
        .await
        .unwrap_or_else(|_| panic!("{what}: finished without waiting"));
    task
}

/// A path for a Unix socket, removed when dropped.
struct SocketPath(PathBuf);

impl SocketPath {
    fn new(name: &str) -> SocketPath {
        let file = format!("nursery-shared-{}-{name}.sock", std::process::id());
        let path = std::env::temp_dir().join(file);
        let _ = std::fs::remove_file(&path);
        SocketPath(path)
    }
}

impl Drop for SocketPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A connected pair of TCP streams over loopback: (client, server side).
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

#[nursery::test(worker_threads = 2)]
async fn two_tasks_accepting_on_one_tcp_listener_each_get_a_connection() {
    let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
    let addr = listener.local_addr().unwrap();
    let mut acceptors = Vec::new();
    for _ in 0..2 {
        let listener = listener.clone();
        let accept = async move { listener.accept().await.unwrap().1 };
        acceptors.push(spawn_waiting("accept", accept).await);
    }

    let clients = [
        TcpStream::connect(addr).await.unwrap(),
        TcpStream::connect(addr).await.unwrap(),
    ];
    let mut accepted: Vec<SocketAddr> = Vec::new();
    for acceptor in acceptors {
        accepted.push(
            within_deadline("an accepting task", acceptor)
                .await
                .unwrap(),
        );
    }
    accepted.sort();
    let mut connected: Vec<SocketAddr> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
    connected.sort();
    assert_eq!(accepted, connected, "each task gets its own connection");
}

#[nursery::test(worker_threads = 2)]
async fn two_tasks_accepting_on_one_unix_listener_each_get_a_connection() {
    let path = SocketPath::new("accept");
    let listener = Arc::new(UnixListener::bind(&path.0).unwrap());
    let mut acceptors = Vec::new();
    for _ in 0..2 {
        let listener = listener.clone();
        let accept = async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut id = [0u8; 1];
            stream.read_exact(&mut id).await.unwrap();
            id[0]
        };
        acceptors.push(spawn_waiting("accept", accept).await);
    }

    let mut clients = Vec::new();
    for id in [b'a', b'b'] {
        let mut client = UnixStream::connect(&path.0).await.unwrap();
        client.write_all(&[id]).await.unwrap();
        clients.push(client);
    }
    let mut ids = Vec::new();
    for acceptor in acceptors {
        ids.push(
            within_deadline("an accepting task", acceptor)
                .await
                .unwrap(),
        );
    }
    ids.sort();
    assert_eq!(ids, b"ab", "each task gets its own connection");
}

#[nursery::test(worker_threads = 2)]
async fn two_tasks_in_recv_from_on_one_udp_socket_each_get_a_datagram() {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let mut receivers = Vec::new();
    for _ in 0..2 {
        let socket = socket.clone();
        let recv = async move {
            let mut buf = [0u8; 16];
            let (n, _) = socket.recv_from(&mut buf).await.unwrap();
            buf[..n].to_vec()
        };
        receivers.push(spawn_waiting("recv_from", recv).await);
    }

    let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = socket.local_addr().unwrap();
    sender.send_to(b"first", target).await.unwrap();
    sender.send_to(b"second", target).await.unwrap();
    let mut got = Vec::new();
    for receiver in receivers {
        got.push(within_deadline("a receiving task", receiver).await.unwrap());
    }
    got.sort();
    assert_eq!(got, [b"first".to_vec(), b"second".to_vec()]);
}

#[nursery::test(worker_threads = 2)]
async fn two_tasks_reading_one_shared_tcp_stream_each_get_bytes() {
    let (mut client, server) = tcp_pair().await;
    let server = Arc::new(server);
    let mut readers = Vec::new();
    for _ in 0..2 {
        let server = server.clone();
        let read = async move {
            let mut byte = [0u8; 1];
            (&*server).read_exact(&mut byte).await.unwrap();
            byte[0]
        };
        readers.push(spawn_waiting("read", read).await);
    }

    client.write_all(b"xy").await.unwrap();
    let mut got = Vec::new();
    for reader in readers {
        got.push(within_deadline("a reading task", reader).await.unwrap());
    }
    got.sort();
    assert_eq!(got, b"xy");
}

#[nursery::test(worker_threads = 2)]
async fn two_tasks_writing_one_shared_tcp_stream_both_finish_once_the_peer_reads() {
    const EACH: usize = 4 << 20;
    let (mut client, server) = tcp_pair().await;
    let server = Arc::new(server);
    // Fill the socket buffers, so that both writers below have to wait for room.
    let chunk = vec![0u8; 64 * 1024];
    let mut filled = 0;
    while let Some(written) = (&*server).write(&chunk).now_or_never() {
        filled += written.unwrap();
    }

    let mut writers = Vec::new();
    for byte in [1u8, 2] {
        let server = server.clone();
        let write = async move { (&*server).write_all(&vec![byte; EACH]).await.unwrap() };
        writers.push(spawn_waiting("write", write).await);
    }

    let mut received = vec![0u8; filled + 2 * EACH];
    within_deadline(
        "reading what both writers wrote",
        client.read_exact(&mut received),
    )
    .await
    .unwrap();
    for writer in writers {
        within_deadline("a writing task", writer).await.unwrap();
    }
    let ones = received.iter().filter(|&&b| b == 1).count();
    assert_eq!((ones, received.len() - filled), (EACH, 2 * EACH));
}

#[nursery::test(worker_threads = 2)]
async fn an_accept_given_up_by_its_timeout_passes_the_connection_to_the_other_acceptor() {
    let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
    let addr = listener.local_addr().unwrap();
    let stays = listener.clone();
    let staying = spawn_waiting("accept", async move { stays.accept().await.unwrap().1 }).await;
    // A second acceptor waits after the first one, then gives up.
    let leaves = listener.clone();
    let gave_up = nursery::spawn(async move {
        timeout(Duration::from_millis(50), leaves.accept())
            .await
            .is_err()
    });
    assert!(within_deadline("the timed-out accept", gave_up)
        .await
        .unwrap());

    let client = TcpStream::connect(addr).await.unwrap();
    let peer = within_deadline("the acceptor that stayed", staying)
        .await
        .unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
}

#[nursery::test(worker_threads = 2)]
async fn a_read_given_up_by_its_timeout_passes_the_bytes_to_the_other_reader() {
    let (mut client, server) = tcp_pair().await;
    let server = Arc::new(server);
    let stays = server.clone();
    let staying = spawn_waiting("read", async move {
        let mut buf = [0u8; 5];
        (&*stays).read_exact(&mut buf).await.unwrap();
        buf
    })
    .await;
    // A second reader waits after the first one, then gives up.
    let leaves = server.clone();
    let gave_up = nursery::spawn(async move {
        let mut buf = [0u8; 5];
        timeout(Duration::from_millis(50), (&*leaves).read(&mut buf))
            .await
            .is_err()
    });
    assert!(within_deadline("the timed-out read", gave_up)
        .await
        .unwrap());

    client.write_all(b"hello").await.unwrap();
    let got = within_deadline("the reader that stayed", staying)
        .await
        .unwrap();
    assert_eq!(&got, b"hello");
}
