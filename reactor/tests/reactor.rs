//! The driver itself: tokens, unpark, shutdown, panicking wakers.

mod support;

use std::future::poll_fn;
use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use futures::io::AsyncReadExt;
use mio::Interest;
use nursery_reactor::net::{TcpListener, UnixStream};
use nursery_reactor::{Reactor, Registration};
use support::{notify_when_pending, Driver, Flag};

const SHUT_DOWN: &str = "the nursery runtime has shut down";

fn poll_read_ready(registration: &Registration, waker: &Waker) -> Poll<io::Result<()>> {
    registration.poll_read_ready(&mut Context::from_waker(waker))
}

/// Reads `source` until `WouldBlock` and clears the read readiness, as an I/O type does.
fn drain(registration: &Registration, source: &mut mio::net::UnixStream) {
    assert!(poll_read_ready(registration, &Flag::new().waker()).is_ready());
    let mut buf = [0; 64];
    loop {
        match io::Read::read(source, &mut buf) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("read failed: {e}"),
        }
    }
    registration.clear_read_ready();
}

/// Turns `reactor` with an hour's timeout and asserts that the turn ended at once (an unpark
/// was pending), with `what` as the failure message.
fn assert_next_turn_ends_at_once(reactor: &mut Reactor, what: &str) {
    let start = Instant::now();
    reactor.turn(Some(Duration::from_secs(3600))).unwrap();
    assert!(start.elapsed() < Duration::from_secs(30), "{what}");
}

#[test]
fn a_new_registration_is_tried_without_waiting_for_a_turn() {
    let reactor = Reactor::new().unwrap();
    let (mut source, _peer) = mio::net::UnixStream::pair().unwrap();
    let registration =
        Registration::new(&mut source, Interest::READABLE, &reactor.handle()).unwrap();
    let flag = Flag::new();
    assert!(poll_read_ready(&registration, &flag.waker()).is_ready());
    drain(&registration, &mut source);
    assert!(poll_read_ready(&registration, &flag.waker()).is_pending());
}

#[test]
fn an_event_for_a_freed_slot_never_reaches_the_registration_that_reuses_it() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let (mut old_source, mut old_peer) = mio::net::UnixStream::pair().unwrap();
    let old = Registration::new(&mut old_source, Interest::READABLE, &handle).unwrap();
    let (old_slot, old_token) = (old.slot(), old.token());
    drain(&old, &mut old_source);
    let old_flag = Flag::new();
    assert!(poll_read_ready(&old, &old_flag.waker()).is_pending());
    // Free the slot but leave the old source in the poller under the old token.
    drop(old);

    let (mut new_source, mut new_peer) = mio::net::UnixStream::pair().unwrap();
    let new = Registration::new(&mut new_source, Interest::READABLE, &handle).unwrap();
    assert_eq!(new.slot(), old_slot, "the slab reuses the freed slot");
    assert_ne!(
        new.token(),
        old_token,
        "a reused slot gets a new generation"
    );
    drain(&new, &mut new_source);
    let new_flag = Flag::new();
    assert!(poll_read_ready(&new, &new_flag.waker()).is_pending());

    old_peer.write_all(b"stale").unwrap();
    assert_eq!(reactor.turn(Some(Duration::ZERO)).unwrap(), 0);
    assert_eq!(
        new_flag.wakes(),
        0,
        "the stale event woke the new registration"
    );
    assert_eq!(
        old_flag.wakes(),
        0,
        "the stale event woke a dropped registration's waker"
    );
    assert!(poll_read_ready(&new, &new_flag.waker()).is_pending());

    new_peer.write_all(b"fresh").unwrap();
    assert_eq!(reactor.turn(Some(Duration::from_secs(10))).unwrap(), 1);
    assert_eq!(new_flag.wakes(), 1);
    assert!(poll_read_ready(&new, &new_flag.waker()).is_ready());
}

#[test]
fn readable_and_writable_events_wake_only_the_matching_waiter() {
    let mut reactor = Reactor::new().unwrap();
    let (mut source, mut peer) = mio::net::UnixStream::pair().unwrap();
    let registration = Registration::new(
        &mut source,
        Interest::READABLE | Interest::WRITABLE,
        &reactor.handle(),
    )
    .unwrap();
    // A fresh socket is writable: the first turn reports it.
    reactor.turn(Some(Duration::from_secs(10))).unwrap();
    let writer = Flag::new();
    assert!(registration
        .poll_write_ready(&mut Context::from_waker(&writer.waker()))
        .is_ready());

    drain(&registration, &mut source);
    let reader = Flag::new();
    assert!(poll_read_ready(&registration, &reader.waker()).is_pending());
    peer.write_all(b"x").unwrap();
    assert_eq!(reactor.turn(Some(Duration::from_secs(10))).unwrap(), 1);
    assert_eq!(reader.wakes(), 1);
    assert_eq!(writer.wakes(), 0);
}

#[test]
fn clear_read_ready_after_would_block_makes_the_next_poll_wait_for_new_data() {
    let mut reactor = Reactor::new().unwrap();
    let (mut source, mut peer) = mio::net::UnixStream::pair().unwrap();
    let registration =
        Registration::new(&mut source, Interest::READABLE, &reactor.handle()).unwrap();
    peer.write_all(b"ab").unwrap();
    reactor.turn(Some(Duration::from_secs(10))).unwrap();
    let flag = Flag::new();
    assert!(poll_read_ready(&registration, &flag.waker()).is_ready());
    let mut buf = [0; 8];
    assert_eq!(io::Read::read(&mut source, &mut buf).unwrap(), 2);
    let err = io::Read::read(&mut source, &mut buf).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    registration.clear_read_ready();
    assert!(poll_read_ready(&registration, &flag.waker()).is_pending());

    peer.write_all(b"c").unwrap();
    reactor.turn(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(flag.wakes(), 1);
    assert!(poll_read_ready(&registration, &flag.waker()).is_ready());
}

#[test]
fn unpark_from_another_thread_ends_a_blocked_turn() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let (started_tx, started_rx) = mpsc::channel();
    let unparker = thread::spawn(move || {
        started_rx.recv().unwrap();
        handle.unpark();
    });
    let start = Instant::now();
    started_tx.send(()).unwrap();
    assert_eq!(reactor.turn(Some(Duration::from_secs(60))).unwrap(), 0);
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "the turn ran to its timeout"
    );
    unparker.join().unwrap();
}

#[test]
fn an_unpark_before_the_turn_ends_the_next_turn_at_once_and_only_that_one() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    handle.unpark();
    handle.unpark();
    assert_next_turn_ends_at_once(&mut reactor, "the pending unpark was lost");
    // Both unparks were consumed by that turn: the next one waits its timeout.
    let start = Instant::now();
    reactor.turn(Some(Duration::from_millis(50))).unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(40),
        "a consumed unpark fired again"
    );
}

/// A read waiting on one end of a fresh socket pair: its registration (drained, then polled
/// with `flag`'s waker, so `flag` counts its wakes) and the peer that can write to it.
struct WaitingRead {
    registration: Registration,
    flag: Arc<Flag>,
    peer: mio::net::UnixStream,
    _end: mio::net::UnixStream,
}

fn waiting_read(handle: &nursery_reactor::ReactorHandle) -> WaitingRead {
    let (mut end, peer) = mio::net::UnixStream::pair().unwrap();
    let registration = Registration::new(&mut end, Interest::READABLE, handle).unwrap();
    drain(&registration, &mut end);
    let flag = Flag::new();
    assert!(poll_read_ready(&registration, &flag.waker()).is_pending());
    WaitingRead {
        registration,
        flag,
        peer,
        _end: end,
    }
}

#[test]
#[cfg(any(target_os = "linux", target_os = "android"))]
fn wake_one_ready_wakes_a_ready_reader_while_another_thread_is_blocked_in_the_turn() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let mut read = waiting_read(&handle);

    // A turn blocked in epoll_wait for up to a minute, as a parked worker's is.
    let (turned_tx, turned_rx) = mpsc::channel();
    let turner = thread::spawn(move || {
        let woken = reactor.turn(Some(Duration::from_secs(60))).unwrap();
        turned_tx.send(woken).unwrap();
        reactor
    });
    read.peer.write_all(b"x").unwrap();
    // Whoever takes the event wakes the reader exactly once: this wake_one_ready or the blocked turn.
    let collected = usize::from(handle.wake_one_ready());
    handle.unpark();
    let turned = turned_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let _reactor = turner.join().unwrap();
    assert_eq!(collected + turned, 1, "one event, one wake");
    assert_eq!(read.flag.wakes(), 1);
    assert!(poll_read_ready(&read.registration, &read.flag.waker()).is_ready());
}

#[test]
#[cfg(any(target_os = "linux", target_os = "android"))]
fn wake_one_ready_takes_the_oldest_ready_event_and_leaves_the_younger_for_the_next_call() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let mut older = waiting_read(&handle);
    let mut younger = waiting_read(&handle);
    older.peer.write_all(b"x").unwrap();
    younger.peer.write_all(b"x").unwrap();
    assert!(handle.wake_one_ready());
    assert_eq!(
        (older.flag.wakes(), younger.flag.wakes()),
        (1, 0),
        "the older event first"
    );
    assert!(handle.wake_one_ready());
    assert_eq!((older.flag.wakes(), younger.flag.wakes()), (1, 1));
    assert!(!handle.wake_one_ready(), "nothing left");
}

#[test]
#[cfg(any(target_os = "linux", target_os = "android"))]
fn an_unpark_that_wake_one_ready_collects_still_ends_the_next_turn() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    handle.unpark();
    // Takes the waker's event, meant for the turn: it must hand the turn a new one.
    assert!(!handle.wake_one_ready());
    assert_next_turn_ends_at_once(&mut reactor, "wake_one_ready swallowed the unpark");
}

#[test]
#[cfg(any(target_os = "linux", target_os = "android"))]
fn an_unpark_ahead_of_a_writes_event_neither_hides_it_nor_is_lost() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let mut read = waiting_read(&handle);
    handle.unpark(); // the waker's event is now the oldest
    read.peer.write_all(b"x").unwrap();
    assert!(
        handle.wake_one_ready(),
        "the write's event behind the unpark was taken"
    );
    assert_eq!(read.flag.wakes(), 1);
    assert_next_turn_ends_at_once(&mut reactor, "the unpark was lost");
}

#[test]
#[cfg(any(target_os = "linux", target_os = "android"))]
fn wake_one_ready_passes_on_the_panic_of_the_waker_it_woke() {
    struct PanicOnWake;
    impl Wake for PanicOnWake {
        fn wake(self: Arc<Self>) {
            panic!("this waker panics");
        }
    }
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let mut read = waiting_read(&handle);
    // The read now waits with a waker that panics.
    let waker = Waker::from(Arc::new(PanicOnWake));
    assert!(poll_read_ready(&read.registration, &waker).is_pending());
    read.peer.write_all(b"x").unwrap();
    let result = panic::catch_unwind(AssertUnwindSafe(|| handle.wake_one_ready()));
    assert!(result.is_err(), "the waker's panic is passed on");
    assert!(!handle.wake_one_ready(), "and its event was consumed");
}

#[test]
fn shutdown_wakes_a_pending_read_and_accept_with_an_error() {
    let driver = Driver::start();
    let handle = driver.handle().clone();
    let (mut a, _b) = driver.block_on(async { UnixStream::pair() }).unwrap();
    let listener = driver.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();

    let (pending_tx, pending_rx) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let read = notify_when_pending(
            async move {
                let mut buf = [0; 8];
                a.read(&mut buf).await
            },
            pending_tx.clone(),
        );
        let accept = notify_when_pending(async move { listener.accept().await }, pending_tx);
        support::block_on_with_deadline(futures::future::join(read, accept))
    });
    pending_rx.recv().unwrap();
    pending_rx.recv().unwrap();
    handle.shutdown();
    let (read, accept) = waiter.join().unwrap();
    assert_eq!(read.unwrap_err().to_string(), SHUT_DOWN);
    assert_eq!(accept.unwrap_err().to_string(), SHUT_DOWN);
}

#[test]
fn registrations_after_shutdown_fail_with_the_shutdown_error() {
    let driver = Driver::start();
    driver.handle().shutdown();
    assert!(driver.handle().is_shutdown());
    let err = driver
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .unwrap_err();
    assert_eq!(err.to_string(), SHUT_DOWN);
    let err = driver.block_on(async { UnixStream::pair() }).unwrap_err();
    assert_eq!(err.to_string(), SHUT_DOWN);
}

#[test]
fn dropping_the_reactor_fails_the_io_still_alive() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let (mut a, _b) = {
        let _guard = handle.enter();
        UnixStream::pair().unwrap()
    };
    drop(reactor);
    let err = support::block_on_with_deadline(async {
        let mut buf = [0; 1];
        a.read(&mut buf).await
    })
    .unwrap_err();
    assert_eq!(err.to_string(), SHUT_DOWN);
}

#[test]
fn dropping_an_io_object_frees_its_registration() {
    let driver = Driver::start();
    assert_eq!(driver.handle().registrations(), 0);
    let pair = driver.block_on(async { UnixStream::pair() }).unwrap();
    assert_eq!(driver.handle().registrations(), 2);
    drop(pair);
    assert_eq!(driver.handle().registrations(), 0);
}

struct PanickingWaker;

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("this waker panics");
    }
}

#[test]
fn a_panicking_waker_does_not_keep_the_other_wakers_of_its_turn_from_waking() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let (mut first_source, mut first_peer) = mio::net::UnixStream::pair().unwrap();
    let (mut second_source, mut second_peer) = mio::net::UnixStream::pair().unwrap();
    let first = Registration::new(&mut first_source, Interest::READABLE, &handle).unwrap();
    let second = Registration::new(&mut second_source, Interest::READABLE, &handle).unwrap();
    drain(&first, &mut first_source);
    drain(&second, &mut second_source);
    let panicking = Waker::from(Arc::new(PanickingWaker));
    let flag = Flag::new();
    assert!(poll_read_ready(&first, &panicking).is_pending());
    assert!(poll_read_ready(&second, &flag.waker()).is_pending());
    first_peer.write_all(b"1").unwrap();
    second_peer.write_all(b"2").unwrap();

    let result = panic::catch_unwind(AssertUnwindSafe(|| reactor.turn(Some(Duration::ZERO))));
    let payload = result.expect_err("the waker's panic is resumed after the turn");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"this waker panics"));
    assert_eq!(flag.wakes(), 1, "the other waker was not woken");
    // The reactor still works.
    assert!(poll_read_ready(&first, &flag.waker()).is_ready());
    assert!(reactor.turn(Some(Duration::ZERO)).is_ok());
}

#[test]
fn deregister_removes_the_source_and_fails_later_polls() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let (mut source, _peer) = mio::net::UnixStream::pair().unwrap();
    let mut registration = Registration::new(&mut source, Interest::READABLE, &handle).unwrap();
    assert_eq!(handle.registrations(), 1);
    registration.deregister(&mut source).unwrap();
    assert_eq!(handle.registrations(), 0);
    let result = support::block_on_with_deadline(poll_fn(|cx| registration.poll_read_ready(cx)));
    assert!(result.is_err());
    // The source can be registered again.
    let again = Registration::new(&mut source, Interest::READABLE, &handle);
    assert!(again.is_ok());
}
