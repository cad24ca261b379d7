//! Tells the runtime which socket a task waits on, for its task-tree dump ("where is it stuck").
//!
//! The reactor knows nothing of tasks: when a wait on a registration returns `Pending`, it
//! calls the hook the runtime installed with the file descriptor and the direction, and the
//! runtime records them for the task being polled. The hook is a plain function, the same for
//! every runtime in the process (it keeps no state of its own); until one is installed a wait
//! costs one atomic load more.

use std::os::fd::RawFd;
use std::sync::OnceLock;

use mio::Interest;

static HOOK: OnceLock<fn(RawFd, Interest)> = OnceLock::new();

/// Installs `hook`, called with the file descriptor and `READABLE` or `WRITABLE` each time a
/// wait on a [`Registration`](crate::Registration) (a net type's read, write, accept, connect,
/// ...) returns `Pending`. The first hook installed in the process stays; later calls are
/// ignored. The hook must be cheap and must not block: it runs inside the poll.
///
/// ```
/// use std::future::poll_fn;
/// use std::sync::atomic::{AtomicI32, Ordering};
/// use nursery_reactor::{set_wait_hook, Reactor, Registration};
///
/// static LAST_FD: AtomicI32 = AtomicI32::new(-1);
/// set_wait_hook(|fd, _interest| LAST_FD.store(fd, Ordering::Relaxed));
///
/// let reactor = Reactor::new()?;
/// let (mut a, _b) = mio::net::UnixStream::pair()?;
/// let fd = std::os::fd::AsRawFd::as_raw_fd(&a);
/// let mut reg = Registration::new(&mut a, mio::Interest::READABLE, &reactor.handle())?;
/// reg.set_fd(fd);
/// let waker = std::task::Waker::noop();
/// let mut cx = std::task::Context::from_waker(&waker);
/// // Optimistically ready at first; a clear makes the next poll wait.
/// assert!(reg.poll_read_ready(&mut cx).is_ready());
/// reg.clear_read_ready();
/// assert!(reg.poll_read_ready(&mut cx).is_pending());
/// assert_eq!(LAST_FD.load(Ordering::Relaxed), fd);
/// reg.deregister(&mut a)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn set_wait_hook(hook: fn(RawFd, Interest)) {
    let _ = HOOK.set(hook);
}

/// A wait on `fd` in `interest` returned `Pending`.
pub(crate) fn waiting(fd: RawFd, interest: Interest) {
    if fd >= 0 {
        if let Some(hook) = HOOK.get() {
            hook(fd, interest);
        }
    }
}
