//! Signal delivery as a byte on a socket: the one signal-handler action nursery installs
//! (through `signal-hook-registry`), and the only thing it does in the handler.

use std::io::{self, Write};
use std::os::unix::net::UnixStream;

/// Whether `signum` is one no handler may be installed for (`SIGKILL`, `SIGSTOP`, and the fault
/// signals `SIGSEGV`, `SIGILL`, `SIGFPE`).
pub fn signal_is_forbidden(signum: libc::c_int) -> bool {
    signal_hook_registry::FORBIDDEN.contains(&signum)
}

/// From now on, for the life of the process, each delivery of signal `signum` writes one byte
/// to `write` (a non-blocking socket; a full socket drops the byte: a wake is already pending).
/// The previous disposition is replaced, as with any handler.
///
/// # Errors
///
/// `InvalidInput` for a forbidden signal ([`signal_is_forbidden`]); the error of
/// `sigaction(2)` for an invalid number.
pub fn forward_signal(signum: libc::c_int, write: UnixStream) -> io::Result<()> {
    if signal_is_forbidden(signum) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("signal {signum} cannot be handled"),
        ));
    }
    write.set_nonblocking(true)?;
    let action = move || {
        // A full socket means a wake is already pending: the byte is not needed.
        let _ = (&write).write(&[1]);
    };
    // SAFETY: the action runs in a signal handler. It makes one `write(2)` on a non-blocking
    // socket (async-signal-safe; `std` turns a failure into an `io::Error` from errno, without
    // allocating), ignores the result, touches no lock and cannot panic. signal-hook-registry
    // saves and restores errno around it. `signum` is not one of its forbidden signals (checked
    // above), so it does not panic; an invalid number is an error.
    unsafe { signal_hook_registry::register(signum, action) }.map(drop)
}
