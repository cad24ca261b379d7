//! Worker threads: per-worker run queues, a LIFO slot for the task just woken, a global injector
//! for tasks scheduled from outside, work stealing, and parking through [`Park`].

use std::cell::Cell;
use std::future::Future;
use std::ptr::{self, NonNull};

use crate::sync::deque::{Injector, Steal, Stealer, Worker};

use crate::context;
use crate::idle::Idle;
use crate::lifo_slot::LifoSlot;
use crate::metrics::{Counters, WorkerMetrics};
use crate::park::Park;
use crate::poll_slot::{PollSlot, PollSnapshot};
use crate::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering::*};
use crate::sync::thread_local;
use crate::sync::Arc;
use crate::task::{self, JoinHandle, NodeRef, SpawnError, SpawnMeta};

/// Polls of the LIFO slot in a row before the FIFO queue gets a turn (fairness).
const MAX_LIFO_STREAK: u32 = 3;
/// Every this many tasks, a worker checks the injector first and polls for events.
const MAINTENANCE_INTERVAL: u32 = 61;

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
    /// Keeps the pool of recycled task cells while this scheduler lives.
    _cells: crate::task::recycle::PoolUser,
}

/// Why a task is being queued: it decides where it goes and whether a peer is woken for it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Origin {
    /// A new task, or a wake (by a task, by I/O or a timer, or a cancellation): it goes to the
    /// LIFO slot.
    Ready,
    /// A task that woke itself while running (`yield_now`): it goes behind the others.
    Yield,
}

/// The worker-local half, reachable from wakers running on the worker's own thread.
struct Local {
    index: usize,
    queue: Worker<NodeRef>,
    /// Inside `Park::park` (the reactor or timers are waking tasks from this thread).
    in_park: Cell<bool>,
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
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Relaxed)
    }

    /// The uncounted pointer a task's header keeps to its scheduler (`Header::scheduler`), with
    /// the provenance of the whole `Arc` allocation, so that [`schedule_woken`] can count it.
    ///
    /// [`schedule_woken`]: Shared::schedule_woken
    pub(crate) fn as_raw(this: &Arc<Shared>) -> NonNull<Shared> {
        // SAFETY: an `Arc`'s pointer is never null.
        unsafe { NonNull::new_unchecked(Arc::as_ptr(this).cast_mut()) }
    }

    /// Queues a task. The caller holds a counted reference to the scheduler (a spawn through a
    /// `Scheduler`, a worker requeueing the task it ran); wakes go through
    /// [`schedule_woken`](Shared::schedule_woken).
    pub(crate) fn schedule(&self, task: NodeRef, origin: Origin) {
        match self.own_worker() {
            Some(local) => self.schedule_local(local, task, origin),
            None => self.inject(task),
        }
    }

    /// Queues a woken task through the uncounted pointer in its header.
    ///
    /// Once the task is in the injector, a worker may run it to completion and the runtime may
    /// be dropped, freeing the scheduler, before this thread's `notify_one` reads it: a wake
    /// from outside the workers holds a count from before the push until after the notify. A
    /// wake on one of this scheduler's own workers needs none (and pays no atomic operation for
    /// it): that worker's loop holds a count for as long as it runs.
    ///
    /// # Safety
    /// `this` is alive when called: the task was just notified while its body was not done, so
    /// it holds its parent's pending slot, and so on up to the root, and the runtime frees its
    /// scheduler only after the root has completed (see `Header::scheduler`).
    pub(crate) unsafe fn schedule_woken(this: NonNull<Shared>, task: NodeRef) {
        // SAFETY: alive now (the caller's guarantee).
        let shared = unsafe { this.as_ref() };
        match shared.own_worker() {
            Some(local) => shared.schedule_local(local, task, Origin::Ready),
            None => {
                // SAFETY: `this` came from `as_raw` (what `Arc::into_raw` returns), and the
                // scheduler is alive now.
                let alive = unsafe {
                    Arc::increment_strong_count(this.as_ptr());
                    Arc::from_raw(this.as_ptr())
                };
                shared.inject(task);
                // Perhaps the last count: then the scheduler is freed here, after its last use.
                drop(alive);
            }
        }
    }

    /// This thread's worker loop, if it is one of this scheduler's. Its `run` holds a count of
    /// the scheduler, so a caller that got `Some` needs no count of its own.
    fn own_worker(&self) -> Option<&Local> {
        let local = LOCAL.with(Cell::get);
        if local.is_null() || context::worker_of() != self as *const Shared as usize {
            return None;
        }
        // SAFETY: LOCAL points to the `Local` on this thread's stack while its worker loop
        // runs (it is reset before `run` returns), and we are on that thread, inside that loop.
        Some(unsafe { &*local })
    }

    /// Queues a task on this thread's own worker: a yield at the back of its queue, anything
    /// else in its LIFO slot (the task there before moves to the queue).
    ///
    /// Then the work-conserving rule: a task that this worker will not run next must not wait
    /// while a peer sleeps. During a poll every queued task waits (the poll may go on for
    /// long); between polls, and for a yield (its poll is over), all but the one this worker
    /// runs next. If any waits, a sleeping peer is woken, unless one is already searching: it
    /// will find the task, in the queue or, if the poll that woke it still runs, in the LIFO
    /// slot (`LifoSlot::steal`). The searcher throttles the wake-ups: while it is on its way,
    /// further pushes wake nobody.
    fn schedule_local(&self, local: &Local, task: NodeRef, origin: Origin) {
        let lifo = &self.lifos[local.index];
        let seq = self.polls[local.index].own_seq();
        if origin == Origin::Yield {
            local.queue.push(task);
        } else if let Some(previous) = lifo.put(task, seq) {
            local.queue.push(previous);
        }
        if local.in_park.get() {
            // Woken from inside `park` (I/O, timers): this worker still counts as asleep,
            // and waking a sleeper now could pick this very worker, a wasted wake-up
            // (for the reactor, an eventfd write and an extra epoll_wait). It decides
            // once `park` returns (`share_local_backlog`).
            return;
        }
        let in_poll = seq % 2 == 1 && origin != Origin::Yield;
        let runs_next_here = usize::from(!in_poll);
        if local.queue.len() + usize::from(lifo.is_occupied()) > runs_next_here {
            self.notify_for_local_work(in_poll);
        }
    }

    /// Queues a task from outside this scheduler's workers. The caller keeps the scheduler
    /// alive until this returns: once the task is pushed, it may run and complete at once.
    fn inject(&self, task: NodeRef) {
        self.injector.push(task);
        self.notify_one();
    }

    /// Between polls (after `park`, at the maintenance tick): wakes a peer if more tasks wait
    /// here than the one this worker runs next.
    fn share_local_backlog(&self, local: &Local) {
        let lifo = usize::from(self.lifos[local.index].is_occupied());
        if local.queue.len() + lifo >= 2 {
            self.notify_for_local_work(true);
        }
    }

    /// After a push into this worker's own queue that leaves a task waiting. With `fenced`
    /// (a push during a poll, which may go on for long) the fence pairs with the one of a
    /// parking worker (`Idle::park`, then `work_for_a_parking_worker`): either it sees the
    /// task, or this sees it asleep. Between polls the fence is spared (it was most of the cost
    /// of a `yield_now`): this worker is about to run tasks, and the maintenance tick, fenced,
    /// shares what still waits within 61 polls. Then the plain look at the idle state spares
    /// the lock of [`notify_one`](Self::notify_one) when every worker is awake or one is
    /// already searching: the common case on a busy runtime.
    fn notify_for_local_work(&self, fenced: bool) {
        if fenced {
            fence(SeqCst);
        }
        if self.idle.nobody_to_wake_hint() {
            return;
        }
        self.notify_one();
    }

    fn notify_one(&self) {
        if let Some(index) = self.idle.worker_to_wake() {
            self.park.unpark(index);
        }
    }

    /// The recheck of a worker that is about to park (after `Idle::park`): work it must not
    /// sleep on. The injector is everyone's; a peer's queue only matters if nobody is searching
    /// — a searcher will steal it otherwise, and this worker (not allowed to search then) would
    /// only spin.
    fn work_for_a_parking_worker(&self) -> bool {
        !self.injector.is_empty()
            || (!self.idle.anyone_searching()
                && (0..self.stealers.len()).any(|i| self.has_work_for_a_peer(i)))
    }

    /// Whether worker `index` holds tasks a peer may take: in its queue, or in its LIFO slot
    /// behind the poll that put it there.
    fn has_work_for_a_peer(&self, index: usize) -> bool {
        !self.stealers[index].is_empty()
            || self.lifos[index].stuck_behind(|| self.polls[index].seq())
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
        context::worker_of() == Arc::as_ptr(&self.shared) as usize
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
    /// queue, wake a sleeping worker to steal them. (Tasks woken by a running task wake no peer
    /// until a backlog builds up; behind a poll that blocks its thread they would otherwise wait
    /// for that poll to end.)
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

fn steal_retrying(injector: &Injector<NodeRef>) -> Steal<NodeRef> {
    loop {
        match injector.steal() {
            Steal::Retry => continue,
            other => return other,
        }
    }
}

impl WorkerRunner {
    /// This worker's index, `0..workers`.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Runs tasks until the scheduler shuts down.
    pub fn run(self) {
        let shared = self.shared;
        let local = Local {
            index: self.index,
            queue: self.queue,
            in_park: Cell::new(false),
            counters: &shared.counters[self.index],
        };
        let counters = &shared.counters[local.index];
        let previous_worker = context::set_worker_of(Arc::as_ptr(&shared) as usize);
        let previous_local = LOCAL.with(|l| l.replace(&local as *const Local));
        shared.park.on_worker_start(local.index);

        let mut tick: u32 = 0;
        let mut lifo_streak: u32 = 0;
        let mut searching = false;
        // Whether this worker took work from the injector since it last waited for some.
        let mut fed_from_outside = false;
        let mut rng = XorShift::new(local.index as u64 + 1);
        while !shared.shutdown.load(Acquire) {
            tick = tick.wrapping_add(1);
            if tick % MAINTENANCE_INTERVAL == 0 {
                shared.park.poll_events(local.index);
                // A safety net: tasks still waiting here a maintenance interval later (a wake
                // that found every worker awake, which then parked) are shared.
                shared.share_local_backlog(&local);
            }
            let mut task = next_task(
                &shared,
                &local,
                tick,
                &mut lifo_streak,
                &mut fed_from_outside,
            );
            if task.is_none() {
                searching = searching || shared.idle.try_start_searching();
                if searching {
                    task = steal(&shared, &local, &mut rng);
                }
            }
            match task {
                Some(task) => {
                    if searching {
                        searching = false;
                        if shared.idle.stop_searching() {
                            // The last searcher found work: more may be waiting, so wake a
                            // peer to look.
                            shared.notify_one();
                        }
                    }
                    // Counted before the poll, so that whoever sees the task's result sees it.
                    counters.polls.add(1);
                    let slot = &shared.polls[local.index];
                    let meta = &task.header().meta;
                    slot.begin(meta.id, meta.location);
                    task::run(task, |t| shared.schedule(t, Origin::Yield));
                    slot.end();
                }
                None => {
                    if searching {
                        match watch(&shared, &local, std::mem::take(&mut fed_from_outside)) {
                            Watched::Task(task) => {
                                counters.lifo_steals.add(1);
                                // Found as a searcher: run it on the next turn of the loop.
                                local.queue.push(task);
                                continue;
                            }
                            Watched::Work => continue,
                            Watched::Nothing => {}
                        }
                    }
                    shared.idle.park(local.index, searching);
                    if !(shared.work_for_a_parking_worker() || shared.shutdown.load(Acquire)) {
                        local.in_park.set(true);
                        counters.parks.add(1);
                        shared.park.park(local.index);
                        local.in_park.set(false);
                    }
                    searching = shared.idle.unparked(local.index);
                    if searching {
                        counters.unparks.add(1);
                    }
                    // What `park` woke here (I/O, timers) wakes a peer only now (see
                    // `schedule`): this worker no longer counts as asleep.
                    shared.share_local_backlog(&local);
                }
            }
        }

        shared.park.on_worker_stop(local.index);
        drop(shared.lifos[local.index].take());
        while local.queue.pop().is_some() {}
        LOCAL.with(|l| l.set(previous_local));
        context::set_worker_of(previous_worker);
    }
}

/// The next task from this worker's own queues or the injector.
fn next_task(
    shared: &Shared,
    local: &Local,
    tick: u32,
    lifo_streak: &mut u32,
    from_injector: &mut bool,
) -> Option<NodeRef> {
    let lifo = &shared.lifos[local.index];
    if tick % MAINTENANCE_INTERVAL == 0 {
        if let Steal::Success(task) = steal_retrying(&shared.injector) {
            *from_injector = true;
            shared.counters[local.index].injector_pulls.add(1);
            // The task in the LIFO slot now waits behind this one: where a peer can take it.
            if let Some(waiting) = lifo.take() {
                local.queue.push(waiting);
                shared.notify_for_local_work(true);
            }
            return Some(task);
        }
    }
    if let Some(task) = lifo.take() {
        if *lifo_streak < MAX_LIFO_STREAK {
            *lifo_streak += 1;
            return Some(task);
        }
        local.queue.push(task);
    }
    *lifo_streak = 0;
    if let Some(task) = local.queue.pop() {
        return Some(task);
    }
    loop {
        match shared.injector.steal_batch_and_pop(&local.queue) {
            Steal::Success(task) => {
                *from_injector = true;
                // The queue was empty: all it holds now came with `task`.
                let pulled = 1 + local.queue.len() as u64;
                shared.counters[local.index].injector_pulls.add(pulled);
                return Some(task);
            }
            Steal::Retry => continue,
            Steal::Empty => return None,
        }
    }
}

/// How long a searcher that found nothing watches for work before it parks.
#[cfg(not(loom))]
const WATCH: std::time::Duration = std::time::Duration::from_micros(20);

/// How long a peer's LIFO task must have been stuck behind the poll that put it there before a
/// watching searcher takes it: a short poll ends sooner, and its owner runs the task itself
/// with its data in cache.
#[cfg(not(loom))]
const LIFO_AGE: std::time::Duration = std::time::Duration::from_micros(10);

/// What a searcher's watch found.
enum Watched {
    /// A peer's LIFO task, stuck behind the poll that put it there (taken).
    Task(NodeRef),
    /// Work to look for again: in the injector or a peer's queue.
    #[cfg_attr(loom, allow(dead_code))]
    Work,
    /// Nothing: park.
    Nothing,
}

/// A searcher that found no work may watch for a few microseconds before it parks, still
/// counted as the searcher so that pushes wake nobody meanwhile:
///
/// - one that had been taking tasks from the injector watches the injector: a plain thread or a
///   `block_on` body feeding tasks one at a time would otherwise cost a wake-up every task;
/// - any other watches only while a peer's LIFO task is stuck behind the poll that put it
///   there, and takes it once it has waited `LIFO_AGE`; with nothing stuck it parks at once.
///   (Watching the peers' queues for the whole `WATCH` spared wake-ups in conversations of
///   short polls, but the spinning cost the load generator of hyper under `wrk` on the same
///   two cores 13 % of its throughput at 16 connections.)
fn watch(shared: &Shared, local: &Local, fed_from_outside: bool) -> Watched {
    #[cfg(loom)]
    {
        let _ = fed_from_outside;
        // No time under loom: the stuck LIFO task is taken at once.
        match steal_stuck_lifo(shared, local) {
            Some(task) => Watched::Task(task),
            None => Watched::Nothing,
        }
    }
    #[cfg(not(loom))]
    {
        let start = std::time::Instant::now();
        // The peer whose LIFO task was seen stuck, its poll, and since when.
        let mut stuck: Option<(usize, u64, std::time::Instant)> = None;
        loop {
            for _ in 0..32 {
                std::hint::spin_loop();
            }
            if !shared.injector.is_empty() {
                return Watched::Work;
            }
            if shared.shutdown.load(Acquire) || start.elapsed() >= WATCH {
                return Watched::Nothing;
            }
            if fed_from_outside {
                continue;
            }
            let n = shared.stealers.len();
            if (0..n).any(|v| v != local.index && !shared.stealers[v].is_empty()) {
                return Watched::Work;
            }
            let now = std::time::Instant::now();
            match stuck {
                Some((victim, seq, since)) if shared.polls[victim].seq() == seq => {
                    if now.duration_since(since) >= LIFO_AGE {
                        if let Some(task) = shared.lifos[victim].steal(|| seq) {
                            return Watched::Task(task);
                        }
                        stuck = None;
                    }
                }
                _ => {
                    stuck = (0..n).filter(|&v| v != local.index).find_map(|v| {
                        let seq = shared.polls[v].seq();
                        shared.lifos[v]
                            .stuck_behind(|| seq)
                            .then_some((v, seq, now))
                    });
                    if stuck.is_none() {
                        // Nothing stuck behind a peer's poll: park rather than spin.
                        return Watched::Nothing;
                    }
                }
            }
        }
    }
}

/// A peer's LIFO task stuck behind the poll that put it there, taken at once (loom models).
#[cfg(loom)]
fn steal_stuck_lifo(shared: &Shared, local: &Local) -> Option<NodeRef> {
    (0..shared.stealers.len())
        .filter(|&v| v != local.index)
        .find_map(|v| shared.lifos[v].steal(|| shared.polls[v].seq()))
}

/// Steals half of a random peer's queue, else from the injector (searching workers only; a
/// peer's LIFO task stuck behind its poll is taken by `watch`).
fn steal(shared: &Shared, local: &Local, rng: &mut XorShift) -> Option<NodeRef> {
    let n = shared.stealers.len();
    let start = (rng.next() as usize) % n;
    let counters = &shared.counters[local.index];
    let before = local.queue.len();
    let mut retry = true;
    while retry {
        retry = false;
        for i in 0..n {
            let victim = (start + i) % n;
            if victim == local.index {
                continue;
            }
            match shared.stealers[victim].steal_batch_and_pop(&local.queue) {
                Steal::Success(task) => {
                    let moved = local.queue.len().saturating_sub(before) as u64;
                    counters.steals.add(1 + moved);
                    return Some(task);
                }
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
        }
    }
    // Work may have been injected while we looked at the peers.
    let task = steal_retrying(&shared.injector).success();
    if task.is_some() {
        counters.injector_pulls.add(1);
    }
    task
}

/// A tiny PRNG to pick the first steal victim.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}
