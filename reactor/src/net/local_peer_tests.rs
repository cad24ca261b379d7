//! The look after a write (`local_peer.rs`) runs for peers that are our own sockets only, finds
//! the peer's reader or counts a miss, and never runs on a reactor configured without it.
//!
//! Streams are driven by hand here: each test polls with its own wakers and turns the reactor
//! itself, so a wake that happens without a turn can only come from the look.

use std::future::Future;
use std::io::{Read, Write};
use std::pin::{pin, Pin};
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};

use crate::config::Config;
use crate::local_peer::LocalPeer;
use crate::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use crate::reactor::Reactor;
use crate::test_waker::counting_waker;

/// Set in a child process started by a test here: what the child connects to.
const CHILD_ENV: &str = "NURSERY_LOCAL_PEER_TEST_CHILD";
/// Request/response rounds between the child and this process.
const ROUNDS: usize = 40;

/// A reactor that looks after writes to local peers (not the default).
fn looking_reactor() -> Reactor {
    Reactor::with_config(Config::new().wake_local_peers(true)).unwrap()
}

/// Polls `fut` to completion, turning `reactor` between polls (at most ten seconds).
fn drive<F: Future>(reactor: &mut Reactor, fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Poll::Ready(output) = fut.as_mut().poll(&mut cx) {
            return output;
        }
        assert!(Instant::now() < deadline, "timed out");
        reactor.turn(Some(Duration::from_millis(10))).unwrap();
    }
}

fn looks(peer: Option<&LocalPeer>) -> usize {
    peer.map_or(0, LocalPeer::looks)
}

/// Writes `bytes` to `stream` once, with a waker nobody waits on (the socket has room).
fn write_now<S>(stream: &S, bytes: &[u8])
where
    for<'a> &'a S: AsyncWrite,
{
    let mut cx = Context::from_waker(Waker::noop());
    let mut stream = stream;
    match Pin::new(&mut stream).poll_write(&mut cx, bytes) {
        Poll::Ready(Ok(n)) => assert_eq!(n, bytes.len()),
        other => panic!("the write did not complete at once: {other:?}"),
    }
}

/// Reads from `stream` with `waker` until it would block: afterwards its reader waits.
fn read_until_pending<S>(stream: &S, waker: &Waker)
where
    for<'a> &'a S: AsyncRead,
{
    let mut cx = Context::from_waker(waker);
    let mut stream = stream;
    let mut buf = [0u8; 64];
    loop {
        match Pin::new(&mut stream).poll_read(&mut cx, &mut buf) {
            Poll::Ready(Ok(n)) if n > 0 => continue,
            Poll::Pending => return,
            other => panic!("the read failed: {other:?}"),
        }
    }
}

/// Whether a write to `writer` wakes the reader waiting on `reader` without a turn.
fn a_write_wakes_the_waiting_reader<S>(writer: &S, reader: &S) -> bool
where
    for<'a> &'a S: AsyncRead + AsyncWrite,
{
    let (wakes, waker) = counting_waker();
    read_until_pending(reader, &waker);
    write_now(writer, b"x");
    wakes.0.load(Ordering::SeqCst) > 0
}

/// A client connected with `connect` and the stream the listener accepted for it.
fn connected_tcp_pair(reactor: &mut Reactor) -> (TcpStream, TcpStream) {
    let listener = TcpListener::from_std(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .expect("register");
    let addr = listener.local_addr().unwrap();
    let client = drive(reactor, TcpStream::connect(addr)).expect("connect");
    let (server, _) = drive(reactor, listener.accept()).expect("accept");
    (client, server)
}

/// A path for a Unix listener of the test `tag` (short: `sun_path` holds 108 bytes).
fn socket_path(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("nursery-lp-{}-{tag}.sock", std::process::id()))
}

/// The name `cargo test` gives the test function `name` of this module.
fn test_name(name: &str) -> String {
    let module = module_path!().split_once("::").map_or("", |(_, path)| path);
    format!("{module}::{name}")
}

/// Starts this test binary again, running only test `name`, as a child told `what` by
/// [`CHILD_ENV`].
fn spawn_child(name: &str, what: String) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            &test_name(name),
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, what)
        .stdout(std::process::Stdio::null()) // the harness's lines; a panic goes to stderr
        .spawn()
        .expect("start the child process")
}

/// The child's side: a blocking client that sends a request byte and reads the one-byte
/// response, [`ROUNDS`] times (what a load generator does).
fn be_the_child<S: Read + Write>(mut stream: S) {
    let mut byte = [0u8; 1];
    for _ in 0..ROUNDS {
        stream.write_all(b"?").unwrap();
        stream.read_exact(&mut byte).unwrap();
        assert_eq!(&byte, b"!");
    }
}

/// Our side: answers each request of the child with a one-byte write.
fn serve_the_child<S>(reactor: &mut Reactor, stream: &S)
where
    for<'a> &'a S: AsyncRead + AsyncWrite,
{
    for _ in 0..ROUNDS {
        let mut byte = [0u8; 1];
        let mut reader = stream;
        drive(reactor, futures_read_exact(&mut reader, &mut byte)).unwrap();
        assert_eq!(&byte, b"?");
        write_now(stream, b"!");
    }
}

/// `read_exact` without the `futures` crate's extension trait.
async fn futures_read_exact<R: AsyncRead + Unpin>(
    reader: &mut R,
    mut buf: &mut [u8],
) -> std::io::Result<()> {
    while !buf.is_empty() {
        let n = std::future::poll_fn(|cx| Pin::new(&mut *reader).poll_read(cx, buf)).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
    }
    Ok(())
}

#[test]
fn a_tcp_client_and_the_stream_our_listener_accepted_for_it_look_for_each_other() {
    let mut reactor = looking_reactor();
    let _entered = reactor.handle().enter();
    let (client, server) = connected_tcp_pair(&mut reactor);
    assert!(client.local_peer().is_some_and(LocalPeer::is_ours));
    assert!(server.local_peer().is_some_and(LocalPeer::is_ours));
    assert!(a_write_wakes_the_waiting_reader(&client, &server));
    assert!(a_write_wakes_the_waiting_reader(&server, &client));
    assert_eq!(looks(client.local_peer()), 1);
    assert_eq!(looks(server.local_peer()), 1);
}

#[test]
fn tcp_streams_wrapped_in_either_order_find_each_other() {
    let reactor = looking_reactor();
    let _entered = reactor.handle().enter();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let std_client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (std_server, _) = listener.accept().unwrap();
    // The server's end first: its peer is not one of our streams yet.
    let server = TcpStream::from_std(std_server).unwrap();
    assert!(!server.local_peer().is_some_and(LocalPeer::is_ours));
    let client = TcpStream::from_std(std_client).unwrap();
    assert!(client.local_peer().is_some_and(LocalPeer::is_ours));
    assert!(server.local_peer().is_some_and(LocalPeer::is_ours));
    assert!(a_write_wakes_the_waiting_reader(&server, &client));
}

#[test]
fn a_tcp_stream_whose_peer_is_a_blocking_socket_of_this_process_does_not_look() {
    let reactor = looking_reactor();
    let _entered = reactor.handle().enter();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client =
        TcpStream::from_std(std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap())
            .unwrap();
    let (mut blocking_peer, _) = listener.accept().unwrap();
    for _ in 0..ROUNDS {
        write_now(&client, b"x");
    }
    let mut received = [0u8; ROUNDS];
    blocking_peer.read_exact(&mut received).unwrap();
    assert_eq!(looks(client.local_peer()), 0, "a write looked");
    assert!(!client.local_peer().is_some_and(LocalPeer::is_ours));
}

#[test]
fn a_tcp_peer_in_another_process_is_never_looked_for() {
    if let Ok(addr) = std::env::var(CHILD_ENV) {
        return be_the_child(std::net::TcpStream::connect(addr).unwrap());
    }
    let mut reactor = looking_reactor();
    let _entered = reactor.handle().enter();
    let listener = TcpListener::from_std(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .expect("register");
    let addr = listener.local_addr().unwrap();
    let mut child = spawn_child(
        "a_tcp_peer_in_another_process_is_never_looked_for",
        addr.to_string(),
    );
    let (stream, peer) = drive(&mut reactor, listener.accept()).expect("accept");
    assert!(peer.ip().is_loopback(), "the child is on this machine");
    serve_the_child(&mut reactor, &stream);
    assert!(child.wait().unwrap().success(), "the child failed");
    assert_eq!(looks(stream.local_peer()), 0, "a write looked");
    assert!(!stream.local_peer().is_some_and(LocalPeer::is_ours));
}

#[test]
fn a_unix_peer_in_another_process_is_never_looked_for() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        return be_the_child(std::os::unix::net::UnixStream::connect(path).unwrap());
    }
    let mut reactor = looking_reactor();
    let _entered = reactor.handle().enter();
    let path = socket_path("child");
    let listener = UnixListener::bind(&path).unwrap();
    let mut child = spawn_child(
        "a_unix_peer_in_another_process_is_never_looked_for",
        path.to_str().unwrap().to_owned(),
    );
    let accepted = drive(&mut reactor, listener.accept());
    let _ = std::fs::remove_file(&path);
    let (stream, _) = accepted.expect("accept");
    serve_the_child(&mut reactor, &stream);
    assert!(child.wait().unwrap().success(), "the child failed");
    assert_eq!(looks(stream.local_peer()), 0, "a write looked");
    assert!(stream.local_peer().is_none(), "SO_PEERCRED names the child");
}

#[test]
fn a_unix_stream_connected_to_our_own_listener_looks() {
    let mut reactor = looking_reactor();
    let _entered = reactor.handle().enter();
    let path = socket_path("own");
    let listener = UnixListener::bind(&path).unwrap();
    let client = drive(&mut reactor, UnixStream::connect(&path));
    let accepted = drive(&mut reactor, listener.accept());
    let _ = std::fs::remove_file(&path);
    let (client, (server, _)) = (client.unwrap(), accepted.unwrap());
    assert!(a_write_wakes_the_waiting_reader(&client, &server));
    assert!(a_write_wakes_the_waiting_reader(&server, &client));
    assert_eq!(looks(client.local_peer()), 1);
}

#[test]
fn a_look_that_wakes_another_sockets_reader_is_a_miss() {
    let mut reactor = looking_reactor();
    let _entered = reactor.handle().enter();
    // `a` writes to `b`, whose reader never waits; `c`'s reader always does, and `d` makes
    // `c` readable just before each write, so each look finds `c`'s event first.
    let (a, _b) = UnixStream::pair().unwrap();
    let (std_c, mut d) = std::os::unix::net::UnixStream::pair().unwrap();
    let c = UnixStream::from_std(std_c).unwrap();
    reactor.turn(Some(Duration::ZERO)).unwrap(); // the new sockets' first events
    let (c_wakes, c_waker) = counting_waker();
    for _ in 0..8 + 16 {
        read_until_pending(&c, &c_waker);
        d.write_all(b"x").unwrap();
        write_now(&a, b"y");
    }
    assert!(c_wakes.0.load(Ordering::SeqCst) > 0, "the looks woke c");
    // Eight misses, then one look per sixteen writes: the one at write 23.
    assert_eq!(looks(a.local_peer()), 9);
}

#[test]
fn a_default_reactor_and_one_configured_not_to_wake_local_peers_never_look() {
    for config in [Config::new(), Config::new().wake_local_peers(false)] {
        let mut reactor = Reactor::with_config(config).unwrap();
        let _entered = reactor.handle().enter();
        let (a, b) = UnixStream::pair().unwrap();
        assert!(!a_write_wakes_the_waiting_reader(&a, &b));
        let (client, server) = connected_tcp_pair(&mut reactor);
        assert!(!a_write_wakes_the_waiting_reader(&client, &server));
        assert!(!a_write_wakes_the_waiting_reader(&server, &client));
        assert!(a.local_peer().is_none() && client.local_peer().is_none());
    }
}
