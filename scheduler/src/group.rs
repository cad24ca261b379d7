//! `Group`: the owner's handle on a group node (a scope, the body of `block_on`, the root).

use std::task::{Context, Poll};

use crate::task::error::JoinError;
use crate::task::meta::{Meta, SpawnMeta};
use crate::task::state::Kind;
use crate::task::{self, tree, NodeRef, SpawnError};

/// Owns a group node's body slot: while the owner's body runs, the group cannot complete.
/// Children are spawned under [`node`](Group::node).
///
/// Dropping a group whose body was not [`close`](Group::close)d cancels its children (the owner
/// went away mid-body, e.g. a dropped or timed-out scope future); they stay in the tree, so the
/// enclosing task still waits for them. A failure that arrives after the owner is gone is handed
/// to the parent, never dropped.
pub struct Group {
    node: NodeRef,
    parent: Option<NodeRef>,
}

impl Group {
    pub(crate) fn root(id: u64, tree: u32) -> Group {
        Group {
            node: NodeRef::new_group(Kind::Root, None, Meta::new(id, tree, None)),
            parent: None,
        }
    }

    pub(crate) fn child(
        shared: &crate::worker::Shared,
        parent: &NodeRef,
        supervised: bool,
        meta: Option<SpawnMeta>,
        what: &'static str,
    ) -> Result<Group, SpawnError> {
        Ok(Group {
            node: task::new_group(shared, parent, supervised, meta, what)?,
            parent: Some(parent.clone()),
        })
    }

    /// The group's node: the parent for its children.
    pub fn node(&self) -> &NodeRef {
        &self.node
    }

    /// The owner's body is finished: from now on the group completes when its last child does.
    /// Idempotent.
    pub fn close(&self) {
        tree::close_group_body(&self.node, false);
    }

    /// The owner's body is being abandoned: cancel the children, then close.
    pub fn abandon(&self) {
        tree::close_group_body(&self.node, true);
    }

    /// Registers `cx`'s waker to be woken when the group completes or is cancelled (a child
    /// failed), and reports whether it has completed.
    pub fn poll_complete(&self, cx: &mut Context<'_>) -> Poll<()> {
        if tree::register_waiter(&self.node, cx.waker()) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Whether a child failure has reached the group (its body should stop).
    pub fn has_failed(&self) -> bool {
        self.node.header().state.load().has_failed()
    }

    /// Takes the failure to re-raise at the owner's await point, once the group is complete.
    pub fn take_failure(&self) -> Option<JoinError> {
        tree::take_failure(&self.node).map(JoinError::panic)
    }

    /// Messages of failures that arrived after the first one.
    pub fn suppressed_failures(&self) -> Vec<String> {
        let tree = self.node.header().tree.lock();
        tree.cold
            .as_ref()
            .map(|c| c.suppressed.clone())
            .unwrap_or_default()
    }

    /// Cancels every child (present and future).
    pub fn cancel(&self) {
        self.node.cancel();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if !self.node.header().state.load().is_body_done() {
            self.abandon();
        }
        if self.node.header().state.drop_join_interest() {
            // Complete already: a failure nobody re-raised goes to the parent.
            if let Some(failure) = tree::take_failure(&self.node) {
                tree::hand_on_abandoned_failure(&self.node, self.parent.as_ref(), failure);
            }
        }
    }
}
