//! Delivering cancellation: flag a whole subtree, schedule its idle tasks so that a worker drops
//! their futures at once, wake the owners of its groups.

use super::{children_of, wake_waiter};
use crate::task::node::NodeRef;
use crate::task::state::ToNotified;

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
