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
//! - `tcp_inq::{enable, read}`: a TCP read that also says whether it drained the socket
//!   (`TCP_INQ`), so the next read waits for an event instead of failing with `EAGAIN`. Elsewhere
//!   a plain read that does not know.
//! - `peer_is_this_process(socket)`: whether a connected Unix stream's peer is this process
//!   (`SO_PEERCRED`); `false` where that cannot be told.

#[cfg(any(target_os = "linux", target_os = "android"))]
#[path = "linux/mod.rs"]
mod os;

#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[path = "other.rs"]
mod os;

pub(crate) use os::{oldest_ready, peer_is_this_process, tcp_inq};
