//! Recycled task cells for tasks spawned from outside the workers: such a cell is freed by a
//! worker into that thread's small cache, goes in batches through a pool shared by all threads,
//! and the next spawn of that size from outside the workers takes it back without calling the
//! allocator.
//!
//! Why: a task spawned by a thread that is not a worker (a `block_on` body, a plain thread's
//! `Handle::spawn`) is always freed by another thread, a worker. glibc's `free` returns a chunk
//! to the arena of the thread that allocated it, under that arena's lock, so a thread spawning
//! thousands of short tasks fights the workers that free them for its own arena's lock: in
//! `spawn_many_local` (10,000 spawns from a `block_on` body) that lock, its futex sleeps and
//! wake-ups and the allocator itself took about 40 % of the process's CPU. Here cells cross
//! threads in batches of [`BATCH`], under one short lock per batch.
//!
//! Tasks spawned by a worker are mostly freed by the same worker, where the allocator's own
//! thread cache is fast; recycling those as well measured 35 % slower in `spawn_recursively`
//! (90,000 nested tasks: every pooled cell comes back cold, and the heap the allocator keeps for
//! everything else fragments), so they use the allocator directly.
//!
//! Bounds: a thread caches at most `2 × BATCH` cells per size class; the shared pool holds at
//! most [`MAX_POOLED_BYTES`]; cells above [`MAX_SIZE`] bytes or aligned above [`ALIGN`] are never
//! recycled. The pool lives only while a scheduler does: when the last one is dropped the pool is
//! emptied, and until the next one exists every batch is freed at once (a `JoinHandle` may
//! outlive its runtime). A thread's own cache is freed when the thread exits.
//!
//! Under `--cfg loom`, and with `--cfg nursery_no_cell_cache` (for valgrind runs that should see
//! every cell's own allocation), no cell is recycled; the pool itself is model-checked in
//! `recycle/loom_models.rs`.

// Without the cache (loom, or `nursery_no_cell_cache`) only the pool and its models use these.
#![cfg_attr(any(loom, nursery_no_cell_cache), allow(dead_code))]

use std::alloc::Layout;
use std::ptr::{self, NonNull};

use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use crate::sync::Mutex;

/// Size classes are this many bytes apart (malloc's own granularity).
const STEP: usize = 16;
/// The largest cell that is recycled.
pub(crate) const MAX_SIZE: usize = 1024;
/// The alignment every recycled cell is allocated with (what `malloc` gives anyway).
pub(crate) const ALIGN: usize = 16;
const CLASSES: usize = MAX_SIZE / STEP;
/// Cells handed between a thread's cache and the pool at once.
pub(crate) const BATCH: usize = 32;
/// The most the shared pool keeps; batches beyond it are freed.
pub(crate) const MAX_POOLED_BYTES: usize = 8 << 20;

/// The smallest cell a class holds: a free cell must have room for its links.
const MIN_SIZE: usize = std::mem::size_of::<FreeCell>();

/// The size class of a layout, if cells of it are recycled. (Task cells start at the header's
/// 192 bytes; the smallest classes only matter to the tests.)
pub(crate) fn class_of(layout: Layout) -> Option<usize> {
    (layout.size() <= MAX_SIZE && layout.align() <= ALIGN)
        .then(|| (layout.size().max(MIN_SIZE) - 1) / STEP)
}

/// What every cell of a class is really allocated as.
pub(crate) fn class_layout(class: usize) -> Layout {
    // Cannot fail: a multiple of 16 no larger than 1024, with a power-of-two alignment.
    Layout::from_size_align((class + 1) * STEP, ALIGN).expect("a valid size class")
}

/// A free cell's first bytes: the free lists are threaded through the cells themselves.
#[repr(C)]
pub(crate) struct FreeCell {
    /// The next cell of this list.
    next: *mut FreeCell,
    /// In the pool, on the first cell of a batch: the next batch.
    next_batch: *mut FreeCell,
    /// In the pool, on the first cell of a batch: its length.
    len: usize,
}

/// A list of free cells of one class.
#[derive(Clone, Copy)]
pub(crate) struct FreeList {
    head: *mut FreeCell,
    len: usize,
}

impl FreeList {
    pub(crate) const EMPTY: FreeList = FreeList {
        head: ptr::null_mut(),
        len: 0,
    };

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// # Safety
    /// `cell` is an unused allocation of `class_layout(c)` for this list's class `c`, and now
    /// belongs to the list.
    pub(crate) unsafe fn push(&mut self, cell: NonNull<u8>) {
        let cell = cell.cast::<FreeCell>().as_ptr();
        // SAFETY: every class is at least `size_of::<FreeCell>()` bytes and 16-aligned, and the
        // caller gave us the allocation.
        unsafe { ptr::addr_of_mut!((*cell).next).write(self.head) };
        self.head = cell;
        self.len += 1;
    }

    pub(crate) fn pop(&mut self) -> Option<NonNull<u8>> {
        let cell = NonNull::new(self.head)?;
        // SAFETY: cells on the list were written by `push`, and only the list's owner reads them.
        self.head = unsafe { ptr::addr_of!((*cell.as_ptr()).next).read() };
        self.len -= 1;
        Some(cell.cast())
    }

    /// A list of `n` fresh cells of `class`, for the pool's tests and loom models.
    #[cfg(test)]
    pub(crate) fn fresh(class: usize, n: usize) -> FreeList {
        let mut list = FreeList::EMPTY;
        for _ in 0..n {
            // SAFETY: a fresh allocation of the class's layout.
            unsafe { list.push(system::alloc(class_layout(class))) };
        }
        list
    }

    /// Frees every cell on the list.
    ///
    /// # Safety
    /// The list holds cells of `class`.
    pub(crate) unsafe fn free_all(mut self, class: usize) {
        while let Some(cell) = self.pop() {
            // SAFETY: the caller says the cells are of `class`; they are unused.
            unsafe { system::free(cell, class_layout(class)) };
        }
    }
}

struct Stack {
    /// The first cell of the top batch.
    top: *mut FreeCell,
    bytes: usize,
}

// SAFETY: the cells on the stack are unused allocations owned by whoever holds the mutex.
unsafe impl Send for Stack {}

/// The pool shared by all threads: one stack of batches per size class.
pub(crate) struct Pool {
    classes: [Mutex<Stack>; CLASSES],
    /// Per class, whether its stack holds a batch: read without the lock, so that a spawner
    /// finding the pool empty (the usual case while a program grows) takes no lock.
    stocked: [AtomicBool; CLASSES],
    /// The schedulers alive; at zero the pool keeps nothing.
    users: AtomicUsize,
    /// Bytes held, over all classes (a soft bound: read and updated without a common lock).
    bytes: AtomicUsize,
}

impl Pool {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Pool {
        Pool {
            classes: [const {
                Mutex::new(Stack {
                    top: ptr::null_mut(),
                    bytes: 0,
                })
            }; CLASSES],
            stocked: [const { AtomicBool::new(false) }; CLASSES],
            users: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> Pool {
        Pool {
            classes: std::array::from_fn(|_| {
                Mutex::new(Stack {
                    top: ptr::null_mut(),
                    bytes: 0,
                })
            }),
            stocked: std::array::from_fn(|_| AtomicBool::new(false)),
            users: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
        }
    }

    /// Registers a scheduler: the pool keeps batches while at least one is registered.
    pub(crate) fn add_user(&self) {
        self.users.fetch_add(1, Relaxed);
    }

    /// Unregisters a scheduler; the last one out empties the pool (and returns true).
    pub(crate) fn remove_user(&self) -> bool {
        // The decrement is ordered before the locks below, and `put` reads `users` under the
        // same lock: a batch put after a class was emptied here sees zero and is freed.
        if self.users.fetch_sub(1, Relaxed) != 1 {
            return false;
        }
        for class in 0..CLASSES {
            let taken = {
                let mut stack = self.classes[class].lock();
                self.stocked[class].store(false, Relaxed);
                self.bytes.fetch_sub(stack.bytes, Relaxed);
                stack.bytes = 0;
                std::mem::replace(&mut stack.top, ptr::null_mut())
            };
            let mut batch = taken;
            while !batch.is_null() {
                // SAFETY: batch heads were written by `put`, and the batches are ours now.
                let (next_batch, len) = unsafe { ((*batch).next_batch, (*batch).len) };
                // SAFETY: a batch of `class` taken off the stack.
                unsafe { FreeList { head: batch, len }.free_all(class) };
                batch = next_batch;
            }
        }
        true
    }

    /// Gives a batch of `class` cells to the pool, or frees it if the pool has no user or is
    /// full.
    ///
    /// # Safety
    /// The list holds unused cells of `class`.
    pub(crate) unsafe fn put(&self, class: usize, list: FreeList) {
        let Some(head) = NonNull::new(list.head) else {
            return;
        };
        let bytes = list.len * class_layout(class).size();
        {
            let mut stack = self.classes[class].lock();
            let room = self.bytes.load(Relaxed) + bytes <= MAX_POOLED_BYTES;
            if self.users.load(Relaxed) > 0 && room {
                let head = head.as_ptr();
                // SAFETY: the head is an unused cell of the batch, at least 24 bytes.
                unsafe {
                    (*head).next_batch = stack.top;
                    (*head).len = list.len;
                }
                stack.top = head;
                self.stocked[class].store(true, Relaxed);
                stack.bytes += bytes;
                self.bytes.fetch_add(bytes, Relaxed);
                return;
            }
        }
        // SAFETY: the caller's cells, of `class`.
        unsafe { list.free_all(class) };
    }

    /// Takes a batch of `class` cells, if the pool has one.
    pub(crate) fn take(&self, class: usize) -> Option<FreeList> {
        // A stale answer only costs a lock, or a batch taken at the next miss instead of now.
        if !self.stocked[class].load(Relaxed) {
            return None;
        }
        let mut stack = self.classes[class].lock();
        let head = NonNull::new(stack.top)?.as_ptr();
        // SAFETY: the top batch's head was written by `put`; under the lock it is ours.
        let (next_batch, len) = unsafe { ((*head).next_batch, (*head).len) };
        stack.top = next_batch;
        self.stocked[class].store(!next_batch.is_null(), Relaxed);
        let bytes = len * class_layout(class).size();
        stack.bytes -= bytes;
        self.bytes.fetch_sub(bytes, Relaxed);
        Some(FreeList { head, len })
    }

    /// The bytes the pool holds now.
    pub(crate) fn pooled_bytes(&self) -> usize {
        self.bytes.load(Relaxed)
    }
}

/// The allocator underneath: loom's under `--cfg loom`, so its models check for leaks.
pub(crate) mod system {
    use std::alloc::Layout;
    use std::ptr::NonNull;

    pub(crate) fn alloc(layout: Layout) -> NonNull<u8> {
        #[cfg(not(loom))]
        // SAFETY: every layout passed here has a non-zero size (cells hold a header).
        let ptr = unsafe { std::alloc::alloc(layout) };
        #[cfg(loom)]
        // SAFETY: as above.
        let ptr = unsafe { loom::alloc::alloc(layout) };
        NonNull::new(ptr).unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
    }

    /// # Safety
    /// `ptr` was returned by [`alloc`] with `layout` and is no longer used.
    pub(crate) unsafe fn free(ptr: NonNull<u8>, layout: Layout) {
        #[cfg(not(loom))]
        // SAFETY: the caller's guarantee.
        unsafe {
            std::alloc::dealloc(ptr.as_ptr(), layout)
        };
        #[cfg(loom)]
        // SAFETY: the caller's guarantee.
        unsafe {
            loom::alloc::dealloc(ptr.as_ptr(), layout)
        };
    }
}

#[cfg(not(any(loom, nursery_no_cell_cache)))]
mod cache {
    use std::cell::Cell;
    use std::ptr::NonNull;

    use super::{FreeList, Pool, BATCH, CLASSES};
    use crate::sync::thread_local;

    pub(super) static POOL: Pool = Pool::new();

    /// One thread's cells: per class, a list being used and at most one full spare batch.
    pub(super) struct Local {
        hot: [Cell<FreeList>; CLASSES],
        spare: [Cell<FreeList>; CLASSES],
    }

    thread_local! {
        pub(super) static LOCAL: Local = const {
            Local {
                hot: [const { Cell::new(FreeList::EMPTY) }; CLASSES],
                spare: [const { Cell::new(FreeList::EMPTY) }; CLASSES],
            }
        };
    }

    impl Local {
        pub(super) fn pop(&self, class: usize) -> Option<NonNull<u8>> {
            let mut hot = self.hot[class].get();
            if hot.len() == 0 {
                hot = match self.spare[class].replace(FreeList::EMPTY) {
                    spare if spare.len() > 0 => spare,
                    _ => POOL.take(class)?,
                };
            }
            let cell = hot.pop();
            self.hot[class].set(hot);
            cell
        }

        /// # Safety
        /// `cell` is an unused cell of `class`.
        pub(super) unsafe fn push(&self, class: usize, cell: NonNull<u8>) {
            let mut hot = self.hot[class].get();
            if hot.len() == BATCH {
                let full = self.spare[class].replace(hot);
                // SAFETY: cells on our lists are unused cells of `class`.
                unsafe { POOL.put(class, full) };
                hot = FreeList::EMPTY;
            }
            // SAFETY: the caller's guarantee.
            unsafe { hot.push(cell) };
            self.hot[class].set(hot);
        }
    }

    impl Drop for Local {
        fn drop(&mut self) {
            self.flush();
        }
    }

    impl Local {
        /// Gives every cell of this thread to the pool (which frees them if it has no user).
        pub(super) fn flush(&self) {
            for class in 0..CLASSES {
                // SAFETY: cells on our lists are unused cells of `class`.
                unsafe {
                    POOL.put(class, self.hot[class].replace(FreeList::EMPTY));
                    POOL.put(class, self.spare[class].replace(FreeList::EMPTY));
                }
            }
        }
    }
}

/// Memory for a task cell, and whether it is to be recycled when freed.
pub(crate) struct CellMemory {
    pub(crate) ptr: NonNull<u8>,
    pub(crate) recycled: bool,
}

/// Allocates memory for a task cell of `layout`: a recycled cell if the caller is not a worker
/// and the layout has a size class.
pub(crate) fn alloc(layout: Layout) -> CellMemory {
    #[cfg(not(any(loom, nursery_no_cell_cache)))]
    if let Some(class) = class_of(layout).filter(|_| !crate::current_node::is_worker_thread()) {
        let cached = cache::LOCAL
            .try_with(|local| local.pop(class))
            .ok()
            .flatten();
        return CellMemory {
            ptr: cached.unwrap_or_else(|| system::alloc(class_layout(class))),
            recycled: true,
        };
    }
    CellMemory {
        ptr: system::alloc(layout),
        recycled: false,
    }
}

/// Frees a task cell's memory.
///
/// # Safety
/// `alloc(layout)` returned `ptr` with `recycled`, and nothing uses it any more.
pub(crate) unsafe fn free(ptr: NonNull<u8>, layout: Layout, recycled: bool) {
    #[cfg(not(any(loom, nursery_no_cell_cache)))]
    if recycled {
        let class = class_of(layout).expect("a recycled cell has a size class");
        // SAFETY: `alloc` gave out a cell of this class.
        let cached = cache::LOCAL.try_with(|local| unsafe { local.push(class, ptr) });
        if cached.is_err() {
            // This thread's cache is already gone (a cell freed by another thread-local's
            // destructor).
            // SAFETY: as above.
            unsafe { system::free(ptr, class_layout(class)) };
        }
        return;
    }
    debug_assert!(!recycled, "no cell is recycled in this build");
    // SAFETY: the caller's guarantee: not recycled, so allocated with `layout` itself.
    unsafe { system::free(ptr, layout) }
}

/// Keeps the shared pool in use while a scheduler lives.
pub(crate) struct PoolUser(());

impl PoolUser {
    pub(crate) fn register() -> PoolUser {
        #[cfg(not(any(loom, nursery_no_cell_cache)))]
        cache::POOL.add_user();
        PoolUser(())
    }
}

impl Drop for PoolUser {
    fn drop(&mut self) {
        #[cfg(not(any(loom, nursery_no_cell_cache)))]
        if cache::POOL.remove_user() {
            // The last scheduler is usually dropped by the thread that dropped its runtime,
            // often the one that spawned from outside (a `block_on` body): its cached cells go
            // now rather than when the thread exits. Other threads keep theirs until they exit.
            let _ = cache::LOCAL.try_with(|local| local.flush());
        }
    }
}

/// The bytes the shared pool holds now (for tests).
pub(crate) fn pooled_bytes() -> usize {
    #[cfg(not(any(loom, nursery_no_cell_cache)))]
    return cache::POOL.pooled_bytes();
    #[cfg(any(loom, nursery_no_cell_cache))]
    0
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn size_classes_cover_every_size_up_to_the_limit_and_no_more() {
        assert_eq!(
            class_of(layout(1, 1)),
            Some(1),
            "no class is smaller than a free cell"
        );
        assert_eq!(class_of(layout(2 * STEP, 8)), Some(1));
        assert_eq!(class_of(layout(2 * STEP + 1, 8)), Some(2));
        assert_eq!(class_of(layout(MAX_SIZE, 16)), Some(CLASSES - 1));
        assert_eq!(class_of(layout(MAX_SIZE + 1, 8)), None);
        assert_eq!(
            class_of(layout(64, 32)),
            None,
            "over-aligned cells are not recycled"
        );
        for size in 1..=MAX_SIZE {
            let class = class_of(layout(size, 8)).unwrap();
            let class_size = class_layout(class).size();
            assert!(class_size >= size, "class {class} too small for {size}");
            assert!(
                class_size >= MIN_SIZE,
                "class {class} cannot hold a free cell's links"
            );
            assert!(class_size < size.max(MIN_SIZE) + STEP);
        }
    }

    #[test]
    fn the_pool_hands_back_the_batches_it_was_given_and_counts_their_bytes() {
        let pool = Pool::new();
        pool.add_user();
        // SAFETY: fresh cells of class 5.
        unsafe { pool.put(5, FreeList::fresh(5, BATCH)) };
        // SAFETY: as above.
        unsafe { pool.put(5, FreeList::fresh(5, 3)) };
        assert_eq!(pool.pooled_bytes(), (BATCH + 3) * class_layout(5).size());
        assert!(pool.take(4).is_none(), "classes are kept apart");
        let last_in = pool.take(5).expect("a batch");
        assert_eq!(last_in.len(), 3);
        let first_in = pool.take(5).expect("a batch");
        assert_eq!(first_in.len(), BATCH);
        assert!(pool.take(5).is_none());
        assert_eq!(pool.pooled_bytes(), 0);
        // SAFETY: the cells are ours again.
        unsafe {
            last_in.free_all(5);
            first_in.free_all(5);
        }
        pool.remove_user();
    }

    #[test]
    fn the_pool_keeps_no_more_than_its_bound() {
        let pool = Pool::new();
        pool.add_user();
        let class = CLASSES - 1;
        let batch_bytes = BATCH * class_layout(class).size();
        for _ in 0..MAX_POOLED_BYTES / batch_bytes + 5 {
            // SAFETY: fresh cells of `class`.
            unsafe { pool.put(class, FreeList::fresh(class, BATCH)) };
        }
        assert!(pool.pooled_bytes() <= MAX_POOLED_BYTES);
        assert!(
            pool.pooled_bytes() + batch_bytes > MAX_POOLED_BYTES,
            "it fills up to the bound"
        );
        pool.remove_user();
    }

    #[test]
    fn the_last_user_out_empties_the_pool_and_later_batches_are_freed_at_once() {
        let pool = Pool::new();
        pool.add_user();
        pool.add_user();
        // SAFETY: fresh cells.
        unsafe { pool.put(1, FreeList::fresh(1, BATCH)) };
        pool.remove_user();
        assert_eq!(
            pool.pooled_bytes(),
            BATCH * class_layout(1).size(),
            "one user is still there"
        );
        pool.remove_user();
        assert_eq!(pool.pooled_bytes(), 0);
        assert!(pool.take(1).is_none());
        // SAFETY: fresh cells.
        unsafe { pool.put(1, FreeList::fresh(1, BATCH)) };
        assert_eq!(
            pool.pooled_bytes(),
            0,
            "without a user the pool keeps nothing"
        );
    }
}

#[cfg(all(test, loom))]
mod loom_models;
