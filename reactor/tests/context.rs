//! The thread-local current reactor.

use nursery_reactor::net::{TcpStream, UnixStream};
use nursery_reactor::{Reactor, ReactorHandle};

#[test]
#[should_panic(
    expected = "there is no nursery reactor on this thread: I/O types must be used inside a nursery runtime (a task, or Runtime::block_on)"
)]
fn handle_current_outside_a_runtime_panics_naming_the_problem() {
    let _ = ReactorHandle::current();
}

#[test]
#[should_panic(expected = "there is no nursery reactor on this thread")]
fn creating_an_io_type_outside_a_runtime_panics_naming_the_problem() {
    let _ = UnixStream::pair();
}

#[test]
#[should_panic(expected = "there is no nursery reactor on this thread")]
fn connecting_outside_a_runtime_panics_naming_the_problem() {
    let _ = futures::executor::block_on(TcpStream::connect("127.0.0.1:1"));
}

#[test]
fn enter_guards_nest_and_restore_the_previous_handle() {
    let outer = Reactor::new().unwrap();
    let inner = Reactor::new().unwrap();
    assert!(ReactorHandle::try_current().is_none());
    let outer_guard = outer.handle().enter();
    {
        let _inner_guard = inner.handle().enter();
        let _pair = UnixStream::pair().unwrap();
        assert_eq!(inner.handle().registrations(), 2);
        assert_eq!(outer.handle().registrations(), 0);
    }
    let _pair = UnixStream::pair().unwrap();
    assert_eq!(outer.handle().registrations(), 2);
    drop(outer_guard);
    assert!(ReactorHandle::try_current().is_none());
}

#[test]
fn a_handle_entered_on_one_thread_is_not_current_on_another() {
    let reactor = Reactor::new().unwrap();
    let _guard = reactor.handle().enter();
    let elsewhere = std::thread::spawn(|| ReactorHandle::try_current().is_none())
        .join()
        .unwrap();
    assert!(elsewhere);
}
