//! A zero-timeout `epoll_wait(2)` that any thread may run on the reactor's epoll instance,
//! alongside the turn that may be blocked in it.
//!
//! mio's `Poll::poll` takes `&mut self`, so one thread at a time; the kernel has no such rule:
//! concurrent waits on one epoll instance each take different events from its ready list. A
//! task that has just written to a local peer collects that peer's readiness this way without
//! waiting for (or competing with) the thread that holds the reactor. Few events are taken:
//! right after a write, the one that matters is the peer's. The event bits
//! are read exactly as mio reads them (`mio::event::Event` cannot be built from raw bits).
//!
//! With `net/tcp_inq.rs`, the only `unsafe` of this crate: the system call and the array it
//! fills.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::RawFd;

use crate::ready::Ready;

/// How many events one call takes at most; the rest stay for the next turn.
const CAPACITY: usize = 16;

/// Takes up to [`CAPACITY`] ready events from epoll instance `epfd` without blocking and calls
/// `each(token, readiness)` for each.
///
/// # Errors
///
/// What `epoll_wait` returns (`EINTR` is reported as zero events, not an error).
pub(crate) fn poll_now(epfd: RawFd, mut each: impl FnMut(usize, Ready)) -> io::Result<()> {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; CAPACITY];
    // SAFETY: `events` is a writable array of CAPACITY `epoll_event`s, which is what the
    // kernel may write; the zero timeout makes the call non-blocking.
    let n = unsafe { libc::epoll_wait(epfd, events.as_mut_ptr(), CAPACITY as libc::c_int, 0) };
    if n < 0 {
        let error = io::Error::last_os_error();
        return match error.kind() {
            io::ErrorKind::Interrupted => Ok(()),
            _ => Err(error),
        };
    }
    // `n` ≤ CAPACITY: the kernel fills at most the count it was given.
    for event in &events[..n as usize] {
        each(event.u64 as usize, readiness(event.events));
    }
    Ok(())
}

/// The readiness an epoll event reports, with mio's reading of the bits
/// (`mio/src/sys/unix/selector/epoll.rs`).
fn readiness(events: u32) -> Ready {
    let bits = events as libc::c_int;
    let has = |flag: libc::c_int| bits & flag != 0;
    let mut ready = Ready::EMPTY;
    if has(libc::EPOLLIN) || has(libc::EPOLLPRI) {
        ready = ready | Ready::READABLE;
    }
    if has(libc::EPOLLOUT) {
        ready = ready | Ready::WRITABLE;
    }
    // Both halves closed, or a FIN (or `shutdown(SHUT_RD)`) received.
    if has(libc::EPOLLHUP) || (has(libc::EPOLLIN) && has(libc::EPOLLRDHUP)) {
        ready = ready | Ready::READ_CLOSED;
    }
    // Both halves closed, a pipe's write end closed, or its read end gone.
    if has(libc::EPOLLHUP) || (has(libc::EPOLLOUT) && has(libc::EPOLLERR)) || bits == libc::EPOLLERR
    {
        ready = ready | Ready::WRITE_CLOSED;
    }
    if has(libc::EPOLLERR) {
        ready = ready | Ready::ERROR;
    }
    ready
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_bits_read_as_mio_reads_them() {
        let cases = [
            (libc::EPOLLIN, Ready::READABLE),
            (libc::EPOLLPRI, Ready::READABLE),
            (libc::EPOLLOUT, Ready::WRITABLE),
            (
                libc::EPOLLIN | libc::EPOLLRDHUP,
                Ready::READABLE | Ready::READ_CLOSED,
            ),
            (libc::EPOLLRDHUP, Ready::EMPTY),
            (libc::EPOLLHUP, Ready::READ_CLOSED | Ready::WRITE_CLOSED),
            (
                libc::EPOLLOUT | libc::EPOLLERR,
                Ready::WRITABLE | Ready::WRITE_CLOSED | Ready::ERROR,
            ),
            (libc::EPOLLERR, Ready::WRITE_CLOSED | Ready::ERROR),
            (
                libc::EPOLLIN | libc::EPOLLERR,
                Ready::READABLE | Ready::ERROR,
            ),
        ];
        for (bits, expected) in cases {
            assert_eq!(readiness(bits as u32), expected, "bits {bits:#x}");
        }
    }
}
