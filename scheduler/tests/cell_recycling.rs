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

use futures::channel::oneshot;
use futures::FutureExt;

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

fn runtime() -> nursery_runtime::Runtime {
    nursery_runtime::Runtime::builder()
        .worker_threads(2)
        .build()
        .expect("a runtime")
}

/// Spawns `SPAWNS` detached tasks from the `block_on` thread, all alive at once (they wait for
/// a gate opened after the last spawn), and waits until every one ran; returns the allocations
/// made meanwhile, by every thread.
fn round(rt: &nursery_runtime::Runtime) -> usize {
    let (tx, rx) = mpsc::channel::<()>();
    let (open, gate) = oneshot::channel::<()>();
    let gate = gate.shared();
    let before = ALLOCATIONS.load(Relaxed);
    rt.block_on(async {
        for _ in 0..SPAWNS {
            let tx = tx.clone();
            let gate = gate.clone();
            drop(nursery_runtime::spawn(async move {
                let _ = gate.await;
                let _ = tx.send(());
            }));
        }
        open.send(()).expect("the tasks hold the gate");
        for _ in 0..SPAWNS {
            rx.recv().expect("every task signals");
        }
    });
    ALLOCATIONS.load(Relaxed) - before
}

#[test]
fn cells_of_tasks_spawned_from_outside_are_reused_and_leave_with_the_last_runtime() {
    assert_eq!(
        pooled_task_cell_bytes(),
        0,
        "no runtime yet, so nothing pooled"
    );
    // Keeps the pool in use while the first runtime goes.
    let keeper = runtime();

    let first_rt = runtime();
    let first = round(&first_rt);
    assert!(
        first >= SPAWNS,
        "{SPAWNS} live tasks need as many cells: {first} allocations"
    );
    // Dropping a runtime waits for its tasks and joins its workers, whose thread exit hands
    // their cached cells to the pool: every cell of the first round is now in the pool or in
    // this thread's cache.
    drop(first_rt);
    assert!(pooled_task_cell_bytes() > 0);

    let second = round(&keeper);
    assert!(
        second < SPAWNS / 4,
        "the second round should take its cells from the pool: {second} allocations for \
         {SPAWNS} spawns (the first round made {first})"
    );

    drop(keeper);
    assert_eq!(
        pooled_task_cell_bytes(),
        0,
        "the last runtime's drop empties the pool"
    );
}
