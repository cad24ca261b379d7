//! One level of the wheel: 64 slots of entry lists and a bitmap of the non-empty ones, plus the
//! arithmetic that says which level and slot a deadline belongs to.
//!
//! Level `l` sorts deadlines by their 6-bit digit `l` (bits `6l .. 6l+6`). An entry sits on the
//! level of the highest digit in which its deadline differs from the wheel's `now`, in the slot of
//! its own digit there; so every occupied slot starts after `now`, slots of a lower level all end
//! before any slot of a higher level starts, and the earliest entry is in the lowest occupied slot
//! of the lowest occupied level.

use crate::entry::Slab;
use crate::list::List;

/// Bits of the deadline each level sorts on.
pub(crate) const BITS: u32 = 6;
/// Slots per level.
pub(crate) const SLOTS: usize = 1 << BITS;
/// Levels needed for any u64 deadline: ceil(64 / 6). The top level uses only 16 slots.
pub(crate) const LEVELS: usize = 64_usize.div_ceil(BITS as usize);

/// The level an entry with `deadline > now` belongs on.
#[inline]
pub(crate) fn level_for(now: u64, deadline: u64) -> usize {
    debug_assert!(deadline > now);
    let highest_differing_bit = 63 - (now ^ deadline).leading_zeros();
    (highest_differing_bit / BITS) as usize
}

/// The slot of `deadline` on `level`.
#[inline]
pub(crate) fn slot_for(level: usize, deadline: u64) -> usize {
    ((deadline >> (level as u32 * BITS)) as usize) & (SLOTS - 1)
}

/// The first tick covered by `slot` of `level` while the wheel stands at `now`.
#[inline]
pub(crate) fn slot_start(now: u64, level: usize, slot: usize) -> u64 {
    let shift = level as u32 * BITS;
    let covered = shift + BITS;
    let window = if covered >= 64 {
        0
    } else {
        now & !((1 << covered) - 1)
    };
    window + ((slot as u64) << shift)
}

/// The list id (kept in each entry) of `slot` on `level`.
#[inline]
pub(crate) fn list_id(level: usize, slot: usize) -> u16 {
    (level * SLOTS + slot) as u16
}

/// Level and slot of a list id made by [`list_id`].
#[inline]
pub(crate) fn from_list_id(id: u16) -> (usize, usize) {
    (id as usize / SLOTS, id as usize % SLOTS)
}

/// One slot: its entries and a lower bound of their deadlines.
#[derive(Clone, Copy)]
struct Slot {
    list: List,
    /// The smallest deadline ever pushed since the slot was last empty: exact until an entry is
    /// removed, a lower bound after that, `u64::MAX` while empty.
    min: u64,
}

/// 64 slots and their occupancy bitmap.
pub(crate) struct Level {
    /// Bit `s` is set while slot `s` holds an entry.
    occupied: u64,
    slots: [Slot; SLOTS],
}

impl Level {
    pub(crate) fn new() -> Self {
        Level {
            occupied: 0,
            slots: [Slot {
                list: List::EMPTY,
                min: u64::MAX,
            }; SLOTS],
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.occupied == 0
    }

    /// The lowest occupied slot.
    #[inline]
    pub(crate) fn first_occupied(&self) -> Option<usize> {
        (self.occupied != 0).then(|| self.occupied.trailing_zeros() as usize)
    }

    /// A lower bound of the deadlines in `slot` (exact unless an entry was removed from it).
    #[inline]
    pub(crate) fn min_deadline(&self, slot: usize) -> u64 {
        self.slots[slot].min
    }

    /// Links entry `index` with `deadline` into `slot`.
    #[inline]
    pub(crate) fn push<T>(&mut self, slab: &mut Slab<T>, slot: usize, index: u32, deadline: u64) {
        let s = &mut self.slots[slot];
        s.list.push_back(slab, index);
        s.min = s.min.min(deadline);
        self.occupied |= 1 << slot;
    }

    /// Unlinks entry `index` from `slot`; true when the whole level became empty.
    #[inline]
    pub(crate) fn unlink<T>(&mut self, slab: &mut Slab<T>, slot: usize, index: u32) -> bool {
        let s = &mut self.slots[slot];
        s.list.unlink(slab, index);
        if s.list.is_empty() {
            s.min = u64::MAX;
            self.occupied &= !(1 << slot);
        }
        self.occupied == 0
    }

    /// Empties `slot`, returning the first index of its detached chain (see [`List::take`]).
    #[inline]
    pub(crate) fn take(&mut self, slot: usize) -> u32 {
        let s = &mut self.slots[slot];
        s.min = u64::MAX;
        self.occupied &= !(1 << slot);
        s.list.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eleven_levels_cover_every_u64_deadline() {
        assert_eq!(LEVELS, 11);
        assert_eq!(level_for(0, u64::MAX), LEVELS - 1);
        assert_eq!(slot_for(LEVELS - 1, u64::MAX), 15);
    }

    #[test]
    fn each_level_starts_at_a_power_of_64() {
        for level in 0..LEVELS {
            let first = 1u64 << (level as u32 * BITS);
            assert_eq!(level_for(0, first), level, "deadline {first}");
            if level > 0 {
                assert_eq!(level_for(0, first - 1), level - 1);
            }
        }
        assert_eq!(level_for(0, 63), 0);
        assert_eq!(level_for(0, 64), 1);
        assert_eq!(level_for(0, 4095), 1);
        assert_eq!(level_for(0, 4096), 2);
    }

    #[test]
    fn the_level_follows_the_highest_digit_that_differs_from_now() {
        // 127 and 128 share digit 1 (both in 64..4096) but 128 - 127 is one tick.
        assert_eq!(level_for(127, 128), 1);
        assert_eq!(level_for(128, 129), 0);
        assert_eq!(level_for(4095, 4096), 2);
    }

    #[test]
    fn a_slot_starts_inside_the_window_of_now() {
        assert_eq!(slot_start(0, 0, 5), 5);
        assert_eq!(slot_start(130, 0, 5), 133);
        assert_eq!(slot_start(130, 1, 3), 192);
        assert_eq!(slot_start(5000, 2, 2), 8192);
        assert_eq!(slot_start(0, LEVELS - 1, 15), 15 << 60);
        assert_eq!(slot_start(u64::MAX - 1, 0, 63), u64::MAX);
    }

    #[test]
    fn list_ids_round_trip() {
        for level in 0..LEVELS {
            for slot in [0, 1, 62, 63] {
                assert_eq!(from_list_id(list_id(level, slot)), (level, slot));
            }
        }
    }
}
