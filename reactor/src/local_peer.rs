//! Writes to a peer on this machine wake its reader at once, on the writer's core.
//!
//! A write to a loopback TCP connection or a Unix stream is delivered by the kernel inside the
//! `send` call: when it returns, the peer socket is already readable. When that peer belongs
//! to this process, its reader can run next, on this core, while the bytes are still in its
//! cache, the way a task woken through a channel does. Left to the reactor's next turn
//! (usually another worker's), every message of such a conversation crosses cores: for a
//! loopback echo on two workers that doubled the CPU time of the exchange (two workers were
//! slower than one). So after such a write the net types collect ready events, oldest first,
//! until one wakes a task ([`Handle::wake_one_ready`]): the write's own event is the oldest
//! that wakes someone, and its reader is woken from inside the writing task, like a channel
//! receiver. A write to a remote peer collects nothing: nothing there can be ready yet, and the
//! extra `epoll_wait` would be pure cost; nor, mostly, does a write to a local peer that
//! keeps turning out not to be ours (see [`LocalPeer`]).

use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use crate::driver::Handle;

/// Looks that found no reader in a row before a stream looks after one write in
/// [`BACKOFF_PERIOD`] only.
const MISSES_BEFORE_BACKOFF: u32 = 8;
/// See [`MISSES_BEFORE_BACKOFF`].
const BACKOFF_PERIOD: u32 = 16;

/// The local-peer state of one stream: how often looking after a write found a reader.
///
/// A local peer is often not ours (another process, or a thread reading it with blocking
/// calls); then each look is an `epoll_wait` that finds nothing. After eight such looks in a
/// row the stream looks after one write in sixteen only, and after every write again as soon
/// as a look wakes someone. (Concurrent writers through split halves may race on the count;
/// it only steers how often to look.)
#[derive(Debug, Default)]
pub(crate) struct LocalPeer {
    misses: AtomicU32,
}

impl LocalPeer {
    /// After bytes went to the peer: wake whichever of our readers they reached, if it is
    /// time to look.
    pub(crate) fn after_write(&self, handle: &Handle) {
        if self.should_look() {
            self.record(wake_reader(handle));
        }
    }

    /// Whether to look after this write (counting it while backing off).
    fn should_look(&self) -> bool {
        let misses = self.misses.load(Relaxed);
        if misses < MISSES_BEFORE_BACKOFF {
            return true;
        }
        // Backing off: `misses` counts on from MISSES_BEFORE_BACKOFF, one per write.
        let writes_since_last_look = misses - MISSES_BEFORE_BACKOFF + 1;
        if writes_since_last_look == BACKOFF_PERIOD {
            self.misses.store(MISSES_BEFORE_BACKOFF, Relaxed);
            true
        } else {
            self.misses.store(misses + 1, Relaxed);
            false
        }
    }

    /// What a look found.
    fn record(&self, woke_someone: bool) {
        let misses = self.misses.load(Relaxed);
        let next = if woke_someone {
            0
        } else if misses < MISSES_BEFORE_BACKOFF {
            misses + 1
        } else {
            misses // a periodic look while backing off: the period starts again
        };
        self.misses.store(next, Relaxed);
    }
}

/// Collects ready events, oldest first, until one wakes a reader; returns whether one did.
///
/// A waker that panics is reported and its panic not passed on: it belongs to whoever waits
/// on the peer, not to the task that wrote.
fn wake_reader(handle: &Handle) -> bool {
    match panic::catch_unwind(AssertUnwindSafe(|| handle.wake_one_ready())) {
        Ok(woke) => woke,
        Err(_) => {
            eprintln!(
                "nursery: a waker panicked when woken for I/O; the runtime caught it and carries on"
            );
            true
        }
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

    /// Which of `writes` writes look, when each look finds a reader iff `finds(look number)`.
    fn looks(peer: &LocalPeer, writes: usize, finds: impl Fn(usize) -> bool) -> Vec<usize> {
        let mut looked = Vec::new();
        for write in 0..writes {
            if peer.should_look() {
                peer.record(finds(looked.len()));
                looked.push(write);
            }
        }
        looked
    }

    #[test]
    fn every_write_looks_while_looking_finds_readers() {
        let peer = LocalPeer::default();
        // Seven misses in a row, then a find, over and over: never eight misses in a row.
        let looked = looks(&peer, 100, |look| look % 8 == 7);
        assert_eq!(looked, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn after_eight_fruitless_looks_one_write_in_sixteen_looks() {
        let peer = LocalPeer::default();
        let looked = looks(&peer, 8 + 16 * 3, |_| false);
        assert_eq!(looked, [0, 1, 2, 3, 4, 5, 6, 7, 23, 39, 55]);
    }

    #[test]
    fn a_look_that_finds_a_reader_ends_the_backoff() {
        let peer = LocalPeer::default();
        // Eight misses, then the first periodic look (write 23) finds a reader.
        let looked = looks(&peer, 30, |look| look == 8);
        assert_eq!(looked, [0, 1, 2, 3, 4, 5, 6, 7, 23, 24, 25, 26, 27, 28, 29]);
    }

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
