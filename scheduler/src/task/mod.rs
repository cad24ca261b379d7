//! Tasks and groups: the nodes of the task tree, their state machine (`state.rs`), spawning
//! (here), where a task is polled (`poll.rs`), and the tree: linking, cancellation, completion
//! (`tree/`).

mod cell;
pub(crate) mod error;
pub(crate) mod header;
mod join;
pub(crate) mod meta;
mod node;
mod poll;
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
pub use wait::{timer_epoch, SocketWait, Wait};

pub(crate) use poll::run;

use cell::{Cell, Stage, Vtables};
use header::Header;
use meta::Meta;
use state::Kind;

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
    shared.schedule(queued);
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
