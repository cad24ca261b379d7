//! Tasks and groups: the nodes of the task tree, their state machine, and how a worker runs one.

mod cell;
pub(crate) mod error;
pub(crate) mod header;
mod join;
pub(crate) mod meta;
mod node;
pub(crate) mod recycle;
pub(crate) mod state;
pub(crate) mod tree;
pub(crate) mod wait;
mod waker;

use std::future::Future;

pub use error::{JoinError, SpawnError};
pub use join::JoinHandle;
pub use meta::SpawnMeta;
pub use node::{Hold, NodeInfo, NodeRef};
pub use wait::{SocketWait, Wait};

use cell::{Cell, Stage, Vtables};
use header::{Header, PollOutcome};
use meta::Meta;
use state::{Kind, ToIdle, ToRunning};

use crate::sync::atomic::Ordering::Acquire;
use crate::sync::Arc;
use crate::worker::Shared;

/// Takes a pending slot on `parent` for a new child: refused if the parent is in another
/// scheduler's tree, or has completed.
fn reserve_child_slot(
    parent: &Header,
    shared: &Shared,
    what: &'static str,
) -> Result<(), SpawnError> {
    if parent.meta.tree != shared.tree {
        return Err(SpawnError::other_runtime());
    }
    if !tree::try_reserve_child(parent) {
        return Err(SpawnError::closed(what));
    }
    Ok(())
}

/// Allocates a task under `parent` and queues it.
pub(crate) fn spawn<F>(
    shared: &Arc<Shared>,
    parent: &NodeRef,
    future: F,
    meta: SpawnMeta,
    what: &'static str,
) -> Result<JoinHandle<F::Output>, SpawnError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let parent_header = parent.header();
    reserve_child_slot(parent_header, shared, what)?;
    let named = meta.name.is_some();
    let memory = recycle::alloc(std::alloc::Layout::new::<Cell<F>>());
    let vtable = match memory.recycled {
        true => &Vtables::<F>::RECYCLED,
        false => &Vtables::<F>::VTABLE,
    };
    let cell = memory.ptr.cast::<Cell<F>>();
    // SAFETY: `alloc` returned memory for a `Cell<F>` that nothing else uses.
    unsafe {
        cell.as_ptr().write(Cell {
            header: Header::new(
                Kind::Task,
                vtable,
                Some(parent.ptr()),
                Some(Shared::as_raw(shared)),
                Meta::new(shared.next_id(), shared.tree, Some(meta)),
            ),
            stage: crate::sync::UnsafeCell::new(Stage::Running(future)),
        })
    };
    let ptr = cell.cast::<Header>();
    if named {
        tree::link_new_child(parent_header, ptr, false);
    }
    // SAFETY: a new task starts with three references: the queue's, the handle's, and the
    // parent list's (held in reserve until the task joins the list: at once if it is named,
    // else when it first waits).
    let (queued, joined) = unsafe { (NodeRef::from_raw(ptr), NodeRef::from_raw(ptr)) };
    shared.schedule(queued, crate::worker::Origin::Ready);
    // SAFETY: the cell's future outputs `F::Output`; the join interest starts set.
    Ok(unsafe { JoinHandle::new(joined) })
}

/// Creates a group (scope, `block_on` body) under `parent`, holding its body slot.
pub(crate) fn new_group(
    shared: &Shared,
    parent: &NodeRef,
    supervised: bool,
    meta: Option<SpawnMeta>,
    what: &'static str,
) -> Result<NodeRef, SpawnError> {
    let parent_header = parent.header();
    reserve_child_slot(parent_header, shared, what)?;
    let group = NodeRef::new_group(
        Kind::Group { supervised },
        Some(parent.ptr()),
        Meta::new(shared.next_id(), shared.tree, meta),
    );
    tree::link_new_child(parent_header, group.ptr(), true);
    Ok(group)
}

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
    let current = crate::context::enter_node(task.ptr());
    let listed = header.state.load().is_listed();
    let outcome = match transition {
        ToRunning::Stale => unreachable!(),
        ToRunning::Cancel => cancelled(&task),
        ToRunning::Poll if !listed && tree::cancelled_before_first_poll(&task) => cancelled(&task),
        ToRunning::Poll => {
            let _budget = crate::coop::reset_budget();
            crate::context::begin_recording_wait();
            // SAFETY: we hold RUNNING and the queue's reference.
            let outcome = unsafe { (header.vtable.poll)(task.ptr()) };
            if matches!(outcome, PollOutcome::Pending) {
                crate::context::finish_recording_wait(task.ptr());
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
