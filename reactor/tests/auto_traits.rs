//! What may cross threads: the runtime moves the reactor into a lock shared by
//! its workers, and tasks holding I/O types (and their futures) run on any worker.

use std::future::Future;

use nursery_reactor::net::{
    tcp, unix, TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream,
};
use nursery_reactor::{Reactor, ReactorHandle, Registration};

fn send<T: Send>() {}
fn send_sync<T: Send + Sync>() {}
fn send_future<F: Future + Send>(_: F) {}

#[test]
fn the_reactor_is_send_and_everything_else_is_send_and_sync() {
    send::<Reactor>();
    send_sync::<ReactorHandle>();
    send_sync::<Registration>();
    send_sync::<TcpListener>();
    send_sync::<TcpStream>();
    send_sync::<UdpSocket>();
    send_sync::<UnixListener>();
    send_sync::<UnixStream>();
    send_sync::<tcp::OwnedReadHalf>();
    send_sync::<tcp::OwnedWriteHalf>();
    send_sync::<unix::OwnedReadHalf>();
    send_sync::<unix::OwnedWriteHalf>();
}

/// Never called: it only has to compile.
#[allow(dead_code)]
fn the_futures_of_the_net_types_are_send(
    listener: &TcpListener,
    unix_listener: &UnixListener,
    socket: &UdpSocket,
    buf: &mut [u8],
) {
    send_future(TcpListener::bind("127.0.0.1:0"));
    send_future(TcpStream::connect("127.0.0.1:1"));
    send_future(UdpSocket::bind("127.0.0.1:0"));
    send_future(UnixStream::connect("/tmp/x"));
    send_future(listener.accept());
    send_future(unix_listener.accept());
    send_future(socket.send_to(&[], "127.0.0.1:1"));
    send_future(socket.connect("127.0.0.1:1"));
    send_future(socket.recv_from(buf));
}
