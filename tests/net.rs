//! Networking on the nursery runtime: the reactor's TCP, UDP and Unix sockets, driven by idle
//! workers, serve many connections at once, survive cancelled and timed-out reads, resets and
//! refused connects, and leave nothing behind when their tasks or their runtime go away.
//!
//! No test sleeps to wait for another task: a task that must be blocked in `read` or `accept`
//! before the test goes on says so through [`signal_when_pending`], which fires only once the
//! operation itself has returned `Pending` (its waker is stored in the reactor).

mod support;

use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::StreamExt;
use nursery::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use nursery::time::timeout;
use support::{wait_for_count, DropCounter, DropToken};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Wraps `inner` and calls `on_pending` the first time `inner` returns `Pending`: from then on
/// the wrapped operation is known to be waiting (its waker stored), not merely about to start.
struct SignalWhenPending<F, S: FnOnce()> {
    inner: Pin<Box<F>>,
    on_pending: Option<S>,
}

impl<F: Future, S: FnOnce() + Unpin> Future for SignalWhenPending<F, S> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let poll = self.inner.as_mut().poll(cx);
        if poll.is_pending() {
            if let Some(signal) = self.on_pending.take() {
                signal();
            }
        }
        poll
    }
}

fn signal_when_pending<F: Future, S: FnOnce() + Unpin>(
    inner: F,
    on_pending: S,
) -> SignalWhenPending<F, S> {
    SignalWhenPending {
        inner: Box::pin(inner),
        on_pending: Some(on_pending),
    }
}

/// `signal_when_pending` that completes a oneshot, for a test body that `.await`s the signal.
fn notify_when_pending<F: Future>(
    inner: F,
    tx: oneshot::Sender<()>,
) -> SignalWhenPending<F, impl FnOnce() + Unpin> {
    signal_when_pending(inner, move || {
        let _ = tx.send(());
    })
}

/// A connected pair of TCP streams over loopback: (client, server side).
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    // The handshake completes in the kernel's backlog, so connecting before accepting is fine.
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, peer) = listener.accept().await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    (client, server)
}

/// The bytes client `id` sends: a pattern that differs per client and per position, so a byte
/// lost, duplicated, reordered or crossed over from another connection shows up.
fn pattern(id: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + id * 7 + i / 251) % 251) as u8)
        .collect()
}

/// Panics with the first position where `got` differs from `want`.
fn assert_same_bytes(got: &[u8], want: &[u8], what: &str) {
    if let Some(i) = got.iter().zip(want).position(|(g, w)| g != w) {
        panic!("{what}: byte {i} is {} but {} was sent", got[i], want[i]);
    }
    assert_eq!(got.len(), want.len(), "{what}: wrong length");
}

/// Echoes everything `stream` sends until EOF, then closes its write half; returns the count.
async fn echo_connection(stream: TcpStream) -> io::Result<u64> {
    let (reader, mut writer) = stream.into_split();
    let echoed = futures::io::copy(reader, &mut writer).await?;
    writer.close().await?;
    Ok(echoed)
}

/// A fresh directory for Unix socket files, removed when dropped (even if the test fails).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("nursery-net-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sets `SO_LINGER` to 0 on `stream`, so that closing it sends RST instead of FIN.
fn set_linger_zero(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the descriptor is open (`stream` owns it and is borrowed for the call) and
    // `linger` is a valid `struct linger` of the size passed, alive for the call's duration.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "setsockopt(SO_LINGER): {}",
        io::Error::last_os_error()
    );
}

// ---------------------------------------------------------------------------------------------
// TCP
// ---------------------------------------------------------------------------------------------

#[nursery::test(worker_threads = 2)]
async fn an_echo_server_in_a_scope_serves_fifty_concurrent_clients_moving_100_kb_each_intact() {
    const CLIENTS: usize = 50;
    const LEN: usize = 100 * 1024;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let echoed = Arc::new(AtomicUsize::new(0));
    let connections = Arc::new(AtomicUsize::new(0));

    let (e, c) = (echoed.clone(), connections.clone());
    nursery::scope(|s| async move {
        // The server: an accept loop that spawns one sibling per connection into this scope.
        let server_scope = s.clone();
        let server = s.spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                c.fetch_add(1, SeqCst);
                let e = e.clone();
                server_scope.spawn(async move {
                    let n = echo_connection(stream).await.unwrap();
                    e.fetch_add(n as usize, SeqCst);
                });
            }
        });

        // The clients: tasks too, each writing from a child task while it reads the echo.
        let clients: Vec<_> = (0..CLIENTS)
            .map(|id| {
                s.spawn(async move {
                    let stream = TcpStream::connect(addr).await.unwrap();
                    let (mut reader, mut writer) = stream.into_split();
                    let sent = pattern(id, LEN);
                    let to_send = sent.clone();
                    let write = nursery::spawn(async move {
                        writer.write_all(&to_send).await.unwrap();
                        writer.close().await.unwrap();
                    });
                    let mut got = Vec::with_capacity(LEN);
                    reader.read_to_end(&mut got).await.unwrap();
                    write.await.unwrap();
                    assert_same_bytes(&got, &sent, &format!("client {id}"));
                })
            })
            .collect();
        for client in clients {
            client.await.unwrap();
        }

        server.cancel();
        assert!(server.await.unwrap_err().is_cancelled());
    })
    .await;

    // The scope returned, so every connection child is done.
    assert_eq!(connections.load(SeqCst), CLIENTS);
    assert_eq!(echoed.load(SeqCst), CLIENTS * LEN);
}

#[nursery::test(worker_threads = 2)]
async fn a_client_that_closes_its_write_half_still_reads_the_servers_reply() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();

    let server = nursery::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        // Ends only at EOF: the client's close() must reach us as a FIN.
        stream.read_to_end(&mut request).await.unwrap();
        let reply = format!(
            "got {} bytes: {}",
            request.len(),
            String::from_utf8(request).unwrap()
        );
        stream.write_all(reply.as_bytes()).await.unwrap();
        stream.close().await.unwrap();
    });

    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(b"hello, half-closed").await.unwrap();
    client.close().await.unwrap();
    // The write half is shut: a further write fails (EPIPE), the read half still works.
    let err = client.write_all(b"more").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err:?}");
    let mut reply = String::new();
    client.read_to_string(&mut reply).await.unwrap();
    assert_eq!(reply, "got 18 bytes: hello, half-closed");
    server.await.unwrap();
}

#[nursery::test(worker_threads = 2)]
async fn a_reader_cancelled_while_waiting_in_read_leaves_the_data_to_the_next_reader() {
    let (mut client, server) = tcp_pair().await;
    let server = Arc::new(server);
    let drops = DropCounter::new();

    let (waiting_tx, waiting_rx) = oneshot::channel();
    let (stream, token) = (server.clone(), drops.token());
    let first = nursery::spawn(async move {
        let _token = token;
        let mut buf = [0u8; 64];
        notify_when_pending((&*stream).read(&mut buf), waiting_tx).await
    });
    waiting_rx.await.unwrap();
    first.cancel();
    assert!(first.await.unwrap_err().is_cancelled());
    assert_eq!(
        drops.count(),
        1,
        "the cancelled reader's future was not dropped"
    );

    // A new reader on the same stream, in another task, blocked in read before the data exists.
    let (waiting_tx, waiting_rx) = oneshot::channel();
    let stream = server.clone();
    let second = nursery::spawn(async move {
        let mut buf = [0u8; 22];
        notify_when_pending((&*stream).read_exact(&mut buf), waiting_tx)
            .await
            .unwrap();
        buf
    });
    waiting_rx.await.unwrap();
    client.write_all(b"written after the cancel").await.unwrap();
    assert_eq!(&second.await.unwrap(), b"written after the canc");
    let mut rest = [0u8; 2];
    (&*server).read_exact(&mut rest).await.unwrap();
    assert_eq!(&rest, b"el");
}

#[nursery::test(worker_threads = 2)]
async fn data_arriving_between_a_cancelled_reader_and_the_next_one_is_not_lost() {
    let (mut client, server) = tcp_pair().await;
    let server = Arc::new(server);

    let (waiting_tx, waiting_rx) = oneshot::channel();
    let stream = server.clone();
    let first = nursery::spawn(async move {
        let mut buf = [0u8; 64];
        notify_when_pending((&*stream).read(&mut buf), waiting_tx).await
    });
    waiting_rx.await.unwrap();
    first.cancel();
    assert!(first.await.unwrap_err().is_cancelled());

    // The readiness event for this data may reach the dead reader's stale waker: the next
    // reader must still find it.
    client.write_all(b"nobody was reading").await.unwrap();
    let stream = server.clone();
    let second = nursery::spawn(async move {
        let mut buf = [0u8; 18];
        (&*stream).read_exact(&mut buf).await.unwrap();
        buf
    });
    assert_eq!(&second.await.unwrap(), b"nobody was reading");
}

/// A TCP read that empties the socket clears its readiness at once (no `EAGAIN` read first,
/// see `reactor/src/net/tcp_inq.rs`); one that leaves bytes queued must not, since no new event
/// will announce them.
#[nursery::test(worker_threads = 2)]
async fn a_read_that_leaves_bytes_queued_lets_the_next_read_take_them_at_once() {
    let (mut client, mut server) = tcp_pair().await;
    // The reader waits first, so that the data's event is the readiness its read sees: clearing
    // that readiness after taking 10 of the 100 bytes would leave the other 90 unannounced.
    let (waiting_tx, waiting_rx) = oneshot::channel();
    let reader = nursery::spawn(async move {
        let mut got = vec![0u8; 100];
        notify_when_pending(server.read_exact(&mut got[..10]), waiting_tx)
            .await
            .unwrap();
        let rest = timeout(Duration::from_secs(10), server.read_exact(&mut got[10..])).await;
        assert!(rest.is_ok(), "the 90 bytes already queued were never read");
        assert_same_bytes(&got, &pattern(1, 100), "the whole message");
        server
    });
    waiting_rx.await.unwrap();
    client.write_all(&pattern(1, 100)).await.unwrap();
    let mut server = reader.await.unwrap();

    // Reads that take everything queued, then more data: each next event brings it.
    for round in 0..50 {
        client.write_all(&pattern(round, 64)).await.unwrap();
        let mut buf = [0u8; 64];
        let read = timeout(Duration::from_secs(10), server.read_exact(&mut buf)).await;
        assert!(read.is_ok(), "round {round}: the data was never read");
        assert_same_bytes(&buf, &pattern(round, 64), "one round trip");
    }
}

/// A read that takes the last bytes before the peer's FIN still lets the next read see the end
/// of the stream (the kernel reports a byte still queued after a FIN, and the reactor keeps the
/// read-closed readiness anyway).
#[nursery::test(worker_threads = 2)]
async fn a_read_of_the_last_bytes_before_the_peers_close_still_sees_the_end() {
    let (mut client, mut server) = tcp_pair().await;
    client.write_all(b"last words").await.unwrap();
    client.close().await.unwrap();
    drop(client);
    // Loopback has queued the data and the FIN at the server by now, so the read below takes
    // the last bytes with the FIN already there: exactly the case where clearing on "nothing
    // left" would wait for an event that has already come.
    let mut buf = [0u8; 10];
    server.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"last words");
    let end = timeout(Duration::from_secs(10), server.read(&mut buf)).await;
    assert!(matches!(end, Ok(Ok(0))), "the end of the stream: {end:?}");
}

#[nursery::test(worker_threads = 2)]
async fn a_read_whose_timeout_expires_leaves_the_data_to_the_next_read() {
    let (mut client, mut server) = tcp_pair().await;
    let mut buf = [0u8; 16];
    let expired = timeout(Duration::from_millis(20), server.read(&mut buf)).await;
    assert!(
        expired.is_err(),
        "a read with nothing sent completed: {expired:?}"
    );

    let (waiting_tx, waiting_rx) = oneshot::channel();
    let writer = nursery::spawn(async move {
        waiting_rx.await.unwrap();
        client.write_all(b"late but whole").await.unwrap();
        client
    });
    let mut got = [0u8; 14];
    notify_when_pending(server.read_exact(&mut got), waiting_tx)
        .await
        .unwrap();
    assert_eq!(&got, b"late but whole");
    writer.await.unwrap();
}

#[nursery::test(worker_threads = 2)]
async fn a_reset_by_the_peer_fails_that_read_and_the_server_keeps_serving_other_connections() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Every connection handler reports (peer, outcome) here when it ends.
    let (done_tx, mut done_rx) = mpsc::unbounded::<(SocketAddr, io::Result<u64>)>();

    nursery::scope(|s| async move {
        let conns = s.clone();
        let server = s.spawn(async move {
            loop {
                let (stream, peer) = listener.accept().await.unwrap();
                let done = done_tx.clone();
                conns.spawn(async move {
                    let _ = done.unbounded_send((peer, echo_connection(stream).await));
                });
            }
        });

        async fn round_trip(stream: &mut TcpStream, msg: &[u8]) {
            stream.write_all(msg).await.unwrap();
            let mut back = vec![0u8; msg.len()];
            stream.read_exact(&mut back).await.unwrap();
            assert_eq!(back, msg);
        }

        let mut doomed = TcpStream::connect(addr).await.unwrap();
        let mut survivor = TcpStream::connect(addr).await.unwrap();
        // Both handlers are up and blocked in read once their first echo came back.
        round_trip(&mut doomed, b"before the reset").await;
        round_trip(&mut survivor, b"before the reset").await;

        let doomed_addr = doomed.local_addr().unwrap();
        set_linger_zero(&doomed);
        drop(doomed); // RST, not FIN

        let (peer, outcome) = done_rx.next().await.unwrap();
        assert_eq!(peer, doomed_addr);
        let err = outcome.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err:?}");

        // The other connection and the accept loop are unaffected.
        round_trip(&mut survivor, b"after the reset").await;
        let mut late = TcpStream::connect(addr).await.unwrap();
        round_trip(&mut late, b"a new connection after the reset").await;

        let survivor_addr = survivor.local_addr().unwrap();
        drop(survivor);
        let (peer, outcome) = done_rx.next().await.unwrap();
        assert_eq!(peer, survivor_addr);
        let bytes = b"before the resetafter the reset".len() as u64;
        assert_eq!(outcome.unwrap(), bytes);

        drop(late);
        server.cancel();
        assert!(server.await.unwrap_err().is_cancelled());
    })
    .await;
}

#[nursery::test(worker_threads = 2)]
async fn a_cancelled_accept_loop_stops_and_its_port_can_be_bound_again() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let drops = DropCounter::new();
    let accepted = Arc::new(AtomicUsize::new(0));

    let (waiting_tx, waiting_rx) = oneshot::channel();
    let (token, count) = (drops.token(), accepted.clone());
    let server = nursery::spawn(async move {
        let _token = token;
        let mut waiting = Some(waiting_tx);
        loop {
            let accept = listener.accept();
            let (stream, _) = match waiting.take() {
                Some(tx) => notify_when_pending(accept, tx).await,
                None => accept.await,
            }
            .unwrap();
            count.fetch_add(1, SeqCst);
            drop(stream);
        }
    });
    waiting_rx.await.unwrap();

    // While the loop lives, the port is taken.
    let err = TcpListener::bind(addr).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err:?}");

    server.cancel();
    assert!(server.await.unwrap_err().is_cancelled());
    assert_eq!(drops.count(), 1, "the accept loop's future was not dropped");
    assert_eq!(accepted.load(SeqCst), 0);

    let again = TcpListener::bind(addr).await.unwrap();
    assert_eq!(again.local_addr().unwrap(), addr);
    // And the new listener works.
    let client = TcpStream::connect(addr).await.unwrap();
    let (_, peer) = again.accept().await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
}

#[nursery::test(worker_threads = 2)]
async fn connecting_to_a_closed_port_fails_with_connection_refused() {
    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    }; // closed again: nothing listens there now
    let err = TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// UDP
// ---------------------------------------------------------------------------------------------

#[nursery::test(worker_threads = 2)]
async fn udp_send_to_reaches_a_receiver_blocked_in_recv_from_and_names_the_sender() {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());

    let (waiting_tx, waiting_rx) = oneshot::channel();
    let receiver = nursery::spawn(async move {
        let mut buf = [0u8; 64];
        let (n, from) = notify_when_pending(b.recv_from(&mut buf), waiting_tx)
            .await
            .unwrap();
        assert_eq!(&buf[..n], b"ping");
        assert_eq!(b.send_to(b"pong", from).await.unwrap(), 4);
        from
    });
    waiting_rx.await.unwrap();
    assert_eq!(a.send_to(b"ping", b_addr).await.unwrap(), 4);
    assert_eq!(receiver.await.unwrap(), a_addr);

    let mut buf = [0u8; 64];
    let (n, from) = a.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"pong"[..], b_addr));
}

#[nursery::test(worker_threads = 2)]
async fn connected_udp_sockets_exchange_datagrams_with_send_and_recv() {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    a.connect(b.local_addr().unwrap()).await.unwrap();
    b.connect(a.local_addr().unwrap()).await.unwrap();
    assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());

    let (waiting_tx, waiting_rx) = oneshot::channel();
    let echo = nursery::spawn(async move {
        let mut buf = [0u8; 64];
        let mut received = Vec::new();
        let n = notify_when_pending(b.recv(&mut buf), waiting_tx)
            .await
            .unwrap();
        received.push(buf[..n].to_vec());
        b.send(&buf[..n]).await.unwrap();
        for _ in 0..9 {
            let n = b.recv(&mut buf).await.unwrap();
            received.push(buf[..n].to_vec());
            b.send(&buf[..n]).await.unwrap();
        }
        received
    });
    waiting_rx.await.unwrap();
    let mut buf = [0u8; 64];
    for i in 0..10u8 {
        let datagram = vec![i; 1 + i as usize];
        assert_eq!(a.send(&datagram).await.unwrap(), datagram.len());
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &datagram[..], "datagram {i} came back changed");
    }
    let received = echo.await.unwrap();
    assert_eq!(received.len(), 10);
    assert!(received.iter().enumerate().all(|(i, d)| d.len() == i + 1));
}

// ---------------------------------------------------------------------------------------------
// Unix domain sockets
// ---------------------------------------------------------------------------------------------

#[nursery::test(worker_threads = 2)]
async fn a_unix_listener_in_a_temp_dir_echoes_for_several_concurrent_clients() {
    const CLIENTS: usize = 8;
    const LEN: usize = 32 * 1024;
    let dir = TempDir::new("unix-echo");
    let path = dir.path().join("echo.sock");
    let listener = UnixListener::bind(&path).unwrap();
    assert_eq!(
        listener.local_addr().unwrap().as_pathname(),
        Some(path.as_path())
    );

    nursery::scope(|s| {
        let path = path.clone();
        async move {
            let conns = s.clone();
            let server = s.spawn(async move {
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    conns.spawn(async move {
                        let (reader, mut writer) = stream.into_split();
                        futures::io::copy(reader, &mut writer).await.unwrap();
                        writer.close().await.unwrap();
                    });
                }
            });
            let clients: Vec<_> = (0..CLIENTS)
                .map(|id| {
                    let path = path.clone();
                    s.spawn(async move {
                        let stream = UnixStream::connect(&path).await.unwrap();
                        let (mut reader, mut writer) = stream.into_split();
                        let sent = pattern(id, LEN);
                        let to_send = sent.clone();
                        let write = nursery::spawn(async move {
                            writer.write_all(&to_send).await.unwrap();
                            writer.close().await.unwrap();
                        });
                        let mut got = Vec::new();
                        reader.read_to_end(&mut got).await.unwrap();
                        write.await.unwrap();
                        assert_same_bytes(&got, &sent, &format!("unix client {id}"));
                    })
                })
                .collect();
            for client in clients {
                client.await.unwrap();
            }
            server.cancel();
            assert!(server.await.unwrap_err().is_cancelled());
        }
    })
    .await;
}

#[nursery::test(worker_threads = 2)]
async fn a_unix_stream_pair_carries_data_both_ways_between_two_tasks() {
    let (a, b) = UnixStream::pair().unwrap();

    let (waiting_tx, waiting_rx) = oneshot::channel();
    let responder = nursery::spawn(async move {
        let mut b = b;
        let mut question = [0u8; 9];
        notify_when_pending(b.read_exact(&mut question), waiting_tx)
            .await
            .unwrap();
        assert_eq!(&question, b"question?");
        b.write_all(b"answer!").await.unwrap();
        b.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        b.read_to_end(&mut rest).await.unwrap();
        rest
    });
    waiting_rx.await.unwrap();
    let mut a = a;
    a.write_all(b"question?").await.unwrap();
    let mut answer = Vec::new();
    a.read_to_end(&mut answer).await.unwrap();
    assert_eq!(answer, b"answer!");
    a.write_all(b"thanks").await.unwrap();
    a.close().await.unwrap();
    assert_eq!(responder.await.unwrap(), b"thanks");
}

// ---------------------------------------------------------------------------------------------
// Peers on this machine
// ---------------------------------------------------------------------------------------------

/// Who ran first on a one-worker runtime after `writer` sent a byte to `reader`'s socket: the
/// task waiting to read it, or a task the writer had queued just before its write.
///
/// A write to a local peer wakes that peer's reader from inside the write, onto the writer's
/// worker: it runs next, ahead of the earlier task. Without that, the reader waits for the
/// worker's next look at the reactor and the earlier task runs first.
async fn first_to_run_after_a_local_write<S>(mut writer: S, mut reader: S) -> &'static str
where
    S: futures::io::AsyncRead + futures::io::AsyncWrite + Unpin + Send + 'static,
{
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (waiting_tx, waiting_rx) = oneshot::channel();
    let reading = nursery::spawn({
        let order = order.clone();
        async move {
            let mut byte = [0u8; 1];
            notify_when_pending(reader.read_exact(&mut byte), waiting_tx)
                .await
                .unwrap();
            order.lock().unwrap().push("reader");
        }
    });
    waiting_rx.await.unwrap();
    let writing = nursery::spawn({
        let order = order.clone();
        async move {
            let _earlier = nursery::spawn(async move {
                order.lock().unwrap().push("earlier task");
            });
            writer.write_all(b"x").await.unwrap();
        }
    });
    writing.await.unwrap();
    reading.await.unwrap();
    let order = order.lock().unwrap();
    assert_eq!(order.len(), 2);
    order[0]
}

#[nursery::test(worker_threads = 1)]
async fn a_write_to_a_unix_stream_runs_its_reader_next_on_the_writers_worker() {
    for round in 0..3 {
        let (a, b) = UnixStream::pair().unwrap();
        let first = first_to_run_after_a_local_write(a, b).await;
        assert_eq!(first, "reader", "round {round}");
    }
}

#[nursery::test(worker_threads = 1)]
async fn a_write_over_loopback_tcp_runs_its_reader_next_on_the_writers_worker() {
    // Loopback delivers inside `send`, unless the kernel defers its receive work to a
    // softirq thread, which it may under load: most rounds, not all, must see the reader first.
    let mut reader_first = 0;
    for round in 0..6 {
        let (client, server) = tcp_pair().await;
        // Both ends know their peer is local: the client from `connect`, the server from `accept`.
        let (writer, reader) = if round % 2 == 0 {
            (client, server)
        } else {
            (server, client)
        };
        if first_to_run_after_a_local_write(writer, reader).await == "reader" {
            reader_first += 1;
        }
    }
    assert!(
        reader_first >= 4,
        "the reader ran first in {reader_first} of 6 rounds"
    );
}

#[test]
fn a_runtime_built_not_to_wake_local_peers_leaves_the_reader_to_the_reactor() {
    let rt = nursery::Runtime::builder()
        .worker_threads(1)
        .wake_local_peers(false)
        .build()
        .unwrap();
    // The earlier task runs first unless a maintenance tick of the worker happens to poll the
    // reactor between the write and that task: most rounds, not all.
    let mut earlier_first = 0;
    for _ in 0..6 {
        let (a, b) = rt.block_on(async { UnixStream::pair().unwrap() });
        if rt.block_on(first_to_run_after_a_local_write(a, b)) == "earlier task" {
            earlier_first += 1;
        }
    }
    assert!(
        earlier_first >= 4,
        "the earlier task ran first in {earlier_first} of 6 rounds"
    );
}

/// What ran first on another worker while a writer that had just woken two tasks by message
/// and one reader by its write blocked its own: one of the tasks queued behind the reader ("queued task"), the reader
/// itself ("reader": the idle worker blocked in the reactor took the write's event before the
/// look did), or nothing within five seconds ("nothing").
async fn what_a_peer_ran_while_the_writer_blocked() -> &'static str {
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let (ran_tx, ran_rx) = std::sync::mpsc::channel();
    // Two tasks waiting for a message and one waiting to read b, all blocked.
    let mut messages = Vec::new();
    let mut waiting = Vec::new();
    for _ in 0..2 {
        let (message_tx, message_rx) = oneshot::channel::<()>();
        let (pending_tx, pending_rx) = oneshot::channel();
        let ran = ran_tx.clone();
        waiting.push(nursery::spawn(async move {
            notify_when_pending(message_rx, pending_tx).await.unwrap();
            let _ = ran.send("queued task");
        }));
        pending_rx.await.unwrap();
        messages.push(message_tx);
    }
    let (pending_tx, pending_rx) = oneshot::channel();
    let reader = nursery::spawn(async move {
        let mut byte = [0u8; 1];
        notify_when_pending(b.read_exact(&mut byte), pending_tx)
            .await
            .unwrap();
        let _ = ran_tx.send("reader");
    });
    pending_rx.await.unwrap();
    let writer = nursery::spawn(async move {
        // Long enough for the other worker, woken when this task was spawned, to find nothing
        // and park again. (Blocking: with a timer pending, a parked worker wakes to check it.)
        std::thread::sleep(Duration::from_millis(20));
        // Messages from a task: the woken tasks stay on this worker, no peer is woken.
        for message in messages {
            message.send(()).unwrap();
        }
        // The look after this write wakes the reader as I/O: with the two tasks queued
        // behind it, that is parallel work, and the parked worker is woken for it.
        a.write_all(b"x").await.unwrap();
        // Block this worker: only the other one can run the woken tasks now.
        ran_rx
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or("nothing")
    });
    let ran = writer.await.unwrap();
    reader.await.unwrap();
    for task in waiting {
        task.await.unwrap();
    }
    ran
}

#[test]
fn a_reader_that_a_write_wakes_is_io_work_and_a_backlog_behind_it_wakes_an_idle_worker() {
    let rt = nursery::Runtime::builder()
        .worker_threads(2)
        .stall_threshold(None)
        .build()
        .unwrap();
    // A round whose write event the idle worker took from the reactor itself proves nothing
    // (that worker runs the reader, then steals the rest): try again.
    for _ in 0..20 {
        match rt.block_on(what_a_peer_ran_while_the_writer_blocked()) {
            "queued task" => return,
            "reader" => continue,
            nothing => panic!("{nothing} ran while the writer blocked its worker"),
        }
    }
    panic!("in 20 rounds, the look never took the write's event");
}

#[nursery::test(worker_threads = 1)]
async fn a_foreign_waker_that_panics_when_a_write_wakes_it_does_not_fail_the_writer() {
    struct PanicOnWake;
    impl std::task::Wake for PanicOnWake {
        fn wake(self: Arc<Self>) {
            panic!("a foreign waker panics");
        }
    }
    let (mut a, mut b) = UnixStream::pair().unwrap();
    // b's read waits with a waker from outside the runtime, one that panics.
    let waker = std::task::Waker::from(Arc::new(PanicOnWake));
    let mut byte = [0u8; 1];
    let mut read = b.read_exact(&mut byte);
    let polled = Pin::new(&mut read).poll(&mut Context::from_waker(&waker));
    assert!(polled.is_pending());
    // The look after this write takes b's event and wakes that waker: its panic is reported,
    // and the write still succeeds.
    a.write_all(b"x").await.unwrap();
    drop(read);
    b.read_exact(&mut byte).await.unwrap();
    assert_eq!(&byte, b"x");
}

// ---------------------------------------------------------------------------------------------
// Shutdown
// ---------------------------------------------------------------------------------------------

/// Counts the first `Pending` of the wrapped operation in `waiting` and holds `token`.
async fn blocked<F: Future>(op: F, waiting: Arc<AtomicUsize>, token: DropToken) -> F::Output {
    let _token = token;
    signal_when_pending(op, move || {
        waiting.fetch_add(1, SeqCst);
    })
    .await
}

#[test]
fn dropping_the_runtime_while_tasks_wait_in_accept_and_read_returns_and_drops_their_futures() {
    let rt = support::runtime(2);
    let drops = DropCounter::new();
    let waiting = Arc::new(AtomicUsize::new(0));

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listener_addr = listener.local_addr().unwrap();
    let pair_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut peer = std::net::TcpStream::connect(pair_listener.local_addr().unwrap()).unwrap();
    let (served, _) = pair_listener.accept().unwrap();

    let (w, token) = (waiting.clone(), drops.token());
    let accepting = rt.handle().spawn(async move {
        let listener = TcpListener::from_std(listener).unwrap();
        blocked(listener.accept(), w, token).await.map(|_| ())
    });
    let (w, token) = (waiting.clone(), drops.token());
    let reading = rt.handle().spawn(async move {
        let mut stream = TcpStream::from_std(served).unwrap();
        let mut buf = [0u8; 16];
        blocked(stream.read(&mut buf), w, token).await.map(|_| ())
    });
    wait_for_count(&waiting, 2);
    assert!(!accepting.is_finished() && !reading.is_finished());

    let (dropped_tx, dropped_rx) = std::sync::mpsc::channel();
    let dropper = std::thread::spawn(move || {
        drop(rt);
        let _ = dropped_tx.send(());
    });
    // Only a hang detector: a correct runtime returns from drop in milliseconds.
    dropped_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("dropping the runtime hung on tasks blocked in accept and read");
    dropper.join().unwrap();
    assert_eq!(
        drops.count(),
        2,
        "a blocked task's future survived the runtime"
    );

    // Their sockets were closed with their futures: the reader's peer sees EOF, and nothing
    // listens on the accepting task's port any more.
    use std::io::Read;
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(peer.read(&mut [0u8; 16]).unwrap(), 0);
    let err = std::net::TcpStream::connect(listener_addr).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err:?}");
    assert!(accepting.is_finished() && reading.is_finished());
}
