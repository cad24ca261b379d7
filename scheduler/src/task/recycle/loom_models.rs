//! Loom models of the pool of recycled task cells (`task/recycle.rs`): batches handed between
//! threads arrive whole, and a batch given back while the last scheduler is being dropped is
//! never stranded in the pool. Cells are allocated with `loom::alloc`, so a cell that is neither
//! reused nor freed at the end of an execution fails the model as a leak.
//!
//! `scripts/loom.sh task::recycle`.

use loom::sync::Arc;

use super::{FreeList, Pool};
use crate::sync::model;

/// A pool with one user (a live scheduler).
fn used_pool() -> Arc<Pool> {
    let pool = Arc::new(Pool::new());
    pool.add_user();
    pool
}

/// Another thread gives the pool a batch of `n` fresh cells of `class`.
fn give_from_another_thread(
    pool: &Arc<Pool>,
    class: usize,
    n: usize,
) -> loom::thread::JoinHandle<()> {
    let pool = pool.clone();
    loom::thread::spawn(move || {
        // SAFETY: fresh cells of `class`.
        unsafe { pool.put(class, FreeList::fresh(class, n)) };
    })
}

#[test]
fn a_batch_given_by_one_thread_is_taken_whole_by_another() {
    model(2, || {
        let pool = used_pool();
        let giver = give_from_another_thread(&pool, 3, 2);
        let taken = pool.take(3);
        giver.join().unwrap();
        let batch = taken.or_else(|| pool.take(3)).expect("the batch is there");
        assert_eq!(batch.len(), 2);
        assert!(pool.take(3).is_none());
        // SAFETY: the cells are ours.
        unsafe { batch.free_all(3) };
        pool.remove_user();
    });
}

#[test]
fn a_batch_given_back_while_the_last_user_leaves_is_freed_not_stranded() {
    model(2, || {
        let pool = used_pool();
        let giver = give_from_another_thread(&pool, 1, 1);
        // The last scheduler is dropped while a worker frees its last cells: either the batch is
        // in the pool in time to be emptied with it, or `put` sees no user and frees it. Loom
        // reports a leak if neither happens.
        pool.remove_user();
        giver.join().unwrap();
        assert_eq!(pool.pooled_bytes(), 0);
        assert!(
            pool.take(1).is_none(),
            "nothing may stay pooled without a user"
        );
    });
}
