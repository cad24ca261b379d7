//! UDP through the reactor: unconnected and connected datagrams.

mod support;

use std::io;
use std::pin::pin;

use nursery_reactor::net::UdpSocket;
use support::{poll_once, Driver, Flag};

#[test]
fn send_to_and_recv_from_carry_datagrams_between_unconnected_sockets() {
    let driver = Driver::start();
    driver.block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());

        // b waits first, so the datagram arrives through a wake, not a ready socket.
        let mut buf = [0; 64];
        let (received, sent) = futures::join!(b.recv_from(&mut buf), a.send_to(b"first", b_addr));
        assert_eq!(sent.unwrap(), 5);
        let (n, from) = received.unwrap();
        assert_eq!((&buf[..n], from), (&b"first"[..], a_addr));

        b.send_to(b"reply", a_addr).await.unwrap();
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"reply"[..], b_addr));
    });
}

#[test]
fn connected_sockets_send_and_recv_with_their_peer() {
    let driver = Driver::start();
    driver.block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.connect(b.local_addr().unwrap()).await.unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());

        let mut buf = [0; 64];
        let (received, sent) = futures::join!(b.recv(&mut buf), a.send(b"hello"));
        assert_eq!(sent.unwrap(), 5);
        assert_eq!(&buf[..received.unwrap()], b"hello");

        b.send(b"back").await.unwrap();
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"back");
    });
}

#[test]
fn a_connected_socket_ignores_datagrams_from_strangers() {
    let driver = Driver::start();
    let (a, stranger, friend) = driver.block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let friend = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.connect(friend.local_addr().unwrap()).await.unwrap();
        (a, stranger, friend)
    });
    let a_addr = a.local_addr().unwrap();
    driver.block_on(stranger.send_to(b"spam", a_addr)).unwrap();
    let mut buf = [0; 16];
    let flag = Flag::new();
    let n = {
        let mut recv = pin!(a.recv(&mut buf));
        assert!(poll_once(recv.as_mut(), &flag.waker()).is_pending());
        driver.block_on(friend.send_to(b"ham", a_addr)).unwrap();
        flag.wait_for(1);
        match poll_once(recv.as_mut(), &flag.waker()) {
            std::task::Poll::Ready(n) => n.unwrap(),
            std::task::Poll::Pending => panic!("woken but nothing to receive"),
        }
    };
    assert_eq!(&buf[..n], b"ham");
}

#[test]
fn an_unconnected_socket_has_no_peer_address() {
    let driver = Driver::start();
    let socket = driver.block_on(UdpSocket::bind("127.0.0.1:0")).unwrap();
    assert_eq!(
        socket.peer_addr().unwrap_err().kind(),
        io::ErrorKind::NotConnected
    );
}
