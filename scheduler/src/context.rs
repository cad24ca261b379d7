//! Which node's code is running on this thread, and whether this thread is a worker.

use std::cell::Cell;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

use crate::task::header::Header;
use crate::task::NodeRef;

thread_local! {
    static CURRENT_NODE: Cell<Option<NonNull<Header>>> = const { Cell::new(None) };
    /// The `Shared` of the worker loop running on this thread, as an address for comparison.
    static WORKER_OF: Cell<usize> = const { Cell::new(0) };
}

/// Restores the previous current node when dropped.
pub struct NodeGuard {
    previous: Option<NonNull<Header>>,
}

pub(crate) fn enter_node(ptr: NonNull<Header>) -> NodeGuard {
    NodeGuard {
        previous: CURRENT_NODE.with(|c| c.replace(Some(ptr))),
    }
}

/// Makes `node` the current node of this thread (what `nursery::spawn` attaches children to)
/// until the guard is dropped. The caller must keep `node` alive meanwhile.
pub fn enter(node: &NodeRef) -> NodeGuard {
    enter_node(node.ptr())
}

impl Drop for NodeGuard {
    fn drop(&mut self) {
        CURRENT_NODE.with(|c| c.set(self.previous));
    }
}

/// Runs `f` with the node whose code is running on this thread: the task being polled, or the
/// body of `block_on`. `None` outside any.
pub fn with_current_node<R>(f: impl FnOnce(Option<&NodeRef>) -> R) -> R {
    match CURRENT_NODE.with(Cell::get) {
        None => f(None),
        Some(ptr) => {
            // SAFETY: the current node is kept alive by whoever entered it (the worker's queue
            // reference, or block_on's group) for as long as it is current; the borrowed
            // reference is never dropped.
            let node = ManuallyDrop::new(unsafe { NodeRef::from_raw(ptr) });
            f(Some(&node))
        }
    }
}

pub(crate) fn set_worker_of(shared: usize) -> usize {
    WORKER_OF.with(|w| w.replace(shared))
}

pub(crate) fn worker_of() -> usize {
    WORKER_OF.with(Cell::get)
}

/// Whether this thread runs a worker loop (of any runtime).
pub fn is_worker_thread() -> bool {
    worker_of() != 0
}

/// Wakes a waker the runtime does not own (a join handle's, a scope owner's, a timer's or a
/// socket's waiter, which may belong to any executor) without letting a panic in it unwind into
/// the runtime: the worker, and the completion or timer round it was in, carry on. The panic is
/// reported on stderr, after the panic hook has printed it.
pub fn wake_guarded(waker: std::task::Waker) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake())).is_err() {
        eprintln!("nursery: a waker panicked when woken; the runtime caught it and carries on");
    }
}
