//! Which node's code is running on this thread, and whether this thread is a worker.
//!
//! ```
//! use nursery_scheduler::context::{is_worker_thread, with_current_node};
//!
//! let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
//! let (on_worker, in_task) = rt.block_on(async {
//!     let probe = async { (is_worker_thread(), with_current_node(|node| node.is_some())) };
//!     nursery_runtime::spawn(probe).await.unwrap()
//! });
//! assert!(on_worker && in_task);
//! assert!(!is_worker_thread());
//! ```

use std::cell::Cell;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

use crate::task::header::Header;
use crate::task::NodeRef;

thread_local! {
    static CURRENT_NODE: Cell<Option<NonNull<Header>>> = const { Cell::new(None) };
    /// The `Shared` of the worker loop running on this thread, as an address for comparison.
    static WORKER_OF: Cell<usize> = const { Cell::new(0) };
}

/// Restores the previous current node when dropped.
///
/// (`Parker`, a [`Park`](crate::Park) on condition variables, is the one of the
/// [`Scheduler::new`](crate::Scheduler::new) example, hidden here.)
///
/// ```
/// # use std::sync::{Condvar, Mutex};
/// # struct Parker { workers: Vec<(Mutex<bool>, Condvar)> }
/// # impl Parker {
/// #     fn new(workers: usize) -> Parker {
/// #         Parker { workers: (0..workers).map(|_| Default::default()).collect() }
/// #     }
/// # }
/// # impl nursery_scheduler::Park for Parker {
/// #     fn park(&self, index: usize) {
/// #         let (notified, wake) = &self.workers[index];
/// #         let mut notified = notified.lock().unwrap();
/// #         while !*notified {
/// #             notified = wake.wait(notified).unwrap();
/// #         }
/// #         *notified = false;
/// #     }
/// #     fn unpark(&self, index: usize) {
/// #         let (notified, wake) = &self.workers[index];
/// #         *notified.lock().unwrap() = true;
/// #         wake.notify_one();
/// #     }
/// #     fn poll_events(&self, _index: usize) {}
/// # }
/// use nursery_scheduler::context::{enter, with_current_node};
///
/// let (scheduler, _runners) = nursery_scheduler::Scheduler::new(1, Parker::new(1));
/// let outer = scheduler.new_root();
/// let inner = scheduler.new_root();
/// let _outer_guard = enter(outer.node());
/// {
///     let _inner_guard = enter(inner.node());
///     assert!(with_current_node(|node| node == Some(inner.node())));
/// }
/// // The inner guard is gone: the outer node is current again.
/// assert!(with_current_node(|node| node == Some(outer.node())));
/// ```
pub struct NodeGuard {
    previous: Option<NonNull<Header>>,
}

pub(crate) fn enter_node(ptr: NonNull<Header>) -> NodeGuard {
    NodeGuard {
        previous: CURRENT_NODE.with(|c| c.replace(Some(ptr))),
    }
}

/// Makes `node` the current node of this thread (what `nursery::spawn` attaches children to)
/// until the guard is dropped. The caller must keep `node` alive meanwhile.
///
/// (`Parker`, a [`Park`](crate::Park) on condition variables, is the one of the
/// [`Scheduler::new`](crate::Scheduler::new) example, hidden here.)
///
/// ```
/// # use std::sync::{Condvar, Mutex};
/// # struct Parker { workers: Vec<(Mutex<bool>, Condvar)> }
/// # impl Parker {
/// #     fn new(workers: usize) -> Parker {
/// #         Parker { workers: (0..workers).map(|_| Default::default()).collect() }
/// #     }
/// # }
/// # impl nursery_scheduler::Park for Parker {
/// #     fn park(&self, index: usize) {
/// #         let (notified, wake) = &self.workers[index];
/// #         let mut notified = notified.lock().unwrap();
/// #         while !*notified {
/// #             notified = wake.wait(notified).unwrap();
/// #         }
/// #         *notified = false;
/// #     }
/// #     fn unpark(&self, index: usize) {
/// #         let (notified, wake) = &self.workers[index];
/// #         *notified.lock().unwrap() = true;
/// #         wake.notify_one();
/// #     }
/// #     fn poll_events(&self, _index: usize) {}
/// # }
/// use nursery_scheduler::context::{enter, with_current_node};
///
/// let (scheduler, _runners) = nursery_scheduler::Scheduler::new(1, Parker::new(1));
/// let root = scheduler.new_root();
/// assert!(with_current_node(|node| node.is_none()));
/// {
///     let _guard = enter(root.node());
///     assert!(with_current_node(|node| node == Some(root.node())));
/// }
/// assert!(with_current_node(|node| node.is_none()));
/// ```
pub fn enter(node: &NodeRef) -> NodeGuard {
    enter_node(node.ptr())
}

impl Drop for NodeGuard {
    fn drop(&mut self) {
        CURRENT_NODE.with(|c| c.set(self.previous));
    }
}

/// Runs `f` with the node whose code is running on this thread: the task being polled, or the
/// body of `block_on`. `None` outside any.
///
/// ```
/// use nursery_scheduler::context::with_current_node;
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// assert_eq!(with_current_node(|node| node.map(|n| n.id())), None);
/// rt.block_on(async {
///     let task = nursery_runtime::spawn(async { with_current_node(|node| node.map(|n| n.id())) });
///     let id = task.id();
///     assert_eq!(task.await.unwrap(), Some(id)); // inside a task, the task itself
/// });
/// ```
pub fn with_current_node<R>(f: impl FnOnce(Option<&NodeRef>) -> R) -> R {
    match CURRENT_NODE.with(Cell::get) {
        None => f(None),
        Some(ptr) => {
            // SAFETY: the current node is kept alive by whoever entered it (the worker's queue
            // reference, or block_on's group) for as long as it is current; the borrowed
            // reference is never dropped.
            let node = ManuallyDrop::new(unsafe { NodeRef::from_raw(ptr) });
            f(Some(&node))
        }
    }
}

/// Whether a task (or a group's body entered with [`enter`]) is running on this thread.
pub(crate) fn in_task() -> bool {
    CURRENT_NODE.with(Cell::get).is_some()
}

pub(crate) fn set_worker_of(shared: usize) -> usize {
    WORKER_OF.with(|w| w.replace(shared))
}

pub(crate) fn worker_of() -> usize {
    WORKER_OF.with(Cell::get)
}

/// Whether this thread runs a worker loop (of any runtime).
///
/// ```
/// use nursery_scheduler::context::is_worker_thread;
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// assert!(!is_worker_thread());
/// rt.block_on(async {
///     assert!(!is_worker_thread()); // block_on's body runs on the calling thread
///     assert!(nursery_runtime::spawn(async { is_worker_thread() }).await.unwrap());
/// });
/// ```
pub fn is_worker_thread() -> bool {
    worker_of() != 0
}

/// Wakes a waker the runtime does not own (a join handle's, a scope owner's, a timer's or a
/// socket's waiter, which may belong to any executor) without letting a panic in it unwind into
/// the runtime: the worker, and the completion or timer round it was in, carry on. The panic is
/// reported on stderr, after the panic hook has printed it.
///
/// ```
/// use std::sync::Arc;
/// use std::task::{Wake, Waker};
/// use nursery_scheduler::context::wake_guarded;
///
/// struct Faulty;
///
/// impl Wake for Faulty {
///     fn wake(self: Arc<Self>) {
///         panic!("this executor's waker is broken");
///     }
/// }
///
/// wake_guarded(Waker::from(Arc::new(Faulty))); // does not unwind into the caller
/// wake_guarded(Waker::noop().clone()); // an ordinary waker is simply woken
/// ```
pub fn wake_guarded(waker: std::task::Waker) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake())).is_err() {
        eprintln!("nursery: a waker panicked when woken; the runtime caught it and carries on");
    }
}
