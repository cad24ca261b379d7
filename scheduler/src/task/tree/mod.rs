//! The task tree: linking children, cancelling subtrees, recording failures, and completing a
//! node once its body and every child are gone.
//!
//! Locking: each node's `tree` mutex guards its own child list, waiter and failure. No code holds
//! two of these locks at once, and none is global: spawns and completions under different parents
//! never contend. A task joins its parent's list only when it first waits (`join_parent_list`),
//! so short tasks under one parent do not contend either. Every walk over the tree (cancel, complete, dump) is iterative, so a chain
//! 100,000 deep costs heap, not stack.
//!
//! The files: this one links and lists nodes (spawn, first wait) and walks the tree for dumps;
//! `cancel.rs` delivers cancellation to a subtree; `complete.rs` records failures, counts a
//! node's pending slots down and completes it and its ancestors, and wakes what waits on it.

mod cancel;
mod complete;

pub(crate) use cancel::{cancel_subtree, schedule_if_idle};
pub(crate) use complete::{
    close_group_body, finish_body, hand_on_abandoned_failure, record_failure, register_waiter,
    release_pending, set_failure_handler, take_failure, wake_waiter,
};

use std::ptr::NonNull;

use super::header::{Header, Tree};
use super::node::{NodeInfo, NodeRef};
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
pub(super) fn unlink_child(parent: &Header, child: NonNull<Header>) -> NodeRef {
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
pub(super) fn children_of(node: &Header) -> Vec<NodeRef> {
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
