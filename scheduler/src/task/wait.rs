//! What a waiting node waits on: the last leaf future that returned `Pending` in its latest poll.
//!
//! Leaf futures (a timer, a socket, a join handle, a channel) record a [`Wait`] through
//! [`context::record_wait`](crate::current_node::record_wait) when they return `Pending`; the record
//! goes to the node being polled, in a slot of its header. A poll that returns `Pending` with no
//! record of its own (the task awaits a future from outside nursery) records
//! [`Wait::Foreign`] instead, so a slot never shows a wait that has ended. Recording copies a
//! few words into the node's slot (a sequence lock, see `WaitSlot`) and never allocates; the
//! dump formats.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering::*};

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

/// The slot in every node's header: a sequence lock over three words that encode a [`Wait`].
///
/// Written only by the node's own poll, one thread at a time (a task is polled by one worker
/// at a time, a group's body by the task that polls it, a `block_on` body by its thread); read
/// by dumps from any thread. A write is one compare-and-swap and plain stores, where the lock it
/// replaces cost two atomic read-modify-writes per `Pending` poll (2.5 % of the samples of
/// `spawn_recursively`). A write that would not change the record is skipped: a task that waits
/// again on the same socket, task or foreign future pays one relaxed load per poll.
///
/// Invariants: `seq` is even while no write is under way; a writer makes it odd with a
/// compare-and-swap from even, stores the words, and makes it even again. A writer whose swap
/// fails (a second writer, which the one-poller rule excludes) writes nothing, so the words an
/// even `seq` covers always come from one write. A reader accepts words only if `seq` was even before and unchanged after.
pub(crate) struct WaitSlot {
    seq: AtomicUsize,
    /// `[tag | small fields, a, b]`, see `encode`. `Wait::Foreign` holds the coarse time it
    /// began here, not its age.
    words: [AtomicU64; 3],
}

const NONE: u64 = 0;
const TIMER: u64 = 1;
const IO: u64 = 2;
const JOIN: u64 = 3;
const SCOPE: u64 = 4;
const CHANNEL: u64 = 5;
const BLOCKING: u64 = 6;
const OTHER: u64 = 7;
const FOREIGN: u64 = 8;
const TAG_MASK: u64 = 0xFF;
/// In a timer's first word: the deadline lies before `timer_epoch()` by `a` nanoseconds.
const BEFORE_EPOCH: u64 = 1 << 8;

/// The instant a recorded timer's deadline is counted from (in nanoseconds), fixed at its
/// first use. A timer wheel that takes it before its own start can record its deadlines with
/// [`record_timer_wait`](crate::current_node::record_timer_wait): its offset from the epoch plus
/// the deadline's offset from its start, an addition instead of a subtraction of `Instant`s.
pub fn timer_epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

fn str_words(s: &'static str) -> (u64, u64) {
    (s.as_ptr() as usize as u64, s.len() as u64)
}

fn encode(wait: Wait) -> [u64; 3] {
    match wait {
        Wait::Timer { deadline } => match deadline.checked_duration_since(timer_epoch()) {
            Some(after) => [TIMER, nanos(after), 0],
            None => [TIMER | BEFORE_EPOCH, nanos(timer_epoch() - deadline), 0],
        },
        Wait::Io { fd, write } => [
            IO | u64::from(write) << 8 | u64::from(fd as u32) << 32,
            0,
            0,
        ],
        Wait::Join { task } => [JOIN, task, 0],
        Wait::Scope { scope } => [SCOPE, scope, 0],
        Wait::Channel { kind } => {
            let (ptr, len) = str_words(kind);
            [CHANNEL, ptr, len]
        }
        Wait::Blocking => [BLOCKING, 0, 0],
        Wait::Other { what } => {
            let (ptr, len) = str_words(what);
            [OTHER, ptr, len]
        }
        Wait::Foreign { since } => [FOREIGN, nanos(since), 0],
    }
}

/// The wait `words` encode; they come from one `encode` (the slot's invariant).
fn decode(words: [u64; 3]) -> Option<Wait> {
    let [first, a, b] = words;
    let str_of = |ptr: u64, len: u64| {
        // SAFETY: `ptr` and `len` are the parts of one `&'static str` that `encode` split (the
        // slot hands out only words of one write): valid UTF-8, alive forever.
        unsafe {
            let bytes = std::slice::from_raw_parts(ptr as usize as *const u8, len as usize);
            std::str::from_utf8_unchecked(bytes)
        }
    };
    Some(match first & TAG_MASK {
        TIMER if first & BEFORE_EPOCH != 0 => Wait::Timer {
            deadline: timer_epoch() - Duration::from_nanos(a),
        },
        TIMER => Wait::Timer {
            deadline: timer_epoch() + Duration::from_nanos(a),
        },
        IO => Wait::Io {
            fd: (first >> 32) as u32 as i32,
            write: first & (1 << 8) != 0,
        },
        JOIN => Wait::Join { task: a },
        SCOPE => Wait::Scope { scope: a },
        CHANNEL => Wait::Channel { kind: str_of(a, b) },
        BLOCKING => Wait::Blocking,
        OTHER => Wait::Other { what: str_of(a, b) },
        FOREIGN => Wait::Foreign {
            since: Duration::from_nanos(a),
        },
        _ => return None,
    })
}

impl WaitSlot {
    pub(crate) fn new() -> WaitSlot {
        WaitSlot {
            seq: AtomicUsize::new(0),
            words: [AtomicU64::new(NONE), AtomicU64::new(0), AtomicU64::new(0)],
        }
    }

    pub(crate) fn set(&self, wait: Wait) {
        self.write(encode(wait));
    }

    /// Records `Wait::Timer` with a deadline `after_epoch` nanoseconds after [`timer_epoch`].
    pub(crate) fn set_timer(&self, after_epoch: u64) {
        self.write([TIMER, after_epoch, 0]);
    }

    /// A body's poll begins: it waits on nothing while it runs (a group has no RUNNING state
    /// that would hide the slot from dumps taken meanwhile).
    pub(crate) fn clear(&self) {
        if self.tag() != NONE {
            self.write([NONE, 0, 0]);
        }
    }

    /// The poll returned `Pending` with no nursery leaf recorded: a foreign wait, timed from
    /// the first such poll in a row.
    pub(crate) fn set_foreign(&self) {
        if self.tag() != FOREIGN {
            self.set(Wait::Foreign {
                since: super::meta::coarse_now(),
            });
        }
    }

    /// What the slot holds (the writer's own view: only it writes).
    fn tag(&self) -> u64 {
        self.words[0].load(Relaxed) & TAG_MASK
    }

    fn write(&self, words: [u64; 3]) {
        let unchanged = self
            .words
            .iter()
            .zip(words)
            .all(|(w, v)| w.load(Relaxed) == v);
        if unchanged {
            return;
        }
        let seq = self.seq.load(Relaxed);
        let odd = seq.wrapping_add(1);
        if seq % 2 == 1
            || self
                .seq
                .compare_exchange(seq, odd, Acquire, Relaxed)
                .is_err()
        {
            // Another write is under way (see the invariants): leave it whole.
            debug_assert!(false, "two threads recorded a wait for one node at once");
            return;
        }
        fence(Release);
        for (word, value) in self.words.iter().zip(words) {
            word.store(value, Relaxed);
        }
        self.seq.store(seq.wrapping_add(2), Release);
    }

    /// The recorded wait, with a foreign wait's start turned into its age at `now`.
    pub(crate) fn get(&self, now: Duration) -> Option<Wait> {
        let words = loop {
            let before = self.seq.load(Acquire);
            if before % 2 == 0 {
                let words = self.words.each_ref().map(|w| w.load(Relaxed));
                fence(Acquire);
                if self.seq.load(Relaxed) == before {
                    break words;
                }
            }
            crate::sync::spin_loop();
        };
        match decode(words)? {
            Wait::Foreign { since } => Some(Wait::Foreign {
                since: now.saturating_sub(since),
            }),
            other => Some(other),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    fn every_kind() -> Vec<Wait> {
        let now = Instant::now();
        vec![
            Wait::Timer {
                deadline: now + Duration::from_millis(5),
            },
            // Made before the epoch the slot encodes deadlines from.
            Wait::Timer {
                deadline: timer_epoch() - Duration::from_secs(1),
            },
            Wait::Io { fd: 7, write: true },
            Wait::Io {
                fd: i32::MAX,
                write: false,
            },
            Wait::Join { task: u64::MAX },
            Wait::Scope { scope: 42 },
            Wait::Channel { kind: "oneshot" },
            Wait::Blocking,
            Wait::Other {
                what: "a free slot under the scope's limit",
            },
            Wait::Foreign {
                since: Duration::from_millis(3),
            },
        ]
    }

    #[test]
    fn every_wait_reads_back_as_written() {
        let slot = WaitSlot::new();
        assert_eq!(slot.get(Duration::ZERO), None);
        for wait in every_kind() {
            slot.set(wait);
            let expected = match wait {
                Wait::Foreign { since } => Wait::Foreign {
                    since: Duration::from_secs(1) - since,
                },
                other => other,
            };
            assert_eq!(slot.get(Duration::from_secs(1)), Some(expected));
        }
        slot.clear();
        assert_eq!(slot.get(Duration::ZERO), None);
    }

    #[test]
    fn a_timer_set_by_its_offset_reads_back_as_its_deadline() {
        let slot = WaitSlot::new();
        slot.set_timer(1_500_000_001);
        let deadline = timer_epoch() + Duration::from_nanos(1_500_000_001);
        assert_eq!(slot.get(Duration::ZERO), Some(Wait::Timer { deadline }));
        slot.set(Wait::Timer { deadline });
        assert_eq!(slot.words[1].load(Relaxed), 1_500_000_001, "one encoding");
    }

    #[test]
    fn a_dump_never_reads_half_of_one_wait_and_half_of_another() {
        let slot = Arc::new(WaitSlot::new());
        let stop = Arc::new(AtomicBool::new(false));
        let writes = Arc::new(AtomicU64::new(0));
        let a = Wait::Other { what: "a" };
        let b = Wait::Channel {
            kind: "a longer kind of channel",
        };
        let writer = {
            let (slot, stop, writes) = (slot.clone(), stop.clone(), writes.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Relaxed) {
                    slot.set(if n % 2 == 0 { a } else { b });
                    n += 1;
                    writes.store(n, Relaxed);
                }
            })
        };
        // Reads until both sides have done their share alongside each other: a new thread may
        // first run only once this one blocks (on some VMs it shares this one's CPU).
        let give_up = Instant::now() + Duration::from_secs(10);
        let mut reads = 0u64;
        while (reads < 200_000 || writes.load(Relaxed) < 100_000) && Instant::now() < give_up {
            let seen = slot.get(Duration::ZERO);
            assert!(
                seen.is_none() || seen == Some(a) || seen == Some(b),
                "torn: {seen:?}"
            );
            reads += 1;
            if reads % 1024 == 0 {
                std::thread::yield_now();
            }
        }
        stop.store(true, Relaxed);
        writer.join().unwrap();
        assert!(
            writes.load(Relaxed) >= 100_000,
            "the writer wrote only {} times while this thread read",
            writes.load(Relaxed)
        );
    }
}
