//! UDP and Unix-domain sockets on the nursery runtime: datagrams reach a receiver blocked in
//! `recv_from` and name their sender, connected UDP sockets exchange with `send`/`recv`, a Unix
//! listener serves concurrent clients and a Unix stream pair carries data both ways. (TCP and
//! the shared helpers' rationale: `tests/net.rs`.)
mod support;

use std::net::Shutdown;

use futures::channel::oneshot;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use nursery::net::{UdpSocket, UnixListener, UnixStream};
use support::net::*;

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
                        let (reader, writer) = stream.into_split();
                        echo_halves(reader, writer).await.unwrap();
                    });
                }
            });
            let clients: Vec<_> = (0..CLIENTS)
                .map(|id| {
                    let path = path.clone();
                    s.spawn(async move {
                        let stream = UnixStream::connect(&path).await.unwrap();
                        let (reader, writer) = stream.into_split();
                        let what = format!("unix client {id}");
                        send_and_read_echo(reader, writer, pattern(id, LEN), &what).await;
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
