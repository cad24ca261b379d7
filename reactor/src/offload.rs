//! The offload: where the reactor runs blocking work (host-name lookups) instead of the thread
//! that polls the task. The reactor has no threads of its own; its owner lends it some.

use std::sync::Arc;

use crate::reactor::ReactorHandle;

/// A job handed to the offload: run it on a thread that may block, or drop it unrun (the
/// waiting side then fails with an error saying the work did not run).
pub type OffloadJob = Box<dyn FnOnce() + Send + 'static>;

/// The function [`ReactorHandle::set_offload`] installs.
pub(crate) type Offload = Arc<dyn Fn(OffloadJob) + Send + Sync + 'static>;

impl ReactorHandle {
    /// Gives the reactor somewhere to run blocking work: today the system resolver calls that
    /// [`net::lookup_host`](crate::net::lookup_host) and the `ToSocketAddrs` arguments of the net
    /// types make for host names. `offload` must not run the job on the calling thread; it may
    /// drop a job it cannot run. Only the first call has an effect (it returns `true`).
    ///
    /// The nursery runtime installs its blocking pool here. Without an offload, a host name is
    /// resolved on the thread that polls the lookup, as `std` does.
    ///
    /// # Examples
    ///
    /// ```
    /// let reactor = nursery_reactor::Reactor::new()?;
    /// let handle = reactor.handle();
    /// // One thread per job (a runtime would use a pool).
    /// let installed = handle.set_offload(|job| {
    ///     std::thread::spawn(job);
    /// });
    /// assert!(installed);
    /// assert!(!handle.set_offload(|job| drop(job)), "only the first offload is kept");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_offload(&self, offload: impl Fn(OffloadJob) + Send + Sync + 'static) -> bool {
        self.inner.offload.set(Arc::new(offload)).is_ok()
    }

    /// The installed offload, if any.
    pub(crate) fn offload(&self) -> Option<Offload> {
        self.inner.offload.get().cloned()
    }
}
