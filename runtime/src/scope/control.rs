//! The state a scope's handles share with its future: deadline, graceful shutdown, the
//! concurrency limit, and the abort flag of `try_scope`.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use parking_lot::Mutex;

#[derive(Default)]
pub(crate) struct Control {
    state: Mutex<ControlState>,
    /// Set by `try_scope` when the first error arrives: the body must stop.
    aborted: AtomicBool,
}

#[derive(Default)]
struct ControlState {
    deadline: Option<Deadline>,
    shutdown_requested: bool,
    /// One entry per pending `ShutdownRequested` future, removed when it is dropped: a server
    /// whose every connection waits for the signal holds memory for live connections only.
    shutdown_waiters: slab::Slab<Waker>,
    limit: Option<usize>,
    running: usize,
    slot_waiters: VecDeque<Waker>,
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
            state.shutdown_requested = true;
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
            nursery_scheduler::context::wake_guarded(w);
        }
    }

    pub(crate) fn is_shutdown_requested(&self) -> bool {
        self.state.lock().shutdown_requested
    }

    /// Polls for the shutdown request; `key` is the caller's slot among the waiters.
    pub(crate) fn poll_shutdown(&self, key: &mut Option<usize>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.state.lock();
        if state.shutdown_requested {
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
        if !state.shutdown_requested {
            let removed = state.shutdown_waiters.try_remove(key);
            drop(state);
            drop(removed);
        }
    }

    pub(crate) fn set_limit(&self, limit: usize) {
        let waiters = {
            let mut state = self.state.lock();
            state.limit = Some(limit);
            std::mem::take(&mut state.slot_waiters)
        };
        for w in waiters {
            nursery_scheduler::context::wake_guarded(w);
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

    pub(crate) fn poll_acquire(self: &Arc<Self>, cx: &mut Context<'_>) -> Poll<Option<Permit>> {
        let mut state = self.state.lock();
        match state.limit {
            None => Poll::Ready(None),
            Some(limit) if state.running >= limit => {
                state.slot_waiters.push_back(cx.waker().clone());
                Poll::Pending
            }
            Some(_) => {
                state.running += 1;
                Poll::Ready(Some(Permit(self.clone())))
            }
        }
    }
}

/// A child's slot under a concurrency limit; freed when the child's future is dropped
/// (finished or cancelled).
pub(crate) struct Permit(Arc<Control>);

impl Drop for Permit {
    fn drop(&mut self) {
        let waiter = {
            let mut state = self.0.state.lock();
            state.running -= 1;
            state.slot_waiters.pop_front()
        };
        if let Some(w) = waiter {
            nursery_scheduler::context::wake_guarded(w);
        }
    }
}

/// A child future that holds its slot while it lives.
pub(crate) struct Limited<F> {
    pub(crate) future: F,
    pub(crate) _permit: Permit,
}

impl<F: Future> Future for Limited<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned; the permit is never moved out.
        unsafe { self.map_unchecked_mut(|s| &mut s.future) }.poll(cx)
    }
}
