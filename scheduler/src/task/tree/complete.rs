//! Completing nodes: a failure recorded on its node (and its subtree cancelled), a node's
//! pending slots counted down, a node completed once its body and every child are gone (then
//! its ancestors, iteratively), and whoever waits on it woken.

use std::mem::ManuallyDrop;
use std::ptr::NonNull;

use super::{cancel_subtree, children_of, unlink_child};
use crate::diagnostics::{report, Fault, FaultKind};
use crate::sync::atomic::Ordering::*;
use crate::task::error::{Failure, JoinError};
use crate::task::header::Header;
use crate::task::node::NodeRef;

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
    if snapshot.is_group() && !before.has_join_interest() {
        // The owner dropped the group before it completed (`Group::drop` saw it incomplete,
        // so it left the failure to this): nobody will re-raise it here.
        if let Some(failure) = header.tree.lock().take_failure() {
            hand_on_abandoned_failure(node, parent.as_deref(), failure);
        }
    }
    if before.has_join_waker() {
        let waiter = header.tree.lock().waiter.take();
        if let Some(w) = waiter {
            crate::current_node::wake_guarded(w);
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

/// The failure of a group whose owner is gone (a dropped scope future), which nobody will
/// re-raise: to a parent that takes its children's failures, else to the fault hook.
pub(crate) fn hand_on_abandoned_failure(
    group: &NodeRef,
    parent: Option<&NodeRef>,
    failure: Failure,
) {
    match parent {
        Some(parent) if !parent.header().state.load().is_supervised() => {
            record_failure(parent, failure)
        }
        _ => report(
            Fault::new(
                FaultKind::UnhandledFailure,
                format!("unhandled failure in a dropped scope: {failure:?}"),
            )
            .with_task_id(group.id()),
        ),
    }
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
pub(crate) fn set_failure_handler(node: &NodeRef, handler: crate::task::header::FailureHandler) {
    node.header().tree.lock().cold().on_child_failure = Some(handler);
}

/// Wakes a group's owner (to look at its state again).
pub(crate) fn wake_waiter(node: &NodeRef) {
    if !node.header().state.load().has_join_waker() {
        return;
    }
    let waiter = node.header().tree.lock().waiter.clone();
    if let Some(w) = waiter {
        crate::current_node::wake_guarded(w);
    }
}

/// Takes the failure stored in a completed group (for its owner to re-raise).
pub(crate) fn take_failure(node: &NodeRef) -> Option<Failure> {
    node.header().tree.lock().take_failure()
}
