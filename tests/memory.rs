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
    // A task cell is a few hundred bytes: holding every finished child would be ~60 MB. What
    // does grow is queue buffers and allocator caches (a few bytes per spawn, seen up to 2.6 MB).
    assert!(
        growth < 8 * 1024 * 1024,
        "memory grew by {growth} bytes over {spawned} finished children"
    );
}

#[test]
fn tasks_that_waited_for_a_shutdown_signal_leave_nothing_behind_when_they_finish() {
    let rt = support::runtime(2);
    let growth = rt.block_on(nursery::scope(|s| async move {
        // Warm up, then measure: each short task waits for the signal or for its own work,
        // whichever comes first (the pattern of a server's connection tasks).
        let run = |n: usize| {
            let s = s.clone();
            async move {
                for _ in 0..n {
                    let signal = s.shutdown_requested();
                    let (tx, rx) = futures::channel::oneshot::channel::<()>();
                    let task = s.spawn(async move {
                        futures::pin_mut!(signal);
                        let work = async { nursery::task::yield_now().await };
                        futures::pin_mut!(work);
                        futures::future::select(signal, work).await;
                        let _ = tx.send(());
                    });
                    rx.await.unwrap();
                    task.await.unwrap();
                }
            }
        };
        run(1000).await;
        let before = LIVE_BYTES.load(SeqCst);
        run(20_000).await;
        LIVE_BYTES.load(SeqCst) - before
    }));
    // A waker left behind per finished task would be tens of bytes each: ~1 MB here.
    assert!(
        growth < 256 * 1024,
        "memory grew by {growth} bytes over 20,000 finished tasks"
    );
}
