//! The runtime's clock: the real one, or a virtual one that only moves when told to.
//!
//! Every "now" the runtime uses (timer wheels, [`sleep`](super::sleep), deadlines of scopes and
//! intervals, [`Instant::now`](super::Instant::now)) reads this clock. While it runs it is the
//! real clock plus whatever [`advance`](super::advance) added while paused; while paused it
//! stands still at `base`. The driver moves a paused clock to the next timer deadline when every
//! thread of the runtime is idle (see `Driver::auto_advance`).

use std::sync::atomic::{AtomicBool, Ordering::*};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

pub(crate) struct Clock {
    /// Set at the first pause and never cleared: until then `now` is the real clock, read
    /// without the lock.
    shifted: AtomicBool,
    paused: AtomicBool,
    state: Mutex<State>,
}

struct State {
    /// The clock's reading when `unfrozen` was taken (or its fixed reading while paused).
    base: Instant,
    /// The real instant the clock last started running; `None` while paused.
    unfrozen: Option<Instant>,
}

impl Clock {
    /// A clock reading `start` now, paused there if `paused`.
    pub(crate) fn new(start: Instant, paused: bool) -> Clock {
        Clock {
            shifted: AtomicBool::new(paused),
            paused: AtomicBool::new(paused),
            state: Mutex::new(State {
                base: start,
                unfrozen: (!paused).then_some(start),
            }),
        }
    }

    pub(crate) fn now(&self) -> Instant {
        if !self.shifted.load(Acquire) {
            return Instant::now();
        }
        let state = self.state.lock();
        match state.unfrozen {
            Some(since) => state.base + since.elapsed(),
            None => state.base,
        }
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused.load(SeqCst)
    }

    /// Stops the clock, at `snap(now)` (a reading not earlier than now). False if it was
    /// already paused.
    pub(crate) fn pause(&self, snap: impl FnOnce(Instant) -> Instant) -> bool {
        let mut state = self.state.lock();
        let Some(since) = state.unfrozen.take() else {
            return false;
        };
        state.base = snap(state.base + since.elapsed());
        self.shifted.store(true, Release);
        self.paused.store(true, SeqCst);
        true
    }

    /// Lets the clock run again from its current reading. False if it was not paused.
    pub(crate) fn resume(&self) -> bool {
        let mut state = self.state.lock();
        if state.unfrozen.is_some() {
            return false;
        }
        state.unfrozen = Some(Instant::now());
        self.paused.store(false, SeqCst);
        true
    }

    /// Moves a paused clock forward by `by`. False if it is not paused.
    pub(crate) fn advance(&self, by: Duration) -> bool {
        let mut state = self.state.lock();
        if state.unfrozen.is_some() {
            return false;
        }
        state.base = state.base.checked_add(by).unwrap_or(state.base);
        true
    }

    /// Moves a paused clock forward to `to` (never backward). False if it is not paused.
    pub(crate) fn advance_to(&self, to: Instant) -> bool {
        let mut state = self.state.lock();
        if state.unfrozen.is_some() {
            return false;
        }
        state.base = state.base.max(to);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paused_clock_moves_only_when_advanced() {
        let start = Instant::now();
        let clock = Clock::new(start, true);
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(clock.now(), start);
        assert!(clock.advance(Duration::from_secs(60)));
        assert_eq!(clock.now(), start + Duration::from_secs(60));
        assert!(clock.advance_to(start + Duration::from_secs(30)));
        assert_eq!(clock.now(), start + Duration::from_secs(60), "never back");
        assert!(clock.resume());
        assert!(clock.now() >= start + Duration::from_secs(60));
        assert!(!clock.advance(Duration::from_secs(1)), "not paused");
    }
}
