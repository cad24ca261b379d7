//! Writes to one of our own sockets wake its reader at once, on the writer's core (only with
//! `Config::wake_local_peers(true)`; off by default: it buys throughput on in-process
//! conversations at the price of their tail latency, see `docs/benchmarks.md`).
//!
//! A write to a loopback TCP connection or a Unix stream is delivered by the kernel inside the
//! `send` call: when it returns, the peer socket is already readable. When that peer is a
//! socket of this process, registered with the same reactor, its reader can run next, on this
//! core, while the bytes are still in its cache, the way a task woken through a channel does.
//! Left to the reactor's next turn (usually another worker's), every message of such a
//! conversation crosses cores: for a loopback echo on two workers that doubled the CPU time of
//! the exchange (two workers were slower than one). So after such a write the net types
//! collect ready events, oldest first, until one wakes a task ([`ReactorHandle::wake_one_ready`]):
//! the write's own event is the oldest that wakes someone, and its reader is woken from inside
//! the writing task, like a channel receiver.
//!
//! Only a peer that is ours is looked for: a look after a write to any other peer (a load
//! generator in another process on loopback) finds nothing of its own, takes events the
//! reactor's turn would have handed to idle workers, and costs an `epoll_wait` per write. A
//! stream learns whether its peer is ours once, when it is made:
//!
//! - a Unix stream from `SO_PEERCRED` (the peer's pid is ours; a `pair` is ours by
//!   construction, and each half knows the other's registration);
//! - a TCP stream with a loopback peer from a process-wide registry of our TCP streams, keyed
//!   by (local address, peer address): its peer is ours iff the registry holds the reversed
//!   pair, on the same reactor. Whichever end of a connection is registered second (the
//!   client's `connect` or the server's `accept`, in either order) finds the first and marks
//!   both, with each other's registration.
//!

use std::collections::HashMap;
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, LazyLock, Weak};

use mio::Token;
use parking_lot::Mutex;

use crate::reactor::ReactorHandle;

/// Looks that did not find the peer's reader in a row before a stream looks after one write
/// in [`BACKOFF_PERIOD`] only.
const MISSES_BEFORE_BACKOFF: u32 = 8;
/// See [`MISSES_BEFORE_BACKOFF`].
const BACKOFF_PERIOD: u32 = 16;
/// `peer_token` while the peer's registration is not known (never a registration's token:
/// it is the reactor's own waker's).
const UNKNOWN_PEER: usize = usize::MAX;

/// The local-peer state of one stream whose peer is, or may turn out to be, one of our sockets.
///
/// Whether the peer is ours, its registration if known, and how often looking after a write
/// found its reader. A look finds it when the event that wakes a task is the peer's (or, where
/// the peer's registration is not known, any event that wakes a task). The peer's reader is
/// often not waiting (it is busy, or gone); then each look is an `epoll_wait` that finds
/// nothing, or another socket's event. After eight such looks in a row the stream looks after
/// one write in sixteen only, and after every write again as soon as a look finds the reader.
/// (Concurrent writers through split halves may race on the count; it only steers how often
/// to look.)
#[derive(Debug)]
pub(crate) struct LocalPeer {
    /// Whether the peer is one of our sockets on the same reactor: only then do writes look.
    /// A TCP stream learns it when its peer is registered, if that comes after it.
    ours: AtomicBool,
    /// The peer's registration token, or [`UNKNOWN_PEER`].
    peer_token: AtomicUsize,
    misses: AtomicU32,
    /// Its key in the registry of TCP streams, for a TCP stream.
    tcp_key: Option<TcpKey>,
    /// Looks performed, for tests.
    #[cfg(test)]
    looks: AtomicUsize,
}

impl LocalPeer {
    fn new(ours: bool, tcp_key: Option<TcpKey>) -> LocalPeer {
        LocalPeer {
            ours: AtomicBool::new(ours),
            peer_token: AtomicUsize::new(UNKNOWN_PEER),
            misses: AtomicU32::new(0),
            tcp_key,
            #[cfg(test)]
            looks: AtomicUsize::new(0),
        }
    }

    /// The state of a Unix stream registered with `handle`, whose peer is this process if
    /// `peer_is_this_process()` says so (asked only when `handle`'s reactor looks at all);
    /// `None` when writes never look.
    pub(crate) fn unix(
        handle: &ReactorHandle,
        peer_is_this_process: impl FnOnce() -> bool,
    ) -> Option<Arc<LocalPeer>> {
        let looks = cfg!(any(target_os = "linux", target_os = "android"))
            && handle.wakes_local_peers()
            && peer_is_this_process();
        looks.then(|| Arc::new(LocalPeer::new(true, None)))
    }

    /// The state of a TCP stream registered with `handle` under `token`, connected to `peer`,
    /// with the local address `local()` (asked only for a loopback peer); `None` when writes
    /// never look (a peer that is not on loopback, a reactor that does not look).
    pub(crate) fn tcp(
        handle: &ReactorHandle,
        token: Token,
        peer: SocketAddr,
        local: impl FnOnce() -> std::io::Result<SocketAddr>,
    ) -> Option<Arc<LocalPeer>> {
        if !cfg!(any(target_os = "linux", target_os = "android"))
            || !handle.wakes_local_peers()
            || !is_loopback(&peer)
        {
            return None;
        }
        let key = TcpKey {
            local: canonical(local().ok()?),
            peer: canonical(peer),
        };
        let this = Arc::new(LocalPeer::new(false, Some(key)));
        register_tcp(&this, key, token, handle.reactor_id());
        Some(this)
    }

    /// Marks the peer as ours, with its registration token.
    fn found_peer(&self, peer: Token) {
        self.peer_token.store(peer.0, Relaxed);
        self.ours.store(true, Relaxed);
    }

    /// After bytes went to the peer: if it is ours and it is time to look, wake whichever of
    /// our readers they reached.
    pub(crate) fn after_write(&self, handle: &ReactorHandle) {
        if self.ours.load(Relaxed) && self.should_look() {
            #[cfg(test)]
            self.looks.fetch_add(1, Relaxed);
            self.record(wake_reader(handle, self.peer_token.load(Relaxed)));
        }
    }

    /// How many looks writes to this stream performed.
    #[cfg(test)]
    pub(crate) fn looks(&self) -> usize {
        self.looks.load(Relaxed)
    }

    /// Whether the peer is known to be one of our sockets.
    #[cfg(test)]
    pub(crate) fn is_ours(&self) -> bool {
        self.ours.load(Relaxed)
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
    fn record(&self, found_reader: bool) {
        let misses = self.misses.load(Relaxed);
        let next = if found_reader {
            0
        } else if misses < MISSES_BEFORE_BACKOFF {
            misses + 1
        } else {
            misses // a periodic look while backing off: the period starts again
        };
        self.misses.store(next, Relaxed);
    }
}

/// Makes the two halves of a Unix stream pair, registered under `a_token` and `b_token`, know
/// each other's registration.
pub(crate) fn link_pair(a: &LocalPeer, a_token: Token, b: &LocalPeer, b_token: Token) {
    a.found_peer(b_token);
    b.found_peer(a_token);
}

/// Collects ready events, oldest first, until one wakes a reader; returns whether that was the
/// peer's (registered under `peer_token`, or anyone's if that is [`UNKNOWN_PEER`]).
///
/// A waker that panics is reported and its panic not passed on: it belongs to whoever waits
/// on the peer, not to the task that wrote.
fn wake_reader(handle: &ReactorHandle, peer_token: usize) -> bool {
    match panic::catch_unwind(AssertUnwindSafe(|| handle.wake_oldest_ready())) {
        Ok(woke) => woke.is_some_and(|token| peer_token == UNKNOWN_PEER || token.0 == peer_token),
        Err(_) => {
            crate::fault::report(Some(handle), crate::fault::IoFault::WakerPanicked);
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

/// `addr` with an IPv4-mapped IPv6 address as the IPv4 address (what the other end of an IPv6
/// socket talking to an IPv4 one sees).
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// A TCP connection seen from one end; the other end's is the reverse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct TcpKey {
    local: SocketAddr,
    peer: SocketAddr,
}

impl TcpKey {
    fn reversed(self) -> TcpKey {
        TcpKey {
            local: self.peer,
            peer: self.local,
        }
    }
}

/// One of our TCP streams with a loopback peer.
struct TcpEntry {
    stream: Weak<LocalPeer>,
    token: Token,
    reactor: usize,
}

/// Our live TCP streams with a loopback peer (a connection's two ends are at most two entries;
/// a stream leaves it when dropped). Taken once when such a stream is made and once when it is
/// dropped, never on a write.
static TCP_STREAMS: LazyLock<Mutex<HashMap<TcpKey, TcpEntry>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Enters `stream` (registered under `token` with reactor `reactor`) in the registry, and links
/// it with its peer if the registry holds that on the same reactor.
fn register_tcp(stream: &Arc<LocalPeer>, key: TcpKey, token: Token, reactor: usize) {
    let peer = {
        let mut streams = TCP_STREAMS.lock();
        let peer = streams
            .get(&key.reversed())
            .filter(|entry| entry.reactor == reactor)
            .and_then(|entry| Some((entry.stream.upgrade()?, entry.token)));
        if let Some((peer, peer_token)) = &peer {
            peer.found_peer(token);
            stream.found_peer(*peer_token);
        }
        streams.insert(
            key,
            TcpEntry {
                stream: Arc::downgrade(stream),
                token,
                reactor,
            },
        );
        peer
    };
    // Dropped outside the lock: if the peer stream went away meanwhile, this was the last
    // reference, and its drop takes the lock.
    drop(peer);
}

impl Drop for LocalPeer {
    fn drop(&mut self) {
        if let Some(key) = self.tcp_key {
            let mut streams = TCP_STREAMS.lock();
            // A newer stream with the same addresses may have replaced this entry already.
            if streams
                .get(&key)
                .is_some_and(|entry| std::ptr::eq(entry.stream.as_ptr(), self))
            {
                streams.remove(&key);
            }
        }
    }
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
        let peer = LocalPeer::new(true, None);
        // Seven misses in a row, then a find, over and over: never eight misses in a row.
        let looked = looks(&peer, 100, |look| look % 8 == 7);
        assert_eq!(looked, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn after_eight_fruitless_looks_one_write_in_sixteen_looks() {
        let peer = LocalPeer::new(true, None);
        let looked = looks(&peer, 8 + 16 * 3, |_| false);
        assert_eq!(looked, [0, 1, 2, 3, 4, 5, 6, 7, 23, 39, 55]);
    }

    #[test]
    fn a_look_that_finds_a_reader_ends_the_backoff() {
        let peer = LocalPeer::new(true, None);
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
