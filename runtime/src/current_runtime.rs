//! The runtime this thread belongs to: set on worker threads and inside `block_on`.

use std::cell::RefCell;

use crate::handle::Handle;

thread_local! {
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
    /// Set while this thread runs `block_on`.
    static IN_BLOCK_ON: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks this thread as inside `block_on` until dropped; `None` if it already was.
pub(crate) struct BlockOnGuard(());

pub(crate) fn enter_block_on() -> Option<BlockOnGuard> {
    (!IN_BLOCK_ON.with(|b| b.replace(true))).then_some(BlockOnGuard(()))
}

impl Drop for BlockOnGuard {
    fn drop(&mut self) {
        IN_BLOCK_ON.with(|b| b.set(false));
    }
}

/// The message for APIs used where no runtime is running.
pub(crate) const NO_RUNTIME: &str = "there is no nursery runtime on this thread: call this from a \
    task or from inside Runtime::block_on (or use Handle::spawn from plain threads)";

/// Restores the previous runtime of this thread when dropped.
pub(crate) struct EnterGuard {
    previous: Option<Handle>,
    /// The runtime's fault hook, installed for the scheduler's reports (`diagnostics.rs`).
    _faults: nursery_scheduler::diagnostics::HookGuard,
}

pub(crate) fn enter(handle: Handle) -> EnterGuard {
    let faults = nursery_scheduler::diagnostics::enter(handle.inner.driver.on_fault.clone());
    EnterGuard {
        previous: CURRENT.with(|c| c.replace(Some(handle))),
        _faults: faults,
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // `try_with`: the guard may be dropped while the thread-local itself is being torn down.
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
    }
}

/// Runs `f` with this thread's runtime.
pub(crate) fn with_handle<R>(f: impl FnOnce(Option<&Handle>) -> R) -> R {
    CURRENT.with(|c| f(c.borrow().as_ref()))
}

/// This thread's runtime, panicking with a clear message if there is none.
#[track_caller]
pub(crate) fn expect_handle() -> Handle {
    with_handle(|h| h.cloned()).unwrap_or_else(|| panic!("{}", NO_RUNTIME))
}
