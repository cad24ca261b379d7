//! The reactor's hook point for internal faults: its owner (the runtime) routes them to its
//! own diagnostics (`nursery_runtime::Builder::on_fault`); a reactor with no hook prints them.

use std::fmt;
use std::io;
use std::sync::Arc;

use crate::reactor::ReactorHandle;

/// An internal fault of the reactor, which it cannot return to anyone.
#[derive(Debug)]
#[non_exhaustive]
pub enum IoFault {
    /// A waker woken for I/O panicked; the reactor caught it and woke the others.
    WakerPanicked,
    /// Collecting ready I/O failed (only a bug can cause it: EBADF, EINVAL).
    CollectFailed(io::Error),
}

impl fmt::Display for IoFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IoFault::WakerPanicked => f.write_str(
                "a waker panicked when woken for I/O; the runtime caught it and carries on",
            ),
            IoFault::CollectFailed(e) => write!(f, "collecting ready I/O failed: {e}"),
        }
    }
}

pub(crate) type FaultHook = Arc<dyn Fn(IoFault) + Send + Sync>;

impl ReactorHandle {
    /// Sends the reactor's internal faults to `hook` instead of stderr; returns `false` (and
    /// keeps the first) if a hook was already set.
    ///
    /// # Examples
    ///
    /// ```
    /// let reactor = nursery_reactor::Reactor::new()?;
    /// let handle = reactor.handle();
    /// assert!(handle.set_fault_hook(|fault| eprintln!("my reactor: {fault}")));
    /// assert!(!handle.set_fault_hook(|_| {}), "only the first hook is kept");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_fault_hook(&self, hook: impl Fn(IoFault) + Send + Sync + 'static) -> bool {
        self.inner.fault_hook.set(Arc::new(hook)).is_ok()
    }
}

/// Reports `fault` to `handle`'s hook (the thread's current reactor where `None`), or prints it.
pub(crate) fn report(handle: Option<&ReactorHandle>, fault: IoFault) {
    let current;
    let handle = match handle {
        Some(h) => Some(h),
        None => {
            current = ReactorHandle::try_current();
            current.as_ref()
        }
    };
    match handle.and_then(|h| h.inner.fault_hook.get()) {
        Some(hook) => hook(fault),
        None => eprintln!("nursery: {fault}"),
    }
}
