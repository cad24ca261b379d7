//! Task cells of tasks spawned from outside the workers are recycled (`task/recycle.rs`): the
//! workers that free them hand them back through the shared pool, a second round of spawns
//! allocates (almost) nothing, and the pool is emptied when the last runtime is dropped.
//!
//! One test in its own binary: the pool is shared by every runtime of the process, and the
//! counting allocator below sees every thread.
#![cfg(not(any(loom, nursery_no_cell_cache)))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nursery_scheduler::pooled_task_cell_bytes;

/// Counts allocations, on every thread.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        // SAFETY: the caller's guarantees are the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SPAWNS: usize = 2_000;

/// Spawns `SPAWNS` detached tasks from the `block_on` thread and waits until every one ran;
/// returns the allocations made meanwhile, by every thread.
fn round(rt: &nursery_runtime::Runtime) -> usize {
    let (tx, rx) = mpsc::channel::<()>();
    let before = ALLOCATIONS.load(Relaxed);
    rt.block_on(async {
        for _ in 0..SPAWNS {
            let tx = tx.clone();
            drop(nursery_runtime::spawn(async move {
                let _ = tx.send(());
            }));
        }
        for _ in 0..SPAWNS {
            rx.recv().expect("every task signals");
        }
    });
    ALLOCATIONS.load(Relaxed) - before
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn cells_of_tasks_spawned_from_outside_are_reused_and_leave_with_the_last_runtime() {
    assert_eq!(
        pooled_task_cell_bytes(),
        0,
        "no runtime yet, so nothing pooled"
    );
    let rt = nursery_runtime::Runtime::builder()
        .worker_threads(2)
        .build()
        .expect("a runtime");

    // Cells already come back during the first round (the workers free them while the body
    // spawns); what matters is that the pool holds enough of them afterwards.
    let first = round(&rt);
    // The block_on body returned once every task signalled; the workers free the cells right
    // after, into their caches and, beyond two batches per thread, into the pool.
    wait_until("the workers' freed cells reach the pool", || {
        pooled_task_cell_bytes() > 0
    });

    let second = round(&rt);
    assert!(
        second < SPAWNS / 4,
        "the second round should take its cells from the pool: {second} allocations for \
         {SPAWNS} spawns (the first round made {first})"
    );

    drop(rt);
    wait_until("the last runtime's drop empties the pool", || {
        pooled_task_cell_bytes() == 0
    });
}
