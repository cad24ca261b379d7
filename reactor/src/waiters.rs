//! The tasks waiting on one direction (read or write) of a registration.
//!
//! Any number of tasks may wait on one socket: two accept loops on one listener, two tasks in
//! `recv_from` on one UDP socket, two readers of one `&TcpStream` (rule R9). Readiness wakes
//! every waiter of its direction; each retries its operation, and the ones that get
//! `WouldBlock` wait again (`scheduled_io.rs` says why that loses nothing). Waking them all is
//! also what passes a turn on: a waiter that is woken and then dropped before it retried cannot
//! swallow the readiness, since every other waiter was woken too.
//!
//! Two kinds of waiter share the list:
//!
//! - **Owned**: a future of the net types (`accept`, `recv_from`, `send_to`, `Incoming`, ...)
//!   holds a [`WaiterKey`], its own slot in a slab. A re-poll updates the waker in place (not
//!   at all when it `will_wake` the stored one), and the future's drop frees the slot, so
//!   owned slots are bounded by the live futures. The slab keeps its memory for the next
//!   waiter: after the first, waiting allocates nothing.
//! - **Anonymous**: a `poll_*` call (`poll_accept`, the `AsyncRead`/`AsyncWrite` impls, a
//!   `Registration`'s polls) owns nothing that a drop could free. It gets one entry per
//!   waker: a re-poll by the same task finds its entry by `will_wake` and queues nothing. An
//!   entry leaves when readiness wakes it, or through a *sweep*, which finds out the tasks
//!   that stopped polling without asking anything of them:
//!
//! ```text
//!   register, an entry will_wake the waker:  mark it not swept
//!   register, none does:                     push it; first, if len >= sweep_at:
//!                                              sweep (unless the last is < SWEEP_PERIOD old)
//!                                              sweep_at = len + max(SWEEP_MIN, len / 2)
//!   sweep:      an entry swept by the last sweep and not registered since: remove it
//!               every other entry: wake it, mark it swept
//!   readiness:  wake and remove every entry; sweep_at as if len were the number removed
//! ```
//!
//! Nothing is lost: an entry is removed only after a sweep woke it, so its task, if it still
//! waits, has polled again since (and is listed, not swept) or will, and registers anew. A task
//! that stopped polling is removed by the second sweep after its last poll; one that still
//! waits is woken by each sweep, which costs it a poll. Sweeps need new wakers (re-polls push
//! nothing), at least half the list's length of them or `SWEEP_MIN`, so their wakes are paid
//! for by the pushes; and they are at least `SWEEP_PERIOD` apart, so a waiting task that a
//! sweep removed because it took longer than that to poll again cannot, by registering anew,
//! set off sweeps in a loop. The list grows only by new wakers, and then sweeps come: whatever
//! the pattern of waiting and giving up, it holds the tasks that wait plus those that polled
//! since the sweep before last.

use std::panic::{self, AssertUnwindSafe};
use std::task::Waker;
use std::time::{Duration, Instant};

use slab::Slab;

use crate::reactor;

/// The fewest new anonymous waiters between two sweeps (a socket polled by fewer distinct
/// tasks than this between two readiness events is never swept).
const SWEEP_MIN: usize = 16;

/// The least time between two sweeps: what a task woken by a sweep has to poll again before
/// the next sweep may remove it (a task the runtime is not starving polls within microseconds).
const SWEEP_PERIOD: Duration = Duration::from_millis(10);

/// A future's slot in a [`WaiterList`]: empty until the future first waits.
#[derive(Debug, Default)]
pub(crate) struct WaiterKey(Option<usize>);

impl WaiterKey {
    /// Whether the future holds a slot.
    pub(crate) fn is_set(&self) -> bool {
        self.0.is_some()
    }
}

/// The waiters of one direction.
///
/// The first anonymous waiter is kept inline, ahead of the rest (`repr(C)`): the common case,
/// one task polling a socket through `poll_read`/`poll_write`, then registers and is woken
/// without touching a heap line of its own, in the lines of the registration it already reads.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct WaiterList {
    /// The first anonymous waiter (listed before those in `more`).
    first: Option<Anonymous>,
    /// The other anonymous waiters: one entry per waker of the `poll_*` callers.
    more: Vec<Anonymous>,
    /// One slot per waiting future that holds a [`WaiterKey`]; `None` once woken.
    owned: Slab<Option<Waker>>,
    /// The anonymous length at which the next new waker first sweeps.
    sweep_at: usize,
    /// When the last sweep ran.
    last_sweep: Option<Instant>,
    /// [`SWEEP_PERIOD`], except in tests.
    sweep_period: Duration,
}

#[derive(Debug)]
struct Anonymous {
    waker: Waker,
    /// Woken by the last sweep and not registered since.
    swept: bool,
}

/// What registering leaves to do once the lock is released: a waker's clone is cheap, but
/// its drop and its wake may run any code.
#[derive(Debug, Default)]
pub(crate) struct AfterUnlock {
    /// The waker a new one replaced.
    replaced: Option<Waker>,
    /// Anonymous waiters a sweep woke.
    wake: Vec<Waker>,
    /// Anonymous waiters a sweep removed (woken by the sweep before).
    removed: Vec<Waker>,
}

impl AfterUnlock {
    /// Drops what was replaced or removed and wakes what a sweep woke.
    ///
    /// A waker that panics belongs to another task, not the one whose poll swept: it is
    /// reported, and every other waker is still woken.
    pub(crate) fn run(mut self) {
        drop(self.replaced.take());
        drop(std::mem::take(&mut self.removed));
        if self.wake.is_empty() {
            return;
        }
        let woken = panic::catch_unwind(AssertUnwindSafe(|| reactor::wake_all(&mut self.wake)));
        if woken.is_err() {
            crate::fault::report(None, crate::fault::IoFault::WakerPanicked);
        }
    }
}

impl WaiterList {
    /// An empty list (it allocates nothing until a task waits).
    pub(crate) fn new() -> WaiterList {
        WaiterList {
            first: None,
            more: Vec::new(),
            owned: Slab::new(),
            sweep_at: SWEEP_MIN,
            last_sweep: None,
            sweep_period: SWEEP_PERIOD,
        }
    }

    /// Stores `waker` as the waiter `key` names, or as an anonymous waiter when `key` is `None`.
    pub(crate) fn register(
        &mut self,
        waker: &Waker,
        key: Option<&mut WaiterKey>,
        after: &mut AfterUnlock,
    ) {
        match key {
            Some(key) => self.register_owned(waker, key, after),
            None => self.register_anonymous(waker, after),
        }
    }

    fn register_owned(&mut self, waker: &Waker, key: &mut WaiterKey, after: &mut AfterUnlock) {
        match key.0.and_then(|index| self.owned.get_mut(index)) {
            Some(Some(stored)) if stored.will_wake(waker) => {}
            Some(slot) => after.replaced = slot.replace(waker.clone()),
            None => key.0 = Some(self.owned.insert(Some(waker.clone()))),
        }
    }

    fn register_anonymous(&mut self, waker: &Waker, after: &mut AfterUnlock) {
        let mut listed = self.first.iter_mut().chain(self.more.iter_mut());
        if let Some(entry) = listed.find(|e| e.waker.will_wake(waker)) {
            entry.swept = false;
            return;
        }
        if self.anonymous_len() >= self.sweep_at {
            let now = Instant::now();
            let due = self
                .last_sweep
                .is_none_or(|last| now.duration_since(last) >= self.sweep_period);
            if due {
                self.sweep(after);
                self.last_sweep = Some(now);
            }
            self.set_sweep_at(self.anonymous_len());
        }
        let entry = Anonymous {
            waker: waker.clone(),
            swept: false,
        };
        match &self.first {
            None => self.first = Some(entry),
            Some(_) => self.more.push(entry),
        }
    }

    /// How many anonymous waiters are listed.
    fn anonymous_len(&self) -> usize {
        usize::from(self.first.is_some()) + self.more.len()
    }

    /// Removes the anonymous waiters the previous sweep woke that have not polled since, and
    /// wakes the others (see the module docs).
    fn sweep(&mut self, after: &mut AfterUnlock) {
        let mut i = 0;
        while i < self.more.len() {
            if self.more[i].swept {
                after.removed.push(self.more.swap_remove(i).waker);
            } else {
                let entry = &mut self.more[i];
                entry.swept = true;
                after.wake.push(entry.waker.clone());
                i += 1;
            }
        }
        match &mut self.first {
            Some(entry) if entry.swept => {
                let removed = self.first.take().map(|entry| entry.waker);
                after.removed.extend(removed);
                // The inline place is for whichever waiter is listed first.
                self.first = self.more.pop();
            }
            Some(entry) => {
                entry.swept = true;
                after.wake.push(entry.waker.clone());
            }
            None => {}
        }
    }

    /// The next sweep comes after `max(SWEEP_MIN, len / 2)` new wakers.
    fn set_sweep_at(&mut self, len: usize) {
        self.sweep_at = len + (len / 2).max(SWEEP_MIN);
    }

    /// Frees the slot of `key` (a future that waited is done or dropped); returns its waker,
    /// for the caller to drop outside the lock.
    pub(crate) fn remove(&mut self, key: &mut WaiterKey) -> Option<Waker> {
        key.0
            .take()
            .and_then(|index| self.owned.try_remove(index))?
    }

    /// Moves every waker into `wake` (owned slots stay, empty, until their future is done);
    /// returns how many it moved.
    pub(crate) fn take_all(&mut self, wake: &mut Vec<Waker>) -> usize {
        let before = wake.len();
        let anonymous = self.anonymous_len();
        if let Some(entry) = self.first.take() {
            wake.push(entry.waker);
        }
        if !self.more.is_empty() {
            wake.extend(self.more.drain(..).map(|entry| entry.waker));
        }
        if !self.owned.is_empty() {
            for (_, slot) in self.owned.iter_mut() {
                wake.extend(slot.take());
            }
        }
        // The tasks just woken are likely to wait again: room for them without a sweep.
        self.set_sweep_at(anonymous);
        wake.len() - before
    }

    /// How many waiters the list holds (owned slots, woken or not, and anonymous entries).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.owned.len() + self.anonymous_len()
    }

    /// Whether `waker`'s task is listed as an anonymous waiter.
    #[cfg(test)]
    fn lists_anonymous(&self, waker: &Waker) -> bool {
        let mut listed = self.first.iter().chain(self.more.iter());
        listed.any(|e| e.waker.will_wake(waker))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_waker::{counting_waker, CountingWaker};
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    fn wakes(counter: &CountingWaker) -> usize {
        counter.0.load(Ordering::SeqCst)
    }

    fn register(list: &mut WaiterList, waker: &Waker, key: Option<&mut WaiterKey>) {
        let mut after = AfterUnlock::default();
        list.register(waker, key, &mut after);
        after.run();
    }

    fn wake_all(list: &mut WaiterList) -> usize {
        let mut wake = Vec::new();
        let moved = list.take_all(&mut wake);
        reactor::wake_all(&mut wake);
        moved
    }

    #[test]
    fn readiness_wakes_every_waiter_of_both_kinds() {
        let mut list = WaiterList::new();
        let (a, waker_a) = counting_waker();
        let (b, waker_b) = counting_waker();
        let (c, waker_c) = counting_waker();
        let mut key = WaiterKey::default();
        register(&mut list, &waker_a, Some(&mut key));
        register(&mut list, &waker_b, None);
        register(&mut list, &waker_c, None);
        assert_eq!(wake_all(&mut list), 3);
        assert_eq!((wakes(&a), wakes(&b), wakes(&c)), (1, 1, 1));
        // The owned slot stays, empty, until its future is done: a re-poll refills it.
        assert_eq!(list.len(), 1);
        assert_eq!(wake_all(&mut list), 0);
        register(&mut list, &waker_a, Some(&mut key));
        assert_eq!(wake_all(&mut list), 1);
        assert_eq!(wakes(&a), 2);
    }

    #[test]
    fn re_polling_keeps_one_entry_per_waiter() {
        let mut list = WaiterList::new();
        let (_, waker) = counting_waker();
        let mut key = WaiterKey::default();
        for _ in 0..1000 {
            register(&mut list, &waker, Some(&mut key));
            register(&mut list, &waker, None);
        }
        assert_eq!(list.len(), 2);
        // A future polled with a new waker (moved to another task) updates its slot in place.
        let (moved, other) = counting_waker();
        register(&mut list, &other, Some(&mut key));
        assert_eq!(list.len(), 2);
        wake_all(&mut list);
        assert_eq!(wakes(&moved), 1);
    }

    #[test]
    fn a_dropped_owned_waiter_leaves_the_list_and_its_slot_is_reused() {
        let mut list = WaiterList::new();
        let (_, waker) = counting_waker();
        for _ in 0..1000 {
            let mut key = WaiterKey::default();
            register(&mut list, &waker, Some(&mut key));
            assert!(list.remove(&mut key).is_some());
            assert!(!key.is_set());
        }
        assert_eq!(list.len(), 0);
        assert!(list.owned.capacity() <= 4, "the slab grew");
    }

    /// A list whose sweeps need no time between them.
    fn list_without_sweep_period() -> WaiterList {
        WaiterList {
            sweep_period: Duration::ZERO,
            ..WaiterList::new()
        }
    }

    #[test]
    fn anonymous_waiters_that_give_up_are_swept_and_the_list_stays_bounded() {
        let mut list = list_without_sweep_period();
        let (live, live_waker) = counting_waker();
        register(&mut list, &live_waker, None);
        let mut seen = 0;
        let mut most = 0;
        for _ in 0..10_000 {
            // A task that polls once and is gone.
            let (_, gone) = counting_waker();
            register(&mut list, &gone, None);
            most = most.max(list.len());
            // The live task polls again whenever it was woken, as a live task does.
            if wakes(&live) != seen {
                seen = wakes(&live);
                register(&mut list, &live_waker, None);
            }
        }
        assert!(most <= 2 * SWEEP_MIN + 2, "the list grew to {most}");
        // Woken by sweeps now and then, never removed: readiness still reaches it.
        let swept_wakes = wakes(&live);
        assert!(swept_wakes > 0 && swept_wakes <= 10_000 / SWEEP_MIN);
        wake_all(&mut list);
        assert_eq!(wakes(&live), swept_wakes + 1);
    }

    #[test]
    fn with_sweeps_a_period_apart_tasks_that_gave_up_are_still_shed() {
        let mut list = WaiterList::new();
        let mut most = 0;
        for _burst in 0..20 {
            // Fifty tasks poll once and are gone, faster than the sweep period.
            for _ in 0..50 {
                let (_, gone) = counting_waker();
                register(&mut list, &gone, None);
                most = most.max(list.len());
            }
            std::thread::sleep(SWEEP_PERIOD);
        }
        assert!(most <= 4 * 50, "the list grew to {most}");
    }

    /// Live tasks: each one woken since `seen` polls again (registers anew), as a live task does.
    fn repoll_the_woken(
        list: &mut WaiterList,
        tasks: &[(Arc<CountingWaker>, Waker)],
        seen: &mut [usize],
    ) {
        for ((counter, waker), seen) in tasks.iter().zip(seen) {
            if wakes(counter) != *seen {
                *seen = wakes(counter);
                register(list, waker, None);
            }
        }
    }

    #[test]
    fn a_first_waiter_that_gave_up_is_swept_out_of_its_inline_place() {
        let mut list = list_without_sweep_period();
        let (gone, gone_waker) = counting_waker();
        register(&mut list, &gone_waker, None); // listed first (inline), never polls again
        let live: Vec<_> = (0..3 * SWEEP_MIN).map(|_| counting_waker()).collect();
        for (_, waker) in &live {
            register(&mut list, waker, None);
        }
        let mut seen = vec![0; live.len()];
        for _round in 0..4 {
            repoll_the_woken(&mut list, &live, &mut seen);
            // New wakers set off the sweeps; each polls once and is gone.
            for _ in 0..2 * SWEEP_MIN {
                register(&mut list, &counting_waker().1, None);
            }
        }
        assert!(!list.lists_anonymous(&gone_waker), "two sweeps removed it");
        assert!(wakes(&gone) >= 1, "removed only after a sweep woke it");
        // The inline place went to another waiter: it is not left empty while others wait.
        assert!(list.first.is_some() && list.anonymous_len() <= 3 * SWEEP_MIN + 2 * SWEEP_MIN);
        for ((counter, waker), seen) in live.iter().zip(&seen) {
            let woken_since = wakes(counter) != *seen;
            assert!(
                list.lists_anonymous(waker) || woken_since,
                "removed without a wake"
            );
        }
    }

    #[test]
    fn a_sweep_removes_no_waiter_it_has_not_woken() {
        let mut list = list_without_sweep_period();
        let waiters: Vec<_> = (0..100).map(|_| counting_waker()).collect();
        for (_, waker) in &waiters {
            register(&mut list, waker, None); // none of them polls again
        }
        assert!(list.anonymous_len() < 100, "no sweep removed anything");
        for (counter, waker) in &waiters {
            let listed = list.lists_anonymous(waker);
            assert!(listed || wakes(counter) == 1, "removed without a wake");
        }
    }

    #[test]
    fn waiting_tasks_a_sweep_removed_before_they_polled_again_do_not_set_off_sweeps_in_a_loop() {
        // A hundred tasks start waiting at once, before any can poll again: sweeps remove
        // some of them, woken, before they get to. Each polls again when woken, in turn.
        let mut list = WaiterList {
            sweep_period: Duration::from_secs(3600), // the test's rounds take far less
            ..WaiterList::new()
        };
        let waiters: Vec<_> = (0..100).map(|_| counting_waker()).collect();
        for (_, waker) in &waiters {
            register(&mut list, waker, None);
        }
        let mut seen = vec![0; waiters.len()];
        for _round in 0..20 {
            repoll_the_woken(&mut list, &waiters, &mut seen);
        }
        // Within one sweep period, only the first sweep ran: every task is listed again,
        // woken once at most.
        assert_eq!(list.anonymous_len(), 100);
        assert!(seen.iter().all(|&n| n <= 1), "{seen:?}");
    }
}
