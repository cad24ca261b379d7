//! Socket options and readiness waits on the real runtime: `TcpSocket` (options set before
//! bind/connect/listen), `readable`/`writable` on the socket types, `UnixDatagram`, the UDP
//! options, and `peek`/`peek_from`.

use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use nursery::net::{TcpListener, TcpSocket, TcpStream, UdpSocket, UnixDatagram, UnixStream};
use nursery::time::timeout;

/// Long enough for any readiness that is there to be seen; short enough to keep the tests quick.
const QUIET: Duration = Duration::from_millis(50);
/// A bound on waits that must end, so that a regression fails instead of hanging.
const BOUND: Duration = Duration::from_secs(10);

fn runtime() -> nursery::Runtime {
    nursery::Runtime::builder()
        .worker_threads(2)
        .build()
        .expect("runtime")
}

fn block_on<F: std::future::Future<Output = io::Result<()>>>(body: F) {
    runtime().block_on(body).expect("test body");
}

fn localhost() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// Options set on a `TcpSocket` before connect and listen hold on the stream and listener it
/// becomes, and the connected pair talks.
#[test]
fn tcp_socket_options_carry_over_to_the_stream_and_listener() {
    block_on(async {
        let server = TcpSocket::new_v4()?;
        server.set_reuseaddr(true)?;
        server.set_recv_buffer_size(128 * 1024)?;
        server.bind(localhost())?;
        assert!(server.reuseaddr()?);
        assert!(server.recv_buffer_size()? >= 128 * 1024);
        let listener = server.listen(64)?;
        let addr = listener.local_addr()?;

        let client = TcpSocket::new_v4()?;
        client.set_nodelay(true)?;
        client.set_keepalive(true)?;
        client.set_send_buffer_size(96 * 1024)?;
        assert!(client.keepalive()?);
        assert!(client.send_buffer_size()? >= 96 * 1024);
        let mut stream = timeout(BOUND, client.connect(addr)).await??;
        assert!(stream.nodelay()?, "TCP_NODELAY set before connect is kept");
        assert_eq!(stream.peer_addr()?, addr);

        let (mut peer, from) = timeout(BOUND, listener.accept()).await??;
        assert_eq!(from, stream.local_addr()?);
        stream.write_all(b"ping").await?;
        let mut buf = [0; 4];
        timeout(BOUND, peer.read_exact(&mut buf)).await??;
        assert_eq!(&buf, b"ping");
        Ok(())
    });
}

/// Binding to an address a listener holds is the OS's `AddrInUse`; with `SO_REUSEPORT` on both
/// sockets, two listeners share the port.
#[test]
fn tcp_socket_bind_in_use_is_addr_in_use_unless_reuseport() {
    block_on(async {
        let listener = TcpListener::bind(localhost()).await?;
        let taken = listener.local_addr()?;
        let socket = TcpSocket::new_v4()?;
        let error = socket.bind(taken).expect_err("the address is taken");
        assert_eq!(error.kind(), ErrorKind::AddrInUse, "{error}");
        socket.set_reuseaddr(true)?; // not enough against a listener
        let error = socket.bind(taken).expect_err("still taken");
        assert_eq!(error.kind(), ErrorKind::AddrInUse, "{error}");

        let first = TcpSocket::new_v4()?;
        first.set_reuseport(true)?;
        first.bind(localhost())?;
        let shared = first.local_addr()?;
        let second = TcpSocket::new_v4()?;
        second.set_reuseport(true)?;
        assert!(second.reuseport()?);
        second.bind(shared)?;
        let (_a, _b) = (first.listen(8)?, second.listen(8)?);
        Ok(())
    });
}

/// A port below 1024 needs the privilege (skipped when running as root, who has it), and an
/// address of the other family is refused.
#[test]
fn tcp_socket_bind_errors_are_the_os_errors() {
    block_on(async {
        let socket = TcpSocket::new_v4()?;
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            let error = socket
                .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 1)))
                .expect_err("port 1 is privileged");
            assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
        }
        let v6: SocketAddr = "[::1]:0".parse().expect("address");
        assert!(
            socket.bind(v6).is_err(),
            "an IPv6 address on an IPv4 socket"
        );
        Ok(())
    });
}

/// A connect to a port nobody listens on fails with `ConnectionRefused` from the reactor-driven
/// wait (not a hang, not a panic).
#[test]
fn tcp_socket_connect_refused() {
    block_on(async {
        let closed = TcpListener::bind(localhost()).await?.local_addr()?; // dropped: closed
        let socket = TcpSocket::new_v4()?;
        let error = timeout(BOUND, socket.connect(closed))
            .await?
            .expect_err("nobody listens");
        assert_eq!(error.kind(), ErrorKind::ConnectionRefused, "{error}");
        Ok(())
    });
}

/// Reads until a read would block, so that the readiness is cleared and `readable` must wait.
async fn drain(stream: &mut TcpStream) -> io::Result<()> {
    let mut buf = [0; 1024];
    while let Ok(read) = timeout(QUIET, stream.read(&mut buf)).await {
        read?;
    }
    Ok(())
}

/// `TcpStream::readable` blocks while nothing is there and wakes every waiting task when bytes
/// come; the bytes are then read.
#[test]
fn tcp_readable_waits_for_data_and_wakes_every_waiter() {
    block_on(async {
        let listener = TcpListener::bind(localhost()).await?;
        let mut a = TcpStream::connect(listener.local_addr()?).await?;
        let (mut b, _) = listener.accept().await?;
        drain(&mut b).await?;
        assert!(
            timeout(QUIET, b.readable()).await.is_err(),
            "readable with nothing sent"
        );
        let b = Arc::new(b);
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                nursery::spawn(async move { timeout(BOUND, b.readable()).await })
            })
            .collect();
        a.write_all(b"hi").await?;
        for waiter in waiters {
            waiter.await.expect("waiting task")??;
        }
        let mut buf = [0; 2];
        (&*b).read_exact(&mut buf).await?;
        assert_eq!(&buf, b"hi");
        a.writable().await?; // an idle connection has room to send
        Ok(())
    });
}

/// `UnixStream::readable` blocks until the peer writes; `writable` is ready on an idle pair.
#[test]
fn unix_stream_readable_and_writable() {
    block_on(async {
        let (mut a, mut b) = UnixStream::pair()?;
        let mut buf = [0; 8];
        assert!(timeout(QUIET, b.read(&mut buf)).await.is_err()); // clears the readiness
        assert!(timeout(QUIET, b.readable()).await.is_err());
        a.writable().await?;
        a.write_all(b"x").await?;
        timeout(BOUND, b.readable()).await??;
        assert_eq!(b.read(&mut buf).await?, 1);
        Ok(())
    });
}

/// `UnixDatagram`: bound and unbound sockets, `send_to`/`recv_from`, `connect`/`send`/`recv`,
/// a pair, and `readable` blocking until a datagram comes.
#[test]
fn unix_datagram_send_recv_and_readable() {
    block_on(async {
        let dir = std::env::temp_dir().join(format!("nursery-dgram-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let server_path = dir.join("server.sock");
        let client_path = dir.join("client.sock");
        let server = UnixDatagram::bind(&server_path)?;
        let client = UnixDatagram::bind(&client_path)?;
        let error = UnixDatagram::bind(&server_path).expect_err("the path exists");
        assert_eq!(error.kind(), ErrorKind::AddrInUse, "{error}");

        client.send_to(b"ping", &server_path).await?;
        let mut buf = [0; 16];
        let (n, from) = timeout(BOUND, server.recv_from(&mut buf)).await??;
        assert_eq!(&buf[..n], b"ping");
        assert_eq!(from.as_pathname(), Some(client_path.as_path()));
        server.send_to(b"pong", &client_path).await?;
        assert_eq!(timeout(BOUND, client.recv(&mut buf)).await??, 4);

        let unbound = UnixDatagram::unbound()?;
        assert_eq!(
            unbound.send(b"x").await.expect_err("not connected").kind(),
            ErrorKind::NotConnected
        );
        unbound.connect(&server_path)?;
        unbound.send(b"via connect").await?;
        let n = timeout(BOUND, server.recv(&mut buf)).await??;
        assert_eq!(&buf[..n], b"via connect");

        let (a, b) = UnixDatagram::pair()?;
        let b = Arc::new(b);
        assert!(timeout(QUIET, b.recv(&mut buf)).await.is_err()); // clears the readiness
        assert!(timeout(QUIET, b.readable()).await.is_err());
        let waiter = nursery::spawn({
            let b = b.clone();
            async move { timeout(BOUND, b.readable()).await }
        });
        a.send(b"one").await?;
        waiter.await.expect("waiting task")??;
        assert_eq!(b.recv(&mut buf).await?, 3);
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    });
}

/// The UDP options read back what was set; multicast joins refuse a non-multicast group.
#[test]
fn udp_options_round_trip() {
    block_on(async {
        let socket = UdpSocket::bind(localhost()).await?;
        assert!(!socket.broadcast()?);
        socket.set_broadcast(true)?;
        assert!(socket.broadcast()?);
        socket.set_ttl(17)?;
        assert_eq!(socket.ttl()?, 17);
        socket.set_multicast_loop_v4(false)?;
        assert!(!socket.multicast_loop_v4()?);
        socket.set_multicast_ttl_v4(3)?;
        assert_eq!(socket.multicast_ttl_v4()?, 3);

        let group = Ipv4Addr::new(239, 255, 77, 1);
        // A host without a multicast route (a bare container) may refuse the join itself.
        if socket.join_multicast_v4(group, Ipv4Addr::LOCALHOST).is_ok() {
            socket.leave_multicast_v4(group, Ipv4Addr::LOCALHOST)?;
        }
        let not_multicast = Ipv4Addr::new(10, 1, 2, 3);
        assert!(socket
            .join_multicast_v4(not_multicast, Ipv4Addr::UNSPECIFIED)
            .is_err());
        let v6_group = "ff02::1:77".parse().expect("address");
        assert!(
            socket.join_multicast_v6(&v6_group, 0).is_err(),
            "IPv4 socket"
        );
        Ok(())
    });
}

/// `peek_from` and `peek` leave the data for the next receive or read; `UdpSocket::readable`
/// blocks until a datagram comes.
#[test]
fn peek_leaves_the_data_and_udp_readable_waits() {
    block_on(async {
        let receiver = Arc::new(UdpSocket::bind(localhost()).await?);
        let sender = UdpSocket::bind(localhost()).await?;
        let mut buf = [0; 8];
        assert!(timeout(QUIET, receiver.recv_from(&mut buf)).await.is_err());
        assert!(timeout(QUIET, receiver.readable()).await.is_err());
        let waiter = nursery::spawn({
            let receiver = receiver.clone();
            async move { timeout(BOUND, receiver.readable()).await }
        });
        sender.send_to(b"dgram", receiver.local_addr()?).await?;
        waiter.await.expect("waiting task")??;
        let (n, from) = receiver.peek_from(&mut buf).await?;
        assert_eq!((&buf[..n], from), (&b"dgram"[..], sender.local_addr()?));
        let (n, _) = receiver.recv_from(&mut buf).await?;
        assert_eq!(&buf[..n], b"dgram", "peek_from left the datagram");
        sender.writable().await?;

        let listener = TcpListener::bind(localhost()).await?;
        let mut a = TcpStream::connect(listener.local_addr()?).await?;
        let (mut b, _) = listener.accept().await?;
        a.write_all(b"abc").await?;
        let mut head = [0; 3];
        let mut peeked = 0;
        while peeked < 3 {
            peeked = timeout(BOUND, b.peek(&mut head)).await??;
        }
        assert_eq!(&head, b"abc");
        let mut all = [0; 3];
        b.read_exact(&mut all).await?;
        assert_eq!(&all, b"abc", "peek left the bytes");
        Ok(())
    });
}
