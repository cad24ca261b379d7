//! The net types' waiters, counted: a future or stream polled again and again is one waiter,
//! and one dropped leaves none.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_core::Stream;

use crate::net::{TcpListener, UdpSocket};
use crate::reactor::Reactor;
use crate::ready::Direction;
use crate::test_waker::counting_waker;

fn waker() -> Waker {
    counting_waker().1
}

fn listener() -> TcpListener {
    let std = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    TcpListener::from_std(std).expect("register")
}

#[test]
fn an_accept_future_polled_a_thousand_times_is_one_waiter_and_none_once_dropped() {
    let reactor = Reactor::new().unwrap();
    let _entered = reactor.handle().enter();
    let listener = listener();
    let (this_task, other_task) = (waker(), waker());
    {
        let mut accept = pin!(listener.accept());
        for i in 0..1000 {
            // A `select!` loop re-polls it from its task; now and then it moves to another.
            let waker = if i % 100 == 99 {
                &other_task
            } else {
                &this_task
            };
            let mut cx = Context::from_waker(waker);
            assert!(accept.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(listener.waiters(Direction::Read), 1);
    }
    assert_eq!(listener.waiters(Direction::Read), 0);
}

#[test]
fn accept_futures_given_up_one_after_another_leave_no_waiter() {
    let reactor = Reactor::new().unwrap();
    let _entered = reactor.handle().enter();
    let listener = listener();
    for _ in 0..1000 {
        // What a timeout around `accept` does, each time in a new task.
        let waker = waker();
        let mut accept = pin!(listener.accept());
        assert!(accept
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
    }
    assert_eq!(listener.waiters(Direction::Read), 0);
}

#[test]
fn a_poll_accept_loop_in_one_task_is_one_waiter() {
    let reactor = Reactor::new().unwrap();
    let _entered = reactor.handle().enter();
    let listener = listener();
    let waker = waker();
    let mut cx = Context::from_waker(&waker);
    for _ in 0..1000 {
        assert!(listener.poll_accept(&mut cx).is_pending());
    }
    assert_eq!(listener.waiters(Direction::Read), 1);
}

#[test]
fn incoming_keeps_one_waiter_from_one_connection_to_the_next_and_frees_it_when_dropped() {
    let mut reactor = Reactor::new().unwrap();
    let _entered = reactor.handle().enter();
    let listener = listener();
    let waker = waker();
    let mut cx = Context::from_waker(&waker);
    {
        let mut incoming = listener.incoming();
        for _ in 0..100 {
            assert!(pin!(&mut incoming).poll_next(&mut cx).is_pending());
        }
        assert_eq!(listener.waiters(Direction::Read), 1);

        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        reactor.turn(Some(Duration::from_secs(10))).unwrap();
        let Poll::Ready(Some(Ok(_accepted))) = pin!(&mut incoming).poll_next(&mut cx) else {
            panic!("the connection was not accepted");
        };
        assert!(pin!(&mut incoming).poll_next(&mut cx).is_pending());
        assert_eq!(listener.waiters(Direction::Read), 1);
    }
    assert_eq!(listener.waiters(Direction::Read), 0);
}

#[test]
fn a_recv_from_future_polled_many_times_is_one_waiter_and_none_once_dropped() {
    let reactor = Reactor::new().unwrap();
    let _entered = reactor.handle().enter();
    let socket = UdpSocket::from_std(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
    let waker = waker();
    let mut cx = Context::from_waker(&waker);
    let mut buf = [0u8; 16];
    {
        let mut recv = pin!(socket.recv_from(&mut buf));
        for _ in 0..1000 {
            assert!(recv.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(socket.waiters(Direction::Read), 1);
    }
    assert_eq!(socket.waiters(Direction::Read), 0);
}
