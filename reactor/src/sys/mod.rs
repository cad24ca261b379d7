//! The operating-system layer: the system calls std and mio lack, one module per OS family
//! behind one switch. It is the only place in this crate with `unsafe` (each block carries its
//! `// SAFETY:` argument); everything above it is safe code over mio.
//!
//! What each OS gives the rest of the crate (same names on every OS):
//!
//! - `oldest_ready(epfd)`: a zero-timeout wait for the single oldest ready event of the
//!   reactor's poll instance, callable from any thread while the turn is blocked in it
//!   (`ReactorHandle::wake_one_ready`). `Ok(None)` where the OS cannot do it: the turn then collects
//!   every event.
//! - `peer_is_this_process(socket)`: whether a connected Unix stream's peer is this process
//!   (`SO_PEERCRED`); `false` where that cannot be told.
//! - `tighten_timer_slack()`: lowers the calling thread's timer slack (how late the kernel may
//!   end its timed waits) to 1 µs (`PR_SET_TIMERSLACK`); nothing where there is no such thing.
//!
//! `tighten_timer_slack` is re-exported at the crate root for the runtime's worker threads. And
//! on every Unix, re-exported at the crate root for the runtime: `probe_socket` (what a
//! descriptor is, for the task-tree dump) and `forward_signal` (a signal handler that writes a
//! byte to a socket, for `nursery::signal`).

#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux;
#[cfg(any(target_os = "linux", target_os = "android"))]
use linux as os;

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod other;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
use other as os;

pub use os::tighten_timer_slack;
pub(crate) use os::{oldest_ready, peer_is_this_process};

// Unix-wide, not per OS family.
mod probe;
mod signal;

pub use probe::{probe_socket, SocketProbe};
pub use signal::{forward_signal, signal_is_forbidden};
