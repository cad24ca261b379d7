//! One timer wheel per worker, each behind its own (normally uncontended) lock.
//!
//! A timer is inserted into the wheel of the worker that polls it first, so insert and cancel
//! stay on one core: `timer_churn` never touches a runtime-wide lock. A thread that is not a
//! worker (a `block_on` body) inserts into wheels in turn. A worker fires the due timers of
//! its own wheel, and of any other it can lock without waiting, when it wakes and now and then
//! while busy, so that a worker blocked in a poll does not stall its timers.
//!
//! # Who wakes for a deadline
//!
//! A sleeping worker wakes for the nearest deadline of its own wheel, and for that of every
//! wheel whose owner is busy (the owner may be blocked in a poll, and then nobody else fires
//! it; tokio's parked driver wakes for every timer too). For a wheel whose owner sleeps as
//! well, it wakes [`ASLEEP_OWNER_GRACE`] after the deadline: the owner wakes for it itself,
//! and the grace bounds the wake-ups spent on another's timers while it covers an owner that
//! was woken since and blocks in a poll. See [`Timers::park_deadline`]. A deadline that becomes
//! the nearest of its wheel after the sleepers planned their wake-ups ([`insert`](Timers::insert)
//! says so) is announced by the driver (`Driver::deadline_moved_up`): it wakes the owner if
//! the owner sleeps past it, else a sleeping peer if none wakes for it already.
//!
//! The sleeper reads every wheel under its lock (never `try_lock`) after marking itself asleep;
//! the inserter reads the sleepers' marks after unlocking the wheel. The lock orders the two:
//! either the sleeper's read comes after the insert, or the inserter's read comes after the
//! mark, and then it checks the sleeper's planned wake-up under that sleeper's own lock, which
//! the sleeper holds from its mark until its wake-up is recorded.
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
/// [`TICK`] in nanoseconds: offsets from the start are kept as `u64` nanoseconds.
const TICK_NANOS: u64 = TICK.as_nanos() as u64;

/// How late a sleeping worker wakes for the timers of a peer that sleeps too: the peer wakes
/// for them itself, so this wake-up is a backup (the peer may have been woken since to block
/// in a poll), and it bounds the wake-ups a sleeper spends on timers its peers fire: at most
/// one per this period.
const ASLEEP_OWNER_GRACE: Duration = Duration::from_millis(10);

pub(crate) struct Timers {
    clock: Clock,
    start: Instant,
    /// `start` in nanoseconds after the epoch of recorded timer waits (`timer_epoch`): a
    /// timer's recorded deadline is this plus its offset from `start` (see [`Slot::deadline`]).
    start_after_epoch: u64,
    wheels: Box<[Mutex<Wheel<Waker>>]>,
    next_remote: AtomicUsize,
}

/// Where a registered timer lives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    pub(crate) wheel: usize,
    pub(crate) key: TimerKey,
    /// The deadline in nanoseconds after `timer_epoch`, as task dumps record it.
    pub(crate) deadline: u64,
}

impl Timers {
    /// `paused`: the clock starts paused (`Builder::start_paused`).
    pub(crate) fn new(workers: usize, paused: bool) -> Timers {
        // Taken first: the start lies after the epoch.
        let epoch = nursery_scheduler::timer_epoch();
        let start = Instant::now();
        Timers {
            clock: Clock::new(start, paused),
            start,
            start_after_epoch: nanos(start.saturating_duration_since(epoch)),
            wheels: (0..workers).map(|_| Mutex::new(Wheel::new())).collect(),
            next_remote: AtomicUsize::new(0),
        }
    }

    /// How far `instant` lies after the start, in nanoseconds (0 for one before it).
    fn offset(&self, instant: Instant) -> u64 {
        nanos(instant.saturating_duration_since(self.start))
    }

    /// The first tick at or after the instant `offset` nanoseconds after the start: a timer
    /// never fires early.
    fn tick_at_or_after(offset: u64) -> u64 {
        offset.div_ceil(TICK_NANOS)
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
            self.tick_instant(Self::tick_at_or_after(self.offset(now)))
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
        self.offset(self.clock.now()) / TICK_NANOS
    }

    fn tick_instant(&self, tick: u64) -> Option<Instant> {
        let nanos = tick.checked_mul(TICK_NANOS)?;
        self.start.checked_add(Duration::from_nanos(nanos))
    }

    /// Registers a timer. `worker`: the calling thread's worker index in this runtime, if any.
    /// Returns the slot and, if the timer became its wheel's nearest deadline, that deadline
    /// (the instant of its tick): the sleepers computed their wake-ups without it (see the
    /// module docs).
    pub(crate) fn insert(
        &self,
        worker: Option<usize>,
        deadline: Instant,
        waker: Waker,
    ) -> (Slot, Option<Instant>) {
        let offset = self.offset(deadline);
        let tick = Self::tick_at_or_after(offset);
        let index = match worker {
            Some(i) => i,
            None => self.next_remote.fetch_add(1, Relaxed) % self.wheels.len(),
        };
        let mut wheel = self.wheels[index].lock();
        let earlier = wheel.next_expiration().is_none_or(|next| tick < next);
        let key = wheel.insert(tick, waker);
        drop(wheel);
        let nearest = earlier.then(|| self.tick_instant(tick)).flatten();
        let deadline = self.start_after_epoch.saturating_add(offset);
        let slot = Slot {
            wheel: index,
            key,
            deadline,
        };
        (slot, nearest)
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

    /// When worker `index`, about to sleep, must wake up (on the runtime's clock): at the
    /// nearest deadline of its own wheel and of the wheels whose owner `asleep` says is busy,
    /// or [`ASLEEP_OWNER_GRACE`] after that of a sleeping owner (see the module docs).
    /// While the clock is paused, never: the clock moves only when the driver moves it.
    pub(crate) fn park_deadline(
        &self,
        index: usize,
        asleep: impl Fn(usize) -> bool,
    ) -> Option<Instant> {
        if self.clock.is_paused() {
            return None;
        }
        let mut at = None;
        for (other, wheel) in self.wheels.iter().enumerate() {
            // Locked, not `try_lock`ed: the lock orders this read with a concurrent insert.
            let next = self.next_instant(&wheel.lock());
            let grace = match other != index && asleep(other) {
                true => ASLEEP_OWNER_GRACE,
                false => Duration::ZERO,
            };
            if let Some(wake) = next.map(|next| next.checked_add(grace).unwrap_or(next)) {
                at = Some(at.map_or(wake, |at: Instant| at.min(wake)));
            }
        }
        at
    }

    /// How long from now until `at` on the runtime's clock (zero if it has passed).
    pub(crate) fn until(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.clock.now())
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

    /// Fires every due timer of worker `index`'s wheel and of the other wheels that are not
    /// locked right now (a locked one is being changed or fired: its next deadline is looked at
    /// again at this worker's next park), waking outside the locks. Returns how many.
    pub(crate) fn fire(&self, index: usize) -> usize {
        let now = self.now_tick();
        let mut due: Vec<Waker> = Vec::new();
        for (other, wheel) in self.wheels.iter().enumerate() {
            let mut wheel = if other == index {
                wheel.lock()
            } else {
                match wheel.try_lock() {
                    Some(w) => w,
                    None => continue,
                }
            };
            if wheel.next_expiration().is_none_or(|next| next > now) {
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

/// `duration` in nanoseconds, saturating at `u64::MAX` (584 years).
fn nanos(duration: Duration) -> u64 {
    duration
        .as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(duration.subsec_nanos()))
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
