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
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::StreamExt;
use nursery::net::{TcpListener, TcpStream};
use nursery::time::timeout;
use support::net::*;
use support::{wait_for_count, DropCounter, DropToken};

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
                    let (reader, writer) = stream.into_split();
                    send_and_read_echo(reader, writer, pattern(id, LEN), &format!("client {id}"))
                        .await;
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
