//! One timer wheel per worker, each behind its own (normally uncontended) lock.
//!
//! A timer is inserted into the wheel of the worker that polls it first, so insert and cancel
//! stay on one core: `timer_churn` never touches a runtime-wide lock. A thread that is not a
//! worker (a `block_on` body) inserts into wheels in turn and unparks the owner if its deadline
//! became the nearest. A worker fires its own wheel when it wakes, and now and then while busy;
//! a parked worker also wakes for, and fires, another wheel's timers that are overdue by more
//! than a grace period, so a worker blocked in a poll does not stall its timers.
//!
//! "Now" is the runtime's [`Clock`]: the real clock, or a paused one that the driver moves to
//! the next deadline ([`next_deadline`](Timers::next_deadline), [`fire_all`](Timers::fire_all))
//! when the runtime is idle.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::task::Waker;
use std::time::{Duration, Instant};

use nursery_timer::{TimerKey, Wheel};
use parking_lot::Mutex;

use super::clock::Clock;

/// Timer resolution: the wheel counts milliseconds since the runtime started.
const TICK: Duration = Duration::from_millis(1);

/// How overdue another worker's timer must be before a parked worker fires it in its place: the
/// owner normally fires its own wheel within a tick, so this only matters when the owner is
/// blocked in a poll (its timers must not stall with it).
const BACKUP_GRACE: Duration = Duration::from_millis(10);

pub(crate) struct Timers {
    clock: Clock,
    start: Instant,
    wheels: Box<[Mutex<Wheel<Waker>>]>,
    next_remote: AtomicUsize,
}

/// Where a registered timer lives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    pub(crate) wheel: usize,
    pub(crate) key: TimerKey,
}

impl Timers {
    /// `paused`: the clock starts paused (`Builder::start_paused`).
    pub(crate) fn new(workers: usize, paused: bool) -> Timers {
        let start = Instant::now();
        Timers {
            clock: Clock::new(start, paused),
            start,
            wheels: (0..workers).map(|_| Mutex::new(Wheel::new())).collect(),
            next_remote: AtomicUsize::new(0),
        }
    }

    /// The first tick at or after `deadline`: a timer never fires early.
    fn deadline_tick(&self, deadline: Instant) -> u64 {
        let since = deadline.saturating_duration_since(self.start);
        let ticks = since.as_nanos().div_ceil(TICK.as_nanos());
        u64::try_from(ticks).unwrap_or(u64::MAX)
    }

    /// The runtime clock's reading.
    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.clock.is_paused()
    }

    /// Pauses the clock at the next whole tick (so that whole-millisecond sleeps from here
    /// land exactly on their deadline). False if it was already paused.
    pub(crate) fn pause(&self) -> bool {
        self.clock.pause(|now| {
            self.tick_instant(self.deadline_tick(now))
                .map_or(now, |tick| tick.max(now))
        })
    }

    /// False if the clock was not paused.
    pub(crate) fn resume(&self) -> bool {
        self.clock.resume()
    }

    /// Moves the paused clock forward; false if it is not paused.
    pub(crate) fn advance(&self, by: Duration) -> bool {
        self.clock.advance(by)
    }

    /// Moves the paused clock to `to` (never back); false if it is not paused.
    pub(crate) fn advance_to(&self, to: Instant) -> bool {
        self.clock.advance_to(to)
    }

    fn now_tick(&self) -> u64 {
        let since = self.clock.now().saturating_duration_since(self.start);
        u64::try_from(since.as_nanos() / TICK.as_nanos()).unwrap_or(u64::MAX)
    }

    fn tick_instant(&self, tick: u64) -> Option<Instant> {
        let nanos = TICK.as_nanos().checked_mul(u128::from(tick))?;
        self.start
            .checked_add(Duration::from_nanos(u64::try_from(nanos).ok()?))
    }

    /// Registers a timer. `worker`: the calling thread's worker index in this runtime, if any.
    /// Returns the slot and, for a non-worker caller, the worker to unpark.
    pub(crate) fn insert(
        &self,
        worker: Option<usize>,
        deadline: Instant,
        waker: Waker,
    ) -> (Slot, Option<usize>) {
        let tick = self.deadline_tick(deadline);
        let (index, remote) = match worker {
            Some(i) => (i, false),
            None => (
                self.next_remote.fetch_add(1, Relaxed) % self.wheels.len(),
                true,
            ),
        };
        let mut wheel = self.wheels[index].lock();
        let earlier = wheel.next_expiration().is_none_or(|next| tick < next);
        let key = wheel.insert(tick, waker);
        let unpark = (remote && earlier).then_some(index);
        (Slot { wheel: index, key }, unpark)
    }

    /// Updates the waker of a pending timer; false if it already fired.
    pub(crate) fn update(&self, slot: Slot, waker: &Waker) -> bool {
        let mut wheel = self.wheels[slot.wheel].lock();
        match wheel.get_mut(slot.key) {
            Some(w) => {
                if !w.will_wake(waker) {
                    w.clone_from(waker);
                }
                true
            }
            None => false,
        }
    }

    pub(crate) fn remove(&self, slot: Slot) {
        let removed = self.wheels[slot.wheel].lock().remove(slot.key);
        drop(removed); // outside the lock: dropping a waker may free a task
    }

    /// How long worker `index` may sleep: until its own nearest deadline, or until another
    /// worker's timer is overdue by [`BACKUP_GRACE`] (that worker may be blocked in a poll).
    /// While the clock is paused, no timeout: the clock moves only when the driver moves it.
    pub(crate) fn park_timeout(&self, index: usize) -> Option<Duration> {
        if self.clock.is_paused() {
            return None;
        }
        let mut at = self.next_instant(&self.wheels[index].lock());
        for (other, wheel) in self.wheels.iter().enumerate() {
            if other == index {
                continue;
            }
            // A wheel locked right now is being fired or changed by its owner: it is alive.
            if let Some(wheel) = wheel.try_lock() {
                let backup = self.next_instant(&wheel).map(|t| t + BACKUP_GRACE);
                at = match (at, backup) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        at.map(|at| at.saturating_duration_since(self.clock.now()))
    }

    /// The earliest deadline in any wheel (as the instant of its tick).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.wheels
            .iter()
            .filter_map(|wheel| wheel.lock().next_expiration())
            .min()
            .and_then(|tick| self.tick_instant(tick))
    }

    /// Fires every due timer of every wheel, waking outside the locks. Returns how many.
    pub(crate) fn fire_all(&self) -> usize {
        let now = self.now_tick();
        let mut due: Vec<Waker> = Vec::new();
        for wheel in self.wheels.iter() {
            let mut wheel = wheel.lock();
            while let Some((_, waker)) = wheel.pop_expired(now) {
                due.push(waker);
            }
        }
        wake_all(due)
    }

    fn next_instant(&self, wheel: &Wheel<Waker>) -> Option<Instant> {
        self.tick_instant(wheel.next_expiration()?)
    }

    /// Fires every due timer of worker `index`'s wheel, and those of other wheels that are
    /// overdue by more than [`BACKUP_GRACE`], waking outside the locks. Returns how many.
    pub(crate) fn fire(&self, index: usize) -> usize {
        let now = self.now_tick();
        let grace = u64::try_from(BACKUP_GRACE.as_millis()).unwrap_or(u64::MAX);
        let mut due: Vec<Waker> = Vec::new();
        for (other, wheel) in self.wheels.iter().enumerate() {
            let mut wheel = if other == index {
                self.wheels[index].lock()
            } else {
                match wheel.try_lock() {
                    Some(w) => w,
                    None => continue,
                }
            };
            let limit = if other == index {
                now
            } else {
                now.saturating_sub(grace)
            };
            if wheel.next_expiration().is_none_or(|next| next > limit) {
                continue;
            }
            // Everything due by now goes, once the wheel is being fired at all.
            while let Some((_, waker)) = wheel.pop_expired(now) {
                due.push(waker);
            }
        }
        wake_all(due)
    }

    /// Timers registered and not yet fired or cancelled.
    pub(crate) fn len(&self) -> usize {
        self.wheels.iter().map(|w| w.lock().len()).sum()
    }

    /// Drops every pending timer (at shutdown).
    pub(crate) fn clear(&self) {
        for wheel in self.wheels.iter() {
            let old = std::mem::take(&mut *wheel.lock());
            drop(old);
        }
    }
}

/// Wakes the wakers of fired timers (outside any wheel's lock), each guarded against a panic;
/// returns how many.
fn wake_all(due: Vec<Waker>) -> usize {
    let fired = due.len();
    for waker in due {
        nursery_scheduler::current_node::wake_guarded(waker);
    }
    fired
}
