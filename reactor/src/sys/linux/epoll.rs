//! A zero-timeout `epoll_wait(2)` for one event that any thread may run on the reactor's epoll
//! instance, alongside the turn that may be blocked in it.
//!
//! mio's `Poll::poll` takes `&mut self`, so one thread at a time; the kernel has no such rule:
//! concurrent waits on one epoll instance each take different events from its ready list.
//! That list is in the order the events came, and a wait for one event takes the oldest. A
//! task that has just written to a local peer takes the event its write caused this way: when
//! another worker's write lands in the short window between that write and this wait, the
//! other event is younger and stays for its own writer (with a larger buffer, this wait took
//! it, and about 30 % of tcp_echo's messages crossed cores; with one, 0.4 % of the waits find
//! nothing). The event bits are read exactly as mio reads them (`mio::event::Event` cannot be
//! built from raw bits).

use std::io;
use std::os::fd::RawFd;

use crate::ready::Ready;

/// Takes the oldest ready event of epoll instance `epfd` without blocking: its token and
/// readiness, or `None` if nothing is ready.
///
/// # Errors
///
/// What `epoll_wait` returns (`EINTR` is reported as nothing ready, not an error).
pub(crate) fn oldest_ready(epfd: RawFd) -> io::Result<Option<(usize, Ready)>> {
    let mut event = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: `event` is one writable `epoll_event` and the count given is one; the zero
    // timeout makes the call non-blocking.
    let n = unsafe { libc::epoll_wait(epfd, &mut event, 1, 0) };
    match n {
        1 => Ok(Some((event.u64 as usize, readiness(event.events)))),
        0 => Ok(None),
        _ => {
            let error = io::Error::last_os_error();
            match error.kind() {
                io::ErrorKind::Interrupted => Ok(None),
                _ => Err(error),
            }
        }
    }
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
