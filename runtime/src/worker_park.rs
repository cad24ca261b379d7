//! What an idle worker waits on: its parker, the reactor (I/O) and its timer wheel.
//!
//! The first worker to park takes the reactor and blocks in `epoll_wait`/`kevent`; the others
//! wait on their condition variable. Each waits at most until the nearest deadline of its own
//! timer wheel, or a grace after another wheel's (`time::wheels` says which grace and why);
//! [`Driver::deadline_moved_up`] wakes one when a deadline comes that it did not plan for.
//! `unpark` reaches a worker wherever it waits.
//!
//! # Auto-advance of a paused clock
//!
//! `busy` counts the threads of the runtime that may still produce work: workers not waiting
//! in [`park`](Park::park), `block_on` threads not waiting for a wake (see
//! [`ThreadWaker::counted`](crate::thread_waker::ThreadWaker::counted)), and blocking-pool jobs
//! queued or running ([`Active`]). A waiting thread is *counted idle* (`ParkState::idle`); whoever
//! wakes it (an `unpark`, a hand-off) counts it busy again under the same lock, before it even
//! runs, so `busy == 0` means that no runnable task exists: every push wakes a waiting worker
//! (the scheduler's idle protocol), and the waker is itself busy while it pushes.
//!
//! While the clock is paused, nobody waits with a timeout, and only the holder of the reactor
//! moves the clock ([`Driver::advance_with_reactor`]): only if `busy` is zero, it first polls
//! the reactor without blocking (I/O that has already arrived runs first); then, if `busy` is
//! still zero, it moves the clock to the earliest timer deadline and fires what is due. (Zero
//! before the poll too: a thread still running could write to a socket after the poll looked;
//! if the last one went idle during the poll, it polls again.) A thread that finds itself
//! the last to go idle without the reactor asks the holder to do it (`advance_requested`, then
//! wakes the reactor).

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nursery_reactor::Reactor;
use nursery_scheduler::Park;
use parking_lot::{Mutex, MutexGuard};

use crate::sleeper::Sleeper;
use crate::time::wheels::Timers;
use nursery_scheduler::diagnostics::{report_to, Fault, FaultHook, FaultKind};

pub(crate) struct Driver {
    parkers: Box<[Parker]>,
    pub(crate) monitor: Option<Arc<crate::stall::Monitor>>,
    io: Mutex<Reactor>,
    pub(crate) io_handle: nursery_reactor::ReactorHandle,
    pub(crate) timers: Timers,
    /// `Builder::on_fault`: where this runtime's internal faults go.
    pub(crate) on_fault: Option<FaultHook>,
    /// Threads that may still produce work (see the module docs).
    busy: AtomicUsize,
    /// A thread went idle last while another held the reactor: the holder should try to
    /// advance the paused clock.
    advance_requested: AtomicBool,
}

/// One per worker: a token (`notified`) so that an unpark before the park is not lost. Alone on
/// its cache lines, so that one worker's parking does not disturb its neighbour's.
#[derive(Default)]
#[repr(align(128))]
struct Parker {
    state: Sleeper<ParkState>,
    /// Set (under `state`'s lock) before the worker reads the timer wheels to plan its wake-up,
    /// cleared when it wakes: a hint that spares `Driver::deadline_moved_up` the locks of
    /// workers that are running. The truth is `ParkState::idle`.
    asleep: AtomicBool,
}

#[derive(Default)]
struct ParkState {
    notified: bool,
    /// Blocked in the reactor rather than on the condvar.
    in_reactor: bool,
    /// Blocked on the condvar (another worker has the reactor).
    on_condvar: bool,
    /// Waiting and counted idle: not in `Driver::busy`.
    idle: bool,
    /// When the worker wakes by itself, on the runtime's clock (`None`: only when woken).
    wake_at: Option<Instant>,
}

impl Driver {
    pub(crate) fn new(
        workers: usize,
        monitor: Option<Arc<crate::stall::Monitor>>,
        io_config: nursery_reactor::Config,
        on_fault: Option<FaultHook>,
        start_paused: bool,
    ) -> io::Result<Driver> {
        let reactor = Reactor::with_config(io_config)?;
        crate::diagnostics::forward_io_faults(&reactor.handle(), on_fault.clone());
        Ok(Driver {
            parkers: (0..workers).map(|_| Parker::default()).collect(),
            monitor,
            io_handle: reactor.handle(),
            io: Mutex::new(reactor),
            timers: Timers::new(workers, start_paused),
            on_fault,
            busy: AtomicUsize::new(workers),
            advance_requested: AtomicBool::new(false),
        })
    }

    /// Whether every thread of the runtime waits: no task is runnable (see the module docs).
    pub(crate) fn all_idle(&self) -> bool {
        self.busy.load(SeqCst) == 0
    }

    /// A waiting thread is woken: count it busy again (at most once per wait).
    pub(crate) fn wake_counted(&self, idle: &mut bool) {
        if std::mem::take(idle) {
            self.busy.fetch_add(1, SeqCst);
        }
    }

    /// A thread starts waiting. Returns whether it was the last busy one.
    pub(crate) fn go_idle(&self, idle: &mut bool) -> bool {
        debug_assert!(!*idle);
        *idle = true;
        self.busy.fetch_sub(1, SeqCst) == 1
    }

    /// With the reactor held and the clock paused: handles I/O that has already arrived, or,
    /// if there is none and every thread is idle, moves the clock to the earliest deadline and
    /// fires what is due. Returns whether it woke anything.
    fn advance_with_reactor(&self, reactor: &mut MutexGuard<'_, Reactor>) -> bool {
        self.advance_requested.store(false, SeqCst);
        if !self.timers.is_paused() {
            return false;
        }
        // Every thread must already wait before the turn, not only after it: a worker still
        // running may write to a socket after the turn looked (its peer's readiness then sits
        // in epoll unseen) and go idle before the check. It was seen: an echo's four bytes in
        // the client's socket while the clock jumped (tests/virtual_time.rs, about one run in
        // 700 with the CPUs busy). If the last busy thread went idle during the turn, look
        // again: its request for this advance may have been used up by this very turn.
        loop {
            let idle_before = self.all_idle();
            if self.turn(reactor, Some(Duration::ZERO)) {
                return true;
            }
            // Only the reactor's holder advances, so this check and the advance are not raced
            // by another advance; a thread that turns busy meanwhile was woken from outside
            // the runtime (another thread), which no ordering could tell from "just after". A
            // thread still busy asks again when it goes idle last (`request_advance`).
            if !self.all_idle() {
                return false;
            }
            if idle_before {
                break;
            }
        }
        // A wheel's next expiration may be a lower bound (after a cancel): then nothing fires
        // there, and the next one is later. Each step moves the clock forward.
        let mut reached = None;
        while let Some(next) = self.timers.next_deadline() {
            if reached.is_some_and(|reached| next <= reached) {
                return false; // no progress: never spin
            }
            self.timers.advance_to(next);
            if self.timers.fire_all() > 0 {
                return true;
            }
            reached = Some(next);
        }
        false
    }

    /// A thread that is not a worker (a `block_on` body, a blocking job) was the last to go
    /// idle: advance a paused clock now, or have the reactor's holder do it.
    pub(crate) fn last_idle_outside_workers(&self) {
        if !self.timers.is_paused() {
            return;
        }
        match self.io.try_lock() {
            Some(mut reactor) => {
                self.advance_with_reactor(&mut reactor);
                drop(reactor);
                // A worker that found the reactor taken meanwhile waits on its condvar: wake
                // one, so that somebody blocks in the reactor again (and tries to advance).
                self.hand_off_reactor_from(0, self.parkers.len());
            }
            None => self.request_advance(),
        }
    }

    fn request_advance(&self) {
        self.advance_requested.store(true, SeqCst);
        self.io_handle.unpark();
    }

    /// Wakes every worker (the clock was resumed: their waits need a timeout again).
    pub(crate) fn unpark_all(&self) {
        for index in 0..self.parkers.len() {
            self.unpark(index);
        }
    }

    /// Counts a blocking job busy until the returned guard is dropped.
    pub(crate) fn active(self: &Arc<Self>) -> Active {
        self.busy.fetch_add(1, SeqCst);
        Active(self.clone())
    }

    /// A `block_on` thread begins: counted busy until its matching [`go_idle`](Self::go_idle).
    pub(crate) fn enter_busy(&self) {
        self.busy.fetch_add(1, SeqCst);
    }

    /// Turns the reactor; returns whether it woke a task.
    fn turn(&self, reactor: &mut MutexGuard<'_, Reactor>, timeout: Option<Duration>) -> bool {
        // The reactor wakes every ready waiter, then re-raises the first waker's panic: catch
        // it here so that a panicking waker cannot kill the worker.
        let turned =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reactor.turn(timeout)));
        match turned {
            Ok(Ok(woken)) => woken > 0,
            // epoll_wait only fails on programming errors (EBADF, EINVAL); say so, don't spin.
            Ok(Err(e)) => {
                let message = format!("the reactor failed to poll: {e}");
                report_to(
                    self.on_fault.as_ref(),
                    Fault::new(FaultKind::IoPollFailed, message),
                );
                false
            }
            Err(_) => {
                report_to(self.on_fault.as_ref(), Fault::waker_panicked());
                true
            }
        }
    }

    /// Woken with work ahead: the stall monitor may have gone to sleep meanwhile.
    fn wake_monitor(&self) {
        if let Some(monitor) = &self.monitor {
            if monitor.is_sleeping() {
                monitor.wake();
            }
        }
    }

    /// The worker that blocked in the reactor leaves it to run what it woke: a peer asleep on
    /// its condvar takes the reactor over, so that I/O readiness keeps being seen (and its tasks
    /// woken, and run by whoever is idle) while this worker is busy, however long its polls
    /// take. Without it the reactor waits for this worker's next park or maintenance tick.
    fn hand_off_reactor(&self, index: usize) {
        self.hand_off_reactor_from(index + 1, self.parkers.len() - 1);
    }

    /// Wakes the first of `count` workers from `first` on (cyclically) asleep on its condvar.
    fn hand_off_reactor_from(&self, first: usize, count: usize) {
        let workers = self.parkers.len();
        for other in (0..count).map(|i| (first + i) % workers) {
            let parker = &self.parkers[other];
            let mut state = parker.state.lock();
            if state.on_condvar && !state.notified {
                state.notified = true;
                self.wake_counted(&mut state.idle);
                drop(state);
                parker.state.wake_one();
                return;
            }
        }
    }

    /// A parked worker is awake again (under its lock): it no longer plans a wake-up.
    fn awake(&self, parker: &Parker, state: &mut ParkState) {
        state.wake_at = None;
        parker.asleep.store(false, Relaxed);
    }

    /// Timer deadline `at` became the nearest of worker `wheel`'s wheel (inserted by that
    /// worker if `by_owner`, else from outside the workers), and the sleepers may have planned
    /// their wake-ups without it (see `time::wheels`). The owner, if it sleeps, must wake for
    /// it; if it is busy (it may block in a poll past `at`), a sleeping peer must: the first
    /// one found is woken to plan again, unless one already wakes by then.
    pub(crate) fn deadline_moved_up(&self, wheel: usize, at: Instant, by_owner: bool) {
        if self.timers.is_paused() {
            // Nobody waits with a timeout; a sleeping owner looks at its wheel again.
            if !by_owner {
                self.unpark(wheel);
            }
            return;
        }
        if !by_owner && self.parkers[wheel].asleep.load(Relaxed) {
            let state = self.parkers[wheel].state.lock();
            if state.idle {
                let late = state.wake_at.is_none_or(|wake| wake > at);
                drop(state);
                if late {
                    self.unpark(wheel);
                }
                return;
            }
        }
        let mut sleeper = None;
        for (other, parker) in self.parkers.iter().enumerate() {
            if other == wheel || !parker.asleep.load(Relaxed) {
                continue;
            }
            let state = parker.state.lock();
            if !state.idle {
                continue;
            }
            if state.wake_at.is_some_and(|wake| wake <= at) {
                return; // already wakes in time
            }
            sleeper.get_or_insert(other);
        }
        if let Some(other) = sleeper {
            self.unpark(other);
        }
    }

    /// Wakes worker `index` wherever it waits (or makes its next park return at once).
    pub(crate) fn unpark(&self, index: usize) {
        let parker = &self.parkers[index];
        let mut state = parker.state.lock();
        state.notified = true;
        self.wake_counted(&mut state.idle);
        let in_reactor = state.in_reactor;
        drop(state);
        if in_reactor {
            self.io_handle.unpark();
        } else {
            parker.state.wake_one();
        }
    }

    /// Stops timers and I/O after every task is gone: their wakers refer to tasks.
    pub(crate) fn shutdown(&self) {
        self.timers.clear();
        self.io_handle.shutdown();
    }
}

/// A blocking job in flight: counted busy, so that a paused clock does not jump while the job
/// may still wake a task.
pub(crate) struct Active(Arc<Driver>);

impl Drop for Active {
    fn drop(&mut self) {
        if self.0.busy.fetch_sub(1, SeqCst) == 1 {
            self.0.last_idle_outside_workers();
        }
    }
}

/// The `Park` given to the scheduler: a shared reference to the driver.
pub(crate) struct WorkerPark(pub(crate) Arc<Driver>);

impl Park for WorkerPark {
    fn park(&self, index: usize) {
        let driver = &*self.0;
        let parker = &driver.parkers[index];
        let mut state = parker.state.lock();
        if std::mem::take(&mut state.notified) {
            return;
        }
        let last = driver.go_idle(&mut state.idle);
        // Marked before the wheels are read (the order `time::wheels`' module docs rely on).
        parker.asleep.store(true, Relaxed);
        state.wake_at = driver
            .timers
            .park_deadline(index, |other| driver.parkers[other].asleep.load(Relaxed));
        let timeout = state.wake_at.map(|at| driver.timers.until(at));
        if let Some(mut reactor) = driver.io.try_lock() {
            state.in_reactor = true;
            drop(state);
            // A paused clock: the holder of the reactor moves it when everyone is idle.
            let mut woke_io = driver.advance_with_reactor(&mut reactor);
            if !woke_io {
                // That turn may have used up the wake of an `unpark` made meanwhile: never
                // block after one.
                let timeout = match parker.state.lock().notified {
                    true => Some(Duration::ZERO),
                    false => timeout,
                };
                woke_io = driver.turn(&mut reactor, timeout);
                // Not after waking a task: this worker is still counted idle, and the task
                // it woke is queued here, unseen by `busy`. It tries again at its next park.
                if !woke_io && driver.advance_requested.load(SeqCst) {
                    woke_io = driver.advance_with_reactor(&mut reactor);
                }
            }
            // Counted busy before the reactor is let go: the tasks the turn woke may sit in this
            // worker's queue, where `busy` does not see them, and the next holder of the
            // reactor must not take the runtime for idle.
            let mut state = parker.state.lock();
            state.in_reactor = false;
            state.notified = false;
            driver.wake_counted(&mut state.idle);
            driver.awake(parker, &mut state);
            drop(state);
            drop(reactor);
            // Leaving the reactor with work to run: a sleeping peer takes it over.
            if woke_io | (driver.timers.fire(index) > 0) {
                driver.hand_off_reactor(index);
            }
        } else {
            if last && driver.timers.is_paused() {
                driver.request_advance();
            }
            state.on_condvar = true;
            let until = timeout.map(|t| Instant::now() + t);
            parker
                .state
                .sleep_while(&mut state, until, |state| !state.notified);
            state.notified = false;
            state.on_condvar = false;
            driver.wake_counted(&mut state.idle);
            driver.awake(parker, &mut state);
            // Released before firing: a wake may unpark this very worker (still registered as
            // a sleeper), which takes this lock.
            drop(state);
            driver.timers.fire(index);
        }
        driver.wake_monitor();
    }

    fn unpark(&self, index: usize) {
        self.0.unpark(index);
    }

    /// On the worker's condvar, not in the reactor: a doze is shorter than the reactor's
    /// millisecond timeouts. Counted busy throughout (the dozer looks again within the doze),
    /// and not a candidate for taking the reactor over (`hand_off_reactor`: not `on_condvar`).
    fn doze(&self, index: usize, timeout: Duration) {
        let parker = &self.0.parkers[index];
        let mut state = parker.state.lock();
        if !std::mem::take(&mut state.notified) {
            let deadline = Instant::now() + timeout;
            parker
                .state
                .sleep_while(&mut state, Some(deadline), |state| !state.notified);
            state.notified = false;
        }
        drop(state);
        self.poll_events(index);
    }

    fn poll_events(&self, index: usize) {
        let driver = &*self.0;
        if let Some(mut reactor) = driver.io.try_lock() {
            driver.turn(&mut reactor, Some(Duration::ZERO));
        }
        driver.timers.fire(index);
    }
}
