//! The task tree: linking children, cancelling subtrees, recording failures, and completing a
//! node once its body and every child are gone.
//!
//! Locking: each node's `tree` mutex guards its own child list, waiter and failure. No code holds
//! two of these locks at once, and none is global: spawns and completions under different parents
//! never contend. A task joins its parent's list only when it first waits (`join_parent_list`),
//! so short tasks under one parent do not contend either. Every walk over the tree (cancel, complete, dump) is iterative, so a chain
//! 100,000 deep costs heap, not stack.

use std::mem::ManuallyDrop;
use std::ptr::NonNull;

use super::error::{Failure, JoinError};
use super::header::{Header, Tree};
use super::node::{NodeInfo, NodeRef};
use super::state::ToNotified;
use crate::diagnostics::{report, Fault, FaultKind};
use crate::sync::atomic::Ordering::*;

/// Takes a slot in `parent` for a new child. Fails once the parent has completed.
pub(crate) fn try_reserve_child(parent: &Header) -> bool {
    let mut cur = parent.pending.load(Acquire);
    loop {
        if cur == 0 {
            return false;
        }
        match parent
            .pending
            .compare_exchange_weak(cur, cur + 1, AcqRel, Acquire)
        {
            Ok(_) => return true,
            Err(actual) => cur = actual,
        }
    }
}

/// Links a new node (not yet visible to any other thread) under `parent` at once: groups, and
/// named tasks (a name is asked for to be seen in the dump from the start). A node linked under
/// a cancelled parent is born cancelled, so a cancel that already walked the list cannot miss it.
pub(crate) fn link_new_child(parent: &Header, child: NonNull<Header>, is_group: bool) {
    if is_group {
        parent.state.set_has_groups();
    }
    let inherited = list_under(parent, child);
    // Marked before the creator queues or returns the node, so nothing runs it uncancelled.
    // SAFETY: the child is alive (we are creating it).
    mark_cancelled(&unsafe { child.as_ref() }.state, inherited);
}

/// Puts a running task into its parent's child list, the first time it has to wait (see
/// `LISTED` in `state.rs`): until then it is invisible to a cancel walk, which is why its first
/// poll looks at its parent's state itself (`cancelled_before_first_poll`). The caller holds
/// RUNNING, so nothing else lists or completes the task meanwhile.
///
/// A cancel that reached the parent before this takes the lock is inherited here, and passed on
/// to whatever children the task already has; one that comes after finds the task in the list.
pub(crate) fn join_parent_list(task: &NodeRef) {
    let header = task.header();
    // SAFETY: only the completer takes the parent pointer, and the task cannot complete while
    // its body (ours: we hold RUNNING) is not done.
    let Some(parent) = header.parent.with(|p| unsafe { *p }) else {
        return;
    };
    // SAFETY: the task holds a pending slot in its parent, which is therefore alive.
    if let Some(force) = list_under(unsafe { parent.as_ref() }, task.ptr()) {
        cancel_subtree(task, force);
    }
}

/// Whether a task that was not yet listed must count as cancelled at its first poll: its
/// parent was cancelled before the task could join the list. Returns whether it now is.
pub(crate) fn cancelled_before_first_poll(task: &NodeRef) -> bool {
    let header = task.header();
    // SAFETY: as in `join_parent_list`: the caller holds RUNNING, so the task is not complete.
    let Some(parent) = header.parent.with(|p| unsafe { *p }) else {
        return false;
    };
    // SAFETY: the task holds a pending slot in its parent, which is therefore alive.
    let parent_state = unsafe { parent.as_ref() }.state.load();
    mark_cancelled(
        &header.state,
        inherited_cancel(parent_state, header.state.load()),
    )
}

/// Under `parent`'s lock: pushes `child` into its list, marks it LISTED, and returns the
/// cancel it inherits from the parent as it stands then (see `inherited_cancel`). A cancel of
/// the parent that comes later finds the child in the list.
fn list_under(parent: &Header, child: NonNull<Header>) -> Option<bool> {
    let tree = parent.tree.lock();
    // SAFETY: the caller creates the child, or holds its RUNNING: it is alive.
    let child_state = &unsafe { child.as_ref() }.state;
    let inherited = inherited_cancel(parent.state.load(), child_state.load());
    child_state.set_listed();
    push_child(tree, child);
    inherited
}

/// Sets what `inherited_cancel` found on a node; returns whether it is now cancelled.
fn mark_cancelled(state: &super::state::State, inherited: Option<bool>) -> bool {
    match inherited {
        Some(true) => drop(state.set_forced()),
        Some(false) => drop(state.set_cancelled()),
        None => return false,
    }
    true
}

/// What a new member of `parent`'s list inherits: `Some(true)` a forced cancel (through
/// shields), `Some(false)` a plain cancel, `None` nothing (a shielded child ignores a plain one).
fn inherited_cancel(parent: super::state::Snapshot, child: super::state::Snapshot) -> Option<bool> {
    if parent.is_forced() {
        Some(true)
    } else if parent.is_cancelled() && !child.is_shielded() {
        Some(false)
    } else {
        None
    }
}

/// Pushes `child` at the head of the list whose lock guard is `tree`. The list owns a reference
/// to each child (taken at birth, held in reserve until the child is listed): an idle task
/// nobody else refers to (no handle, no waker) lives on in the tree until it completes.
fn push_child(mut tree: crate::sync::MutexGuard<'_, Tree>, child: NonNull<Header>) {
    if let Some(first) = tree.first_child {
        // SAFETY: `first` is linked under this parent and we hold its lock, which guards the
        // sibling links of all its children; linked nodes are alive.
        unsafe { first.as_ref() }
            .siblings
            .with_mut(|s| unsafe { (*s).prev = Some(child) });
    }
    // SAFETY: the child is alive (its creator or the holder of its RUNNING calls us), and its
    // sibling links are guarded by the lock we hold.
    unsafe { child.as_ref() }.siblings.with_mut(|s| unsafe {
        (*s).prev = None;
        (*s).next = tree.first_child;
    });
    tree.first_child = Some(child);
    tree.children += 1;
}

/// Unlinks a completed child; returns the list's reference to it, to be dropped after the lock.
/// A child that never joined the list gives back the reference held in reserve for it.
fn unlink_child(parent: &Header, child: NonNull<Header>) -> NodeRef {
    // SAFETY: the caller holds the child's pending slot in `parent`: the child is alive.
    if !unsafe { child.as_ref() }.state.load().is_listed() {
        // SAFETY: the list's reference was taken at birth and never handed to the list.
        return unsafe { NodeRef::from_raw(child) };
    }
    let mut tree = parent.tree.lock();
    // SAFETY: the child is linked under `parent` (linked nodes are alive) and we hold the lock
    // that guards the sibling links of `parent`'s children.
    let (prev, next) = unsafe { child.as_ref() }
        .siblings
        .with_mut(|s| unsafe { ((*s).prev.take(), (*s).next.take()) });
    match prev {
        // SAFETY: as above, `p` is a live sibling.
        Some(p) => unsafe { p.as_ref() }
            .siblings
            .with_mut(|s| unsafe { (*s).next = next }),
        None => tree.first_child = next,
    }
    if let Some(n) = next {
        // SAFETY: as above, `n` is a live sibling.
        unsafe { n.as_ref() }
            .siblings
            .with_mut(|s| unsafe { (*s).prev = prev });
    }
    tree.children -= 1;
    // SAFETY: the list owned this reference since `link_child`.
    unsafe { NodeRef::from_raw(child) }
}

/// A counted reference to each child, taken under the lock so that none can be freed.
fn children_of(node: &Header) -> Vec<NodeRef> {
    let tree = node.tree.lock();
    let mut out = Vec::with_capacity(tree.children);
    let mut cur = tree.first_child;
    while let Some(child) = cur {
        // SAFETY: linked children are alive while we hold the parent's lock.
        out.push(unsafe { NodeRef::clone_from_raw(child) });
        // SAFETY: the sibling links of `node`'s children are guarded by the lock we hold.
        cur = unsafe { child.as_ref() }
            .siblings
            .with_mut(|s| unsafe { (*s).next });
    }
    out
}

/// Cancels `root` and its whole subtree: every node is flagged, every idle task is scheduled so
/// a worker drops its future at once, and every group's owner is woken. Shielded descendants
/// (and their subtrees) are skipped unless `force` is set (runtime shutdown); `root` itself is
/// cancelled even if shielded (its own handle asked).
pub(crate) fn cancel_subtree(root: &NodeRef, force: bool) {
    let mut stack = vec![root.clone()];
    while let Some(node) = stack.pop() {
        let header = node.header();
        let first = if force {
            header.state.set_forced()
        } else if node != *root && header.state.load().is_shielded() {
            false
        } else {
            header.state.set_cancelled()
        };
        if !first {
            // Already cancelled (its subtree was walked then, and later children are born
            // cancelled), or shielded from this cancellation.
            continue;
        }
        stack.extend(children_of(header));
        if header.state.load().is_group() {
            wake_waiter(&node);
        } else {
            schedule_if_idle(&node);
        }
    }
}

/// Makes sure a worker looks at the task soon (used for cancellation).
pub(crate) fn schedule_if_idle(task: &NodeRef) {
    let header = task.header();
    if header.state.transition_to_notified() == ToNotified::Submit {
        // SAFETY: `transition_to_notified` added a reference for the queue.
        let queued = unsafe { NodeRef::from_raw(task.ptr()) };
        if let Some(scheduler) = header.scheduler {
            // SAFETY: a task is only submitted while its body is not done, and the runtime
            // keeps its scheduler alive until every task's body is done (see `Header`); from
            // the push on, `schedule_woken` keeps it alive itself.
            unsafe { crate::worker::Shared::schedule_woken(scheduler, queued) };
        }
    }
}

/// Records a failure that reached `node` (its own panic, or a child's). The first one cancels
/// the node's subtree; later ones are kept as messages.
pub(crate) fn record_failure(node: &NodeRef, failure: Failure) {
    let first = {
        let mut tree = node.header().tree.lock();
        let cold = tree.cold();
        if cold.failure.is_none() {
            cold.failure = Some(failure);
            node.header().state.set_failed();
            true
        } else {
            cold.suppressed.push(format!("{failure:?}"));
            false
        }
    };
    if first {
        cancel_subtree(node, false);
    }
}

/// The body of `node` has finished (future gone, or a group's owner done): close scope futures
/// that were leaked with `mem::forget` under it, then give up the body's pending slot.
pub(crate) fn finish_body(node: &NodeRef) {
    if node.header().state.load().has_groups() {
        for child in children_of(node.header()) {
            if child.header().state.load().is_group() {
                close_group_body(&child, true);
            }
        }
    }
    release_pending(node);
}

/// Closes a group's body once (idempotent). `abandoned`: the body did not finish normally, so the
/// group's children are cancelled first.
pub(crate) fn close_group_body(group: &NodeRef, abandoned: bool) {
    let header = group.header();
    if header.state.load().is_body_done() {
        return;
    }
    if abandoned {
        cancel_subtree(group, false);
    }
    if header.state.mark_group_body_done() {
        finish_body(group);
    }
}

/// Gives up one pending slot of `node`; completes it (and, iteratively, any ancestors this
/// completes) when the count reaches zero. The caller keeps its reference to `node`.
///
/// A child holds no counted reference to its parent: a parent cannot be freed before it
/// completes (its own parent's list, or its owner, refers to it), and it cannot complete while
/// the child still holds its pending slot. So the parent is touched only before that slot is
/// released — or, when the release completes the parent, under a reference taken then.
pub(crate) fn release_pending(node: &NodeRef) {
    if node.header().pending.fetch_sub(1, AcqRel) != 1 {
        return;
    }
    let mut owned: Option<NodeRef> = None;
    let mut current = node.ptr();
    loop {
        // SAFETY: `current` is `node` (the caller's reference) or `owned`.
        let current_ref = ManuallyDrop::new(unsafe { NodeRef::from_raw(current) });
        let Some(parent_ptr) = complete_one(&current_ref) else {
            break;
        };
        // SAFETY: we still hold `current`'s pending slot in the parent: it is alive.
        let parent = ManuallyDrop::new(unsafe { NodeRef::from_raw(parent_ptr) });
        drop(unlink_child(parent.header(), current));
        if parent.header().pending.fetch_sub(1, AcqRel) != 1 {
            break;
        }
        // We completed the parent: it is ours to complete, and its own parent's list still
        // holds it, so taking a reference is safe.
        // SAFETY: alive, as just argued.
        owned = Some(unsafe { NodeRef::clone_from_raw(parent_ptr) });
        current = parent_ptr;
    }
    drop(owned);
}

/// Completes one node whose pending count reached zero. Returns its parent, after handing the
/// parent any failure that travels up (the caller unlinks the node and releases its slot).
fn complete_one(node: &NodeRef) -> Option<NonNull<Header>> {
    let header = node.header();
    // SAFETY: only the thread that brought `pending` to zero gets here, once.
    let parent_ptr = header.parent.with_mut(|p| unsafe { (*p).take() });
    // SAFETY: the node still holds its pending slot in the parent, which is therefore alive.
    let parent = parent_ptr.map(|p| ManuallyDrop::new(unsafe { NodeRef::from_raw(p) }));
    let snapshot = header.state.load();
    let failure = if snapshot.has_failed() {
        header.tree.lock().take_failure()
    } else {
        None
    };

    // A failure goes up unless the parent keeps failures at the child (root, supervised scope).
    let propagates = parent
        .as_ref()
        .is_some_and(|p| !p.header().state.load().is_supervised());
    let mut failure_up = None;

    if snapshot.is_group() {
        // The owner (scope future, block_on) re-raises a group's failure; a group whose owner
        // is gone hands it up instead, so it is never lost.
        match failure {
            Some(f) if !snapshot.has_join_interest() && propagates => failure_up = Some(f),
            Some(f) => header.tree.lock().cold().failure = Some(f),
            None => {}
        }
    } else if let Some(f) = failure {
        let err = if propagates {
            let summary = f.summary();
            failure_up = Some(f);
            JoinError::panic(summary)
        } else {
            let err = JoinError::panic(f);
            if let Some(parent) = &parent {
                report_to_supervisor(parent, &err, snapshot.has_join_interest());
            }
            err
        };
        // SAFETY: BODY_DONE is set and COMPLETE is not: only the completer touches the stage.
        unsafe { (header.vtable.set_error)(node.ptr(), err) };
    }
    // The parent learns of the failure (and is cancelled) before anyone can see this node
    // complete: a parent awaiting this handle must be stopped at that poll point, not be handed
    // the error to act on.
    if let (Some(parent), Some(failure)) = (&parent, failure_up) {
        record_failure(parent, failure);
    }
    let before = header.state.transition_to_complete();
    if !snapshot.is_group() && !before.has_join_interest() {
        // SAFETY: the join handle is gone, so the completer owns the output.
        unsafe { (header.vtable.drop_output)(node.ptr()) };
    }
    if before.has_join_waker() {
        let waiter = header.tree.lock().waiter.take();
        if let Some(w) = waiter {
            crate::context::wake_guarded(w);
        }
    }
    parent_ptr
}

/// Stores `waker` as the node's waiter unless the node is complete; returns whether it is
/// complete (then nothing was stored and the caller must not wait).
pub(crate) fn register_waiter(node: &NodeRef, waker: &std::task::Waker) -> bool {
    let header = node.header();
    if header.state.load().is_complete() {
        return true;
    }
    let mut tree = header.tree.lock();
    match &tree.waiter {
        Some(w) if w.will_wake(waker) => {}
        _ => tree.waiter = Some(waker.clone()),
    }
    // Published after storing: a completer that sees the bit finds the waker under the lock;
    // one that came first is seen here as COMPLETE.
    header.state.set_join_waker().is_complete()
}

/// A failure that stays at the child (its parent is the root or a supervised scope): hand it to
/// the supervisor's handler; with no handler and no join handle to carry it, print it rather than
/// lose it (the root's panics were already printed by the panic hook).
fn report_to_supervisor(parent: &NodeRef, err: &JoinError, has_join_handle: bool) {
    let handler =
        (parent.header().tree.lock().cold.as_ref()).and_then(|c| c.on_child_failure.clone());
    match handler {
        Some(handler) => {
            let call = std::panic::AssertUnwindSafe(|| handler(err));
            if std::panic::catch_unwind(call).is_err() {
                report(Fault::new(
                    FaultKind::HandlerPanicked,
                    format!("a supervisor's failure handler panicked (handling: {err})"),
                ));
            }
        }
        None if !has_join_handle && !parent.header().state.load().is_root() => {
            report(Fault::new(
                FaultKind::UnhandledFailure,
                format!("unhandled failure in a supervised scope: {err}"),
            ));
        }
        None => {}
    }
}

/// Installs the handler called for each child failure kept at the child (supervised scopes).
pub(crate) fn set_failure_handler(node: &NodeRef, handler: super::header::FailureHandler) {
    node.header().tree.lock().cold().on_child_failure = Some(handler);
}

/// Wakes a group's owner (to look at its state again).
pub(crate) fn wake_waiter(node: &NodeRef) {
    if !node.header().state.load().has_join_waker() {
        return;
    }
    let waiter = node.header().tree.lock().waiter.clone();
    if let Some(w) = waiter {
        crate::context::wake_guarded(w);
    }
}

/// Takes the failure stored in a completed group (for its owner to re-raise).
pub(crate) fn take_failure(node: &NodeRef) -> Option<Failure> {
    node.header().tree.lock().take_failure()
}

pub(crate) fn walk(root: &NodeRef, visit: &mut dyn FnMut(usize, &NodeInfo)) {
    let now = super::meta::coarse_now();
    let mut stack = vec![(0usize, root.clone(), None)];
    while let Some((depth, node, parent)) = stack.pop() {
        let header = node.header();
        let s = header.state.load();
        let children = children_of(header);
        // The pending count holds one slot per child not yet complete, plus the body's.
        let body_slot = usize::from(!s.is_body_done());
        let live_children = header.pending.load(Acquire).saturating_sub(body_slot);
        // Only a node whose body waits shows what it waits on (a running or queued one is past it).
        let idle = !s.is_complete()
            && !s.is_body_done()
            && !s.is_cancelled()
            && !s.is_running()
            && !s.is_notified();
        let info = NodeInfo {
            id: header.meta.id,
            parent,
            name: header.meta.name.as_deref().map(str::to_owned),
            kind: if s.is_root() {
                "root"
            } else if s.is_shielded() {
                "shielded task"
            } else if s.is_group() && s.is_supervised() {
                "supervised scope"
            } else if s.is_group() {
                "scope"
            } else {
                "task"
            },
            state: if s.is_complete() {
                "complete"
            } else if s.is_body_done() {
                "waiting for children"
            } else if s.is_cancelled() {
                "cancelling"
            } else if s.is_running() {
                "running"
            } else if s.is_notified() {
                "queued"
            } else {
                "idle"
            },
            age: now.saturating_sub(header.meta.born),
            location: header.meta.location,
            live_children,
            starting_children: live_children.saturating_sub(children.len()),
            waiting_on: idle.then(|| header.meta.waiting.get(now)).flatten(),
            socket: None,
        };
        visit(depth, &info);
        // The list holds the newest child first; the stack pops the oldest first.
        let id = Some(header.meta.id);
        stack.extend(children.into_iter().map(|c| (depth + 1, c, id)));
    }
}
