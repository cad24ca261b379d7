//! Linearizable stand-ins for crossbeam-deque's `Worker`, `Stealer` and `Injector`, built from
//! loom primitives. The items move under a loom mutex; the emptiness checks the idle handshake
//! relies on read a length published with the orderings crossbeam uses (a `Release` store of
//! the worker's back index, a `SeqCst` CAS of the injector's tail; `Stealer::is_empty` loads
//! with `Acquire` around a `SeqCst` fence, `Injector::is_empty` with `SeqCst`), so loom may
//! show a checker a stale "empty" exactly where crossbeam could.
//!
//! The subset of crossbeam-deque 0.8's API the scheduler may use, with its semantics (FIFO
//! workers; `steal_batch*` moves about half).
//!
//! Compiled under `--cfg loom` only, as `crate::sync::deque`: crossbeam-deque's own atomics are
//! invisible to loom, which would then see no happens-before edge from a push to a pop and report
//! false races on every task handed over through a queue.
#![allow(dead_code)]

use std::collections::VecDeque;

use loom::sync::atomic::{fence, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};

#[must_use]
#[derive(PartialEq, Eq, Debug)]
pub enum Steal<T> {
    Empty,
    Success(T),
    Retry,
}

impl<T> Steal<T> {
    pub fn is_empty(&self) -> bool {
        matches!(self, Steal::Empty)
    }
    pub fn is_success(&self) -> bool {
        matches!(self, Steal::Success(_))
    }
    pub fn is_retry(&self) -> bool {
        matches!(self, Steal::Retry)
    }
    pub fn success(self) -> Option<T> {
        match self {
            Steal::Success(item) => Some(item),
            _ => None,
        }
    }
    pub fn or_else(self, f: impl FnOnce() -> Steal<T>) -> Steal<T> {
        match self {
            Steal::Empty => f(),
            Steal::Success(item) => Steal::Success(item),
            Steal::Retry => match f() {
                Steal::Success(item) => Steal::Success(item),
                _ => Steal::Retry,
            },
        }
    }
}

struct Queue<T> {
    items: Mutex<VecDeque<T>>,
    len: AtomicUsize,
}

impl<T> Queue<T> {
    fn new() -> Queue<T> {
        Queue {
            items: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
        }
    }
    fn push(&self, item: T, order: Ordering) {
        let mut items = self.items.lock().unwrap();
        items.push_back(item);
        self.len.store(items.len(), order);
    }
    fn pop(&self) -> Option<T> {
        let mut items = self.items.lock().unwrap();
        let item = items.pop_front();
        self.len.store(items.len(), Ordering::Release);
        item
    }
    /// Takes about half the items (rounded up, at most `limit`).
    fn take_half(&self, limit: usize) -> Vec<T> {
        let mut items = self.items.lock().unwrap();
        let n = items.len().div_ceil(2).min(limit);
        let taken = items.drain(..n).collect();
        self.len.store(items.len(), Ordering::Release);
        taken
    }
}

fn steal_batch_into<T>(source: &Queue<T>, dest: &Worker<T>, limit: usize) -> Steal<()> {
    // The source's lock is released before the destination's is taken: two workers
    // stealing from each other must not deadlock the model.
    let taken = source.take_half(limit);
    if taken.is_empty() {
        return Steal::Empty;
    }
    for item in taken {
        dest.push(item);
    }
    Steal::Success(())
}

fn steal_batch_and_pop_into<T>(source: &Queue<T>, dest: &Worker<T>, limit: usize) -> Steal<T> {
    let mut taken = source.take_half(limit).into_iter();
    let Some(first) = taken.next() else {
        return Steal::Empty;
    };
    for item in taken {
        dest.push(item);
    }
    Steal::Success(first)
}

pub struct Worker<T>(Arc<Queue<T>>);

impl<T> Worker<T> {
    pub fn new_fifo() -> Worker<T> {
        Worker(Arc::new(Queue::new()))
    }
    pub fn stealer(&self) -> Stealer<T> {
        Stealer(self.0.clone())
    }
    pub fn push(&self, item: T) {
        self.0.push(item, Ordering::Release);
    }
    pub fn pop(&self) -> Option<T> {
        self.0.pop()
    }
    pub fn is_empty(&self) -> bool {
        self.0.len.load(Ordering::Relaxed) == 0
    }
    pub fn len(&self) -> usize {
        self.0.len.load(Ordering::Relaxed)
    }
}

pub struct Stealer<T>(Arc<Queue<T>>);

impl<T> Clone for Stealer<T> {
    fn clone(&self) -> Stealer<T> {
        Stealer(self.0.clone())
    }
}

impl<T> Stealer<T> {
    pub fn is_empty(&self) -> bool {
        fence(Ordering::SeqCst);
        self.0.len.load(Ordering::Acquire) == 0
    }
    pub fn len(&self) -> usize {
        fence(Ordering::SeqCst);
        self.0.len.load(Ordering::Acquire)
    }
    pub fn steal(&self) -> Steal<T> {
        match self.0.pop() {
            Some(item) => Steal::Success(item),
            None => Steal::Empty,
        }
    }
    pub fn steal_batch(&self, dest: &Worker<T>) -> Steal<()> {
        steal_batch_into(&self.0, dest, usize::MAX)
    }
    pub fn steal_batch_with_limit(&self, dest: &Worker<T>, limit: usize) -> Steal<()> {
        steal_batch_into(&self.0, dest, limit)
    }
    pub fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
        steal_batch_and_pop_into(&self.0, dest, usize::MAX)
    }
    pub fn steal_batch_with_limit_and_pop(&self, dest: &Worker<T>, limit: usize) -> Steal<T> {
        steal_batch_and_pop_into(&self.0, dest, limit)
    }
}

pub struct Injector<T>(Queue<T>);

impl<T> Default for Injector<T> {
    fn default() -> Injector<T> {
        Injector::new()
    }
}

impl<T> Injector<T> {
    pub fn new() -> Injector<T> {
        Injector(Queue::new())
    }
    pub fn push(&self, item: T) {
        self.0.push(item, Ordering::SeqCst);
    }
    pub fn is_empty(&self) -> bool {
        self.0.len.load(Ordering::SeqCst) == 0
    }
    pub fn len(&self) -> usize {
        self.0.len.load(Ordering::SeqCst)
    }
    pub fn steal(&self) -> Steal<T> {
        match self.0.pop() {
            Some(item) => Steal::Success(item),
            None => Steal::Empty,
        }
    }
    pub fn steal_batch(&self, dest: &Worker<T>) -> Steal<()> {
        steal_batch_into(&self.0, dest, usize::MAX)
    }
    pub fn steal_batch_with_limit(&self, dest: &Worker<T>, limit: usize) -> Steal<()> {
        steal_batch_into(&self.0, dest, limit)
    }
    pub fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
        steal_batch_and_pop_into(&self.0, dest, usize::MAX)
    }
    pub fn steal_batch_with_limit_and_pop(&self, dest: &Worker<T>, limit: usize) -> Steal<T> {
        steal_batch_and_pop_into(&self.0, dest, limit)
    }
}
