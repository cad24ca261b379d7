//! The wheel: levels of slots, the due list, and the walk that advances time.

use std::fmt;

use crate::entry::{Slab, NIL};
use crate::key::TimerKey;
use crate::level::{self, Level, LEVELS};
use crate::list::List;

/// List id of the due list: entries whose deadline is `<= now`, waiting for the next advance.
const DUE: u16 = u16::MAX;

/// A hierarchical timing wheel holding values of type `T`, each with a deadline in ticks.
///
/// Insert and remove are O(1) and allocate nothing once the entry storage has grown to the peak
/// number of live entries. [`advance`](Wheel::advance) jumps straight between occupied slots with
/// the level bitmaps, so an idle gap costs nothing however long it is; every entry is moved down
/// at most once per level (11 levels cover all of u64) on its way to firing.
///
/// ```
/// use nursery_timer::Wheel;
///
/// let mut wheel = Wheel::new();
/// let soon = wheel.insert(5, "soon");
/// wheel.insert(3_600_000, "in an hour");
/// assert_eq!(wheel.next_expiration(), Some(5));
///
/// let mut fired = Vec::new();
/// wheel.advance(10, |key, value| fired.push((key, value)));
/// assert_eq!(fired, [(soon, "soon")]);
/// assert_eq!(wheel.len(), 1);
/// ```
pub struct Wheel<T> {
    slab: Slab<T>,
    levels: Box<[Level; LEVELS]>,
    /// Bit `l` is set while level `l` holds an entry.
    occupied_levels: u16,
    /// Entries with `deadline <= now`, in the order they became due.
    due: List,
    now: u64,
}

impl<T> Wheel<T> {
    /// An empty wheel standing at tick 0.
    ///
    /// ```
    /// let wheel = nursery_timer::Wheel::<()>::new();
    /// assert_eq!(wheel.now(), 0);
    /// assert!(wheel.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty wheel standing at tick 0, with room for `capacity` entries before it allocates.
    ///
    /// ```
    /// let mut wheel = nursery_timer::Wheel::with_capacity(1024);
    /// let key = wheel.insert(100, ()); // no allocation
    /// wheel.remove(key);
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        Wheel {
            slab: Slab::with_capacity(capacity),
            levels: Box::new(std::array::from_fn(|_| Level::new())),
            occupied_levels: 0,
            due: List::EMPTY,
            now: 0,
        }
    }

    /// The tick the wheel has advanced to.
    ///
    /// ```
    /// let mut wheel = nursery_timer::Wheel::<()>::new();
    /// wheel.advance(42, |_, _| {});
    /// assert_eq!(wheel.now(), 42);
    /// ```
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Number of entries that have neither fired nor been removed.
    ///
    /// ```
    /// let mut wheel = nursery_timer::Wheel::new();
    /// wheel.insert(1, ());
    /// wheel.insert(2, ());
    /// assert_eq!(wheel.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// True when the wheel holds no entry.
    ///
    /// ```
    /// let mut wheel = nursery_timer::Wheel::new();
    /// assert!(wheel.is_empty());
    /// wheel.insert(1, ());
    /// assert!(!wheel.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Inserts an entry that must fire when the wheel advances to a tick `>= deadline`. O(1).
    ///
    /// A deadline `<= now()` fires at the next [`advance`](Wheel::advance), never inside `insert`.
    ///
    /// # Panics
    ///
    /// If the wheel already holds `u32::MAX - 1` entries.
    ///
    /// ```
    /// let mut wheel = nursery_timer::Wheel::new();
    /// wheel.advance(100, |_, _| {});
    /// wheel.insert(50, "already due");
    /// let mut fired = Vec::new();
    /// wheel.advance(100, |_, value| fired.push(value));
    /// assert_eq!(fired, ["already due"]);
    /// ```
    #[inline]
    pub fn insert(&mut self, deadline: u64, value: T) -> TimerKey {
        let key = self.slab.alloc(deadline, value);
        self.link(key.index, deadline);
        key
    }

    /// Removes an entry that has not fired yet and returns its value; `None` for a key whose
    /// entry fired or was removed already (and for any key of another wheel). O(1).
    ///
    /// ```
    /// let mut wheel = nursery_timer::Wheel::new();
    /// let key = wheel.insert(10, "cancelled");
    /// assert_eq!(wheel.remove(key), Some("cancelled"));
    /// assert_eq!(wheel.remove(key), None);
    /// wheel.advance(10, |_, _| unreachable!());
    /// ```
    #[inline]
    pub fn remove(&mut self, key: TimerKey) -> Option<T> {
        self.slab.get(key)?;
        self.unlink(key.index);
        self.slab.free(key.index).map(|(_, value)| value)
    }

    /// The value of an entry that has not fired yet.
    ///
    /// ```
    /// let mut wheel = nursery_timer::Wheel::new();
    /// let key = wheel.insert(10, 1);
    /// *wheel.get_mut(key).unwrap() += 1;
    /// assert_eq!(wheel.remove(key), Some(2));
    /// assert_eq!(wheel.get_mut(key), None);
    /// ```
    #[inline]
    pub fn get_mut(&mut self, key: TimerKey) -> Option<&mut T> {
        self.slab.value_mut(key)
    }

    /// The deadline an entry that has not fired yet was inserted with.
    ///
    /// ```
    /// let mut wheel = nursery_timer::Wheel::new();
    /// let key = wheel.insert(10, ());
    /// assert_eq!(wheel.deadline(key), Some(10));
    /// wheel.advance(10, |_, _| {});
    /// assert_eq!(wheel.deadline(key), None);
    /// ```
    #[inline]
    pub fn deadline(&self, key: TimerKey) -> Option<u64> {
        self.slab.get(key).map(|entry| entry.deadline)
    }

    /// The earliest tick at which [`advance`](Wheel::advance) could fire something; `None` when
    /// the wheel is empty. O(1).
    ///
    /// Never later than the earliest deadline, and never earlier than [`now`](Wheel::now): it is
    /// `now()` while an entry is already due, otherwise the exact earliest deadline unless entries
    /// were removed from the slot that holds it, in which case it may be a lower bound (still
    /// after `now()`). A thread can sleep until this tick without missing a deadline.
    ///
    /// ```
    /// let mut wheel = nursery_timer::Wheel::new();
    /// assert_eq!(wheel.next_expiration(), None);
    /// wheel.insert(5_000, ());
    /// wheel.insert(70_000, ());
    /// assert_eq!(wheel.next_expiration(), Some(5_000));
    /// ```
    pub fn next_expiration(&self) -> Option<u64> {
        if !self.due.is_empty() {
            return Some(self.now);
        }
        let (level, slot) = self.first_occupied()?;
        Some(self.levels[level].min_deadline(slot))
    }

    /// Advances to `now` and hands every entry with `deadline <= now` to `fire`.
    ///
    /// Entries fire in deadline order, except that entries inserted with a deadline that had
    /// already passed fire first, in the order they were inserted.
    ///
    /// Time only moves forward: a `now` smaller than [`now()`](Wheel::now) leaves the wheel
    /// where it is, and only entries that are already due fire. Occupied slots are visited
    /// through the bitmaps, so a long idle gap costs nothing; nothing is allocated.
    ///
    /// If `fire` panics, the wheel stays consistent: the entry being fired is gone and the
    /// remaining due entries fire at the next advance.
    ///
    /// ```
    /// let mut wheel = nursery_timer::Wheel::new();
    /// for deadline in [1, 64, 4096, 1 << 40] {
    ///     wheel.insert(deadline, deadline);
    /// }
    /// let mut fired = Vec::new();
    /// wheel.advance(5_000, |_, deadline| fired.push(deadline));
    /// assert_eq!(fired, [1, 64, 4096]);
    /// wheel.advance(u64::MAX, |_, deadline| fired.push(deadline));
    /// assert_eq!(fired, [1, 64, 4096, 1 << 40]);
    /// ```
    pub fn advance(&mut self, now: u64, mut fire: impl FnMut(TimerKey, T)) {
        self.cascade_to(now);
        while let Some((key, value)) = self.pop_due() {
            fire(key, value);
        }
    }

    /// Advances to `now` like [`advance`](Wheel::advance) but hands back one due entry at a
    /// time, so a caller can fire entries outside its lock; `None` once nothing is due.
    ///
    /// ```
    /// let mut wheel = nursery_timer::Wheel::new();
    /// wheel.insert(3, 'a');
    /// wheel.insert(4, 'b');
    /// wheel.insert(9, 'c');
    /// let mut fired = Vec::new();
    /// while let Some((_, value)) = wheel.pop_expired(5) {
    ///     fired.push(value);
    /// }
    /// assert_eq!(fired, ['a', 'b']);
    /// assert_eq!(wheel.now(), 5);
    /// ```
    pub fn pop_expired(&mut self, now: u64) -> Option<(TimerKey, T)> {
        self.cascade_to(now);
        self.pop_due()
    }

    /// Moves time to `max(now, self.now)`, moving every entry that became due to the due list
    /// and every entry of a slot that time entered down to the level it now belongs on.
    fn cascade_to(&mut self, now: u64) {
        let target = now.max(self.now);
        while let Some((level, slot)) = self.first_occupied() {
            let start = level::slot_start(self.now, level, slot);
            if start > target {
                break;
            }
            // Every occupied slot starts after `now`, and this is the earliest one: nothing is
            // skipped by moving time to its start.
            debug_assert!(start > self.now);
            self.now = start;
            let mut index = self.levels[level].take(slot);
            if self.levels[level].is_empty() {
                self.occupied_levels &= !(1 << level);
            }
            while index != NIL {
                let entry = self.slab.at(index);
                let (next, deadline) = (entry.next, entry.deadline);
                debug_assert!(deadline >= start);
                self.link(index, deadline);
                index = next;
            }
        }
        self.now = target;
    }

    /// Unlinks and frees the first due entry.
    fn pop_due(&mut self) -> Option<(TimerKey, T)> {
        let index = self.due.pop_front(&mut self.slab)?;
        self.slab.free(index)
    }

    /// The lowest occupied slot of the lowest occupied level: the one holding the earliest
    /// deadline of the levels (see the `level` module).
    #[inline]
    fn first_occupied(&self) -> Option<(usize, usize)> {
        if self.occupied_levels == 0 {
            return None;
        }
        let level = self.occupied_levels.trailing_zeros() as usize;
        let slot = self.levels[level].first_occupied()?;
        Some((level, slot))
    }

    /// Links the unlinked entry at `index` into the list its deadline belongs to now.
    #[inline]
    fn link(&mut self, index: u32, deadline: u64) {
        if deadline <= self.now {
            self.slab.at_mut(index).list = DUE;
            self.due.push_back(&mut self.slab, index);
        } else {
            let level = level::level_for(self.now, deadline);
            let slot = level::slot_for(level, deadline);
            self.slab.at_mut(index).list = level::list_id(level, slot);
            self.levels[level].push(&mut self.slab, slot, index, deadline);
            self.occupied_levels |= 1 << level;
        }
    }

    /// Unlinks the linked entry at `index` from whichever list holds it.
    #[inline]
    fn unlink(&mut self, index: u32) {
        let list = self.slab.at(index).list;
        if list == DUE {
            self.due.unlink(&mut self.slab, index);
        } else {
            let (level, slot) = level::from_list_id(list);
            if self.levels[level].unlink(&mut self.slab, slot, index) {
                self.occupied_levels &= !(1 << level);
            }
        }
    }
}

impl<T> Default for Wheel<T> {
    /// Same as [`Wheel::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for Wheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wheel")
            .field("now", &self.now)
            .field("len", &self.len())
            .field("next_expiration", &self.next_expiration())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
