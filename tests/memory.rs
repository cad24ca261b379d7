//! R7: memory follows live tasks: finished children whose handles were dropped are freed at once.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::SeqCst};

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, SeqCst);
        // SAFETY: same layout contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, SeqCst);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn a_parent_spawning_many_short_children_holds_memory_for_live_ones_only() {
    let rt = support::runtime(2);
    let (growth, spawned) = rt.block_on(async {
        const CHILDREN: usize = 200_000;
        // Warm up queues and allocator caches.
        for _ in 0..1000 {
            nursery::spawn(async {});
        }
        nursery::task::yield_now().await;
        let before = LIVE_BYTES.load(SeqCst);
        let mut in_flight = Vec::new();
        for i in 0..CHILDREN {
            let (tx, rx) = futures::channel::oneshot::channel::<()>();
            nursery::spawn(async move {
                let _ = tx.send(());
            }); // handle dropped at once
            in_flight.push(rx);
            if i % 100 == 99 {
                for rx in in_flight.drain(..) {
                    rx.await.unwrap();
                }
            }
        }
        // Let the last children finish completing.
        for _ in 0..100 {
            nursery::task::yield_now().await;
        }
        (LIVE_BYTES.load(SeqCst) - before, CHILDREN)
    });
    // A task cell is a few hundred bytes: holding every finished child would be ~50 MB.
    assert!(
        growth < 2 * 1024 * 1024,
        "memory grew by {growth} bytes over {spawned} finished children"
    );
}
