//! TCP through the reactor: echo under load, half-close, cancelled reads, resets.

mod support;

use std::io::{self, Write};
use std::net::Shutdown;
use std::pin::pin;
use std::task::Poll;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::task::SpawnExt;
use futures::StreamExt;
use nursery_reactor::net::{TcpListener, TcpStream};
use support::{poll_once, tcp_pair, Driver, Flag};

const CLIENTS: usize = 50;
const BYTES_PER_CLIENT: usize = 100 * 1024;

fn pattern(client: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + client * 7) % 251) as u8)
        .collect()
}

#[test]
fn fifty_concurrent_clients_each_get_their_100_kb_echoed_byte_for_byte() {
    let driver = Driver::start();
    let pool = driver.pool(2);
    let listener = driver.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();

    let server = pool
        .spawn_with_handle({
            let pool = pool.clone();
            async move {
                let mut echoes = Vec::new();
                for _ in 0..CLIENTS {
                    let (stream, _) = listener.accept().await?;
                    echoes.push(
                        pool.spawn_with_handle(async move {
                            // Shared-reference reads and writes on one stream.
                            let copied = futures::io::copy(&stream, &mut &stream).await?;
                            (&stream).close().await?;
                            Ok::<u64, io::Error>(copied)
                        })
                        .expect("spawn echo"),
                    );
                }
                let mut total = 0;
                for echo in echoes {
                    total += echo.await?;
                }
                Ok::<u64, io::Error>(total)
            }
        })
        .unwrap();

    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            pool.spawn_with_handle(async move {
                let stream = TcpStream::connect(addr).await?;
                let (mut reader, mut writer) = stream.into_split();
                let sent = pattern(client, BYTES_PER_CLIENT);
                let send = async {
                    writer.write_all(&sent).await?;
                    writer.close().await
                };
                let mut received = Vec::with_capacity(BYTES_PER_CLIENT);
                let (sent_result, received_result) =
                    futures::join!(send, reader.read_to_end(&mut received));
                sent_result?;
                received_result?;
                Ok::<bool, io::Error>(received == sent)
            })
            .unwrap()
        })
        .collect();

    let results = driver.block_on(futures::future::join_all(clients));
    for (client, result) in results.into_iter().enumerate() {
        assert!(result.unwrap(), "client {client} got back different bytes");
    }
    let total = driver.block_on(server).unwrap();
    assert_eq!(total, (CLIENTS * BYTES_PER_CLIENT) as u64);
}

#[test]
fn closing_the_write_side_gives_the_peer_eof_while_the_other_direction_still_works() {
    let driver = Driver::start();
    driver.block_on(async {
        let (mut server, mut client) = tcp_pair().await.unwrap();
        client.write_all(b"ping").await.unwrap();
        client.close().await.unwrap();

        let mut request = Vec::new();
        server.read_to_end(&mut request).await.unwrap();
        assert_eq!(request, b"ping");
        assert_eq!(server.read(&mut [0; 8]).await.unwrap(), 0, "EOF stays EOF");

        server.write_all(b"pong").await.unwrap();
        server.close().await.unwrap();
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, b"pong");
    });
}

#[test]
fn a_read_future_dropped_after_its_wake_loses_no_data_for_the_next_reader() {
    let driver = Driver::start();
    let (mut server, mut client) = driver.block_on(tcp_pair()).unwrap();
    let mut buf = [0; 16];
    let flag = Flag::new();
    {
        let mut read = pin!(server.read(&mut buf));
        assert!(poll_once(read.as_mut(), &flag.waker()).is_pending());
        driver.block_on(client.write_all(b"hello")).unwrap();
        // The reactor delivers the readable event to this future's waker...
        flag.wait_for(1);
        // ...and the future is dropped without ever being polled again.
    }
    let n = driver.block_on(server.read(&mut buf)).unwrap();
    assert_eq!(&buf[..n], b"hello");
}

#[test]
fn a_read_future_dropped_before_any_data_leaves_the_stream_readable_later() {
    let driver = Driver::start();
    let (mut server, mut client) = driver.block_on(tcp_pair()).unwrap();
    let mut buf = [0; 16];
    {
        let mut read = pin!(server.read(&mut buf));
        assert!(poll_once(read.as_mut(), &Flag::new().waker()).is_pending());
    }
    driver.block_on(client.write_all(b"later")).unwrap();
    let n = driver.block_on(server.read(&mut buf)).unwrap();
    assert_eq!(&buf[..n], b"later");
}

/// Makes closing `socket` send a RST instead of a FIN.
fn set_linger_zero(socket: &impl std::os::fd::AsFd) {
    socket2::SockRef::from(socket)
        .set_linger(Some(std::time::Duration::ZERO))
        .expect("setsockopt(SO_LINGER)");
}

#[test]
fn a_connection_reset_by_the_peer_wakes_the_reader_with_an_error_and_fails_writes() {
    let driver = Driver::start();
    let (mut server, client) = driver.block_on(tcp_pair()).unwrap();
    let mut buf = [0; 16];
    let flag = Flag::new();
    {
        let mut read = pin!(server.read(&mut buf));
        assert!(poll_once(read.as_mut(), &flag.waker()).is_pending());

        set_linger_zero(&client);
        drop(client);
        flag.wait_for(1);
        match poll_once(read.as_mut(), &flag.waker()) {
            Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset),
            other => panic!("expected ConnectionReset from read, got {other:?}"),
        }
    }

    let err = driver
        .block_on(server.write_all(b"into the void"))
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ),
        "unexpected write error {err:?}"
    );
}

#[test]
fn a_reset_while_writing_surfaces_as_an_error_from_write() {
    let driver = Driver::start();
    driver.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        set_linger_zero(&peer);
        drop(peer);
        // Keep writing until the RST is noticed; it must come out as an error, not a hang.
        let chunk = vec![7u8; 64 * 1024];
        let err = loop {
            if let Err(e) = server.write_all(&chunk).await {
                break e;
            }
        };
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ),
            "unexpected write error {err:?}"
        );
    });
}

#[test]
fn connecting_to_a_port_nobody_listens_on_fails_with_connection_refused() {
    let driver = Driver::start();
    let addr = {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap()
    };
    let err = driver.block_on(TcpStream::connect(addr)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}

#[test]
fn a_connected_stream_reports_matching_addresses_and_nodelay() {
    let driver = Driver::start();
    let (server, client) = driver.block_on(tcp_pair()).unwrap();
    assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
    assert_eq!(client.peer_addr().unwrap(), server.local_addr().unwrap());
    client.set_nodelay(true).unwrap();
    assert!(client.nodelay().unwrap());
    client.set_nodelay(false).unwrap();
    assert!(!client.nodelay().unwrap());
}

#[test]
fn split_halves_work_across_threads_and_reunite_only_with_their_own_pair() {
    let driver = Driver::start();
    let pool = driver.pool(2);
    let (server, client) = driver.block_on(tcp_pair()).unwrap();
    let (mut read, mut write) = client.into_split();
    let (other_read, other_write) = server.into_split();

    let writer = pool
        .spawn_with_handle(async move {
            write.write_all(b"split").await.unwrap();
            write
        })
        .unwrap();
    let mut other_read = other_read;
    let mut other_write = other_write;
    let echoed = driver.block_on(async {
        let mut buf = [0; 5];
        other_read.read_exact(&mut buf).await.unwrap();
        other_write.write_all(&buf).await.unwrap();
        read.read_exact(&mut buf).await.unwrap();
        buf
    });
    assert_eq!(&echoed, b"split");
    let write = driver.block_on(writer);

    let mismatched = read.reunite(other_write).unwrap_err();
    let nursery_reactor::net::tcp::ReuniteError(read, other_write) = mismatched;
    let stream = read.reunite(write).expect("halves of one stream reunite");
    let other = other_read
        .reunite(other_write)
        .expect("halves of one stream reunite");
    // The reunited streams are still connected in both directions.
    driver.block_on(async {
        let (mut stream, mut other) = (stream, other);
        stream.write_all(b"again").await.unwrap();
        let mut buf = [0; 5];
        other.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"again");
    });
}

#[test]
fn dropping_the_write_half_gives_the_peer_eof() {
    let driver = Driver::start();
    driver.block_on(async {
        let (mut server, client) = tcp_pair().await.unwrap();
        let (_read, write) = client.into_split();
        drop(write);
        let mut rest = Vec::new();
        assert_eq!(server.read_to_end(&mut rest).await.unwrap(), 0);
    });
}

#[test]
fn incoming_yields_every_connection_in_turn() {
    let driver = Driver::start();
    driver.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut peers = Vec::new();
        for _ in 0..3 {
            let mut peer = std::net::TcpStream::connect(addr).unwrap();
            peer.write_all(&[peers.len() as u8]).unwrap();
            peers.push(peer);
        }
        let mut incoming = listener.incoming();
        let mut seen = Vec::new();
        for _ in 0..3 {
            let mut stream = incoming.next().await.unwrap().unwrap();
            let mut byte = [0];
            stream.read_exact(&mut byte).await.unwrap();
            seen.push(byte[0]);
        }
        seen.sort();
        assert_eq!(seen, [0, 1, 2]);
    });
}

#[test]
fn a_std_stream_converted_with_from_std_works_non_blocking() {
    let driver = Driver::start();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let std_client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut std_server, _) = listener.accept().unwrap();
    driver.block_on(async {
        let mut client = TcpStream::from_std(std_client).unwrap();
        let mut buf = [0; 3];
        let read = client.read_exact(&mut buf);
        std_server.write_all(b"std").unwrap();
        std_server.shutdown(Shutdown::Write).unwrap();
        read.await.unwrap();
        assert_eq!(&buf, b"std");
    });
}
