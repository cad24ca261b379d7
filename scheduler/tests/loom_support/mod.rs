// What every loom model of the scheduler needs: a `Park` with the runtime driver's token
// semantics, a harness that runs a scheduler's workers on loom threads, and events, drop
// counters and a blocking `wait` for loom threads.
//
// The models link the real `nursery_scheduler`, built with `--cfg loom` (scripts/loom.sh sets
// it): its `crate::sync` shim then gives it loom's atomics, `thread_local!` and loom-aware run
// queues, so the code under test is the code that ships.
#![allow(dead_code)]

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering::SeqCst as StdSeqCst};
use std::task::{Context, Poll, Waker};

use nursery_scheduler::{
    Group, JoinError, JoinHandle, NodeRef, Park, Scheduler, SpawnError, SpawnMeta,
};

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
