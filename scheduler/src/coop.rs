//! Cooperative budget: a task may make this many steps in one poll before the resources it
//! polls (join handles, timers, sockets) start returning `Pending` and yield it to the others.
//!
//! ```
//! use nursery_scheduler::coop::{consume_budget, BUDGET};
//!
//! let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
//! let sum = rt.block_on(async {
//!     nursery_runtime::spawn(async {
//!         let mut sum = 0u64;
//!         for i in 0..10 * u64::from(BUDGET) {
//!             sum += i;
//!             consume_budget().await; // yields about every BUDGET steps
//!         }
//!         sum
//!     })
//!     .await
//!     .unwrap()
//! });
//! assert_eq!(sum, 1280 * 1279 / 2);
//! ```

use std::cell::Cell;
use std::future::poll_fn;
use std::task::{Context, Poll};

use crate::sync::thread_local;

/// Steps a task may take in one poll.
///
/// ```
/// use std::future::poll_fn;
/// use std::task::Poll;
/// use nursery_scheduler::coop::{poll_proceed, BUDGET};
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// let steps = rt.block_on(async {
///     let count_steps = poll_fn(|cx| {
///         let mut steps = 0;
///         while poll_proceed(cx).is_ready() {
///             steps += 1;
///         }
///         Poll::Ready(steps)
///     });
///     nursery_runtime::spawn(count_steps).await.unwrap()
/// });
/// assert_eq!(steps, usize::from(BUDGET));
/// ```
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
///
/// ```
/// use std::future::poll_fn;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::task::{ready, Context, Poll};
/// use nursery_scheduler::coop::poll_proceed;
///
/// /// A source that always has the next number ready.
/// struct Numbers(u64);
///
/// impl Numbers {
///     fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<u64> {
///         ready!(poll_proceed(cx)); // out of budget: yield to the other tasks
///         self.0 += 1;
///         Poll::Ready(self.0)
///     }
/// }
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(async {
///     nursery_runtime::spawn(async {
///         let stop = Arc::new(AtomicBool::new(false));
///         let flag = stop.clone();
///         // On the only worker, this sibling runs only if the loop below yields.
///         nursery_runtime::spawn(async move { flag.store(true, Ordering::SeqCst) });
///         let mut numbers = Numbers(0);
///         while !stop.load(Ordering::SeqCst) {
///             poll_fn(|cx| numbers.poll_next(cx)).await;
///         }
///     })
///     .await
///     .unwrap();
/// });
/// ```
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
