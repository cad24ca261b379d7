//! What an idle worker waits on: its parker, the reactor (I/O) and its timer wheel.
//!
//! The first worker to park takes the reactor and blocks in `epoll_wait`/`kevent`; the others
//! wait on their condition variable. Each waits at most until the nearest deadline of its own
//! timer wheel. `unpark` reaches a worker wherever it waits.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use nursery_reactor::Reactor;
use nursery_scheduler::Park;
use parking_lot::{Condvar, Mutex, MutexGuard};

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
}

/// One per worker: a token (`notified`) so that an unpark before the park is not lost. Alone on
/// its cache lines, so that one worker's parking does not disturb its neighbour's.
#[derive(Default)]
#[repr(align(128))]
struct Parker {
    state: Mutex<ParkState>,
    condvar: Condvar,
}

#[derive(Default)]
struct ParkState {
    notified: bool,
    /// Blocked in the reactor rather than on the condvar.
    in_reactor: bool,
    /// Blocked on the condvar (another worker has the reactor).
    on_condvar: bool,
}

impl Driver {
    pub(crate) fn new(
        workers: usize,
        monitor: Option<Arc<crate::stall::Monitor>>,
        io_config: nursery_reactor::Config,
        on_fault: Option<FaultHook>,
    ) -> io::Result<Driver> {
        let reactor = Reactor::with_config(io_config)?;
        crate::diagnostics::forward_io_faults(&reactor.handle(), on_fault.clone());
        Ok(Driver {
            parkers: (0..workers).map(|_| Parker::default()).collect(),
            monitor,
            io_handle: reactor.handle(),
            io: Mutex::new(reactor),
            timers: Timers::new(workers),
            on_fault,
        })
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
        let workers = self.parkers.len();
        for other in (1..workers).map(|i| (index + i) % workers) {
            let parker = &self.parkers[other];
            let mut state = parker.state.lock();
            if state.on_condvar && !state.notified {
                state.notified = true;
                drop(state);
                parker.condvar.notify_one();
                return;
            }
        }
    }

    /// Wakes worker `index` wherever it waits (or makes its next park return at once).
    pub(crate) fn unpark(&self, index: usize) {
        let parker = &self.parkers[index];
        let mut state = parker.state.lock();
        state.notified = true;
        let in_reactor = state.in_reactor;
        drop(state);
        if in_reactor {
            self.io_handle.unpark();
        } else {
            parker.condvar.notify_one();
        }
    }

    /// Stops timers and I/O after every task is gone: their wakers refer to tasks.
    pub(crate) fn shutdown(&self) {
        self.timers.clear();
        self.io_handle.shutdown();
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
        let timeout = driver.timers.park_timeout(index);
        if let Some(mut reactor) = driver.io.try_lock() {
            state.in_reactor = true;
            drop(state);
            let woke_io = driver.turn(&mut reactor, timeout);
            drop(reactor);
            let mut state = parker.state.lock();
            state.in_reactor = false;
            state.notified = false;
            drop(state);
            // Leaving the reactor with work to run: a sleeping peer takes it over.
            if woke_io | (driver.timers.fire(index) > 0) {
                driver.hand_off_reactor(index);
            }
        } else {
            state.on_condvar = true;
            match timeout {
                Some(t) => {
                    if !state.notified {
                        parker.condvar.wait_for(&mut state, t);
                    }
                }
                None => {
                    while !state.notified {
                        parker.condvar.wait(&mut state);
                    }
                }
            }
            state.notified = false;
            state.on_condvar = false;
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

    fn poll_events(&self, index: usize) {
        let driver = &*self.0;
        if let Some(mut reactor) = driver.io.try_lock() {
            driver.turn(&mut reactor, Some(Duration::ZERO));
        }
        driver.timers.fire(index);
    }
}
