//! Once warm, the wheel's hot paths allocate nothing: insert + remove, and advance firing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use nursery_timer::Wheel;

/// Counts allocations made by the current thread (other test threads do not disturb it).
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds the `GlobalAlloc`
// contract; counting touches only a const-initialised thread-local `Cell`, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `alloc`'s contract, which is `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (every allocation goes there).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `realloc`'s contract, which is `System.realloc`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn insert_and_remove_of_a_fresh_entry_allocate_nothing_once_warm() {
    let mut wheel = Wheel::new();
    // Warm up: grow the storage to the peak number of live entries.
    let warm: Vec<_> = (0..64u64).map(|i| wheel.insert(i * 1_000, i)).collect();
    for key in warm {
        wheel.remove(key);
    }
    let before = allocations();
    for i in 0..25_000u64 {
        // timer_churn's pattern: register a 10 s timer, then cancel it.
        let key = wheel.insert(wheel.now() + 10_000 + i % 7, i);
        assert_eq!(wheel.remove(key), Some(i));
        wheel.advance(wheel.now() + 1, |_, _| unreachable!());
    }
    assert_eq!(allocations() - before, 0);
}

#[test]
fn a_wheel_with_capacity_allocates_nothing_up_to_it() {
    let mut wheel = Wheel::with_capacity(1_000);
    let before = allocations();
    for i in 0..1_000u64 {
        wheel.insert(i * 37, i);
    }
    assert_eq!(allocations() - before, 0);
}

#[test]
fn advance_allocates_nothing_while_cascading_and_firing() {
    let mut wheel = Wheel::with_capacity(10_000);
    for i in 0..10_000u64 {
        // Spread over every level from 1 tick to ~2^44 ticks ahead.
        wheel.insert(1 + (i * i * 2_654_435_761) % (1 << (i % 45)), i);
    }
    let before = allocations();
    let mut fired = 0u64;
    let mut now = 0;
    while let Some(next) = wheel.next_expiration() {
        now = next;
        wheel.advance(now, |_, _| fired += 1);
    }
    wheel.advance(u64::MAX, |_, _| fired += 1);
    assert_eq!(allocations() - before, 0);
    assert_eq!(fired, 10_000);
    assert!(now > 0);
}

#[test]
fn the_counter_sees_an_allocation() {
    let before = allocations();
    let boxed = std::hint::black_box(Box::new(7u64));
    assert_eq!(allocations() - before, 1);
    drop(boxed);
}
