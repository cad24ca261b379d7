//! Where a task is polled: a worker hands a queued task to [`run`], which moves it to RUNNING,
//! makes it the thread's current node (so what it spawns becomes its child), resets the
//! co-operative budget, polls its future (or drops it, if it was cancelled meanwhile) and then
//! takes it to IDLE, back to a queue (it woke itself), or to done (its failure recorded and its
//! body's pending slot given up, which may complete it: `tree/complete.rs`).

use super::header::PollOutcome;
use super::state::{ToIdle, ToRunning};
use super::{error, tree, NodeRef};
use crate::sync::atomic::Ordering::Acquire;

/// Runs one queued task: polls it, or drops its future if it was cancelled.
/// `requeue` puts a task that woke itself during the poll back into a queue.
pub(crate) fn run(task: NodeRef, requeue: impl FnOnce(NodeRef)) {
    let header = task.header();
    let transition = header.state.transition_to_running();
    if transition == ToRunning::Stale {
        return;
    }
    // The future's code (its poll, or its Drop when cancelled) runs as this node: what it spawns
    // becomes the task's child.
    let current = crate::current_node::enter_node(task.ptr());
    let listed = header.state.load().is_listed();
    let outcome = match transition {
        ToRunning::Stale => unreachable!(),
        ToRunning::Cancel => cancelled(&task),
        ToRunning::Poll if !listed && tree::cancelled_before_first_poll(&task) => cancelled(&task),
        ToRunning::Poll => {
            let _budget = crate::coop::reset_budget();
            crate::current_node::begin_recording_wait();
            // SAFETY: we hold RUNNING and the queue's reference.
            let outcome = unsafe { (header.vtable.poll)(task.ptr()) };
            if matches!(outcome, PollOutcome::Pending) {
                crate::current_node::finish_recording_wait(task.ptr());
            }
            if !listed && matches!(outcome, PollOutcome::Pending) {
                // It waits: from now on a cancel walk must be able to find it.
                tree::join_parent_list(&task);
            }
            match outcome {
                PollOutcome::Pending => match header.state.transition_to_idle() {
                    ToIdle::Idle => return,
                    ToIdle::Requeue => return requeue(task),
                    ToIdle::Cancel => cancelled(&task),
                },
                PollOutcome::Ready => None,
                PollOutcome::Panicked(failure) => Some(failure),
            }
        }
    };
    drop(current);
    header.state.transition_to_body_done();
    if !listed && !header.state.load().is_listed() && header.pending.load(Acquire) > 1 {
        // Done, but children it spawned still run: they must stay reachable from the tree. No
        // child can be added now (only the body spawns into a task), so `1` means none is left.
        tree::join_parent_list(&task);
    }
    if let Some(failure) = outcome {
        tree::record_failure(&task, failure);
    }
    tree::finish_body(&task);
}

/// Drops a cancelled task's future. Returns the panic its `Drop` raised, if any.
fn cancelled(task: &NodeRef) -> Option<error::Failure> {
    // SAFETY: we hold RUNNING.
    unsafe { (task.header().vtable.drop_future)(task.ptr()) }
}
