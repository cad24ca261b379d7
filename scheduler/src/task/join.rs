//! `JoinHandle`: the parent's view of a task's outcome.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::error::JoinError;
use super::node::NodeRef;

/// Resolves to the task's output once the task **and its whole subtree** are gone.
///
/// Dropping the handle does not cancel or detach the task: it stays a child of its parent,
/// which still waits for it. Use [`cancel`](JoinHandle::cancel) to stop it.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use nursery_runtime::JoinHandle;
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// let ran = Arc::new(AtomicBool::new(false));
/// let flag = ran.clone();
/// rt.block_on(async move {
///     let task: JoinHandle<()> =
///         nursery_runtime::spawn(async move { flag.store(true, Ordering::SeqCst) });
///     drop(task); // neither cancels nor detaches it
/// });
/// assert!(ran.load(Ordering::SeqCst)); // block_on waited for it
/// ```
pub struct JoinHandle<T> {
    node: NodeRef,
    _output: PhantomData<fn() -> T>,
}

impl<T> JoinHandle<T> {
    /// # Safety
    /// `node` is a task whose output type is `T`, and the caller hands over the join interest.
    pub(crate) unsafe fn new(node: NodeRef) -> JoinHandle<T> {
        JoinHandle {
            node,
            _output: PhantomData,
        }
    }

    /// Cancels the task and its subtree. The task's future is dropped at its next poll point;
    /// awaiting the handle then yields a cancellation error (or the output, if the task had
    /// already finished). Cancelling twice, or a finished task, does nothing.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     let forever = nursery_runtime::spawn(std::future::pending::<()>());
    ///     forever.cancel();
    ///     forever.cancel(); // no effect
    ///     assert!(forever.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn cancel(&self) {
        self.node.cancel();
    }

    /// Whether the task and its whole subtree are gone (the handle would resolve at once).
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let task = rt.block_on(async {
    ///     let forever = nursery_runtime::spawn(std::future::pending::<()>());
    ///     assert!(!forever.is_finished());
    ///     forever.cancel();
    ///     nursery_runtime::spawn(async { 7 }) // block_on returns after this task is done
    /// });
    /// assert!(task.is_finished());
    /// assert_eq!(rt.block_on(task).unwrap(), 7);
    /// ```
    pub fn is_finished(&self) -> bool {
        self.node.is_complete()
    }

    /// The task's id, unique within its runtime.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     let a = nursery_runtime::spawn(async {});
    ///     let b = nursery_runtime::spawn(async {});
    ///     assert_ne!(a.id(), b.id());
    ///     assert_eq!(a.id(), a.node().id());
    /// });
    /// ```
    pub fn id(&self) -> u64 {
        self.node.id()
    }

    /// The task's node in the tree (for cancellation or a tree dump).
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     let server = nursery_runtime::task::Builder::new()
    ///         .name("server")
    ///         .spawn(std::future::pending::<()>());
    ///     let mut names = Vec::new();
    ///     server.node().walk(|_, node| names.push(node.name.clone()));
    ///     assert_eq!(names, [Some("server".to_owned())]);
    ///     server.node().cancel(); // like server.cancel()
    ///     assert!(server.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn node(&self) -> &NodeRef {
        &self.node
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        std::task::ready!(crate::coop::poll_proceed(cx));
        if !super::tree::register_waiter(&self.node, cx.waker()) {
            crate::current_node::record_wait(super::Wait::Join {
                task: self.node.id(),
            });
            return Poll::Pending;
        }
        let header = self.node.header();
        let mut out = Poll::Pending;
        // SAFETY: COMPLETE is set and we hold the join interest, so we own the output; `out`
        // has the type `take_output` writes for this task's future.
        unsafe {
            (header.vtable.take_output)(
                self.node.ptr(),
                &mut out as *mut Poll<Result<T, JoinError>> as *mut (),
            )
        };
        out
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if self.node.header().state.drop_join_interest() {
            // SAFETY: the task is complete and the join interest was ours: we own the output.
            unsafe { (self.node.header().vtable.drop_output)(self.node.ptr()) };
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}
