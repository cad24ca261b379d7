//! The state a scope's handles share with its future: deadline, graceful shutdown, the
//! concurrency limit, and the abort flag of `try_scope`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use nursery_scheduler::NodeRef;
use parking_lot::Mutex;
use pin_project_lite::pin_project;

#[derive(Default)]
pub(crate) struct Control {
    state: Mutex<ControlState>,
    /// Set by `try_scope` when the first error arrives: the body must stop.
    aborted: AtomicBool,
    /// Set, under `state`'s lock and before its waiters are taken, when a graceful shutdown is
    /// requested; read without the lock by `is_shutdown_requested` and by a waiting
    /// `ShutdownRequested` (every connection of a server may poll one on every wake-up).
    shutdown_requested: AtomicBool,
    /// Futures the scope's future polls while the scope lives (`Scope::shutdown_on`).
    pub(crate) watchers: super::watchers::Watchers,
    /// The scope's `tracing` span (nothing without the `tracing` feature).
    pub(crate) span: crate::trace::ScopeSpan,
}

#[derive(Default)]
struct ControlState {
    deadline: Option<Deadline>,
    /// One entry per pending `ShutdownRequested` future, removed when it is dropped: a server
    /// whose every connection waits for the signal holds memory for live connections only.
    shutdown_waiters: slab::Slab<Waker>,
    limit: Option<usize>,
    /// Slots taken: by running children, and by waiters handed a slot they have not claimed yet.
    running: usize,
    /// Pending `spawn_wait`s by ticket, oldest first; one entry per waiting future, removed when
    /// it is handed a slot or dropped. A waiter whose ticket is gone was handed a slot.
    slot_waiters: BTreeMap<u64, Waker>,
    next_ticket: u64,
}

impl ControlState {
    /// Hands a free slot, if the limit leaves one, to the oldest waiter: the waiter to wake.
    fn grant_free_slot(&mut self) -> Option<Waker> {
        if self.limit.is_none_or(|limit| self.running >= limit) {
            return None;
        }
        let (_, waker) = self.slot_waiters.pop_first()?;
        self.running += 1;
        Some(waker)
    }

    /// Frees one slot, handing it straight to the oldest waiter if the limit leaves room: the
    /// waiter to wake.
    fn release_slot(&mut self) -> Option<Waker> {
        self.running -= 1;
        self.grant_free_slot()
    }
}

/// When the scope's children (and perhaps its body) are cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Deadline {
    pub(crate) at: Instant,
    /// `move_on_after`/`fail_after` drop the body too; a graceful shutdown's grace period
    /// cancels only the children (the body was asked to finish and returns the output).
    pub(crate) drops_body: bool,
}

impl Control {
    pub(crate) fn with_deadline(deadline: Option<Deadline>) -> Control {
        let control = Control::default();
        control.state.lock().deadline = deadline;
        control
    }

    pub(crate) fn deadline(&self) -> Option<Deadline> {
        self.state.lock().deadline
    }

    /// Sets a deadline, keeping an earlier one (a deadline can only move closer).
    fn tighten_deadline(&self, state: &mut ControlState, deadline: Deadline) {
        state.deadline = Some(match state.deadline {
            Some(d) if d.at <= deadline.at => d,
            _ => deadline,
        });
    }

    pub(crate) fn clear_deadline(&self) {
        self.state.lock().deadline = None;
    }

    pub(crate) fn abort(&self) {
        self.aborted.store(true, Release);
    }

    pub(crate) fn is_aborted(&self) -> bool {
        self.aborted.load(Acquire)
    }

    /// Asks the scope to shut down; children are hard-cancelled at `hard_at`.
    pub(crate) fn request_shutdown(&self, hard_at: Instant) {
        let waiters = {
            let mut state = self.state.lock();
            self.shutdown_requested.store(true, Release);
            self.tighten_deadline(
                &mut state,
                Deadline {
                    at: hard_at,
                    drops_body: false,
                },
            );
            std::mem::take(&mut state.shutdown_waiters)
        };
        for w in waiters.into_iter().map(|(_, w)| w) {
            nursery_scheduler::current_node::wake_guarded(w);
        }
    }

    pub(crate) fn is_shutdown_requested(&self) -> bool {
        self.shutdown_requested.load(Acquire)
    }

    /// Polls for the shutdown request; `key` is the caller's slot among the waiters.
    pub(crate) fn poll_shutdown(&self, key: &mut Option<usize>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.state.lock();
        if self.is_shutdown_requested() {
            // The request drained the waiters: the key is stale, nothing to remove.
            *key = None;
            return Poll::Ready(());
        }
        match key.and_then(|k| state.shutdown_waiters.get_mut(k)) {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            Some(waker) => waker.clone_from(cx.waker()),
            None => *key = Some(state.shutdown_waiters.insert(cx.waker().clone())),
        }
        Poll::Pending
    }

    /// A `ShutdownRequested` future went away before the request.
    pub(crate) fn forget_shutdown_waiter(&self, key: usize) {
        let mut state = self.state.lock();
        // After a request the slab was drained and no key is reused: nothing to remove.
        if !self.is_shutdown_requested() {
            let removed = state.shutdown_waiters.try_remove(key);
            drop(state);
            drop(removed);
        }
    }

    pub(crate) fn set_limit(&self, limit: usize) {
        let woken = {
            let mut state = self.state.lock();
            state.limit = Some(limit);
            std::iter::from_fn(|| state.grant_free_slot()).collect::<Vec<_>>()
        };
        for w in woken {
            nursery_scheduler::current_node::wake_guarded(w);
        }
    }

    pub(crate) fn limit(&self) -> Option<usize> {
        self.state.lock().limit
    }

    /// A slot for a new child: `Ok(None)` when there is no limit, `Err(limit)` when full.
    pub(crate) fn try_acquire(self: &Arc<Self>) -> Result<Option<Permit>, usize> {
        let mut state = self.state.lock();
        match state.limit {
            None => Ok(None),
            Some(limit) if state.running >= limit => Err(limit),
            Some(_) => {
                state.running += 1;
                Ok(Some(Permit(self.clone())))
            }
        }
    }

    /// Polls for a slot; `ticket` is the caller's place among the waiters. Waiters are served
    /// oldest first: a freed slot is handed to the oldest one (removing its ticket), so a
    /// newcomer never takes a slot someone waits for.
    ///
    /// Once the `scope` is cancelled it is ready at once with no slot: the child it is for is
    /// cancelled on arrival and never runs, and a slot it was handed goes to the next waiter.
    pub(crate) fn poll_acquire(
        self: &Arc<Self>,
        ticket: &mut Option<u64>,
        scope: &NodeRef,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Permit>> {
        let mut state = self.state.lock();
        // Read under the lock, which `cancel` takes after cancelling the node: a waiter that
        // queues after this read is woken by it.
        if scope.is_cancelled() {
            drop(state);
            if let Some(t) = ticket.take() {
                self.forget_slot_waiter(t);
            }
            return Poll::Ready(None);
        }
        if let Some(t) = *ticket {
            return match state.slot_waiters.get_mut(&t) {
                Some(waker) => {
                    if !waker.will_wake(cx.waker()) {
                        waker.clone_from(cx.waker());
                    }
                    Poll::Pending
                }
                None => {
                    // Handed a slot by a release or a raised limit; `running` counts it.
                    *ticket = None;
                    Poll::Ready(Some(Permit(self.clone())))
                }
            };
        }
        match state.limit {
            None => Poll::Ready(None),
            // With waiters queued the slots are all taken (a freed one goes to a waiter).
            Some(limit) if state.running >= limit => {
                let t = state.next_ticket;
                state.next_ticket += 1;
                state.slot_waiters.insert(t, cx.waker().clone());
                *ticket = Some(t);
                Poll::Pending
            }
            Some(_) => {
                state.running += 1;
                Poll::Ready(Some(Permit(self.clone())))
            }
        }
    }

    /// A waiting future went away: it leaves the queue, or, if it had been handed a slot, passes
    /// the slot on to the next waiter.
    fn forget_slot_waiter(&self, ticket: u64) {
        let mut state = self.state.lock();
        let (removed, woken) = match state.slot_waiters.remove(&ticket) {
            Some(waker) => (Some(waker), None),
            None => (None, state.release_slot()),
        };
        drop(state);
        drop(removed);
        if let Some(w) = woken {
            nursery_scheduler::current_node::wake_guarded(w);
        }
    }

    /// Cancels the scope (its node, `scope`), then wakes every waiting `spawn_wait` to look
    /// again (and return at once, see `poll_acquire`) instead of waiting for a slot that a
    /// shielded child may hold for long. Every path that cancels the scope itself goes through
    /// here, so that the node is cancelled before the waiters are swept.
    pub(crate) fn cancel(&self, scope: &NodeRef) {
        scope.cancel();
        let waiters: Vec<Waker> = self.state.lock().slot_waiters.values().cloned().collect();
        for w in waiters {
            nursery_scheduler::current_node::wake_guarded(w);
        }
    }

    #[cfg(test)]
    pub(crate) fn slot_waiters(&self) -> usize {
        self.state.lock().slot_waiters.len()
    }
}

/// Waits for a slot under the scope's limit (`Scope::spawn_wait`): `None` when there is no
/// limit. Dropping it before it completes gives up its place, or passes on a slot it was handed.
pub(crate) struct Acquire {
    control: Arc<Control>,
    /// The scope's node: in a cancelled scope no slot is waited for.
    scope: NodeRef,
    ticket: Option<u64>,
}

impl Acquire {
    pub(crate) fn new(control: Arc<Control>, scope: NodeRef) -> Acquire {
        Acquire {
            control,
            scope,
            ticket: None,
        }
    }
}

impl Future for Acquire {
    type Output = Option<Permit>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Permit>> {
        let this = &mut *self;
        let polled = this.control.poll_acquire(&mut this.ticket, &this.scope, cx);
        if polled.is_pending() {
            nursery_scheduler::current_node::record_wait(nursery_scheduler::Wait::Other {
                what: "a free slot under the scope's limit (spawn_wait)",
            });
        }
        polled
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.control.forget_slot_waiter(ticket);
        }
    }
}

/// A child's slot under a concurrency limit; freed when the child's future is dropped
/// (finished or cancelled).
pub(crate) struct Permit(Arc<Control>);

impl Drop for Permit {
    fn drop(&mut self) {
        let waiter = self.0.state.lock().release_slot();
        if let Some(w) = waiter {
            nursery_scheduler::current_node::wake_guarded(w);
        }
    }
}

pin_project! {
    /// A child future that holds its slot while it lives.
    pub(crate) struct Limited<F> {
        #[pin]
        pub(crate) future: F,
        pub(crate) _permit: Permit,
    }
}

impl<F: Future> Future for Limited<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().future.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::future::{poll_fn, Future};
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use crate::task::yield_now;

    fn runtime() -> crate::Runtime {
        crate::Runtime::builder()
            .worker_threads(1)
            .build()
            .expect("runtime")
    }

    #[test]
    fn re_polling_a_waiting_spawn_wait_keeps_one_place_in_the_queue() {
        runtime().block_on(crate::scope(|s| async move {
            s.set_limit(1);
            let busy = s.spawn(std::future::pending::<()>());
            let mut wait = pin!(s.spawn_wait(async { 7 }));
            // A select loop re-polls the waiting future each time another branch fires, from
            // the task or from elsewhere (another waker).
            for i in 0..1000 {
                poll_fn(|cx| {
                    let noop = Context::from_waker(Waker::noop());
                    let mut cx = if i % 2 == 0 {
                        Context::from_waker(cx.waker())
                    } else {
                        noop
                    };
                    assert!(
                        wait.as_mut().poll(&mut cx).is_pending(),
                        "the slot is taken"
                    );
                    Poll::Ready(())
                })
                .await;
                yield_now().await;
            }
            assert_eq!(s.control.slot_waiters(), 1, "one waiting future, one entry");
            busy.cancel();
            let child = wait.await.expect("a slot was freed");
            assert_eq!(child.await.expect("the child ran"), 7);
            assert_eq!(s.control.slot_waiters(), 0);
        }));
    }

    #[test]
    fn a_spawn_wait_dropped_while_waiting_leaves_the_queue() {
        runtime().block_on(crate::scope(|s| async move {
            s.set_limit(1);
            let busy = s.spawn(std::future::pending::<()>());
            for _ in 0..100 {
                let timed_out =
                    crate::time::timeout(std::time::Duration::ZERO, s.spawn_wait(async {})).await;
                assert!(timed_out.is_err(), "the slot is taken");
            }
            assert_eq!(
                s.control.slot_waiters(),
                0,
                "gave-up waiters hold no memory"
            );
            busy.cancel();
        }));
    }
}
