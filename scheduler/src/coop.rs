//! Cooperative budget: a task may make this many steps in one poll before the resources it
//! polls (join handles, timers, sockets) start returning `Pending` and yield it to the others.

use std::cell::Cell;
use std::future::poll_fn;
use std::task::{Context, Poll};

/// Steps a task may take in one poll.
pub const BUDGET: u8 = 128;

thread_local! {
    /// `None` outside a worker's poll: unconstrained.
    static REMAINING: Cell<Option<u8>> = const { Cell::new(None) };
}

/// Restores the previous budget when dropped.
pub struct BudgetGuard {
    previous: Option<u8>,
}

impl Drop for BudgetGuard {
    fn drop(&mut self) {
        REMAINING.with(|r| r.set(self.previous));
    }
}

pub(crate) fn reset_budget() -> BudgetGuard {
    BudgetGuard {
        previous: REMAINING.with(|r| r.replace(Some(BUDGET))),
    }
}

/// Spends one unit of the current task's budget. When none is left, wakes the task and returns
/// `Pending`, so a task that only ever finds ready resources still lets others run.
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    REMAINING.with(|r| match r.get() {
        None => Poll::Ready(()),
        Some(0) => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        Some(n) => {
            r.set(Some(n - 1));
            Poll::Ready(())
        }
    })
}

/// Spends one unit of budget, yielding to other tasks if the budget is exhausted.
pub async fn consume_budget() {
    poll_fn(poll_proceed).await
}
