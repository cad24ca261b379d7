//! The one way a runtime thread sleeps until another wakes it: some state under a mutex, and a
//! condition variable. A worker with nothing to run (`worker_park.rs`), a `block_on` thread
//! (`thread_waker.rs`), the stall monitor (`stall.rs`) and the blocking pool's idle threads
//! (`blocking.rs`) all sleep on one, each with its own state.
//!
//! The rule that keeps a wake-up from being lost: the waker changes the state under the lock
//! and then notifies; the sleeper looks at the state under the same lock, and waits only while
//! its condition holds (`sleep_while`), rechecking after every return of the wait (spurious ones
//! included).

use std::time::Instant;

use parking_lot::{Condvar, Mutex, MutexGuard};

#[derive(Default)]
pub(crate) struct Sleeper<S> {
    state: Mutex<S>,
    condvar: Condvar,
}

impl<S> Sleeper<S> {
    pub(crate) fn new(state: S) -> Sleeper<S> {
        Sleeper {
            state: Mutex::new(state),
            condvar: Condvar::new(),
        }
    }

    /// The state, locked: change it, then call [`wake_one`](Self::wake_one) (after or before
    /// the guard is dropped).
    pub(crate) fn lock(&self) -> MutexGuard<'_, S> {
        self.state.lock()
    }

    /// Wakes one thread sleeping on this (if any).
    pub(crate) fn wake_one(&self) {
        self.condvar.notify_one();
    }

    /// Wakes every thread sleeping on this.
    pub(crate) fn wake_all(&self) {
        self.condvar.notify_all();
    }

    /// Sleeps, the lock released meanwhile, while `asleep` says so of the state, at most until
    /// `deadline` (`None`: no limit). Returns `false` if it gave up at the deadline with
    /// `asleep` still true.
    pub(crate) fn sleep_while(
        &self,
        guard: &mut MutexGuard<'_, S>,
        deadline: Option<Instant>,
        mut asleep: impl FnMut(&mut S) -> bool,
    ) -> bool {
        while asleep(guard) {
            match deadline {
                None => self.condvar.wait(guard),
                Some(deadline) => {
                    if self.condvar.wait_until(guard, deadline).timed_out() {
                        return !asleep(guard);
                    }
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_wake_before_the_sleep_is_not_lost() {
        let sleeper = Sleeper::new(false);
        *sleeper.lock() = true;
        sleeper.wake_one();
        let mut state = sleeper.lock();
        assert!(sleeper.sleep_while(&mut state, None, |woken| !*woken));
    }

    #[test]
    fn a_sleep_ends_when_another_thread_changes_the_state_or_at_its_deadline() {
        let sleeper = Arc::new(Sleeper::new(0u32));
        let waker = {
            let sleeper = sleeper.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(10));
                *sleeper.lock() = 1;
                sleeper.wake_one();
            })
        };
        let mut state = sleeper.lock();
        let far = Instant::now() + Duration::from_secs(30);
        assert!(sleeper.sleep_while(&mut state, Some(far), |n| *n == 0));
        drop(state);
        waker.join().unwrap();

        let mut state = sleeper.lock();
        let soon = Instant::now() + Duration::from_millis(5);
        assert!(!sleeper.sleep_while(&mut state, Some(soon), |n| *n == 1));
        assert!(Instant::now() >= soon);
    }
}
