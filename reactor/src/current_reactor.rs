//! The thread-local "current reactor" that I/O constructors pick up.

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;

use crate::error;
use crate::reactor::ReactorHandle;

thread_local! {
    static CURRENT: RefCell<Option<ReactorHandle>> = const { RefCell::new(None) };
}

/// Makes a [`ReactorHandle`] the current reactor of this thread until dropped.
///
/// Returned by [`ReactorHandle::enter`]. Dropping it restores whichever handle was
/// current before (guards nest). It must be dropped on the thread that
/// created it, hence it is not `Send`.
///
/// # Examples
///
/// ```
/// use nursery_reactor::{net::UnixStream, ReactorHandle, Reactor};
///
/// let outer = Reactor::new()?;
/// let inner = Reactor::new()?;
/// let outer_guard = outer.handle().enter();
/// {
///     let _inner_guard = inner.handle().enter();
///     let _pair = UnixStream::pair()?; // registers with the current reactor: `inner`
///     assert_eq!(inner.handle().registrations(), 2);
/// } // `outer` is current again
/// let _pair = UnixStream::pair()?;
/// assert_eq!(outer.handle().registrations(), 2);
///
/// drop(outer_guard);
/// assert!(ReactorHandle::try_current().is_none());
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "the handle is current only while the guard lives"]
pub struct EnterGuard {
    previous: Option<ReactorHandle>,
    _not_send: PhantomData<*const ()>,
}

impl ReactorHandle {
    /// Makes this handle the current reactor of this thread until the guard is dropped.
    ///
    /// The runtime enters its handle on every worker thread and inside
    /// `block_on`; I/O types created there find it through [`ReactorHandle::current`].
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery_reactor::{ReactorHandle, Reactor};
    ///
    /// let reactor = Reactor::new()?;
    /// assert!(ReactorHandle::try_current().is_none());
    /// {
    ///     let _guard = reactor.handle().enter();
    ///     assert!(ReactorHandle::try_current().is_some());
    /// }
    /// assert!(ReactorHandle::try_current().is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn enter(&self) -> EnterGuard {
        let previous = CURRENT.with(|current| current.replace(Some(self.clone())));
        EnterGuard {
            previous,
            _not_send: PhantomData,
        }
    }

    /// The reactor this thread has entered.
    ///
    /// # Panics
    ///
    /// With "there is no nursery reactor on this thread: I/O types must be used
    /// inside a nursery runtime (a task, or Runtime::block_on)" when no handle
    /// is entered.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery_reactor::{ReactorHandle, Reactor};
    ///
    /// let reactor = Reactor::new()?;
    /// let _guard = reactor.handle().enter();
    /// let handle = ReactorHandle::current();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn current() -> ReactorHandle {
        match ReactorHandle::try_current() {
            Some(handle) => handle,
            None => panic!("{}", error::NO_REACTOR),
        }
    }

    /// The reactor this thread has entered, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(nursery_reactor::ReactorHandle::try_current().is_none());
    /// ```
    pub fn try_current() -> Option<ReactorHandle> {
        CURRENT
            .try_with(|current| current.borrow().clone())
            .ok()
            .flatten()
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // During thread teardown the slot may already be gone; nothing to restore then.
        let replaced = CURRENT.try_with(|current| current.replace(previous));
        drop(replaced);
    }
}

impl fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnterGuard").finish_non_exhaustive()
    }
}
