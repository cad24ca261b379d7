//! Worker threads: per-worker run queues, a LIFO slot for the task just woken, a global injector
//! for tasks scheduled from outside, work stealing, and parking through [`Park`].
//!
//! [`Scheduler`] is the handle the runtime spawns and shuts down through; `Shared` is what the
//! workers, the handles and every task's header (an uncounted pointer, `Header::scheduler`)
//! share. The jobs are split by file:
//!
//! - `wake.rs`: where a task goes when it is queued (`Shared::schedule`, `schedule_woken`) and
//!   which idle worker is woken for it;
//! - `run.rs`: the worker loop (`WorkerRunner::run`) and where it takes its next task;
//! - `search.rs`: stealing from peers and the injector, and the short watch (and doze) before
//!   parking.
//!
//! Invariants:
//!
//! - A task is in at most one place: a worker's LIFO slot, a worker's queue or the injector, or
//!   being polled. Only the worker that owns a queue pushes to it; peers only steal.
//! - Work conserving: a queued task that its worker will not run next never waits while a peer
//!   sleeps and nobody searches (`wake.rs`; the handshake with a parking worker is `idle.rs`'s).
//!   A searcher that leaves a peer's queue to its owner (the owner works through it faster than
//!   a steal would help) dozes beside it and judges it again within `search::DOZE`.
//! - At most half the workers search at once; while any searches, pushes wake nobody
//!   (`idle.rs`).
//! - The scheduler outlives every wake that may touch it: a worker's loop holds a count of it,
//!   and a wake from outside the workers holds one from before its push until after its notify.
//! - Shutdown, in this order: the root group complete (every task gone), `shutdown` (the loops
//!   return), `drain` (the queues emptied).

use std::cell::Cell;
use std::future::Future;
use std::ptr::{self, NonNull};

use crate::sync::deque::{Injector, Steal, Stealer, Worker};

use crate::current_node;
use crate::idle::Idle;
use crate::lifo_slot::LifoSlot;
use crate::metrics::{Counters, WorkerMetrics};
use crate::park::Park;
use crate::poll_slot::{PollSlot, PollSnapshot};
use crate::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use crate::sync::thread_local;
use crate::sync::Arc;
use crate::task::{self, JoinHandle, NodeRef, SpawnError, SpawnMeta};

mod run;
mod search;
mod wake;

use search::steal_retrying;

/// Polls of the LIFO slot in a row before the FIFO queue gets a turn (fairness).
const MAX_LIFO_STREAK: u32 = 3;
/// Every this many tasks, a worker checks the injector first and polls for events.
const MAINTENANCE_INTERVAL: u32 = 61;
/// Task ids a worker takes from the shared counter at a time (`Shared::next_id`).
const ID_BATCH: u64 = 256;

pub(crate) struct Shared {
    injector: Injector<NodeRef>,
    stealers: Box<[Stealer<NodeRef>]>,
    idle: Idle,
    park: Box<dyn Park>,
    shutdown: AtomicBool,
    next_id: AtomicU64,
    /// This scheduler's tree, unique in the process (`Meta::tree` of every node in it).
    pub(crate) tree: u32,
    polls: Box<[PollSlot]>,
    /// Each worker's LIFO slot (see `lifo_slot.rs`).
    lifos: Box<[LifoSlot]>,
    /// Each worker's counters, written by that worker only (see `metrics.rs`).
    counters: Box<[Counters]>,
    /// Which workers doze (`search::doze`): a task injected from outside wakes one.
    #[cfg(not(loom))]
    dozing: Box<[std::sync::atomic::AtomicBool]>,
    /// Keeps the pool of recycled task cells while this scheduler lives.
    _cells: crate::task::recycle::PoolUser,
}

/// The worker-local half, reachable from wakers running on the worker's own thread.
struct Local {
    index: usize,
    queue: Worker<NodeRef>,
    /// Inside `Park::park` (the reactor or timers are waking tasks from this thread).
    in_park: Cell<bool>,
    /// Task ids this worker may hand out: `next..end` (`Shared::next_id`).
    ids: Cell<(u64, u64)>,
    /// This worker's counters in `Shared::counters`, kept alive by `run`'s `Arc<Shared>`.
    counters: *const Counters,
}

/// Counts a budget exhaustion (`coop::poll_proceed` returning `Pending`) against this thread's
/// worker, if it is one.
pub(crate) fn count_budget_exhaustion() {
    let local = LOCAL.with(Cell::get);
    if local.is_null() {
        return;
    }
    // SAFETY: LOCAL points to the `Local` on this thread's stack while its worker loop runs
    // (it is reset before `run` returns), and `counters` points into the `Shared` that loop
    // holds a count of; only this thread, that worker, writes them.
    unsafe { (*(*local).counters).budget_exhaustions.add(1) };
}

thread_local! {
    static LOCAL: Cell<*const Local> = const { Cell::new(ptr::null()) };
}

/// A number for a new scheduler's tree (wraps after 2^32 schedulers; a node of a tree that
/// old has long completed, so nothing can be spawned under it anyway).
fn next_tree() -> u32 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    NEXT.fetch_add(1, Relaxed)
}

impl Shared {
    /// A new task id, unique in this scheduler. A worker takes them from the shared counter
    /// `ID_BATCH` at a time: one counter bumped by every spawn on every worker bounced its
    /// line between cores (`spawn_recursively` spent 7 % on that one instruction).
    pub(crate) fn next_id(&self) -> u64 {
        let Some(local) = self.own_worker() else {
            return self.next_id.fetch_add(1, Relaxed);
        };
        let (next, end) = local.ids.get();
        if next < end {
            local.ids.set((next + 1, end));
            return next;
        }
        let first = self.next_id.fetch_add(ID_BATCH, Relaxed);
        local.ids.set((first + 1, first + ID_BATCH));
        first
    }

    /// The uncounted pointer a task's header keeps to its scheduler (`Header::scheduler`), with
    /// the provenance of the whole `Arc` allocation, so that [`schedule_woken`] can count it.
    ///
    /// [`schedule_woken`]: Shared::schedule_woken
    pub(crate) fn as_raw(this: &Arc<Shared>) -> NonNull<Shared> {
        // SAFETY: an `Arc`'s pointer is never null.
        unsafe { NonNull::new_unchecked(Arc::as_ptr(this).cast_mut()) }
    }
}

/// A handle on the scheduler: spawning, groups, shutdown. Cheap to clone.
///
/// The runtime (`nursery_runtime::Runtime`) is built on it; see [`Scheduler::new`] for running
/// one by hand.
#[derive(Clone)]
pub struct Scheduler {
    shared: Arc<Shared>,
}

/// One worker's loop, to be run on a thread the runtime creates.
pub struct WorkerRunner {
    index: usize,
    shared: Arc<Shared>,
    queue: Worker<NodeRef>,
}

impl Scheduler {
    /// A scheduler with `workers` run queues, and the loops to run on `workers` threads.
    ///
    /// `park` is how idle workers wait (the runtime's waits in its reactor, with the nearest
    /// timer as timeout). A minimal scheduler that runs one task, and shuts down as the runtime
    /// does:
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::sync::{Condvar, Mutex};
    /// use futures::executor::block_on;
    /// use nursery_scheduler::{Park, Scheduler, SpawnMeta};
    ///
    /// /// Idle workers wait on a condition variable (this scheduler has no I/O and no timers).
    /// struct Parker { workers: Vec<(Mutex<bool>, Condvar)> }
    ///
    /// impl Parker {
    ///     fn new(workers: usize) -> Parker {
    ///         Parker { workers: (0..workers).map(|_| Default::default()).collect() }
    ///     }
    /// }
    ///
    /// impl Park for Parker {
    ///     fn park(&self, index: usize) {
    ///         let (notified, wake) = &self.workers[index];
    ///         let mut notified = notified.lock().unwrap();
    ///         while !*notified {
    ///             notified = wake.wait(notified).unwrap();
    ///         }
    ///         *notified = false;
    ///     }
    ///     fn unpark(&self, index: usize) {
    ///         let (notified, wake) = &self.workers[index];
    ///         *notified.lock().unwrap() = true;
    ///         wake.notify_one();
    ///     }
    ///     fn poll_events(&self, _index: usize) {}
    /// }
    ///
    /// let (scheduler, runners) = Scheduler::new(1, Parker::new(1));
    /// let threads: Vec<_> = runners
    ///     .into_iter()
    ///     .map(|runner| std::thread::spawn(move || runner.run()))
    ///     .collect();
    ///
    /// // Tasks are children of a node: here, a root group.
    /// let root = scheduler.new_root();
    /// let task = scheduler
    ///     .spawn(root.node(), async { 6 * 7 }, SpawnMeta::here(), "root").unwrap();
    /// assert_eq!(block_on(task).unwrap(), 42);
    ///
    /// // Shutdown: close the root, wait until every task is gone, stop and join the workers.
    /// root.close();
    /// block_on(poll_fn(|cx| root.poll_complete(cx)));
    /// scheduler.shutdown();
    /// for thread in threads {
    ///     thread.join().unwrap();
    /// }
    /// scheduler.drain();
    /// ```
    ///
    /// # Panics
    /// If `workers` is zero.
    pub fn new(workers: usize, park: impl Park) -> (Scheduler, Vec<WorkerRunner>) {
        assert!(workers > 0, "a scheduler needs at least one worker");
        let queues: Vec<Worker<NodeRef>> = (0..workers).map(|_| Worker::new_fifo()).collect();
        let shared = Arc::new(Shared {
            injector: Injector::new(),
            stealers: queues.iter().map(Worker::stealer).collect(),
            idle: Idle::new(workers),
            park: Box::new(park),
            shutdown: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
            tree: next_tree(),
            polls: (0..workers).map(|_| PollSlot::default()).collect(),
            lifos: (0..workers).map(|_| LifoSlot::new()).collect(),
            counters: (0..workers).map(|_| Counters::default()).collect(),
            #[cfg(not(loom))]
            dozing: (0..workers).map(|_| Default::default()).collect(),
            _cells: crate::task::recycle::PoolUser::register(),
        });
        let runners = queues
            .into_iter()
            .enumerate()
            .map(|(index, queue)| WorkerRunner {
                index,
                shared: shared.clone(),
                queue,
            })
            .collect();
        (Scheduler { shared }, runners)
    }

    /// Spawns `future` as a child of `parent` (a task or group of this scheduler).
    /// `what` names the parent in the error ("scope", "runtime", ...).
    pub fn spawn<F>(
        &self,
        parent: &NodeRef,
        future: F,
        meta: SpawnMeta,
        what: &'static str,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        task::spawn(&self.shared, parent, future, meta, what)
    }

    /// The root of a runtime's tree: supervised (a root task's failure stays in its handle).
    pub fn new_root(&self) -> crate::Group {
        crate::Group::root(self.shared.next_id(), self.shared.tree)
    }

    /// A new group under `parent` (a scope, or the body of `block_on`).
    pub fn new_group(
        &self,
        parent: &NodeRef,
        supervised: bool,
        meta: Option<SpawnMeta>,
        what: &'static str,
    ) -> Result<crate::Group, SpawnError> {
        crate::Group::child(&self.shared, parent, supervised, meta, what)
    }

    /// Keeps `node` from completing until the returned guard is dropped, like an extra child
    /// (work done outside the scheduler on its behalf, such as a blocking closure); `None` if
    /// it has completed.
    ///
    /// # Panics
    /// If `node` belongs to another scheduler's tree.
    pub fn hold(&self, node: &NodeRef) -> Option<crate::Hold> {
        self.check_tree(node, "hold");
        node.hold()
    }

    /// Cancels `node` and its whole subtree, shielded descendants included (shutdown).
    ///
    /// # Panics
    /// If `node` belongs to another scheduler's tree.
    pub fn cancel_all(&self, node: &NodeRef) {
        self.check_tree(node, "cancel_all");
        node.cancel_all();
    }

    /// Wakes the owner of the group `node` (a scope future, `block_on`) so that it looks at its
    /// state again: for code that changes what the owner waits on from outside the tree (a
    /// shutdown request). A spurious wake is harmless.
    ///
    /// # Panics
    /// If `node` belongs to another scheduler's tree.
    pub fn wake_owner(&self, node: &NodeRef) {
        self.check_tree(node, "wake_owner");
        node.wake_owner();
    }

    fn check_tree(&self, node: &NodeRef, what: &str) {
        assert!(
            node.header().meta.tree == self.shared.tree,
            "Scheduler::{what}: the node belongs to another scheduler's tree; call it on the \
             scheduler that created the node"
        );
    }

    /// Number of worker loops.
    pub fn workers(&self) -> usize {
        self.shared.stealers.len()
    }

    /// Whether the current thread runs one of this scheduler's workers.
    pub fn is_current_worker(&self) -> bool {
        current_node::worker_of() == Arc::as_ptr(&self.shared) as usize
    }

    /// The index of the worker running on this thread, if it is one of this scheduler's.
    pub fn current_worker(&self) -> Option<usize> {
        if !self.is_current_worker() {
            return None;
        }
        let local = LOCAL.with(Cell::get);
        // SAFETY: on this scheduler's worker thread, LOCAL points to its live `Local`.
        (!local.is_null()).then(|| unsafe { (*local).index })
    }

    /// What worker `index` is polling now (for a stall detector).
    pub fn poll_snapshot(&self, index: usize) -> PollSnapshot {
        self.shared.polls[index].snapshot()
    }

    /// A reading of worker `index`'s counters: polls, steals, parks and the rest (see
    /// [`WorkerMetrics`]), and the depth of its run queue now. Cheap: a handful of relaxed
    /// loads; the worker is not disturbed. (`nursery_runtime::Handle::metrics` reads every
    /// worker's, with an example.)
    ///
    /// # Panics
    /// If `index` is not below [`workers`](Scheduler::workers).
    pub fn worker_metrics(&self, index: usize) -> WorkerMetrics {
        let shared = &self.shared;
        shared.counters[index].read(index, shared.stealers[index].len())
    }

    /// For a monitor that sees worker `index` stuck in one poll: if tasks wait in that worker's
    /// queue or LIFO slot, wake a sleeping worker to take them. A safety net: the push that
    /// queued them already woke a peer unless one was searching (`wake.rs`).
    pub fn share_backlog_of(&self, index: usize) {
        if self.shared.has_work_for_a_peer(index) {
            self.shared.notify_one();
        }
    }

    /// Stops the worker loops (after the runtime has seen every task complete).
    pub fn shutdown(&self) {
        self.shared.shutdown.store(true, SeqCst);
        for index in 0..self.workers() {
            self.shared.park.unpark(index);
        }
    }

    /// Drops anything still queued (after the workers stopped).
    pub fn drain(&self) {
        while let Steal::Success(task) = steal_retrying(&self.shared.injector) {
            drop(task);
        }
    }
}
