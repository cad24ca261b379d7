//! Entry storage: a Vec-based slab whose slots carry a generation and the list links.
//!
//! Every entry lives in exactly one list at a time (a wheel slot or the due list), linked by
//! index through `prev`/`next`; a vacant slot reuses `next` as the free-list link. Nothing here
//! allocates once the Vec has grown to the peak number of live entries.

use crate::key::TimerKey;

/// The "no entry" index: end of a list or of the free list.
pub(crate) const NIL: u32 = u32::MAX;

/// One slab slot: an entry while `value` is `Some`, vacant otherwise.
pub(crate) struct Entry<T> {
    value: Option<T>,
    /// When the entry must fire.
    pub(crate) deadline: u64,
    /// Previous entry in the same list, or [`NIL`].
    pub(crate) prev: u32,
    /// Next entry in the same list (or next vacant slot), or [`NIL`].
    pub(crate) next: u32,
    /// Bumped whenever the entry leaves, so old keys go stale.
    generation: u32,
    /// Which list holds the entry: see `wheel::DUE` and `level::list_id`.
    pub(crate) list: u16,
}

/// The entries of one wheel.
pub(crate) struct Slab<T> {
    entries: Vec<Entry<T>>,
    /// Head of the free list of vacant slots.
    free: u32,
    len: usize,
}

impl<T> Slab<T> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Slab {
            entries: Vec::with_capacity(capacity),
            free: NIL,
            len: 0,
        }
    }

    /// Number of live entries.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Stores a new, unlinked entry and returns its key.
    #[inline]
    pub(crate) fn alloc(&mut self, deadline: u64, value: T) -> TimerKey {
        self.len += 1;
        if self.free != NIL {
            let index = self.free;
            let entry = &mut self.entries[index as usize];
            self.free = entry.next;
            entry.value = Some(value);
            entry.deadline = deadline;
            return TimerKey {
                index,
                generation: entry.generation,
            };
        }
        let index = self.entries.len();
        assert!(
            index < NIL as usize,
            "nursery-timer: a wheel holds at most u32::MAX - 1 entries"
        );
        self.entries.push(Entry {
            value: Some(value),
            deadline,
            prev: NIL,
            next: NIL,
            generation: 0,
            list: 0,
        });
        TimerKey {
            index: index as u32,
            generation: 0,
        }
    }

    /// The live entry `key` names, if it still exists.
    #[inline]
    pub(crate) fn get(&self, key: TimerKey) -> Option<&Entry<T>> {
        let entry = self.entries.get(key.index as usize)?;
        (entry.generation == key.generation && entry.value.is_some()).then_some(entry)
    }

    /// The value of the live entry `key` names, if it still exists.
    #[inline]
    pub(crate) fn value_mut(&mut self, key: TimerKey) -> Option<&mut T> {
        let entry = self.entries.get_mut(key.index as usize)?;
        if entry.generation != key.generation {
            return None;
        }
        entry.value.as_mut()
    }

    /// The entry at `index`, which the caller knows to be linked.
    #[inline]
    pub(crate) fn at(&self, index: u32) -> &Entry<T> {
        &self.entries[index as usize]
    }

    /// The entry at `index`, which the caller knows to be linked.
    #[inline]
    pub(crate) fn at_mut(&mut self, index: u32) -> &mut Entry<T> {
        &mut self.entries[index as usize]
    }

    /// Vacates the (already unlinked) slot at `index`: returns the entry's key and value.
    #[inline]
    pub(crate) fn free(&mut self, index: u32) -> Option<(TimerKey, T)> {
        let entry = &mut self.entries[index as usize];
        let value = entry.value.take()?;
        let key = TimerKey {
            index,
            generation: entry.generation,
        };
        entry.generation = entry.generation.wrapping_add(1);
        entry.next = self.free;
        self.free = index;
        self.len -= 1;
        Some((key, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_slot_is_reused_with_a_new_generation() {
        let mut slab = Slab::with_capacity(0);
        let a = slab.alloc(1, 'a');
        assert_eq!(slab.free(a.index), Some((a, 'a')));
        let b = slab.alloc(2, 'b');
        assert_eq!(a.index, b.index);
        assert_ne!(a.generation, b.generation);
        assert!(slab.get(a).is_none());
        assert_eq!(slab.get(b).map(|e| e.deadline), Some(2));
        assert_eq!(slab.len(), 1);
    }

    #[test]
    fn an_entry_holding_a_waker_takes_40_bytes() {
        // A million sleeping tasks cost 40 MB of entries here (a slot per timer, nothing else).
        assert_eq!(std::mem::size_of::<Entry<std::task::Waker>>(), 40);
    }

    #[test]
    fn freeing_a_vacant_slot_returns_nothing() {
        let mut slab = Slab::with_capacity(1);
        let a = slab.alloc(1, ());
        assert!(slab.free(a.index).is_some());
        assert!(slab.free(a.index).is_none());
        assert_eq!(slab.len(), 0);
    }
}
