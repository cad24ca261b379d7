//! Signals: [`ctrl_c`], Unix signals as streams ([`unix::signal`]), and
//! [`Scope::shutdown_on`](crate::Scope::shutdown_on), which turns the first `SIGINT`/`SIGTERM`
//! into a graceful shutdown of a scope and the second into its cancellation.
//!
//! # How delivery works
//!
//! Signal dispositions belong to the process, so signal handling has one process-wide part:
//! for each signal number someone listens for, a socket pair and a handler (registered with
//! `signal-hook-registry`, so it chains with other libraries' handlers) that writes one byte to
//! it. Every listener, in any runtime, reads through its own duplicate of the read end,
//! registered with its runtime's reactor like any socket: no thread polls for signals. The
//! first listener polled after a delivery drains the socket, counts the delivery and wakes the
//! others; each listener yields once per delivery made after it was created.
//!
//! The handler stays installed once the first listener is created, for the life of the process:
//! after listening for `SIGINT`, Ctrl-C no longer kills the process, even once every listener
//! is gone (tokio behaves the same). A signal the kernel merged (sent again while still
//! pending) is one delivery.
//!
//! ```
//! use nursery_runtime::signal::unix::{signal, SignalKind};
//!
//! let rt = nursery_runtime::Runtime::builder().worker_threads(1).build()?;
//! rt.block_on(async {
//!     let mut a = signal(SignalKind::user_defined2())?;
//!     let mut b = signal(SignalKind::user_defined2())?; // a second listener of the same signal
//!     // SAFETY: raise(3) has no preconditions.
//!     unsafe { libc::raise(libc::SIGUSR2) };
//!     assert_eq!((a.recv().await, b.recv().await), (Some(()), Some(())));
//!     Ok::<_, std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod kind;
mod registry;
mod shutdown_on;
pub mod unix;

use std::io;

/// Completes at the next `SIGINT` (Ctrl-C) after its first poll.
///
/// The listener is created at the first poll; from then on Ctrl-C no longer kills the process
/// (see the [module docs](self)). To handle every Ctrl-C, keep one
/// [`unix::signal`]`(SignalKind::interrupt())` and call `recv` in a loop instead; to shut a
/// scope down on Ctrl-C, see [`Scope::shutdown_on`](crate::Scope::shutdown_on).
///
/// # Errors
///
/// If the listener cannot be created (out of file descriptors), or the runtime shuts down
/// while waiting.
///
/// # Panics
///
/// When polled outside a nursery runtime.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build()?;
/// rt.block_on(async {
///     let mut ctrl_c = std::pin::pin!(nursery_runtime::signal::ctrl_c());
///     assert!(futures::poll!(&mut ctrl_c).is_pending()); // listening from here on
///     // SAFETY: raise(3) has no preconditions. (A user would press Ctrl-C.)
///     unsafe { libc::raise(libc::SIGINT) };
///     nursery_runtime::time::timeout(Duration::from_secs(10), ctrl_c).await??;
///     Ok::<_, Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    let mut interrupts = unix::signal(unix::SignalKind::interrupt())?;
    match interrupts.recv().await {
        Some(()) => Ok(()),
        None => Err(io::Error::other(
            "nursery::signal::ctrl_c: the runtime shut down while waiting for Ctrl-C",
        )),
    }
}
