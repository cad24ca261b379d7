//! What a task is called and where it came from: shown in errors and the task-tree dump.

use std::fmt;
use std::panic::Location;
use std::time::Duration;

/// Describes a task at spawn time.
///
/// What [`Scheduler::spawn`](crate::Scheduler::spawn) takes; the runtime's spawn functions
/// make one from the caller's location (and `task::Builder`'s options).
#[derive(Clone, Debug)]
pub struct SpawnMeta {
    /// A human name; `None` shows as `task#<id>`.
    pub name: Option<String>,
    /// Where `spawn` was called (from `#[track_caller]`).
    pub location: &'static Location<'static>,
    /// Not cancelled with its parent: only by its own handle or at runtime shutdown. The parent
    /// still waits for it.
    pub shielded: bool,
}

impl SpawnMeta {
    /// Metadata for a spawn at the caller's location.
    #[track_caller]
    pub fn here() -> SpawnMeta {
        SpawnMeta {
            name: None,
            location: Location::caller(),
            shielded: false,
        }
    }

    /// Metadata with a name, at the caller's location.
    #[track_caller]
    pub fn named(name: impl Into<String>) -> SpawnMeta {
        SpawnMeta {
            name: Some(name.into()),
            location: Location::caller(),
            shielded: false,
        }
    }
}

/// The metadata stored in every node.
pub(crate) struct Meta {
    pub(crate) id: u64,
    pub(crate) name: Option<Box<str>>,
    pub(crate) location: Option<&'static Location<'static>>,
    /// When the node was created, on the coarse clock (`coarse_now`).
    pub(crate) born: Duration,
    pub(crate) shielded: bool,
    /// Which scheduler's tree the node belongs to (`Shared::tree`): a parent from another
    /// runtime is refused. Sits in what would be padding after `shielded`.
    pub(crate) tree: u32,
    /// What the node waits on, recorded by the leaf futures of its latest poll.
    pub(crate) waiting: super::wait::WaitSlot,
}

impl Meta {
    pub(crate) fn new(id: u64, tree: u32, spawn: Option<SpawnMeta>) -> Meta {
        let (name, location, shielded) = match spawn {
            Some(m) => (
                m.name.map(String::into_boxed_str),
                Some(m.location),
                m.shielded,
            ),
            None => (None, None, false),
        };
        Meta {
            id,
            name,
            location,
            born: coarse_now(),
            shielded,
            tree,
            waiting: super::wait::WaitSlot::new(),
        }
    }

    /// `'name'` or `task#7`, for messages.
    pub(crate) fn display_name(&self) -> String {
        match &self.name {
            Some(n) => format!("'{n}'"),
            None => format!("task#{}", self.id),
        }
    }
}

impl fmt::Debug for Meta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Meta")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("location", &self.location.map(|l| l.to_string()))
            .finish()
    }
}

/// A cheap monotonic timestamp for ages in the task-tree dump: the kernel's coarse clock (a few
/// milliseconds of resolution, a fraction of the cost of `Instant::now`) where there is one.
pub(crate) fn coarse_now() -> Duration {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC_COARSE always exists on
        // Linux, so the call cannot fail.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        EPOCH.get_or_init(std::time::Instant::now).elapsed()
    }
}
