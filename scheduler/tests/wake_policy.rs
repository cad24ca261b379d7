//! When a queued task wakes a sleeping worker (`Shared::schedule_local`): the work-conserving
//! rule. A task that its worker will not run next never waits while a peer sleeps: during a
//! poll every task it queues (woken or new) wakes a peer, and a peer can take a task woken into
//! the LIFO slot while the poll that woke it still runs; between polls (inside `park`, after a
//! yield) all but the one the worker runs next.
//!
//! The tests drive a scheduler with a `Park` of their own that counts `unpark` calls per worker
//! and can resume one parked worker "for I/O" (as the runtime's reactor does): that worker runs
//! a task it wakes from inside `park`, without going through the idle protocol, so no other
//! wake-up (a searcher finding work wakes a peer) blurs what the task's own wakes do.
#![cfg(not(loom))]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use nursery_scheduler::{Group, Park, Scheduler, SpawnMeta};

#[derive(Default)]
struct Worker {
    state: Mutex<WorkerState>,
    condvar: Condvar,
    unparks: AtomicUsize,
    parked: AtomicBool,
}

#[derive(Default)]
struct WorkerState {
    notified: bool,
    /// Set by the test: resume this worker as if I/O were ready, and wake `io_waiter`.
    io_ready: bool,
}

/// A condvar parker per worker, plus one "I/O readiness" that a test can deliver to one worker.
struct TestPark {
    workers: Vec<Worker>,
    io_waiters: Mutex<Vec<Waker>>,
}

/// The scheduler's handle on the shared `TestPark`.
struct ParkRef(Arc<TestPark>);

impl Park for ParkRef {
    fn park(&self, index: usize) {
        let worker = &self.0.workers[index];
        let mut state = worker.state.lock().unwrap();
        while !state.notified && !state.io_ready {
            // Only a worker really blocked here counts as parked (under the lock that a wake
            // takes): one about to return for a wake that already came does not.
            worker.parked.store(true, SeqCst);
            state = worker.condvar.wait(state).unwrap();
            worker.parked.store(false, SeqCst);
        }
        state.notified = false;
        let io = std::mem::take(&mut state.io_ready);
        drop(state);
        if io {
            // Like the reactor: wake the task waiting for I/O on this worker's thread, outside
            // any task.
            let waiters = std::mem::take(&mut *self.0.io_waiters.lock().unwrap());
            for waker in waiters {
                waker.wake();
            }
        }
    }

    fn unpark(&self, index: usize) {
        let worker = &self.0.workers[index];
        worker.unparks.fetch_add(1, SeqCst);
        worker.state.lock().unwrap().notified = true;
        worker.condvar.notify_one();
    }

    fn poll_events(&self, _index: usize) {}
}

impl TestPark {
    fn deliver_io_to(&self, index: usize) {
        let worker = &self.workers[index];
        worker.state.lock().unwrap().io_ready = true;
        worker.condvar.notify_one();
    }

    /// Whether worker `index` is blocked in `park` with no wake-up on its way (a worker that was
    /// unparked but has not run yet still shows `parked`).
    fn asleep(&self, index: usize) -> bool {
        let worker = &self.workers[index];
        let state = worker.state.lock().unwrap();
        worker.parked.load(SeqCst) && !state.notified && !state.io_ready
    }

    /// Until the task waits for "I/O" and both workers sleep.
    fn wait_until_settled(&self) {
        self.wait_until_settled_with(1);
    }

    /// Until `waiting` tasks wait for "I/O" and both workers sleep.
    fn wait_until_settled_with(&self, waiting: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.io_waiters.lock().unwrap().len() < waiting
            || !(0..self.workers.len()).all(|i| self.asleep(i))
        {
            assert!(Instant::now() < deadline, "the workers never went idle");
            std::thread::yield_now();
        }
    }
}

/// Pending until the test delivers "I/O" to a worker.
struct WaitForIo(Arc<TestPark>, bool);

impl Future for WaitForIo {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.1 {
            return Poll::Ready(());
        }
        self.1 = true;
        self.0.io_waiters.lock().unwrap().push(cx.waker().clone());
        Poll::Pending
    }
}

struct Setup {
    park: Arc<TestPark>,
    scheduler: Scheduler,
    root: Group,
    threads: Vec<std::thread::JoinHandle<()>>,
}

fn setup() -> Setup {
    let park = Arc::new(TestPark {
        workers: (0..2).map(|_| Worker::default()).collect(),
        io_waiters: Mutex::new(Vec::new()),
    });
    let (scheduler, runners) = Scheduler::new(2, ParkRef(park.clone()));
    let threads = runners
        .into_iter()
        .map(|runner| std::thread::spawn(move || runner.run()))
        .collect();
    let root = scheduler.new_root();
    Setup {
        park,
        scheduler,
        root,
        threads,
    }
}

impl Setup {
    /// Spawns `task` under the root, waits until it waits for "I/O" and both workers sleep,
    /// resumes it "by I/O" on worker 0, and waits until it has finished.
    fn run_resumed_by_io(&self, task: impl Future<Output = ()> + Send + 'static) {
        let handle = self
            .scheduler
            .spawn(self.root.node(), task, SpawnMeta::here(), "root")
            .unwrap();
        self.park.wait_until_settled();
        self.park.deliver_io_to(0);
        futures::executor::block_on(handle).unwrap();
    }

    fn finish(self) {
        self.root.close();
        futures::executor::block_on(std::future::poll_fn(|cx| self.root.poll_complete(cx)));
        self.scheduler.shutdown();
        for thread in self.threads {
            thread.join().unwrap();
        }
        self.scheduler.drain();
    }
}

/// The sleeping peer's unpark count while a task resumed "by I/O" on worker 0 calls `act`;
/// `None` if the peer was not asleep when the task acted. `prepare` runs first, with a group to
/// spawn into, and hands `act` what it set up.
fn peer_wakes_during<S: Send + 'static>(
    prepare: impl FnOnce(&Setup, &Group) -> S,
    act: impl FnOnce(S, &Scheduler, &Group) + Send + 'static,
) -> Option<usize> {
    let s = setup();
    let group = Arc::new(
        s.scheduler
            .new_group(s.root.node(), false, None, "scope")
            .unwrap(),
    );
    let prepared = prepare(&s, &group);
    let (scheduler, g, park) = (s.scheduler.clone(), group.clone(), s.park.clone());
    let woke = Arc::new(AtomicUsize::new(usize::MAX));
    let result = woke.clone();
    let task = async move {
        WaitForIo(park.clone(), false).await;
        let before = park.workers[1].unparks.load(SeqCst);
        let asleep = park.asleep(1);
        act(prepared, &scheduler, &g);
        if asleep {
            result.store(park.workers[1].unparks.load(SeqCst) - before, SeqCst);
        }
    };
    s.run_resumed_by_io(task);
    group.close();
    futures::executor::block_on(std::future::poll_fn(|cx| group.poll_complete(cx)));
    drop(group);
    s.finish();
    Some(woke.load(SeqCst)).filter(|&n| n != usize::MAX)
}

/// Spawns `count` tasks into `group` that wait on oneshots; returns their senders once every
/// one of them is waiting.
fn idle_receivers(s: &Setup, group: &Group, count: usize) -> Vec<oneshot::Sender<()>> {
    let waiting = Arc::new(AtomicUsize::new(0));
    let senders = (0..count)
        .map(|_| {
            let (tx, rx) = oneshot::channel::<()>();
            let waiting = waiting.clone();
            let task = async move {
                waiting.fetch_add(1, SeqCst);
                let _ = rx.await;
            };
            drop(
                s.scheduler
                    .spawn(group.node(), task, SpawnMeta::here(), "scope"),
            );
            tx
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while waiting.load(SeqCst) < count {
        assert!(Instant::now() < deadline, "the receivers never started");
        std::thread::yield_now();
    }
    senders
}

/// `peer_wakes_during` a task that wakes `count` idle receivers (and then, if `then_share`,
/// shares worker 0's backlog as the stall monitor would).
fn peer_wakes_when_a_task_wakes(count: usize, then_share: bool) -> Option<usize> {
    peer_wakes_during(
        |s, group| idle_receivers(s, group, count),
        move |senders, scheduler, _| {
            for tx in senders {
                tx.send(()).unwrap();
            }
            if then_share {
                scheduler.share_backlog_of(0);
            }
        },
    )
}

/// Runs `scenario` until it was conclusive (the peer really slept when the task acted; a stray
/// wake-up from the setup can leave it awake), at most 50 times; returns the peer's wake-ups.
fn conclusive(scenario: impl Fn() -> Option<usize>) -> usize {
    (0..50)
        .find_map(|_| scenario())
        .expect("the peer was never asleep when the task acted")
}

#[test]
fn a_single_task_woken_by_a_running_task_wakes_a_sleeping_peer() {
    // The poll that woke it may go on for long: the woken task must not wait for it.
    assert!(
        conclusive(|| peer_wakes_when_a_task_wakes(1, false)) >= 1,
        "a woken task waited behind the running poll while a peer slept"
    );
}

#[test]
fn a_task_woken_into_the_lifo_slot_runs_on_a_peer_while_the_waker_computes() {
    // A dispatcher that wakes one task and goes on computing: the woken task sits in the
    // worker's LIFO slot; the peer must take it from there while the dispatcher's poll runs.
    let s = setup();
    let ran_during_the_poll = Arc::new(AtomicBool::new(false));
    let (tx, rx) = oneshot::channel::<()>();
    let (receiver_ran, ran) = (
        Arc::new(AtomicBool::new(false)),
        ran_during_the_poll.clone(),
    );
    let flag = receiver_ran.clone();
    let receiver = s
        .scheduler
        .spawn(
            s.root.node(),
            async move {
                let _ = rx.await;
                flag.store(true, SeqCst);
            },
            SpawnMeta::here(),
            "root",
        )
        .unwrap();
    let park = s.park.clone();
    let dispatcher = async move {
        WaitForIo(park, false).await;
        tx.send(()).unwrap();
        // Compute until the woken task has run elsewhere (at most 10 s).
        let deadline = Instant::now() + Duration::from_secs(10);
        while !receiver_ran.load(SeqCst) && Instant::now() < deadline {
            std::hint::spin_loop();
        }
        ran.store(receiver_ran.load(SeqCst), SeqCst);
    };
    s.run_resumed_by_io(dispatcher);
    futures::executor::block_on(receiver).unwrap();
    s.finish();
    assert!(
        ran_during_the_poll.load(SeqCst),
        "the woken task waited in the LIFO slot until the dispatcher's poll ended"
    );
}

#[test]
fn several_tasks_woken_by_a_task_wake_a_sleeping_peer() {
    assert!(
        conclusive(|| peer_wakes_when_a_task_wakes(3, false)) >= 1,
        "three woken tasks waited behind one worker"
    );
}

#[test]
fn a_lone_task_that_yields_wakes_no_peer() {
    // Its poll is over and nothing else waits: this worker runs it next, and a wake-up of the
    // sleeping peer per yield would be wasted. The task resumes "for I/O" on worker 0 with
    // both workers asleep (a wake from inside `park` with one task wakes nobody), then yields
    // many times; every unpark of either worker meanwhile is counted.
    let wakes = conclusive(|| {
        let s = setup();
        let park = s.park.clone();
        let (counted, count) = std::sync::mpsc::channel();
        let task = async move {
            WaitForIo(park.clone(), false).await;
            let unparks = || -> usize { park.workers.iter().map(|w| w.unparks.load(SeqCst)).sum() };
            let (before, asleep) = (unparks(), park.asleep(1));
            for _ in 0..10_000 {
                YieldOnce(false).await;
            }
            let _ = counted.send(asleep.then(|| unparks() - before));
        };
        s.run_resumed_by_io(task);
        s.finish();
        count.recv().unwrap()
    });
    assert!(
        wakes <= 1,
        "a lone yielding task woke a worker {wakes} times"
    );
}

/// Pending once, waking itself (a `yield_now`).
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[test]
fn new_tasks_wake_a_sleeping_peer_as_soon_as_two_wait() {
    let wakes = conclusive(|| {
        peer_wakes_during(
            |_, _| (),
            |(), scheduler, group| {
                for _ in 0..3 {
                    drop(scheduler.spawn(group.node(), async {}, SpawnMeta::here(), "scope"));
                }
            },
        )
    });
    assert!(wakes >= 1, "three new tasks waited behind one worker");
}

#[test]
fn a_monitor_that_sees_a_worker_stuck_can_share_its_backlog() {
    // What the runtime's stall monitor does for a worker stuck in one poll.
    assert!(
        conclusive(|| peer_wakes_when_a_task_wakes(3, true)) >= 1,
        "share_backlog_of left the queued tasks to the stuck worker"
    );
}

#[test]
fn tasks_woken_inside_park_wake_a_peer_but_never_the_parked_worker_itself() {
    // Three tasks ready "for I/O" at once, woken by worker 0 from inside `park` (as the reactor
    // does): more than one worker should run, so a peer is woken, but worker 0 is still
    // registered as asleep while it dispatches, and must not wake itself (for the reactor
    // that is an eventfd write and a wasted epoll_wait).
    let wakes = conclusive(|| {
        let s = setup();
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let task = WaitForIo(s.park.clone(), false);
                s.scheduler
                    .spawn(s.root.node(), task, SpawnMeta::here(), "root")
                    .unwrap()
            })
            .collect();
        s.park.wait_until_settled_with(3);
        let before = [0, 1].map(|i| s.park.workers[i].unparks.load(SeqCst));
        let peer_asleep = s.park.asleep(1);
        s.park.deliver_io_to(0);
        for handle in handles {
            futures::executor::block_on(handle).unwrap();
        }
        let after = [0, 1].map(|i| s.park.workers[i].unparks.load(SeqCst));
        s.finish();
        assert_eq!(
            after[0], before[0],
            "worker 0 woke itself while dispatching"
        );
        Some(after[1] - before[1]).filter(|_| peer_asleep)
    });
    assert!(
        wakes >= 1,
        "three tasks ready at once waited for one worker"
    );
}
