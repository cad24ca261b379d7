//! The part of every tree node that is not its future: state, tree links, waiter, metadata.
//!
//! A task is one allocation: this header followed by its stage (future or output). A group
//! (scope, `block_on` body, root) is a header alone.

use std::ptr::NonNull;
use std::task::Waker;

use super::error::Failure;
use super::meta::Meta;
use super::state::{Kind, State};
use crate::sync::atomic::AtomicUsize;
use crate::sync::{Mutex, UnsafeCell};
use crate::worker::Shared;

/// Field order matters: the fields a node's children and spawners write (`pending`, `tree`) come
/// last, at least 64 bytes after `state`, so they never share a cache line with it. A child
/// reads its parent's `state` at its first poll (was the parent cancelled?); with thousands of
/// siblings spawned and completing, the line holding `pending` is always being written
/// somewhere else, while `state` (of a group, especially) rarely changes and stays cached.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    pub(crate) vtable: &'static Vtable,
    /// The parent's reference held by this node; taken by whoever completes the node.
    pub(crate) parent: UnsafeCell<Option<NonNull<Header>>>,
    /// Links in the parent's child list. Guarded by the parent's `tree` lock.
    pub(crate) siblings: UnsafeCell<Siblings>,
    /// Where a wake pushes this task (`None` for groups), from `Shared::as_raw`. Not counted: a
    /// task is only submitted while its body is not done, and the runtime frees its scheduler
    /// only after every task's body is done (or never, if it gave up waiting for them). That
    /// covers a wake only up to its push: from then on the task may run and complete, so
    /// `Shared::schedule_woken` counts the scheduler (off its own workers) until the wake has
    /// notified a worker.
    pub(crate) scheduler: Option<NonNull<Shared>>,
    pub(crate) meta: Meta,
    /// One for the body (the future, or a group's owner) plus one per child not yet complete.
    /// The node completes when it reaches zero; no child can be added after that.
    pub(crate) pending: AtomicUsize,
    pub(crate) tree: Mutex<Tree>,
}

#[derive(Default)]
pub(crate) struct Siblings {
    pub(crate) prev: Option<NonNull<Header>>,
    pub(crate) next: Option<NonNull<Header>>,
}

/// Guarded by the node's own lock.
#[derive(Default)]
pub(crate) struct Tree {
    pub(crate) first_child: Option<NonNull<Header>>,
    pub(crate) children: usize,
    /// The join handle's waker (task), or the owner's waker (group).
    pub(crate) waiter: Option<Waker>,
    /// What only failures and supervisors need, allocated the first time one does: kept out of
    /// line so that every task's header stays small (the future follows the header, and a poll
    /// touches both).
    pub(crate) cold: Option<Box<Cold>>,
}

#[derive(Default)]
pub(crate) struct Cold {
    /// The first failure in this node's subtree that reached it.
    pub(crate) failure: Option<Failure>,
    /// Failures that arrived after the first one.
    pub(crate) suppressed: Vec<String>,
    /// Called when a child's failure stays at the child (supervised scopes).
    pub(crate) on_child_failure: Option<FailureHandler>,
}

impl Tree {
    /// The cold part, allocated on first use.
    pub(crate) fn cold(&mut self) -> &mut Cold {
        self.cold.get_or_insert_with(Default::default)
    }

    /// Takes the stored failure, if any.
    pub(crate) fn take_failure(&mut self) -> Option<Failure> {
        self.cold.as_mut().and_then(|c| c.failure.take())
    }
}

/// A supervisor's handler of child failures.
pub(crate) type FailureHandler = std::sync::Arc<dyn Fn(&super::JoinError) + Send + Sync>;

/// Per-future-type operations, reached through the header.
pub(crate) struct Vtable {
    /// Poll the future once. Caller holds RUNNING.
    pub(crate) poll: unsafe fn(NonNull<Header>) -> PollOutcome,
    /// Drop the future (cancellation). Caller holds RUNNING. Returns a panic raised by its Drop.
    pub(crate) drop_future: unsafe fn(NonNull<Header>) -> Option<Failure>,
    /// Replace the stored outcome with an error (a failure inherited from a child).
    pub(crate) set_error: unsafe fn(NonNull<Header>, super::JoinError),
    /// Drop the stored outcome. Caller owns the output (see `State::drop_join_interest`).
    pub(crate) drop_output: unsafe fn(NonNull<Header>),
    /// Move the outcome into `*dst`, a `Poll<Result<T, JoinError>>`. Caller owns the output.
    pub(crate) take_output: unsafe fn(NonNull<Header>, *mut ()),
    /// Free the allocation. Caller held the last reference.
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
}

pub(crate) enum PollOutcome {
    Pending,
    Ready,
    Panicked(Failure),
}

impl Header {
    pub(crate) fn new(
        kind: Kind,
        vtable: &'static Vtable,
        parent: Option<NonNull<Header>>,
        scheduler: Option<NonNull<Shared>>,
        meta: Meta,
    ) -> Header {
        Header {
            state: State::new(kind, meta.shielded),
            vtable,
            parent: UnsafeCell::new(parent),
            siblings: UnsafeCell::new(Siblings::default()),
            scheduler,
            meta,
            pending: AtomicUsize::new(1),
            tree: Mutex::new(Tree::default()),
        }
    }
}

/// The vtable of a group: it has no future, so only `dealloc` is ever called.
pub(crate) static GROUP_VTABLE: Vtable = Vtable {
    poll: group_unreachable_poll,
    drop_future: group_unreachable_drop,
    set_error: group_set_error,
    drop_output: group_no_output,
    take_output: group_take_output,
    dealloc: group_dealloc,
};

unsafe fn group_unreachable_poll(_: NonNull<Header>) -> PollOutcome {
    unreachable!("a group is never queued")
}
unsafe fn group_unreachable_drop(_: NonNull<Header>) -> Option<Failure> {
    unreachable!("a group has no future")
}
unsafe fn group_set_error(_: NonNull<Header>, _: super::JoinError) {}
unsafe fn group_no_output(_: NonNull<Header>) {}
unsafe fn group_take_output(_: NonNull<Header>, _: *mut ()) {
    unreachable!("a group has no join handle")
}
unsafe fn group_dealloc(ptr: NonNull<Header>) {
    // SAFETY: groups are allocated as `Box<Header>` in `NodeRef::new_group`, and the caller
    // held the last reference, so nothing else can reach the allocation.
    drop(unsafe { Box::from_raw(ptr.as_ptr()) });
}

#[cfg(all(test, not(loom)))]
mod tests {
    #[test]
    fn what_children_write_is_a_cache_line_away_from_the_state_word() {
        assert!(std::mem::offset_of!(super::Header, pending) >= 64);
        assert!(std::mem::offset_of!(super::Header, tree) >= 64);
    }
}
