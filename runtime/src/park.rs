//! How idle workers sleep: the runtime's side of the scheduler's `Park` trait.

use std::sync::Arc;

use nursery_scheduler::Park;
use parking_lot::{Condvar, Mutex};

use crate::driver::Driver;

/// One per worker: a token (`notified`) so that an unpark before the park is not lost.
#[derive(Default)]
pub(crate) struct Parker {
    state: Mutex<ParkState>,
    condvar: Condvar,
}

#[derive(Default)]
struct ParkState {
    notified: bool,
    /// The worker is blocked in the I/O driver rather than on the condvar.
    in_driver: bool,
}

/// The `Park` given to the scheduler.
pub(crate) struct WorkerPark {
    pub(crate) parkers: Box<[Parker]>,
    pub(crate) driver: Arc<Driver>,
}

impl Park for WorkerPark {
    fn park(&self, index: usize) {
        let parker = &self.parkers[index];
        let mut state = parker.state.lock();
        if std::mem::take(&mut state.notified) {
            return;
        }
        let timeout = self.driver.next_timeout(index);
        if let Some(mut io) = self.driver.try_lock_io() {
            state.in_driver = true;
            drop(state);
            io.turn(timeout);
            drop(io);
            let mut state = parker.state.lock();
            state.in_driver = false;
            state.notified = false;
        } else {
            match timeout {
                Some(t) => {
                    parker.condvar.wait_for(&mut state, t);
                }
                None => {
                    while !state.notified {
                        parker.condvar.wait(&mut state);
                    }
                }
            }
            state.notified = false;
            drop(state);
        }
        self.driver.fire_timers(index);
    }

    fn unpark(&self, index: usize) {
        let parker = &self.parkers[index];
        let mut state = parker.state.lock();
        state.notified = true;
        if state.in_driver {
            drop(state);
            self.driver.wake_io();
        } else {
            drop(state);
            parker.condvar.notify_one();
        }
    }

    fn poll_events(&self, index: usize) {
        if let Some(mut io) = self.driver.try_lock_io() {
            io.turn(Some(std::time::Duration::ZERO));
        }
        self.driver.fire_timers(index);
    }
}
