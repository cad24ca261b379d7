//! `NodeRef`: one counted reference to a tree node (task or group).

use std::fmt;
use std::ptr::NonNull;

use super::header::{Header, GROUP_VTABLE};
use super::meta::Meta;
use super::state::Kind;

/// A counted reference to a node of the task tree: a task, a scope, a `block_on` body or the
/// runtime's root. Cloning adds a reference; dropping the last one frees the node.
///
/// ```
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(nursery_runtime::scope(|s| async move {
///     let child = s.spawn(std::future::pending::<()>());
///     let node = child.node().clone(); // another reference to the same node
///     assert_eq!(&node, child.node());
///     assert!(!node.is_complete());
///     node.cancel();
///     assert!(child.await.unwrap_err().is_cancelled());
///     assert!(node.is_complete()); // still readable: this reference keeps it
/// }));
/// ```
pub struct NodeRef {
    ptr: NonNull<Header>,
}

// SAFETY: the header is only mutated through atomics, its mutex, or under the protocol of the
// state word (RUNNING / COMPLETE ownership); the future and output it holds are `Send`.
unsafe impl Send for NodeRef {}
// SAFETY: as above; every `&self` method is thread-safe.
unsafe impl Sync for NodeRef {}

impl NodeRef {
    /// Adopts a reference the caller owns.
    ///
    /// # Safety
    /// `ptr` points to a live node and the caller transfers one counted reference.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> NodeRef {
        NodeRef { ptr }
    }

    /// Takes a new reference to a node the caller can prove is alive.
    ///
    /// # Safety
    /// `ptr` points to a live node for the duration of the call.
    pub(crate) unsafe fn clone_from_raw(ptr: NonNull<Header>) -> NodeRef {
        // SAFETY: the caller guarantees the node is alive.
        unsafe { ptr.as_ref() }.state.ref_inc();
        NodeRef { ptr }
    }

    /// Gives up ownership without dropping the reference.
    pub(crate) fn into_raw(self) -> NonNull<Header> {
        let ptr = self.ptr;
        std::mem::forget(self);
        ptr
    }

    pub(crate) fn ptr(&self) -> NonNull<Header> {
        self.ptr
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: we hold a reference, so the node is alive.
        unsafe { self.ptr.as_ref() }
    }

    /// A new group node with one reference (for its owner) and its body token held.
    pub(crate) fn new_group(kind: Kind, parent: Option<NonNull<Header>>, meta: Meta) -> NodeRef {
        let header = Box::new(Header::new(kind, &GROUP_VTABLE, parent, None, meta));
        NodeRef {
            ptr: NonNull::from(Box::leak(header)),
        }
    }

    /// Requests cancellation of this node and its whole subtree (shielded descendants and their
    /// subtrees excepted).
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(nursery_runtime::scope(|s| async move {
    ///     let plain = s.spawn(std::future::pending::<()>());
    ///     let shielded = s.spawn_shielded(std::future::pending::<()>());
    ///     s.node().cancel();
    ///     assert!(plain.await.unwrap_err().is_cancelled());
    ///     assert!(!shielded.is_finished()); // not reached by the cancellation
    ///     shielded.cancel(); // only its own handle (or shutdown) stops it
    /// }));
    /// ```
    pub fn cancel(&self) {
        super::tree::cancel_subtree(self, false);
    }

    /// Cancels this node and its whole subtree, shielded descendants included (runtime
    /// shutdown). Reached through [`Scheduler::cancel_all`](crate::Scheduler::cancel_all).
    pub(crate) fn cancel_all(&self) {
        super::tree::cancel_subtree(self, true);
    }

    /// Keeps this node from completing until the returned guard is dropped, like an extra
    /// child; `None` if it has completed. Reached through [`Scheduler::hold`](crate::Scheduler::hold).
    pub(crate) fn hold(&self) -> Option<Hold> {
        super::tree::try_reserve_child(self.header()).then(|| Hold { node: self.clone() })
    }

    /// Wakes the owner of a group so it looks at its state again (a spurious wake is harmless).
    /// Reached through [`Scheduler::wake_owner`](crate::Scheduler::wake_owner).
    pub(crate) fn wake_owner(&self) {
        super::tree::wake_waiter(self);
    }

    /// Calls `handler` for every child failure that stays at the child (this node is the root or
    /// a supervised scope) instead of travelling up.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let failures = Arc::new(Mutex::new(Vec::new()));
    /// let log = failures.clone();
    /// rt.block_on(nursery_runtime::supervised(|s| async move {
    ///     // A supervised scope keeps its children's failures: log them all.
    ///     s.node().on_child_failure(move |err| {
    ///         log.lock().unwrap().push(err.panic_message().map(str::to_owned));
    ///     });
    ///     let task = s.spawn(async { panic!("lost connection") });
    ///     assert!(task.await.unwrap_err().is_panic());
    /// }));
    /// assert_eq!(*failures.lock().unwrap(), [Some("lost connection".to_owned())]);
    /// ```
    pub fn on_child_failure(&self, handler: impl Fn(&super::JoinError) + Send + Sync + 'static) {
        super::tree::set_failure_handler(self, std::sync::Arc::new(handler));
    }

    /// Whether cancellation has been requested.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     let task = nursery_runtime::spawn(std::future::pending::<()>());
    ///     assert!(!task.node().is_cancelled());
    ///     task.cancel();
    ///     assert!(task.node().is_cancelled());
    /// });
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.header().state.load().is_cancelled()
    }

    /// Whether the node and its whole subtree are gone.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let node = rt.block_on(async {
    ///     let task = nursery_runtime::spawn(async {});
    ///     task.node().clone() // block_on returns once the task is done
    /// });
    /// assert!(node.is_complete());
    /// ```
    pub fn is_complete(&self) -> bool {
        self.header().state.load().is_complete()
    }

    /// The node's id, unique within its runtime.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(nursery_runtime::scope(|s| async move {
    ///     let child = s.spawn(async {});
    ///     assert_eq!(child.node().id(), child.id());
    ///     assert_ne!(child.node().id(), s.node().id());
    /// }));
    /// ```
    pub fn id(&self) -> u64 {
        self.header().meta.id
    }

    /// Visits this node and its live descendants depth-first (iteratively, so deep trees are
    /// fine), for a task-tree dump. `visit` gets the depth and a snapshot of each node.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(nursery_runtime::scope(|s| async move {
    ///     // Named tasks are in the tree from their spawn on; an unnamed one joins it when it
    ///     // first waits, and is counted in its parent's `starting_children` until then.
    ///     let a = nursery_runtime::task::Builder::new()
    ///         .name("a")
    ///         .spawn_in(&s, std::future::pending::<()>());
    ///     let b = nursery_runtime::task::Builder::new()
    ///         .name("b")
    ///         .spawn_in(&s, std::future::pending::<()>());
    ///     let mut lines = Vec::new();
    ///     s.node().walk(|depth, node| lines.push(format!("{}{}", "  ".repeat(depth), node.kind)));
    ///     assert_eq!(lines, ["scope", "  task", "  task"]);
    ///     a.cancel();
    ///     b.cancel();
    /// }));
    /// ```
    pub fn walk(&self, mut visit: impl FnMut(usize, &NodeInfo)) {
        super::tree::walk(self, &mut visit);
    }
}

/// Keeps a node from completing while it lives (from [`Scheduler::hold`](crate::Scheduler::hold)).
///
/// What `spawn_blocking` uses: the closure runs outside the scheduler, and its task must not
/// complete before the closure returns.
#[must_use = "the hold is released as soon as it is dropped"]
pub struct Hold {
    node: NodeRef,
}

impl Hold {
    /// The node being held open.
    pub fn node(&self) -> &NodeRef {
        &self.node
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        super::tree::release_pending(&self.node);
    }
}

impl fmt::Debug for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hold")
            .field("node", &self.node.id())
            .finish()
    }
}

/// What a task-tree dump shows of one node.
///
/// ```
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(async {
///     let task = nursery_runtime::task::Builder::new()
///         .name("worker")
///         .spawn(std::future::pending::<()>());
///     let tree = nursery_runtime::Handle::current().task_tree();
///     let (_, node) = tree.nodes.iter().find(|(_, node)| node.id == task.id()).unwrap();
///     assert_eq!(node.name.as_deref(), Some("worker"));
///     assert_eq!(node.kind, "task");
///     assert_eq!(node.live_children, 0);
///     assert!(node.location.is_some());
///     task.cancel();
/// });
/// ```
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// Unique within the runtime.
    pub id: u64,
    /// The parent's id (`None` for the root).
    pub parent: Option<u64>,
    /// The name given at spawn, if any.
    pub name: Option<String>,
    /// `task`, `scope`, `supervised scope` or `root`.
    pub kind: &'static str,
    /// `queued`, `running`, `idle`, `waiting for children`, `cancelling`, `complete`.
    pub state: &'static str,
    /// How long ago it was created.
    pub age: std::time::Duration,
    /// Where it was spawned, if known.
    pub location: Option<&'static std::panic::Location<'static>>,
    /// Children not yet complete, `starting_children` included.
    pub live_children: usize,
    /// Children that have not yet had to wait: queued for their first poll, or in it. They join
    /// the tree's lists (and so the dump) only when they first wait, so the dump counts them
    /// here instead of listing them.
    pub starting_children: usize,
    /// What the node waits on, for an `idle` node (a task, or a scope's or `block_on`'s body)
    /// that has waited: the last leaf future that returned `Pending` in its latest poll — a
    /// timer, a socket, another task's `JoinHandle`, a scope, a channel, a blocking job, or
    /// [`Wait::Foreign`](crate::Wait::Foreign) when nothing of nursery's was waited on. `None`
    /// for nodes in any other state.
    pub waiting_on: Option<crate::Wait>,
    /// For a node waiting on a socket ([`Wait::Io`](crate::Wait::Io)): the operation and the
    /// addresses, resolved from the file descriptor by `Handle::task_tree` when it takes the
    /// snapshot (`None` from [`NodeRef::walk`], which does not look at sockets).
    pub socket: Option<crate::SocketWait>,
}

impl Clone for NodeRef {
    fn clone(&self) -> NodeRef {
        self.header().state.ref_inc();
        NodeRef { ptr: self.ptr }
    }
}

impl Drop for NodeRef {
    fn drop(&mut self) {
        if self.header().state.ref_dec() {
            // SAFETY: that was the last reference; the vtable matches the allocation.
            unsafe { (self.header().vtable.dealloc)(self.ptr) }
        }
    }
}

impl PartialEq for NodeRef {
    fn eq(&self, other: &NodeRef) -> bool {
        self.ptr == other.ptr
    }
}

impl Eq for NodeRef {}

impl fmt::Debug for NodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeRef")
            .field("meta", &self.header().meta)
            .field("state", &self.header().state.load())
            .finish()
    }
}
