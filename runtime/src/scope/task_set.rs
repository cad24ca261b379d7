//! `TaskSet`: a scope's children whose results are taken in the order they finish (tokio's
//! `JoinSet::join_next`). Each member's `JoinHandle` is polled through its own waker, which puts
//! the member's index on a shared ready queue; `join_next` polls only the members on that queue,
//! so draining `n` members costs O(n), not O(n²).

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use nursery_scheduler::{JoinError, JoinHandle, NodeRef, SpawnError, SpawnMeta};
use parking_lot::Mutex;
use slab::Slab;

use super::Scope;

/// How many members `poll_join_next` polls without a result before it yields to other tasks.
const YIELD_EVERY: usize = 32;

impl Scope {
    /// A set of children of this scope whose results come back in the order the children
    /// finish, like tokio's `JoinSet::join_next`. The members are ordinary children of the
    /// scope: its cancel, deadline, limit and failure rules apply to them, and it waits for
    /// them. See [`TaskSet`].
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::new().unwrap();
    /// let sum = rt.block_on(nursery_runtime::scope(|s| async move {
    ///     let mut set = s.task_set();
    ///     for i in 1..=10u64 {
    ///         set.spawn(async move { i * i });
    ///     }
    ///     let mut sum = 0;
    ///     while let Some(res) = set.join_next().await {
    ///         sum += res.unwrap(); // in completion order
    ///     }
    ///     sum
    /// }));
    /// assert_eq!(sum, 385);
    /// ```
    pub fn task_set<T: Send + 'static>(&self) -> TaskSet<T> {
        TaskSet {
            scope: self.clone(),
            members: Slab::new(),
            ready: Arc::new(ReadyQueue::default()),
        }
    }
}

/// Children of a scope, joined in completion order. Made by [`Scope::task_set`].
///
/// * [`join_next`](TaskSet::join_next) returns each member's `Result<T, JoinError>` in the order
///   the members finish, and `None` once the set has no member left. A member whose result was
///   taken is freed.
/// * **Cancelled members are not reported when the cancellation came from above**: a member
///   that ends cancelled while the scope is cancelled (by [`Scope::cancel`], its deadline, a
///   failing sibling, a grace period running out, or with its enclosing task) or after
///   [`cancel_all`](TaskSet::cancel_all) is dropped silently. A member cancelled on its own
///   (through the [`NodeRef`] that [`spawn`](TaskSet::spawn) returns) comes back as an error
///   with [`JoinError::is_cancelled`].
/// * **Failures follow the scope's rules.** In a [`scope`](crate::scope) a member's panic
///   cancels its siblings and the body (and with it the `join_next` loop, at its next poll
///   point), and is re-raised at the scope's `.await`. In a [`supervised`](crate::supervised)
///   scope it stays at the member: `join_next` returns it as an error with
///   [`JoinError::is_panic`].
/// * **Dropping the set cancels the members still in it.** They remain children of the scope,
///   which still waits for them to be gone.
///
/// ```
/// use futures::channel::oneshot;
///
/// let rt = nursery_runtime::Runtime::new().unwrap();
/// let order = rt.block_on(nursery_runtime::scope(|s| async move {
///     let (release_a, a) = oneshot::channel::<()>();
///     let (release_b, b) = oneshot::channel::<()>();
///     let mut set = s.task_set();
///     set.spawn(async move { a.await.ok(); "a" });
///     set.spawn(async move { b.await.ok(); "b" });
///     release_b.send(()).unwrap(); // b finishes first
///     let first = set.join_next().await.unwrap().unwrap();
///     release_a.send(()).unwrap();
///     let second = set.join_next().await.unwrap().unwrap();
///     assert!(set.join_next().await.is_none());
///     [first, second]
/// }));
/// assert_eq!(order, ["b", "a"]);
/// ```
pub struct TaskSet<T> {
    scope: Scope,
    members: Slab<Member<T>>,
    ready: Arc<ReadyQueue>,
}

struct Member<T> {
    handle: JoinHandle<T>,
    wake: Arc<MemberWake>,
    waker: Waker,
    /// Cancelled by `cancel_all`: a cancellation error is not reported.
    cancelled_by_set: bool,
}

/// The indices of the members whose handles may be ready, and the waker of whoever waits in
/// `join_next`.
#[derive(Default)]
struct ReadyQueue {
    inner: Mutex<ReadyInner>,
}

#[derive(Default)]
struct ReadyInner {
    indices: VecDeque<usize>,
    waiter: Option<Waker>,
}

impl ReadyQueue {
    fn push(&self, index: usize) {
        let waiter = {
            let mut inner = self.inner.lock();
            inner.indices.push_back(index);
            inner.waiter.clone()
        };
        if let Some(w) = waiter {
            w.wake();
        }
    }

    fn pop(&self) -> Option<usize> {
        self.inner.lock().indices.pop_front()
    }

    fn register(&self, waker: &Waker) {
        let mut inner = self.inner.lock();
        match &inner.waiter {
            Some(w) if w.will_wake(waker) => {}
            _ => inner.waiter = Some(waker.clone()),
        }
    }
}

/// One member's waker: queues the member's index once until it is polled again.
struct MemberWake {
    index: usize,
    queued: AtomicBool,
    ready: Arc<ReadyQueue>,
}

impl Wake for MemberWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.ready.push(self.index);
        }
    }
}

impl<T: Send + 'static> TaskSet<T> {
    /// Spawns a member: a child of the set's scope. Returns its node, to cancel it on its own
    /// (it then comes back from `join_next` as a cancellation error).
    ///
    /// ```
    /// nursery_runtime::Runtime::new().unwrap().block_on(nursery_runtime::scope(|s| async move {
    ///     let mut set = s.task_set::<()>();
    ///     let node = set.spawn(std::future::pending());
    ///     node.cancel();
    ///     assert!(set.join_next().await.unwrap().unwrap_err().is_cancelled());
    /// }));
    /// ```
    ///
    /// # Panics
    /// Like [`Scope::spawn`]: if the scope has closed or its concurrency limit is reached.
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> NodeRef
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.try_spawn(future)
            .unwrap_or_else(|e| panic!("TaskSet::spawn: {e}"))
    }

    /// Spawns a member, or fails like [`Scope::try_spawn`].
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::new().unwrap();
    /// let mut set = rt.block_on(nursery_runtime::scope(|s| async move { s.task_set::<()>() }));
    /// // The scope has returned: it is closed.
    /// assert!(set.try_spawn(async {}).unwrap_err().is_closed());
    /// ```
    #[track_caller]
    pub fn try_spawn<F>(&mut self, future: F) -> Result<NodeRef, SpawnError>
    where
        F: Future<Output = T> + Send + 'static,
    {
        let handle = self.scope.spawn_with(future, SpawnMeta::here())?;
        let node = handle.node().clone();
        let entry = self.members.vacant_entry();
        let index = entry.key();
        let wake = Arc::new(MemberWake {
            index,
            queued: AtomicBool::new(true),
            ready: self.ready.clone(),
        });
        let waker = Waker::from(wake.clone());
        entry.insert(Member {
            handle,
            wake,
            waker,
            cancelled_by_set: false,
        });
        // Polled once at the next `join_next`, which registers its waker.
        self.ready.push(index);
        Ok(node)
    }
}

impl<T> TaskSet<T> {
    /// Waits for the next member to finish and returns its result; `None` once the set is
    /// empty. Cancel-safe: dropping the future loses no result.
    ///
    /// ```
    /// nursery_runtime::Runtime::new().unwrap().block_on(nursery_runtime::scope(|s| async move {
    ///     let mut set = s.task_set::<u8>();
    ///     assert!(set.join_next().await.is_none());
    ///     set.spawn(async { 7 });
    ///     assert_eq!(set.join_next().await.unwrap().unwrap(), 7);
    ///     assert!(set.join_next().await.is_none());
    /// }));
    /// ```
    pub fn join_next(&mut self) -> impl Future<Output = Option<Result<T, JoinError>>> + '_ {
        std::future::poll_fn(move |cx| self.poll_join_next(cx))
    }

    /// Polls for the next member to finish (for hand-written futures and `select` loops).
    /// `Ready(None)` once the set is empty.
    ///
    /// ```
    /// use std::future::poll_fn;
    ///
    /// nursery_runtime::Runtime::new().unwrap().block_on(nursery_runtime::scope(|s| async move {
    ///     let mut set = s.task_set();
    ///     set.spawn(async { "hi" });
    ///     let res = poll_fn(|cx| set.poll_join_next(cx)).await;
    ///     assert_eq!(res.unwrap().unwrap(), "hi");
    /// }));
    /// ```
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        // Registered before looking at the queue: a member finishing in between still wakes us.
        self.ready.register(cx.waker());
        let mut polled = 0;
        loop {
            if self.members.is_empty() {
                return Poll::Ready(None);
            }
            if polled == YIELD_EVERY {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let Some(index) = self.ready.pop() else {
                return Poll::Pending;
            };
            // A stale index (its member was taken, the slot perhaps reused) polls at worst a
            // member that is not ready.
            let Some(member) = self.members.get_mut(index) else {
                continue;
            };
            polled += 1;
            // Cleared before the poll: a wake from here on queues the index again.
            member.wake.queued.store(false, Ordering::Release);
            let mut member_cx = Context::from_waker(&member.waker);
            let Poll::Ready(result) = Pin::new(&mut member.handle).poll(&mut member_cx) else {
                continue;
            };
            // The result is ours: free the member (its task, output and waker) now.
            let member = self.members.remove(index);
            match result {
                Err(e)
                    if e.is_cancelled()
                        && (member.cancelled_by_set || self.scope.is_cancelled()) => {}
                result => return Poll::Ready(Some(result)),
            }
        }
    }

    /// Cancels every member. Those that end cancelled are not reported by `join_next`; those
    /// that had finished first still are. Members spawned later are not affected.
    ///
    /// ```
    /// nursery_runtime::Runtime::new().unwrap().block_on(nursery_runtime::scope(|s| async move {
    ///     let mut set = s.task_set::<()>();
    ///     for _ in 0..3 {
    ///         set.spawn(std::future::pending());
    ///     }
    ///     set.cancel_all();
    ///     assert!(set.join_next().await.is_none()); // no cancellation noise
    /// }));
    /// ```
    pub fn cancel_all(&mut self) {
        for (_, member) in &mut self.members {
            member.cancelled_by_set = true;
            member.handle.cancel();
        }
    }

    /// How many members have not been taken by `join_next` yet.
    ///
    /// ```
    /// nursery_runtime::Runtime::new().unwrap().block_on(nursery_runtime::scope(|s| async move {
    ///     let mut set = s.task_set();
    ///     set.spawn(async {});
    ///     assert_eq!(set.len(), 1); // finished or not, until `join_next` takes it
    ///     set.join_next().await;
    ///     assert!(set.is_empty());
    /// }));
    /// ```
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether every member has been taken.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The scope the members belong to.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }
}

impl<T> Drop for TaskSet<T> {
    fn drop(&mut self) {
        for (_, member) in &self.members {
            member.handle.cancel();
        }
    }
}

impl<T> fmt::Debug for TaskSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskSet")
            .field("scope", &self.scope.node.id())
            .field("len", &self.members.len())
            .finish()
    }
}
