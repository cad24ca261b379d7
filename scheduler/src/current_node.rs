//! Which node's code is running on this thread, and whether this thread is a worker.

use std::cell::Cell;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

use crate::sync::thread_local;
use crate::task::header::Header;
use crate::task::NodeRef;

/// The current node, and which [`EnterGuard`] made it current (its `entry`; 0 for a worker's
/// poll or none).
#[derive(Clone, Copy)]
struct Current {
    node: Option<NonNull<Header>>,
    entry: u64,
}

thread_local! {
    static CURRENT_NODE: Cell<Current> = const { Cell::new(Current { node: None, entry: 0 }) };
    /// The number of the next [`EnterGuard`] on this thread (from 1: never a worker's 0).
    static NEXT_ENTRY: Cell<u64> = const { Cell::new(1) };
    /// The `Shared` of the worker loop running on this thread, as an address for comparison.
    static WORKER_OF: Cell<usize> = const { Cell::new(0) };
    /// The node a leaf future last recorded a wait for, since the current poll began.
    static RECORDED_FOR: Cell<Option<NonNull<Header>>> = const { Cell::new(None) };
}

/// Restores the previous current node when dropped (the worker's, around each poll: the
/// worker keeps the node alive for the whole poll, so the pointer needs no count).
pub(crate) struct NodeGuard {
    previous: Current,
}

pub(crate) fn enter_node(ptr: NonNull<Header>) -> NodeGuard {
    let current = Current {
        node: Some(ptr),
        entry: 0,
    };
    NodeGuard {
        previous: CURRENT_NODE.with(|c| c.replace(current)),
    }
}

impl Drop for NodeGuard {
    fn drop(&mut self) {
        CURRENT_NODE.with(|c| c.set(self.previous));
    }
}

/// Keeps `node` the current node of this thread (what `nursery::spawn` attaches children to)
/// until dropped; see [`enter`].
///
/// Sound whatever safe code does with it: the guard holds a counted reference, so the node
/// outlives the guard (and, if the guard is leaked with `mem::forget`, stays alive while it may
/// still be current). Guards must be dropped in the reverse order of their creation; one dropped
/// out of turn leaks its node (which stays valid) and panics with a message saying so. Each
/// guard has a number of its own, and restores the node it replaced only if the node current
/// now is still the one it made current: a guard kept past the poll or guard that was current
/// when it was made (stashed in a thread-local, say) would otherwise restore a node that may
/// be gone.
#[must_use = "the node is current only until the guard is dropped"]
pub struct EnterGuard {
    node: NodeRef,
    entry: u64,
    previous: Current,
}

/// Makes `node` the current node of this thread until the returned guard is dropped: how a
/// runtime runs a group's body (a scope's, `block_on`'s) so that what it spawns becomes the
/// group's child.
pub fn enter(node: &NodeRef) -> EnterGuard {
    let node = node.clone();
    let entry = NEXT_ENTRY.with(|n| n.replace(n.get() + 1));
    let current = Current {
        node: Some(node.ptr()),
        entry,
    };
    let previous = CURRENT_NODE.with(|c| c.replace(current));
    EnterGuard {
        node,
        entry,
        previous,
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let ours = CURRENT_NODE.with(|c| {
            let ours = c.get().entry == self.entry;
            if ours {
                // The previous node is alive: it is kept by the guard (or the worker's poll)
                // that made it current, which, guards being dropped in order, is still there.
                // (Once that poll ended or that guard was dropped, the current entry was
                // replaced, and nothing can make this guard's entry current again.)
                c.set(self.previous);
            }
            ours
        });
        if !ours {
            // Dropped out of turn: the thread may still point at our node, so it must stay
            // alive for good.
            std::mem::forget(self.node.clone());
            if !std::thread::panicking() {
                panic!(
                    "nursery_scheduler::current_node::EnterGuard dropped out of order: drop the \
                     guards of `enter` in the reverse order of their creation"
                );
            }
        }
    }
}

/// Runs `f` with the node whose code is running on this thread: the task being polled, or the
/// body of `block_on`. `None` outside any.
pub fn with_current_node<R>(f: impl FnOnce(Option<&NodeRef>) -> R) -> R {
    match CURRENT_NODE.with(Cell::get).node {
        None => f(None),
        Some(ptr) => {
            // SAFETY: the current node is kept alive for as long as it is current by whoever
            // made it current: the worker's reference during a poll, or an `EnterGuard`'s
            // counted reference (leaked with the guard, or when a guard is dropped out of
            // turn); the borrowed reference is never dropped.
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
/// reported (after the panic hook has printed it) as a
/// [`FaultKind::WakerPanicked`](crate::diagnostics::FaultKind::WakerPanicked) fault.
pub fn wake_guarded(waker: std::task::Waker) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake())).is_err() {
        crate::diagnostics::report(crate::diagnostics::Fault::waker_panicked());
    }
}

/// Records what the current node (the task being polled, or the body of a scope or of
/// `block_on`) waits on: what a leaf future calls as it returns `Pending`, so that the task-tree
/// dump can say where a task is stuck. The last leaf of a poll wins, except that a
/// [`Wait::Timer`](crate::Wait::Timer) does not replace another leaf recorded in the same poll.
/// Copies a few words; does nothing outside a node.
pub fn record_wait(wait: crate::Wait) {
    let timer = matches!(wait, crate::Wait::Timer { .. });
    record_in_slot(timer, |slot| slot.set(wait));
}

/// [`record_wait`] of a [`Wait::Timer`](crate::Wait::Timer) whose deadline lies `after_epoch`
/// nanoseconds after [`timer_epoch`](crate::timer_epoch): what a timer that knows that offset
/// records, without computing it from an `Instant`.
pub fn record_timer_wait(after_epoch: u64) {
    record_in_slot(true, |slot| slot.set_timer(after_epoch));
}

/// Runs `record` on the current node's wait slot, unless there is no current node or the wait
/// is a timer's (`timer`) and a leaf already recorded one for this node in this poll.
#[inline]
fn record_in_slot(timer: bool, record: impl FnOnce(&crate::task::wait::WaitSlot)) {
    let Some(ptr) = CURRENT_NODE.with(Cell::get).node else {
        return;
    };
    let recorded = RECORDED_FOR.with(|r| r.replace(Some(ptr)));
    if timer && recorded == Some(ptr) {
        return;
    }
    // SAFETY: the current node is kept alive while it is current (see `with_current_node`).
    record(&unsafe { ptr.as_ref() }.meta.waiting);
}

/// Polls `poll` (a group's body, with the group current), showing no wait for the group while
/// it runs, and, if it returns `Pending` without a leaf recording a wait for the group, records
/// [`Wait::Foreign`](crate::Wait::Foreign): what a runtime does around each poll of a body it
/// drives itself (the scheduler does it around every task's poll).
pub fn poll_recording_wait<R>(poll: impl FnOnce() -> std::task::Poll<R>) -> std::task::Poll<R> {
    begin_recording_wait();
    let current = CURRENT_NODE.with(Cell::get).node;
    if let Some(ptr) = current {
        // SAFETY: the current node is kept alive while it is current (see `with_current_node`).
        unsafe { ptr.as_ref() }.meta.waiting.clear();
    }
    let polled = poll();
    if polled.is_pending() {
        if let Some(ptr) = current {
            finish_recording_wait(ptr);
        }
    }
    polled
}

/// A poll of some node begins: no leaf has recorded a wait in it yet.
pub(crate) fn begin_recording_wait() {
    RECORDED_FOR.with(|r| r.set(None));
}

/// `node`'s poll returned `Pending`: if no leaf recorded a wait for it, it waits on a future
/// from outside nursery.
pub(crate) fn finish_recording_wait(node: NonNull<Header>) {
    if RECORDED_FOR.with(Cell::get) != Some(node) {
        // SAFETY: the caller is polling `node`, which it keeps alive for the poll.
        unsafe { node.as_ref() }.meta.waiting.set_foreign();
    }
}
