//! What a waiting node waits on: the last leaf future that returned `Pending` in its latest poll.
//!
//! Leaf futures (a timer, a socket, a join handle, a channel) record a [`Wait`] through
//! [`context::record_wait`](crate::current_node::record_wait) when they return `Pending`; the record
//! goes to the node being polled, in a slot of its header. A poll that returns `Pending` with no
//! record of its own (the task awaits a future from outside nursery) records
//! [`Wait::Foreign`] instead, so a slot never shows a wait that has ended. Recording copies a
//! few words under an uncontended lock and never allocates; the dump formats.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::sync::atomic::{AtomicU8, Ordering::Relaxed};
use crate::sync::Mutex;

/// What a node waits on, recorded by the leaf future that returned `Pending`, and shown in
/// [`NodeInfo::waiting_on`](crate::NodeInfo::waiting_on).
///
/// ```
/// use nursery_scheduler::Wait;
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(async {
///     let child = nursery_runtime::spawn(std::future::pending::<()>());
///     let (id, child_node) = (child.id(), child.node().clone());
///     let waiter = nursery_runtime::task::Builder::new().name("waiter").spawn(child);
///     let waiting_on = || {
///         let tree = nursery_runtime::Handle::current().task_tree();
///         tree.nodes.iter().find(|(_, n)| n.id == waiter.id()).and_then(|(_, n)| n.waiting_on)
///     };
///     while waiting_on().is_none() {
///         nursery_runtime::time::sleep(std::time::Duration::from_millis(1)).await;
///     }
///     assert_eq!(waiting_on(), Some(Wait::Join { task: id }));
///     child_node.cancel(); // the waiter then returns the child's `Err(cancelled)`
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Wait {
    /// A timer (`sleep`, `timeout`, `interval`, a scope's deadline) that fires at `deadline`.
    /// It does not replace another leaf recorded in the same poll: a `timeout` around a read
    /// shows the read.
    Timer {
        /// When it fires.
        deadline: Instant,
    },
    /// A socket (or other file descriptor) of the reactor, waiting to become readable or
    /// writable. The dump resolves it into a [`SocketWait`] (see [`NodeInfo::socket`]).
    ///
    /// [`NodeInfo::socket`]: crate::NodeInfo::socket
    Io {
        /// The file descriptor.
        fd: i32,
        /// Waiting to write (else to read).
        write: bool,
    },
    /// Another task's `JoinHandle`.
    Join {
        /// The awaited task's id.
        task: u64,
    },
    /// A scope's body and children (its own node in the dump has its live children count).
    Scope {
        /// The scope's node id.
        scope: u64,
    },
    /// A channel's receiving end.
    Channel {
        /// Which channel (`oneshot`).
        kind: &'static str,
    },
    /// A `spawn_blocking` job's result.
    Blocking,
    /// Something else of nursery's, described (`a free slot under the scope's limit`).
    Other {
        /// What it is.
        what: &'static str,
    },
    /// A future from outside nursery: the poll returned `Pending` without any nursery leaf
    /// recording a wait.
    Foreign {
        /// How long before the snapshot the first poll of this wait ended (later polls that
        /// found it still foreign do not restart it; a coarse clock, a few ms).
        since: Duration,
    },
}

/// Where a node waiting on a socket is stuck, resolved from its file descriptor when the
/// snapshot is taken (see [`NodeInfo::socket`](crate::NodeInfo::socket)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketWait {
    /// `read`, `write`, `accept` (a listener), `connect` (a stream not yet connected), `recv` or
    /// `send` (a datagram socket).
    pub op: &'static str,
    /// The socket's own address, if it has an IP one.
    pub local: Option<SocketAddr>,
    /// The connected peer's address, if any.
    pub peer: Option<SocketAddr>,
}

/// The slot in every node's header. Written only by the node's own poll (one thread at a
/// time), read by dumps under the lock. `kind` mirrors which variant the slot holds, so that the
/// writer skips the lock when nothing changes: a task re-polled while it waits on the same
/// foreign future (a `yield_now` loop, a channel from another crate) pays two thread-local
/// accesses and one relaxed load per poll, not a lock and a clock read.
pub(crate) struct WaitSlot {
    kind: AtomicU8,
    /// `Wait::Foreign` holds the coarse time it began here, not its age.
    wait: Mutex<Option<Wait>>,
}

const NONE: u8 = 0;
const FOREIGN: u8 = 1;
const OTHER: u8 = 2;

impl WaitSlot {
    pub(crate) fn new() -> WaitSlot {
        WaitSlot {
            kind: AtomicU8::new(NONE),
            wait: Mutex::new(None),
        }
    }

    pub(crate) fn set(&self, wait: Wait) {
        let kind = match wait {
            Wait::Foreign { .. } => FOREIGN,
            _ => OTHER,
        };
        *self.wait.lock() = Some(wait);
        self.kind.store(kind, Relaxed);
    }

    /// A body's poll begins: it waits on nothing while it runs (a group has no RUNNING state
    /// that would hide the slot from dumps taken meanwhile).
    pub(crate) fn clear(&self) {
        if self.kind.load(Relaxed) != NONE {
            *self.wait.lock() = None;
            self.kind.store(NONE, Relaxed);
        }
    }

    /// The poll returned `Pending` with no nursery leaf recorded: a foreign wait, timed from
    /// the first such poll in a row.
    pub(crate) fn set_foreign(&self) {
        if self.kind.load(Relaxed) != FOREIGN {
            self.set(Wait::Foreign {
                since: super::meta::coarse_now(),
            });
        }
    }

    /// The recorded wait, with a foreign wait's start turned into its age at `now`.
    pub(crate) fn get(&self, now: Duration) -> Option<Wait> {
        match *self.wait.lock() {
            Some(Wait::Foreign { since }) => Some(Wait::Foreign {
                since: now.saturating_sub(since),
            }),
            other => other,
        }
    }
}
