//! The process-wide part of signal handling: one slot per signal number.
//!
//! Signal dispositions belong to the process, not to a runtime, so this is the one global in
//! nursery (rule R8 is about runtimes, which stay independent: every runtime's listeners share
//! the slots). The first listener for a signal number creates its slot: a connected pair of
//! non-blocking Unix sockets, and a `signal-hook-registry` action that writes one byte to the
//! write end — `write(2)` is async-signal-safe, and a full socket (a wake already pending) just
//! drops the byte. The slot, the pair and the action then stay for the life of the process, as
//! the replaced disposition does (a `SIGINT` no longer kills the process once someone listened
//! for it, even after every listener is gone; tokio behaves the same).
//!
//! Fan-out: each listener reads through its own duplicate of the read end, registered with its
//! runtime's reactor (no thread polls anything). The first listener polled after a delivery
//! drains the socket, adds the number of bytes to the slot's `deliveries`, and wakes every other
//! listener; each listener counts the deliveries it has seen. A signal the kernel merged (sent
//! again while still pending) is one delivery.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Waker;

use parking_lot::Mutex;
use slab::Slab;

use super::kind::SignalKind;

/// The slots, by signal number. Never shrinks.
static SLOTS: Mutex<BTreeMap<libc::c_int, Arc<Slot>>> = parking_lot::const_mutex(BTreeMap::new());

/// One signal number's socket pair (the write end is owned by the signal action) and its
/// listeners.
pub(crate) struct Slot {
    kind: SignalKind,
    /// The read end; listeners read through duplicates of it.
    read: UnixStream,
    /// Deliveries drained from the socket so far.
    deliveries: AtomicU64,
    /// One entry per live listener: the waker of its last `poll_recv`.
    listeners: Mutex<Slab<Option<Waker>>>,
}

/// The slot of `kind`, installing its handler the first time.
pub(crate) fn slot(kind: SignalKind) -> io::Result<Arc<Slot>> {
    let signum = kind.as_raw_value();
    if nursery_reactor::signal_is_forbidden(signum) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "nursery::signal: {kind} cannot be listened for (no process can handle SIGKILL \
                 or SIGSTOP; SIGSEGV, SIGILL and SIGFPE report faults of the process itself)"
            ),
        ));
    }
    let mut slots = SLOTS.lock();
    if let Some(slot) = slots.get(&signum) {
        return Ok(slot.clone());
    }
    let cannot = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("nursery::signal: cannot listen for {kind}: {e}"),
        )
    };
    let (read, write) = UnixStream::pair().map_err(cannot)?;
    read.set_nonblocking(true).map_err(cannot)?;
    // The handler writes one byte to `write` per delivery (reactor/src/sys/signal.rs).
    nursery_reactor::forward_signal(signum, write).map_err(cannot)?;
    let slot = Arc::new(Slot {
        kind,
        read,
        deliveries: AtomicU64::new(0),
        listeners: Mutex::new(Slab::new()),
    });
    slots.insert(signum, slot.clone());
    Ok(slot)
}

impl Slot {
    pub(crate) fn kind(&self) -> SignalKind {
        self.kind
    }

    /// A duplicate of the read end, for a listener to register with its reactor.
    pub(crate) fn read_end(&self) -> io::Result<UnixStream> {
        self.read.try_clone()
    }

    /// Adds a listener: drains what earlier deliveries left in the socket (for the listeners
    /// that exist already), then returns the new listener's key and the deliveries it has seen.
    pub(crate) fn add_listener(&self) -> (usize, u64) {
        let mut buf = [0u8; 64];
        let mut drained = 0;
        loop {
            match (&self.read).read(&mut buf) {
                Ok(0) => break,
                Ok(n) => drained += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break, // `WouldBlock`: empty
            }
        }
        let key = self.listeners.lock().insert(None);
        if drained > 0 {
            self.delivered(drained, key);
        }
        (key, self.deliveries())
    }

    pub(crate) fn remove_listener(&self, key: usize) {
        let waker = self.listeners.lock().try_remove(key);
        drop(waker);
    }

    /// Deliveries so far.
    pub(crate) fn deliveries(&self) -> u64 {
        self.deliveries.load(SeqCst)
    }

    /// Stores the waker of listener `key`'s poll. Stored before the listener checks
    /// `deliveries`: a drain that counts after this wakes it, one that counted before is seen.
    pub(crate) fn set_waker(&self, key: usize, waker: &Waker) {
        let mut listeners = self.listeners.lock();
        if let Some(slot) = listeners.get_mut(key) {
            match slot {
                Some(w) if w.will_wake(waker) => {}
                slot => *slot = Some(waker.clone()),
            }
        }
    }

    /// Counts `n` drained deliveries and wakes every listener but `drainer`.
    pub(crate) fn delivered(&self, n: usize, drainer: usize) {
        self.deliveries.fetch_add(n as u64, SeqCst);
        let wakers: Vec<Waker> = self
            .listeners
            .lock()
            .iter_mut()
            .filter(|(key, _)| *key != drainer)
            .filter_map(|(_, waker)| waker.take())
            .collect();
        for waker in wakers {
            nursery_scheduler::current_node::wake_guarded(waker);
        }
    }
}
