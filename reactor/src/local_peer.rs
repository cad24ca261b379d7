//! Writes to a peer on this machine wake its reader at once, on the writer's core.
//!
//! A write to a loopback TCP connection or a Unix stream is delivered by the kernel inside the
//! `send` call: when it returns, the peer socket is already readable. When that peer belongs
//! to this process, its reader can run next, on this core, while the bytes are still in its
//! cache, the way a task woken through a channel does. Left to the reactor's next turn
//! (usually another worker's), every message of such a conversation crosses cores: for a
//! loopback echo on two workers that doubled the CPU time of the exchange (two workers were
//! slower than one). So after such a write the net types collect what is ready right now
//! ([`Handle::poll_now`]), which wakes the reader from inside the writing task, like a channel
//! send. A write to a remote peer collects nothing: nothing there can be ready yet, and the
//! extra `epoll_wait` would be pure cost.

use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};

use crate::driver::Handle;

/// After bytes went to a peer on this machine: wake whichever of our readers they reached.
///
/// A waker that panics is reported and its panic not passed on: it belongs to whoever waits
/// on the peer, not to the task that wrote.
pub(crate) fn wake_readers_after_write(handle: &Handle) {
    if panic::catch_unwind(AssertUnwindSafe(|| handle.poll_now())).is_err() {
        eprintln!(
            "nursery: a waker panicked when woken for I/O; the runtime caught it and carries on"
        );
    }
}

/// Whether a TCP peer at `addr` is reached over loopback (IPv4-mapped IPv6 included).
///
/// A connection to one of this host's other addresses also stays inside the machine, but
/// telling those apart would cost a lookup of the interfaces; they are treated as remote.
pub(crate) fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().to_canonical().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses_are_local_and_others_are_not() {
        let local = [
            "127.0.0.1:80",
            "127.8.9.10:1",
            "[::1]:80",
            "[::ffff:127.0.0.1]:80",
        ];
        for addr in local {
            assert!(is_loopback(&addr.parse().unwrap()), "{addr} is loopback");
        }
        let remote = [
            "192.0.2.1:80",
            "10.0.0.1:1",
            "[2001:db8::1]:80",
            "[::ffff:192.0.2.1]:80",
        ];
        for addr in remote {
            assert!(
                !is_loopback(&addr.parse().unwrap()),
                "{addr} is not loopback"
            );
        }
    }
}
