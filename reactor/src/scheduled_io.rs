//! The shared state of one registration: a readiness word and a waiter list per direction.
//!
//! # The state word
//!
//! ```text
//!  usize::BITS-1                 8   7   6   5  4 .. 0
//! ┌────────────────────────────────┬───┬───┬───┬─────────┐
//! │ TICK (wrapping event counter)  │ - │ D │ S │ READY   │
//! └────────────────────────────────┴───┴───┴───┴─────────┘
//!   READY  readiness bits (`Ready`): READABLE, WRITABLE, READ_CLOSED, WRITE_CLOSED, ERROR
//!   S      SHUTDOWN: the reactor shut down; every poll fails from now on (final)
//!   D      DEREGISTERED: the source left the reactor; every poll fails from now on (final)
//!   TICK   bumped by every event the driver applies to this registration
//! ```
//!
//! A new registration starts READABLE | WRITABLE at tick 0 (optimistic): its
//! first operation is simply tried, with no turn of the reactor in between.
//! If that returns `WouldBlock`, the clear at tick 0 makes the task wait, and
//! should the registration's first real event have arrived meanwhile, the
//! tick has moved and the task retries instead.
//!
//! # Transitions (the only functions that touch the word)
//!
//! ```text
//!            set_readiness(r)                 clear_readiness(ev)
//!   driver ───────────────────▶ READY |= r    task, after WouldBlock:
//!                               TICK += 1     if TICK == ev.tick { READY &= !clearable(ev) }
//!                                             else { nothing: an event arrived since the task
//!                                                    looked, so the WouldBlock may be stale }
//!   shutdown()    ──▶ S = 1 (wakes every waiter)
//!   deregister()  ──▶ D = 1 (wakes every waiter)
//! ```
//!
//! # Why the tick
//!
//! Readiness is edge-triggered: the OS reports "became readable" once. A task
//! that sees READABLE, reads, and gets `WouldBlock` must clear READABLE so that
//! its next poll waits. But if data arrived between its failed read and its
//! clear, the driver has already set READABLE again for that new edge, and a
//! blind clear would erase the only notice of that data: the task would wait
//! forever. The clear is therefore a compare-and-swap on the tick the task saw
//! with its readiness: any event in between bumps the tick, the clear does
//! nothing, and the task retries the operation at once.
//!
//! # Waiters
//!
//! Each direction keeps a list of waiting tasks, any number of them (`waiters.rs`): a future
//! that owns a slot there, or one entry per waker for the `poll_*` callers. Readiness of a
//! direction wakes every waiter of that direction. Several tasks on one socket need nothing
//! more than that and the tick: each woken task retries its operation; the one that gets the
//! connection or datagram returns it, the others get `WouldBlock` and clear what they saw,
//! which does nothing if another event came in between (they retry) and otherwise makes their
//! next poll wait. An event for the next connection bumps the tick and wakes whoever waits by
//! then.
//!
//! A wake is never lost: `poll_ready` stores the waker and then re-reads the word under the
//! same lock that the driver takes (after it has published new readiness) to collect the
//! waiters, so either the poller sees the new bits, or the driver sees the waker. A waiter
//! that stops waiting (its future dropped) takes nothing from the others: they were all woken.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

use crate::error;
use crate::ready::{Direction, Ready, ReadyEvent};
use crate::waiters::{AfterUnlock, WaiterKey, WaiterList};

/// The reactor shut down: final.
const SHUTDOWN: usize = 1 << 5;
/// The source was deregistered: final.
const DEREGISTERED: usize = 1 << 6;
/// Where the tick starts.
const TICK_SHIFT: u32 = 8;
/// The largest tick; ticks wrap to zero after it.
const TICK_MAX: usize = usize::MAX >> TICK_SHIFT;

/// The tick stored in a state word.
const fn tick_of(state: usize) -> usize {
    state >> TICK_SHIFT
}

/// The readiness and waiters of one registration. In this order (`repr(C)`): what a readiness
/// event or a task's wait touches (the state word, the lock, a direction's inline waiter) lies
/// together, at the start.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct ScheduledIo {
    /// Packed into the mio token with the slab index; an event whose token
    /// carries another generation belongs to an earlier occupant of the slot.
    generation: usize,
    /// The state word described in the module docs.
    state: AtomicUsize,
    /// The tasks waiting on each direction.
    waiters: Mutex<Waiters>,
}

#[derive(Debug)]
#[repr(C)]
struct Waiters {
    read: WaiterList,
    write: WaiterList,
}

impl Waiters {
    fn of(&mut self, direction: Direction) -> &mut WaiterList {
        match direction {
            Direction::Read => &mut self.read,
            Direction::Write => &mut self.write,
        }
    }
}

impl ScheduledIo {
    /// A fresh registration state: optimistically readable and writable, tick 0.
    pub(crate) fn new(generation: usize) -> ScheduledIo {
        ScheduledIo {
            generation,
            state: AtomicUsize::new((Ready::READABLE | Ready::WRITABLE).bits()),
            waiters: Mutex::new(Waiters {
                read: WaiterList::new(),
                write: WaiterList::new(),
            }),
        }
    }

    /// The generation this state was created with.
    pub(crate) fn generation(&self) -> usize {
        self.generation
    }

    /// Driver: applies the readiness of one event (bumping the tick) and moves
    /// the wakers of every waiter of every direction it makes ready into `wake`.
    ///
    /// Returns how many wakers were moved.
    pub(crate) fn set_readiness(&self, ready: Ready, wake: &mut Vec<Waker>) -> usize {
        let _ = self
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
                let tick = (tick_of(state) + 1) & TICK_MAX;
                let low = state & ((1 << TICK_SHIFT) - 1);
                Some((tick << TICK_SHIFT) | low | ready.bits())
            });
        let mut taken = 0;
        let mut waiters = self.waiters.lock();
        for direction in [Direction::Read, Direction::Write] {
            if !ready.intersection(direction.mask()).is_empty() {
                taken += waiters.of(direction).take_all(wake);
            }
        }
        taken
    }

    /// ReactorHandle: marks the registration shut down and moves every waiter's waker into `wake`.
    pub(crate) fn shutdown(&self, wake: &mut Vec<Waker>) {
        self.finish(SHUTDOWN, wake);
    }

    /// Registration: marks the source deregistered and moves every waiter's waker into `wake`.
    pub(crate) fn deregistered(&self, wake: &mut Vec<Waker>) {
        self.finish(DEREGISTERED, wake);
    }

    fn finish(&self, bit: usize, wake: &mut Vec<Waker>) {
        self.state.fetch_or(bit, Ordering::AcqRel);
        let mut waiters = self.waiters.lock();
        waiters.read.take_all(wake);
        waiters.write.take_all(wake);
    }

    /// Task: the readiness of `direction` if any, else stores the waker among the waiters of
    /// `direction` and returns `Pending`: in the slot of `key` (a future's own, freed by
    /// [`remove_waiter`](ScheduledIo::remove_waiter)), or as an anonymous waiter when `key`
    /// is `None`.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        key: Option<&mut WaiterKey>,
    ) -> Poll<io::Result<ReadyEvent>> {
        if let Poll::Ready(result) = self.ready_now(direction) {
            return Poll::Ready(result);
        }
        let mut after = AfterUnlock::default();
        let mut waiters = self.waiters.lock();
        waiters.of(direction).register(cx.waker(), key, &mut after);
        // Re-check under the lock: the driver publishes readiness before it
        // takes this lock to collect wakers, so either we see its bits here or
        // it sees the waker we just stored.
        let result = self.ready_now(direction);
        drop(waiters);
        // A waker's drop or wake may run arbitrary code: never under our lock.
        after.run();
        result
    }

    /// Task: frees the waiter slot of `key` (its future is done or dropped). Nothing is
    /// passed on: a readiness it was woken for woke every other waiter too.
    pub(crate) fn remove_waiter(&self, direction: Direction, key: &mut WaiterKey) {
        if !key.is_set() {
            return;
        }
        let removed = self.waiters.lock().of(direction).remove(key);
        drop(removed); // outside the lock
    }

    /// How many waiters `direction` holds.
    #[cfg(test)]
    pub(crate) fn waiters(&self, direction: Direction) -> usize {
        self.waiters.lock().of(direction).len()
    }

    /// The current readiness of `direction`, or the final error, without waiting.
    fn ready_now(&self, direction: Direction) -> Poll<io::Result<ReadyEvent>> {
        let state = self.state.load(Ordering::Acquire);
        if state & SHUTDOWN != 0 {
            return Poll::Ready(Err(error::shut_down()));
        }
        if state & DEREGISTERED != 0 {
            return Poll::Ready(Err(error::deregistered()));
        }
        let ready = Ready::from_bits(state).intersection(direction.mask());
        if ready.is_empty() {
            return Poll::Pending;
        }
        Poll::Ready(Ok(ReadyEvent {
            tick: tick_of(state),
            ready,
            direction,
        }))
    }

    /// Task, after `WouldBlock`: clears what `event` saw, unless an event arrived since.
    ///
    /// Returns whether the readiness was cleared.
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) -> bool {
        let clear = event.ready.intersection(event.direction.clearable()).bits();
        self.state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
                (tick_of(state) == event.tick).then_some(state & !clear)
            })
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_waker::counting_waker;

    /// A registration whose optimistic initial readiness was cleared by a `WouldBlock`.
    fn empty() -> ScheduledIo {
        let io = ScheduledIo::new(0);
        for direction in [Direction::Read, Direction::Write] {
            let seen = ReadyEvent {
                tick: 0,
                ready: direction.mask(),
                direction,
            };
            assert!(io.clear_readiness(seen));
        }
        io
    }

    fn wake_all(wakers: &mut Vec<Waker>) {
        for waker in wakers.drain(..) {
            waker.wake();
        }
    }

    #[test]
    fn an_event_between_wouldblock_and_clear_keeps_the_readiness() {
        let io = empty();
        let (_, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let mut wake = Vec::new();
        io.set_readiness(Ready::READABLE, &mut wake);
        let Poll::Ready(Ok(seen)) = io.poll_ready(&mut cx, Direction::Read, None) else {
            panic!("readable registration was not ready");
        };
        // The read returned WouldBlock; before the task clears, new data arrives.
        io.set_readiness(Ready::READABLE, &mut wake);
        assert!(
            !io.clear_readiness(seen),
            "a stale clear must not erase a newer event"
        );
        assert!(io.poll_ready(&mut cx, Direction::Read, None).is_ready());
    }

    #[test]
    fn a_clear_with_no_event_in_between_makes_the_next_poll_wait_and_the_next_event_wakes_it() {
        let io = empty();
        let (count, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let mut wake = Vec::new();
        io.set_readiness(Ready::READABLE | Ready::WRITABLE, &mut wake);
        let Poll::Ready(Ok(seen)) = io.poll_ready(&mut cx, Direction::Read, None) else {
            panic!("readable registration was not ready");
        };
        assert!(io.clear_readiness(seen));
        assert!(io.poll_ready(&mut cx, Direction::Read, None).is_pending());
        assert!(
            io.poll_ready(&mut cx, Direction::Write, None).is_ready(),
            "write side untouched"
        );
        io.set_readiness(Ready::READABLE, &mut wake);
        wake_all(&mut wake);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_writable_event_does_not_wake_the_reader() {
        let io = empty();
        let (count, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let mut wake = Vec::new();
        assert!(io.poll_ready(&mut cx, Direction::Read, None).is_pending());
        assert_eq!(io.set_readiness(Ready::WRITABLE, &mut wake), 0);
        assert_eq!(io.set_readiness(Ready::ERROR, &mut wake), 1);
        wake_all(&mut wake);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn closed_readiness_survives_a_clear() {
        let io = empty();
        let (_, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        io.set_readiness(Ready::READABLE | Ready::READ_CLOSED, &mut Vec::new());
        let Poll::Ready(Ok(seen)) = io.poll_ready(&mut cx, Direction::Read, None) else {
            panic!("closed registration was not ready");
        };
        assert!(io.clear_readiness(seen));
        assert!(io.poll_ready(&mut cx, Direction::Read, None).is_ready());
    }

    #[test]
    fn shutdown_wakes_both_directions_and_fails_every_later_poll() {
        let io = empty();
        let (count, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(io.poll_ready(&mut cx, Direction::Read, None).is_pending());
        assert!(io.poll_ready(&mut cx, Direction::Write, None).is_pending());
        let mut wake = Vec::new();
        io.shutdown(&mut wake);
        wake_all(&mut wake);
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        match io.poll_ready(&mut cx, Direction::Read, None) {
            Poll::Ready(Err(e)) => assert_eq!(e.to_string(), "the nursery runtime has shut down"),
            other => panic!("expected the shutdown error, got {other:?}"),
        }
    }

    #[test]
    fn a_new_registration_is_tried_at_once_and_waits_after_its_first_would_block() {
        let io = ScheduledIo::new(0);
        let (count, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        for direction in [Direction::Read, Direction::Write] {
            let Poll::Ready(Ok(seen)) = io.poll_ready(&mut cx, direction, None) else {
                panic!("a new registration is optimistically ready");
            };
            assert!(io.clear_readiness(seen));
            assert!(io.poll_ready(&mut cx, direction, None).is_pending());
        }
        let mut wake = Vec::new();
        io.set_readiness(Ready::WRITABLE, &mut wake);
        wake_all(&mut wake);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn readiness_wakes_every_task_waiting_on_that_direction() {
        let io = empty();
        let (first, first_waker) = counting_waker();
        let (second, second_waker) = counting_waker();
        let (owner, owner_waker) = counting_waker();
        let mut key = WaiterKey::default();
        assert!(io
            .poll_ready(
                &mut Context::from_waker(&first_waker),
                Direction::Read,
                None
            )
            .is_pending());
        assert!(io
            .poll_ready(
                &mut Context::from_waker(&second_waker),
                Direction::Read,
                None
            )
            .is_pending());
        let mut cx = Context::from_waker(&owner_waker);
        assert!(io
            .poll_ready(&mut cx, Direction::Read, Some(&mut key))
            .is_pending());
        assert_eq!(io.waiters(Direction::Read), 3);
        let mut wake = Vec::new();
        assert_eq!(io.set_readiness(Ready::READABLE, &mut wake), 3);
        wake_all(&mut wake);
        let counts = [&first, &second, &owner].map(|c| c.0.load(Ordering::SeqCst));
        assert_eq!(counts, [1, 1, 1]);
        // The anonymous entries left with their wake; the owned slot stays until freed.
        assert_eq!(io.waiters(Direction::Read), 1);
        io.remove_waiter(Direction::Read, &mut key);
        assert_eq!(io.waiters(Direction::Read), 0);
    }

    #[test]
    fn a_future_re_polled_or_dropped_leaves_no_extra_waiter() {
        let io = empty();
        let (_, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let mut key = WaiterKey::default();
        for _ in 0..100 {
            assert!(io
                .poll_ready(&mut cx, Direction::Write, Some(&mut key))
                .is_pending());
        }
        assert_eq!(io.waiters(Direction::Write), 1);
        io.remove_waiter(Direction::Write, &mut key);
        for _ in 0..100 {
            let mut key = WaiterKey::default();
            assert!(io
                .poll_ready(&mut cx, Direction::Write, Some(&mut key))
                .is_pending());
            io.remove_waiter(Direction::Write, &mut key);
        }
        assert_eq!(io.waiters(Direction::Write), 0);
    }

    #[test]
    fn the_tick_wraps_without_touching_the_readiness_bits() {
        let io = ScheduledIo::new(0);
        io.state.store(TICK_MAX << TICK_SHIFT, Ordering::SeqCst);
        io.set_readiness(Ready::WRITABLE, &mut Vec::new());
        let state = io.state.load(Ordering::SeqCst);
        assert_eq!(tick_of(state), 0);
        assert_eq!(Ready::from_bits(state), Ready::WRITABLE);
    }
}
