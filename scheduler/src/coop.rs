//! Cooperative budget: a task may make this many steps in one poll before the resources it
//! polls (join handles, timers, sockets) start returning `Pending` and yield it to the others.

use std::cell::Cell;
use std::future::poll_fn;
use std::task::{Context, Poll};

use crate::sync::thread_local;

/// Steps a task may take in one poll.
pub const BUDGET: u8 = 128;

thread_local! {
    /// `None` outside a worker's poll: unconstrained.
    static REMAINING: Cell<Option<u8>> = const { Cell::new(None) };
}

/// Restores the previous budget when dropped.
pub(crate) struct BudgetGuard {
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
///
/// For resources outside the runtime: call it first in `poll`, and return `Pending` with it.
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    REMAINING.with(|r| match r.get() {
        None => Poll::Ready(()),
        Some(0) => {
            crate::worker::count_budget_exhaustion();
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
///
/// For long loops that never wait (they find everything ready): unlike `yield_now`, it yields
/// only once the task has used up its budget.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use nursery_runtime::task::consume_budget;
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(async {
///     nursery_runtime::spawn(async {
///         let stop = Arc::new(AtomicBool::new(false));
///         let flag = stop.clone();
///         // On the only worker, this sibling runs only if the loop below yields.
///         nursery_runtime::spawn(async move { flag.store(true, Ordering::SeqCst) });
///         let mut checked = 0u64;
///         while !stop.load(Ordering::SeqCst) {
///             checked += 1; // some work that never waits
///             consume_budget().await;
///         }
///         assert!(checked > 0);
///     })
///     .await
///     .unwrap();
/// });
/// ```
pub async fn consume_budget() {
    poll_fn(poll_proceed).await
}
