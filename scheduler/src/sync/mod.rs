//! The synchronisation primitives the scheduler is built on: std's (and parking_lot's,
//! crossbeam-deque's) normally, loom's under `--cfg loom`, so the code that is model-checked is
//! the code that ships. The rest of the crate takes atomics, `Arc`, `Mutex`, `UnsafeCell`,
//! `thread_local!` and the run queues from here only, never from std or crossbeam directly.
//!
//! Under loom two of them need more than a re-export:
//!
//! - `thread_local!`: loom runs every model thread as a coroutine on one OS thread, so a std
//!   thread-local would be shared by all of them (a wake from a plain loom thread would see the
//!   worker's `LOCAL` and push into its LIFO slot without unparking it, a false lost wake-up).
//!   Loom's keeps one value per loom thread.
//! - `deque`: crossbeam-deque's atomics are invisible to loom; [`loom_deque`] is a loom-built
//!   queue with the same API and the orderings crossbeam's emptiness checks use.

#[cfg(not(loom))]
pub(crate) use std::sync::{atomic, Arc};

#[cfg(loom)]
pub(crate) use loom::sync::{atomic, Arc};

/// A mutex with parking_lot's infallible `lock()` on both std and loom builds.
pub(crate) struct Mutex<T> {
    #[cfg(not(loom))]
    inner: parking_lot::Mutex<T>,
    #[cfg(loom)]
    inner: loom::sync::Mutex<T>,
}

#[cfg(not(loom))]
pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;
#[cfg(loom)]
pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    #[cfg(not(loom))]
    pub(crate) const fn new(value: T) -> Mutex<T> {
        Mutex {
            inner: parking_lot::Mutex::new(value),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new(value: T) -> Mutex<T> {
        Mutex {
            inner: loom::sync::Mutex::new(value),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(not(loom))]
        return self.inner.lock();
        #[cfg(loom)]
        return self.inner.lock().unwrap_or_else(|e| e.into_inner());
    }
}

/// `UnsafeCell` with loom's access tracking under `--cfg loom`.
#[cfg(not(loom))]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) fn new(value: T) -> UnsafeCell<T> {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// The work-stealing run queues (crossbeam-deque's API).
#[cfg(not(loom))]
pub(crate) mod deque {
    pub(crate) use crossbeam_deque::{Injector, Steal, Stealer, Worker};
}

#[cfg(loom)]
mod loom_deque;

/// The work-stealing run queues: the loom-aware stand-ins for crossbeam-deque's.
#[cfg(loom)]
pub(crate) mod deque {
    pub(crate) use super::loom_deque::{Injector, Steal, Stealer, Worker};
}

#[cfg(not(loom))]
pub(crate) use std::thread_local;

/// `thread_local!` with loom's per-loom-thread storage. Loom's macro takes no `const { .. }`
/// initialiser, so it is unwrapped here.
#[cfg(loom)]
macro_rules! loom_thread_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const { $init:expr }; $($rest:tt)*) => {
        loom::thread_local! { $(#[$attr])* $vis static $name: $t = $init; }
        $crate::sync::thread_local! { $($rest)* }
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        loom::thread_local! { $(#[$attr])* $vis static $name: $t = $init; }
        $crate::sync::thread_local! { $($rest)* }
    };
}

#[cfg(loom)]
pub(crate) use loom_thread_local as thread_local;

/// Runs a loom model with a preemption bound (`LOOM_MAX_PREEMPTIONS` wins when set), for the
/// `#[cfg(all(test, loom))]` models inside the crate.
#[cfg(all(test, loom))]
pub(crate) fn model(preemptions: usize, body: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if std::env::var("LOOM_MAX_PREEMPTIONS").is_err() {
        builder.preemption_bound = Some(preemptions);
    }
    builder.check(body);
}

/// A spin loop's pause: a hint to the CPU, or under loom a yield to the other threads of the
/// model (a loop that waits for another thread must let it run).
pub(crate) fn spin_loop() {
    #[cfg(not(loom))]
    std::hint::spin_loop();
    #[cfg(loom)]
    loom::thread::yield_now();
}
