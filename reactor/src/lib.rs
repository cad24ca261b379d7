//! The nursery I/O driver: the mio poll, the registrations in it, and the
//! net types built on them.
//!
//! This crate owns:
//!
//! - the [`Reactor`]: one `mio::Poll`, turned by one thread at a time, that
//!   turns OS readiness events into wakes of the right reader or writer;
//! - the [`ReactorHandle`]: the thread-safe side (register sources, [`unpark`] a
//!   blocked turn, [`shutdown`], and [`ReactorHandle::wake_one_ready`], which collects
//!   ready events, oldest first, until one wakes a task, from any thread and
//!   without blocking: the net types call it after a write to a peer that is
//!   one of this process's sockets, so that the reader runs on the writer's
//!   core; [`Config`] turns that off) and the thread-local "current reactor";
//! - [`Registration`]: one source's slot (a slab index plus a generation in
//!   the mio token), its per-direction readiness with the tick that makes
//!   clearing after `WouldBlock` race-free, and the tasks waiting on each
//!   direction (any number: readiness wakes them all);
//! - [`net`]: TCP, UDP and Unix domain sockets on top of registrations.
//!
//! It deliberately knows nothing of tasks, scheduling or time: it stores
//! `std::task::Waker`s and wakes them. The runtime owns one `Reactor`, has an
//! idle worker call [`Reactor::turn`] with the nearest timer deadline as
//! timeout, calls [`ReactorHandle::unpark`] when new work needs that worker, and
//! [`ReactorHandle::enter`]s the handle on its threads so that the net types find it.
//!
//! # Driving it
//!
//! ```
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//! use nursery_reactor::Reactor;
//!
//! let mut reactor = Reactor::new()?;          // one per runtime
//! let handle = reactor.handle();              // cloned into every worker
//! let _guard = handle.enter();                // on each thread that runs tasks
//!
//! let stop = Arc::new(AtomicBool::new(false));
//! let idle_worker = std::thread::spawn({
//!     let stop = stop.clone();
//!     move || -> std::io::Result<()> {
//!         // An idle worker: block until I/O, the nearest timer deadline, or an unpark.
//!         while !stop.load(Ordering::Acquire) {
//!             let nearest_deadline = Some(Duration::from_millis(100));
//!             reactor.turn(nearest_deadline)?;   // wakes the tasks whose I/O is ready
//!         }
//!         Ok(())
//!     }
//! });
//! stop.store(true, Ordering::Release);
//! handle.unpark();                            // new work: end the blocked turn now
//! idle_worker.join().unwrap()?;
//! handle.shutdown();                          // at runtime shutdown, after the tasks are gone
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Readiness, and the `WouldBlock` race
//!
//! Events are edge-triggered, so readiness is remembered per registration and
//! cleared only when an operation returns `WouldBlock`. Each registration
//! counts the events applied to it (its tick); a task clears readiness only
//! if the tick is still the one it saw before its failed operation. An event
//! that lands between the failed operation and the clear has moved the tick,
//! so the clear does nothing and the task retries instead of waiting for an
//! edge that already came. The details are in `scheduled_io.rs`.
//!
//! [`unpark`]: ReactorHandle::unpark
//! [`shutdown`]: ReactorHandle::shutdown

#![deny(missing_docs, missing_debug_implementations)]
// The one exception is `sys/`, the system calls std and mio lack.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod config;
mod current_reactor;
mod error;
mod fault;
mod local_peer;
pub mod net;
mod offload;
mod poll_evented;
mod reactor;
mod ready;
mod registration;
mod scheduled_io;
#[allow(unsafe_code)]
mod sys;
#[cfg(test)]
mod test_waker;
mod token;
mod wait_hook;
mod waiters;

pub use config::Config;
pub use current_reactor::EnterGuard;
pub use fault::IoFault;
pub use offload::OffloadJob;
pub use reactor::{Reactor, ReactorHandle};
pub use registration::Registration;
pub use sys::{
    forward_signal, probe_socket, signal_is_forbidden, tighten_timer_slack, SocketProbe,
};
pub use wait_hook::set_wait_hook;
