//! An intrusive doubly-linked list of slab indices: O(1) push, pop and unlink, no allocation.

use crate::entry::{Slab, NIL};

/// Head and tail of one list; the links live in the entries.
#[derive(Clone, Copy)]
pub(crate) struct List {
    head: u32,
    tail: u32,
}

impl List {
    pub(crate) const EMPTY: List = List {
        head: NIL,
        tail: NIL,
    };

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head == NIL
    }

    /// Appends the entry at `index` (not in any list) to the back.
    #[inline]
    pub(crate) fn push_back<T>(&mut self, slab: &mut Slab<T>, index: u32) {
        let tail = self.tail;
        let entry = slab.at_mut(index);
        entry.prev = tail;
        entry.next = NIL;
        if tail == NIL {
            self.head = index;
        } else {
            slab.at_mut(tail).next = index;
        }
        self.tail = index;
    }

    /// Removes the entry at `index`, which must be in this list.
    #[inline]
    pub(crate) fn unlink<T>(&mut self, slab: &mut Slab<T>, index: u32) {
        let entry = slab.at(index);
        let (prev, next) = (entry.prev, entry.next);
        if prev == NIL {
            self.head = next;
        } else {
            slab.at_mut(prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            slab.at_mut(next).prev = prev;
        }
    }

    /// Removes and returns the front entry.
    #[inline]
    pub(crate) fn pop_front<T>(&mut self, slab: &mut Slab<T>) -> Option<u32> {
        let head = self.head;
        if head == NIL {
            return None;
        }
        self.unlink(slab, head);
        Some(head)
    }

    /// Empties the list and returns the index of its first entry (or [`NIL`]); the caller walks
    /// the detached chain through `next`, reading each link before relinking that entry.
    #[inline]
    pub(crate) fn take(&mut self) -> u32 {
        let head = self.head;
        *self = List::EMPTY;
        head
    }
}
