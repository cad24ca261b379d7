//! Queueing a task and waking a worker for it.
//!
//! A task queued on one of this scheduler's own workers goes to that worker's LIFO slot (the task
//! there before moves to the queue); a task that woke itself during its poll (a yield) goes to
//! the back of the queue of the worker that ran it. From anywhere else a task goes to the
//! injector. Then at most one sleeping worker is woken, and only if the task would otherwise
//! wait while nobody searches, and only a push that starts a wait looks; the fences that pair
//! with a parking worker's are on the paths where this worker may not look at its queues again
//! soon (a push during a poll, a push from outside).

use std::cell::Cell;
use std::ptr::NonNull;

use super::{Local, Shared, LOCAL};
use crate::current_node;
use crate::sync::atomic::{fence, Ordering::*};
use crate::sync::Arc;
use crate::task::NodeRef;

impl Shared {
    /// Queues a task. The caller holds a counted reference to the scheduler (a spawn through a
    /// `Scheduler`); wakes go through [`schedule_woken`](Shared::schedule_woken), a yield
    /// through [`requeue_yielded`](Shared::requeue_yielded).
    pub(crate) fn schedule(&self, task: NodeRef) {
        match self.own_worker() {
            Some(local) => self.schedule_local(local, task),
            None => self.inject(task),
        }
    }

    /// Queues a woken task through the uncounted pointer in its header.
    ///
    /// Once the task is in the injector, a worker may run it to completion and the runtime may
    /// be dropped, freeing the scheduler, before this thread's `notify_one` reads it: a wake
    /// from outside the workers holds a count from before the push until after the notify. A
    /// wake on one of this scheduler's own workers needs none (and pays no atomic operation for
    /// it): that worker's loop holds a count for as long as it runs.
    ///
    /// # Safety
    /// `this` is alive when called: the task was just notified while its body was not done, so
    /// it holds its parent's pending slot, and so on up to the root, and the runtime frees its
    /// scheduler only after the root has completed (see `Header::scheduler`).
    pub(crate) unsafe fn schedule_woken(this: NonNull<Shared>, task: NodeRef) {
        // SAFETY: alive now (the caller's guarantee).
        let shared = unsafe { this.as_ref() };
        match shared.own_worker() {
            Some(local) => shared.schedule_local(local, task),
            None => {
                // SAFETY: `this` came from `as_raw` (what `Arc::into_raw` returns), and the
                // scheduler is alive now.
                let alive = unsafe {
                    Arc::increment_strong_count(this.as_ptr());
                    Arc::from_raw(this.as_ptr())
                };
                shared.inject(task);
                // Perhaps the last count: then the scheduler is freed here, after its last use.
                drop(alive);
            }
        }
    }

    /// This thread's worker loop, if it is one of this scheduler's. Its `run` holds a count of
    /// the scheduler, so a caller that got `Some` needs no count of its own.
    pub(super) fn own_worker(&self) -> Option<&Local> {
        let local = LOCAL.with(Cell::get);
        if local.is_null() || current_node::worker_of() != self as *const Shared as usize {
            return None;
        }
        // SAFETY: LOCAL points to the `Local` on this thread's stack while its worker loop
        // runs (it is reset before `run` returns), and we are on that thread, inside that loop.
        Some(unsafe { &*local })
    }

    /// Queues a task on this thread's own worker, in its LIFO slot (the task there before moves
    /// to the queue).
    ///
    /// Then the work-conserving rule: a task that this worker will not run next must not wait
    /// while a peer sleeps. During a poll every queued task waits (the poll may go on for
    /// long); between polls all but the one this worker runs next. If any waits, a sleeping
    /// peer is woken, unless one is already searching: it will find the task, in the queue or,
    /// if the poll that woke it still runs, in the LIFO slot (`LifoSlot::steal`). The searcher
    /// throttles the wake-ups: while it is on its way, further pushes wake nobody.
    ///
    /// Only a push that makes a task wait where none waited (or a backlog where only the LIFO
    /// task waited) looks at the idle state: tasks that already waited had that look when
    /// their wait began, and a peer that parks since then sees them (`Idle::park`'s recheck).
    /// A steal that emptied the queue meanwhile was made by a worker that is awake and will
    /// recheck before it parks. Each look is a fence and a read of a line every parking or
    /// searching worker writes: once per push, they were about a tenth of `spawn_recursively`'s
    /// samples.
    pub(super) fn schedule_local(&self, local: &Local, task: NodeRef) {
        let lifo = &self.lifos[local.index];
        let seq = self.polls[local.index].own_seq();
        // Whether the push put a task in the queue (the LIFO task it displaced).
        let queued_one = match lifo.put(task, seq) {
            Some(previous) => {
                local.queue.push(previous);
                true
            }
            None => false,
        };
        if local.in_park.get() {
            // Woken from inside `park` (I/O, timers): this worker still counts as asleep,
            // and waking a sleeper now could pick this very worker, a wasted wake-up
            // (for the reactor, an eventfd write and an extra epoll_wait). It decides
            // once `park` returns (`share_local_backlog`).
            return;
        }
        let in_poll = seq % 2 == 1;
        let runs_next_here = usize::from(!in_poll);
        let queued = local.queue.len();
        let waiting = queued + usize::from(lifo.is_occupied());
        if waiting > runs_next_here {
            // What waited before this push, derived rather than read before it (one look at
            // the queue's length, none on the `in_park` path). A steal in between makes it an
            // underestimate, which only makes a wake-up check more likely.
            let queued_before = queued.saturating_sub(usize::from(queued_one));
            let waiting_before = waiting.saturating_sub(1);
            // A wait begins: the first task waiting, or a backlog behind the LIFO task.
            let began = waiting_before <= runs_next_here || (queued_before == 0 && queued > 0);
            if began {
                self.notify_for_local_work(in_poll);
            }
        }
    }

    /// Requeues the task this worker just polled, which woke itself during the poll (a yield):
    /// at the back of this worker's queue, behind the others. Called by the worker loop between
    /// polls, never inside `park`, so the rule of [`schedule_local`](Self::schedule_local)
    /// reduces to one case: this worker runs one task next (the LIFO task, or the queue's
    /// head), and a wait begins when the push leaves exactly two tasks here (with one, the
    /// yielder runs next; with more, the wait had begun before and was looked at then).
    #[inline]
    pub(super) fn requeue_yielded(&self, local: &Local, task: NodeRef) {
        local.queue.push(task);
        let waiting = local.queue.len() + usize::from(self.lifos[local.index].is_occupied());
        if waiting == 2 {
            self.notify_for_local_work(false);
        }
    }

    /// Queues a task from outside this scheduler's workers. The caller keeps the scheduler
    /// alive until this returns: once the task is pushed, it may run and complete at once.
    pub(super) fn inject(&self, task: NodeRef) {
        self.injector.push(task);
        if !self.notify_one() {
            self.wake_a_dozer();
        }
    }

    /// A task injected while a searcher dozes (`search::doze`) would wait out the doze: wake
    /// the dozer. After `notify_one`'s fence, so that either this sees the dozer's flag or the
    /// dozer sees the task.
    fn wake_a_dozer(&self) {
        #[cfg(not(loom))]
        if let Some(index) = self.dozing.iter().position(|d| d.load(SeqCst)) {
            self.park.unpark(index);
        }
    }

    /// Between polls (after `park`, at the maintenance tick): wakes a peer if more tasks wait
    /// here than the one this worker runs next.
    pub(super) fn share_local_backlog(&self, local: &Local) {
        let lifo = usize::from(self.lifos[local.index].is_occupied());
        if local.queue.len() + lifo >= 2 {
            self.notify_for_local_work(true);
        }
    }

    /// After a push into this worker's own queue that leaves a task waiting. With `fenced`
    /// (a push during a poll, which may go on for long) the fence pairs with the one of a
    /// parking worker (`Idle::park`, then `work_for_a_parking_worker`): either it sees the
    /// task, or this sees it asleep. Between polls the fence is spared (it was most of the cost
    /// of a `yield_now`): this worker is about to run tasks, and the maintenance tick, fenced,
    /// shares what still waits within 61 polls. Then the plain look at the idle state spares
    /// the lock of [`notify_one`](Self::notify_one) when every worker is awake or one is
    /// already searching: the common case on a busy runtime.
    pub(super) fn notify_for_local_work(&self, fenced: bool) {
        if fenced {
            fence(SeqCst);
        }
        if self.idle.nobody_to_wake_hint() {
            return;
        }
        self.notify_one();
    }

    /// Wakes a sleeping worker to search, unless one is searching or none sleeps. Returns
    /// whether it woke one.
    pub(super) fn notify_one(&self) -> bool {
        match self.idle.worker_to_wake() {
            Some(index) => {
                self.park.unpark(index);
                true
            }
            None => false,
        }
    }

    /// The recheck of a worker that is about to park (after `Idle::park`): work it must not
    /// sleep on. The injector is everyone's; a peer's queue only matters if nobody is searching
    /// — a searcher will steal it otherwise, and this worker (not allowed to search then) would
    /// only spin.
    pub(super) fn work_for_a_parking_worker(&self) -> bool {
        !self.injector.is_empty()
            || (!self.idle.anyone_searching()
                && (0..self.stealers.len()).any(|i| self.has_work_for_a_peer(i)))
    }

    /// Whether worker `index` holds tasks a peer may take: in its queue, or in its LIFO slot
    /// behind the poll that put it there.
    pub(super) fn has_work_for_a_peer(&self, index: usize) -> bool {
        !self.stealers[index].is_empty()
            || self.lifos[index].stuck_behind(|| self.polls[index].seq())
    }
}
