// The scheduler's own source compiled into a loom test crate, and the pieces every model needs.
//
// `include!`d at the crate root of each `loom_*.rs` (not `mod`: the copied source says
// `crate::task`, `crate::sync`, ..., so its modules must sit at the root of the test crate).
//
// Why a copy rather than `use nursery_scheduler`: loom runs every model thread as a coroutine on
// one OS thread, so std's `thread_local!` is shared by all of them. The scheduler keeps the
// worker's queue (`worker.rs` LOCAL), the worker identity and the current node (`context.rs`) and
// the budget (`coop.rs`) in thread-locals: linked as a normal crate, a wake from a loom thread
// that is not a worker would see the worker's LOCAL and push into its LIFO slot without
// unparking it, a false lost wake-up. Compiled here, `thread_local!` below resolves to loom's
// per-loom-thread version (a `macro_rules!` in textual scope shadows the prelude macro), and the
// models can also reach `pub(crate)` items. Keep the module list equal to `src/lib.rs`.

/// `thread_local!` for the copied source: loom's, which keeps one value per loom thread.
/// (Loom's macro takes no `const { .. }` initialiser, so it is unwrapped here.)
macro_rules! thread_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const { $init:expr }; $($rest:tt)*) => {
        loom::thread_local! { $(#[$attr])* $vis static $name: $t = $init; }
        thread_local! { $($rest)* }
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        loom::thread_local! { $(#[$attr])* $vis static $name: $t = $init; }
        thread_local! { $($rest)* }
    };
}

// `worker.rs` says `use crossbeam_deque::...`; each model file declares
// `extern crate self as crossbeam_deque;` (it cannot come from an `include!`), which makes that
// name mean the test crate's root, where the loom-aware queues below are re-exported.
// crossbeam-deque's own atomics are invisible to loom, which then sees no happens-before edge
// from a push to a pop and reports false races on every task handed over through a queue.
pub use loom_deque::{Injector, Steal, Stealer, Worker};

#[path = "../../src/context.rs"]
mod context;
#[path = "../../src/coop.rs"]
mod coop;
#[path = "../../src/diagnostics.rs"]
mod diagnostics;
#[path = "../../src/group.rs"]
mod group;
#[path = "../../src/idle.rs"]
mod idle;
#[path = "../../src/lifo_slot.rs"]
mod lifo_slot;
#[path = "../../src/metrics.rs"]
mod metrics;
#[path = "../../src/park.rs"]
mod park;
#[path = "../../src/poll_slot.rs"]
mod poll_slot;
#[path = "../../src/sync.rs"]
mod sync;
#[path = "../../src/task/mod.rs"]
mod task;
#[path = "../../src/worker.rs"]
mod worker;

pub use group::Group;
pub use metrics::WorkerMetrics;
pub use park::Park;
pub use poll_slot::PollSnapshot;
pub use task::{Hold, JoinError, JoinHandle, NodeInfo, NodeRef, SpawnError, SpawnMeta};
pub use worker::{Scheduler, WorkerRunner};

/// Linearizable stand-ins for crossbeam-deque's `Worker`, `Stealer` and `Injector`, built from
/// loom primitives. The items move under a loom mutex; the emptiness checks the idle handshake
/// relies on read a length published with the orderings crossbeam uses (a `Release` store of
/// the worker's back index, a `SeqCst` CAS of the injector's tail; `Stealer::is_empty` loads
/// with `Acquire` around a `SeqCst` fence, `Injector::is_empty` with `SeqCst`), so loom may
/// show a checker a stale "empty" exactly where crossbeam could.
///
/// The subset of crossbeam-deque 0.8's API the scheduler may use, with its semantics (FIFO
/// workers; `steal_batch*` moves about half).
#[allow(dead_code)]
mod loom_deque {
    use std::collections::VecDeque;

    use loom::sync::atomic::{fence, AtomicUsize, Ordering};
    use loom::sync::{Arc, Mutex};

    #[must_use]
    #[derive(PartialEq, Eq, Debug)]
    pub enum Steal<T> {
        Empty,
        Success(T),
        Retry,
    }

    impl<T> Steal<T> {
        pub fn is_empty(&self) -> bool {
            matches!(self, Steal::Empty)
        }
        pub fn is_success(&self) -> bool {
            matches!(self, Steal::Success(_))
        }
        pub fn is_retry(&self) -> bool {
            matches!(self, Steal::Retry)
        }
        pub fn success(self) -> Option<T> {
            match self {
                Steal::Success(item) => Some(item),
                _ => None,
            }
        }
        pub fn or_else(self, f: impl FnOnce() -> Steal<T>) -> Steal<T> {
            match self {
                Steal::Empty => f(),
                Steal::Success(item) => Steal::Success(item),
                Steal::Retry => match f() {
                    Steal::Success(item) => Steal::Success(item),
                    _ => Steal::Retry,
                },
            }
        }
    }

    struct Queue<T> {
        items: Mutex<VecDeque<T>>,
        len: AtomicUsize,
    }

    impl<T> Queue<T> {
        fn new() -> Queue<T> {
            Queue {
                items: Mutex::new(VecDeque::new()),
                len: AtomicUsize::new(0),
            }
        }
        fn push(&self, item: T, order: Ordering) {
            let mut items = self.items.lock().unwrap();
            items.push_back(item);
            self.len.store(items.len(), order);
        }
        fn pop(&self) -> Option<T> {
            let mut items = self.items.lock().unwrap();
            let item = items.pop_front();
            self.len.store(items.len(), Ordering::Release);
            item
        }
        /// Takes about half the items (rounded up, at most `limit`).
        fn take_half(&self, limit: usize) -> Vec<T> {
            let mut items = self.items.lock().unwrap();
            let n = items.len().div_ceil(2).min(limit);
            let taken = items.drain(..n).collect();
            self.len.store(items.len(), Ordering::Release);
            taken
        }
    }

    fn steal_batch_into<T>(source: &Queue<T>, dest: &Worker<T>, limit: usize) -> Steal<()> {
        // The source's lock is released before the destination's is taken: two workers
        // stealing from each other must not deadlock the model.
        let taken = source.take_half(limit);
        if taken.is_empty() {
            return Steal::Empty;
        }
        for item in taken {
            dest.push(item);
        }
        Steal::Success(())
    }

    fn steal_batch_and_pop_into<T>(source: &Queue<T>, dest: &Worker<T>, limit: usize) -> Steal<T> {
        let mut taken = source.take_half(limit).into_iter();
        let Some(first) = taken.next() else {
            return Steal::Empty;
        };
        for item in taken {
            dest.push(item);
        }
        Steal::Success(first)
    }

    pub struct Worker<T>(Arc<Queue<T>>);

    impl<T> Worker<T> {
        pub fn new_fifo() -> Worker<T> {
            Worker(Arc::new(Queue::new()))
        }
        pub fn stealer(&self) -> Stealer<T> {
            Stealer(self.0.clone())
        }
        pub fn push(&self, item: T) {
            self.0.push(item, Ordering::Release);
        }
        pub fn pop(&self) -> Option<T> {
            self.0.pop()
        }
        pub fn is_empty(&self) -> bool {
            self.0.len.load(Ordering::Relaxed) == 0
        }
        pub fn len(&self) -> usize {
            self.0.len.load(Ordering::Relaxed)
        }
    }

    pub struct Stealer<T>(Arc<Queue<T>>);

    impl<T> Clone for Stealer<T> {
        fn clone(&self) -> Stealer<T> {
            Stealer(self.0.clone())
        }
    }

    impl<T> Stealer<T> {
        pub fn is_empty(&self) -> bool {
            fence(Ordering::SeqCst);
            self.0.len.load(Ordering::Acquire) == 0
        }
        pub fn len(&self) -> usize {
            fence(Ordering::SeqCst);
            self.0.len.load(Ordering::Acquire)
        }
        pub fn steal(&self) -> Steal<T> {
            match self.0.pop() {
                Some(item) => Steal::Success(item),
                None => Steal::Empty,
            }
        }
        pub fn steal_batch(&self, dest: &Worker<T>) -> Steal<()> {
            steal_batch_into(&self.0, dest, usize::MAX)
        }
        pub fn steal_batch_with_limit(&self, dest: &Worker<T>, limit: usize) -> Steal<()> {
            steal_batch_into(&self.0, dest, limit)
        }
        pub fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
            steal_batch_and_pop_into(&self.0, dest, usize::MAX)
        }
        pub fn steal_batch_with_limit_and_pop(&self, dest: &Worker<T>, limit: usize) -> Steal<T> {
            steal_batch_and_pop_into(&self.0, dest, limit)
        }
    }

    pub struct Injector<T>(Queue<T>);

    impl<T> Default for Injector<T> {
        fn default() -> Injector<T> {
            Injector::new()
        }
    }

    impl<T> Injector<T> {
        pub fn new() -> Injector<T> {
            Injector(Queue::new())
        }
        pub fn push(&self, item: T) {
            self.0.push(item, Ordering::SeqCst);
        }
        pub fn is_empty(&self) -> bool {
            self.0.len.load(Ordering::SeqCst) == 0
        }
        pub fn len(&self) -> usize {
            self.0.len.load(Ordering::SeqCst)
        }
        pub fn steal(&self) -> Steal<T> {
            match self.0.pop() {
                Some(item) => Steal::Success(item),
                None => Steal::Empty,
            }
        }
        pub fn steal_batch(&self, dest: &Worker<T>) -> Steal<()> {
            steal_batch_into(&self.0, dest, usize::MAX)
        }
        pub fn steal_batch_with_limit(&self, dest: &Worker<T>, limit: usize) -> Steal<()> {
            steal_batch_into(&self.0, dest, limit)
        }
        pub fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
            steal_batch_and_pop_into(&self.0, dest, usize::MAX)
        }
        pub fn steal_batch_with_limit_and_pop(&self, dest: &Worker<T>, limit: usize) -> Steal<T> {
            steal_batch_and_pop_into(&self.0, dest, limit)
        }
    }
}

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering::SeqCst as StdSeqCst};
use std::task::{Context, Poll, Waker};

/// A `Park` with the token semantics of the runtime's driver (`runtime/src/driver.rs`, condvar
/// path): an `unpark` before `park` makes it return at once; otherwise `park` blocks until
/// `unpark`. A wake-up lost by the scheduler leaves a worker blocked forever, which loom reports
/// as a deadlock (every thread blocked) when the model's main thread waits for the work.
///
/// The scheduler owns its `Park`, so the park's drop is the scheduler being freed: with a
/// [`WakeWatch`] it checks that no wake on another thread may still touch the scheduler then.
pub struct LoomPark {
    parkers: Vec<(loom::sync::Mutex<bool>, loom::sync::Condvar)>,
    watch: Option<WakeWatch>,
}

impl LoomPark {
    pub fn new(workers: usize) -> LoomPark {
        LoomPark {
            parkers: (0..workers)
                .map(|_| (loom::sync::Mutex::new(false), loom::sync::Condvar::new()))
                .collect(),
            watch: None,
        }
    }
}

impl Drop for LoomPark {
    fn drop(&mut self) {
        if let Some(watch) = &self.watch {
            watch.check_free();
        }
    }
}

/// Marks a wake a model makes from a plain thread, for [`LoomPark`]'s drop check: the
/// scheduler must not be freed by one thread while another is inside such a wake (it may be
/// between pushing the task and notifying a worker). Freed by the waking thread itself, at the
/// end of its wake, is fine: that is its last use.
///
/// A check rather than a use-after-free: the state lives outside the scheduler, in std types
/// (no loom operations, so no extra interleavings), and the check fails before the freed
/// scheduler would be read. It is exact only for a call whose last loom operation touches the
/// scheduler: `wake_by_ref`, not `wake` or a cancel, which then drop a task reference (a loom
/// operation, where loom may free the scheduler on another thread, harmlessly).
#[derive(Clone, Default)]
pub struct WakeWatch(std::sync::Arc<std::sync::Mutex<Option<loom::thread::ThreadId>>>);

impl WakeWatch {
    /// Runs `f` (a `wake_by_ref`) marked as in progress.
    pub fn during<R>(&self, f: impl FnOnce() -> R) -> R {
        self.set(Some(loom::thread::current().id()));
        let result = f();
        self.set(None);
        result
    }

    fn set(&self, waking: Option<loom::thread::ThreadId>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = waking;
    }

    fn check_free(&self) {
        let waking = *self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(waker) = waking {
            assert_eq!(
                waker,
                loom::thread::current().id(),
                "the scheduler was freed while a wake on another thread could still touch it"
            );
        }
    }
}

impl Park for LoomPark {
    fn park(&self, index: usize) {
        let (token, condvar) = &self.parkers[index];
        let mut notified = token.lock().unwrap();
        while !*notified {
            notified = condvar.wait(notified).unwrap();
        }
        *notified = false;
    }

    fn unpark(&self, index: usize) {
        let (token, condvar) = &self.parkers[index];
        *token.lock().unwrap() = true;
        condvar.notify_one();
    }

    fn poll_events(&self, _index: usize) {}
}

/// A scheduler with its workers on loom threads and a root group, torn down like
/// `Runtime::drop` does it.
pub struct Harness {
    pub scheduler: Scheduler,
    pub root: Group,
    workers: Vec<loom::thread::JoinHandle<()>>,
}

impl Harness {
    pub fn new(workers: usize) -> Harness {
        Harness::with_park(workers, LoomPark::new(workers))
    }

    /// With a park whose drop checks that no wake watched by `watch` is in progress.
    pub fn watched(workers: usize, watch: &WakeWatch) -> Harness {
        let mut park = LoomPark::new(workers);
        park.watch = Some(watch.clone());
        Harness::with_park(workers, park)
    }

    fn with_park(workers: usize, park: LoomPark) -> Harness {
        let (scheduler, runners) = Scheduler::new(workers, park);
        let root = scheduler.new_root();
        let workers = runners
            .into_iter()
            .map(|runner| loom::thread::spawn(move || runner.run()))
            .collect();
        Harness {
            scheduler,
            root,
            workers,
        }
    }

    /// Spawns `future` under `parent`.
    pub fn spawn<F>(&self, parent: &NodeRef, future: F) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.scheduler
            .spawn(parent, future, SpawnMeta::here(), "model")
    }

    /// Spawns `future` under the root.
    pub fn spawn_root<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn(self.root.node(), future)
            .expect("the root is open")
    }

    /// Waits for every task to complete without cancelling anything, then stops the workers.
    pub fn finish(self) {
        self.root.close();
        wait(|cx| self.root.poll_complete(cx));
        self.stop();
    }

    /// `Runtime::drop`: cancel everything, wait until it is gone, stop the workers.
    pub fn shut_down(self) {
        self.root.cancel();
        self.finish();
    }

    fn stop(self) {
        let Harness {
            scheduler,
            root,
            workers,
        } = self;
        scheduler.shutdown();
        for worker in workers {
            worker.join().expect("a worker panicked");
        }
        scheduler.drain();
        drop(root);
    }
}

/// A waker that unblocks a loom thread (loom's own `block_on` needs a feature we do not enable).
struct ThreadNotify(loom::sync::Notify);

impl std::task::Wake for ThreadNotify {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.notify();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.notify();
    }
}

/// Blocks the calling loom thread until `poll` is ready.
pub fn wait<T>(mut poll: impl FnMut(&mut Context<'_>) -> Poll<T>) -> T {
    let notify = std::sync::Arc::new(ThreadNotify(loom::sync::Notify::new()));
    let waker = Waker::from(notify.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(value) = poll(&mut cx) {
            return value;
        }
        notify.0.wait();
    }
}

/// Blocks the calling loom thread on a join handle.
pub fn join<T>(handle: &mut JoinHandle<T>) -> Result<T, JoinError> {
    wait(|cx| Pin::new(&mut *handle).poll(cx))
}

/// Counts how often it was dropped (a future's, or an output's, drop). Held through a loom
/// `Arc`, so a future or output that is never dropped is also reported by loom as a leak.
#[derive(Clone, Default)]
pub struct Drops(loom::sync::Arc<StdAtomicUsize>);

impl Drops {
    pub fn new() -> Drops {
        Drops(loom::sync::Arc::new(StdAtomicUsize::new(0)))
    }
    pub fn token(&self) -> DropToken {
        DropToken(self.0.clone())
    }
    pub fn count(&self) -> usize {
        self.0.load(StdSeqCst)
    }
}

/// Increments its `Drops` when dropped.
pub struct DropToken(loom::sync::Arc<StdAtomicUsize>);

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.fetch_add(1, StdSeqCst);
    }
}

/// A one-shot event a task can wait for and another thread can fire: the waker goes through a
/// loom mutex, so loom explores the wake racing with everything else.
#[derive(Clone)]
pub struct Event(loom::sync::Arc<loom::sync::Mutex<(bool, Option<Waker>)>>);

impl Default for Event {
    fn default() -> Event {
        Event::new()
    }
}

impl Event {
    pub fn new() -> Event {
        Event(loom::sync::Arc::new(loom::sync::Mutex::new((false, None))))
    }

    /// Fires the event, waking the waiter (outside the lock).
    pub fn fire(&self) {
        let waker = {
            let mut state = self.0.lock().unwrap();
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Completes once the event has fired.
    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let event = self.clone();
        poll_fn(move |cx| {
            let mut state = event.0.lock().unwrap();
            if state.0 {
                Poll::Ready(())
            } else {
                state.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

/// Runs `body` under loom with a preemption bound (default 2; `LOOM_MAX_PREEMPTIONS` wins).
pub fn model(body: impl Fn() + Sync + Send + 'static) {
    model_bounded(2, body);
}

/// Runs `body` under loom with at most `preemptions` preemptions, unless
/// `LOOM_MAX_PREEMPTIONS` says otherwise (for models whose state space explodes at 2).
pub fn model_bounded(preemptions: usize, body: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if std::env::var("LOOM_MAX_PREEMPTIONS").is_err() {
        builder.preemption_bound = Some(preemptions);
    }
    builder.check(body);
}
