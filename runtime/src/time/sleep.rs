//! `Sleep`: a future that completes at a deadline.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::handle::Handle;
use crate::time::wheels::Slot;

/// Waits until `duration` has elapsed.
///
/// ```
/// use std::time::{Duration, Instant};
/// nursery_runtime::Runtime::new().unwrap().block_on(async {
///     let start = Instant::now();
///     nursery_runtime::time::sleep(Duration::from_millis(5)).await;
///     assert!(start.elapsed() >= Duration::from_millis(5));
/// });
/// ```
///
/// # Panics
/// Outside a runtime.
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    let handle = crate::current_runtime::expect_handle();
    let now = handle.inner.driver.timers.now();
    // A deadline past the end of `Instant` is as good as never.
    let deadline = now.checked_add(duration).unwrap_or_else(|| far_future(now));
    Sleep {
        deadline,
        handle,
        slot: None,
    }
}

/// Waits until `deadline`.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(async {
///     let deadline = Instant::now() + Duration::from_millis(5);
///     nursery_runtime::time::sleep_until(deadline).await;
///     assert!(Instant::now() >= deadline); // never early
/// });
/// ```
///
/// # Panics
/// Outside a runtime.
#[track_caller]
pub fn sleep_until(deadline: impl Into<Instant>) -> Sleep {
    Sleep {
        deadline: deadline.into(),
        handle: crate::current_runtime::expect_handle(),
        slot: None,
    }
}

/// A deadline `now` plus about 30 years: beyond any real wait, well inside `Instant`'s range.
fn far_future(now: Instant) -> Instant {
    now + Duration::from_secs(86_400 * 365 * 30)
}

/// The future of [`sleep`] and [`sleep_until`]. Dropping it cancels the timer.
///
/// It can be kept in a variable and awaited by reference, e.g. to check it before and after:
///
/// ```
/// use std::time::Duration;
/// use nursery_runtime::time::{sleep, Sleep};
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(async {
///     let mut budget: Sleep = sleep(Duration::from_millis(5));
///     assert!(!budget.is_elapsed());
///     (&mut budget).await;
///     assert!(budget.is_elapsed());
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    handle: Handle,
    slot: Option<Slot>,
}

impl Sleep {
    /// The instant at which this sleep completes.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     let deadline = Instant::now() + Duration::from_secs(1);
    ///     assert_eq!(nursery_runtime::time::sleep_until(deadline).deadline(), deadline);
    /// });
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use nursery_runtime::time::sleep;
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     assert!(!sleep(Duration::from_secs(3600)).is_elapsed());
    ///     assert!(sleep(Duration::ZERO).is_elapsed());
    /// });
    /// ```
    pub fn is_elapsed(&self) -> bool {
        self.handle.inner.driver.timers.now() >= self.deadline
    }

    /// Moves the deadline (the timer is re-registered at the next poll).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     let mut sleep = nursery_runtime::time::sleep(Duration::from_secs(3600));
    ///     let sooner = Instant::now() + Duration::from_millis(5);
    ///     sleep.reset(sooner);
    ///     assert_eq!(sleep.deadline(), sooner);
    ///     sleep.await; // after 5 ms, not an hour
    ///     assert!(Instant::now() >= sooner);
    /// });
    /// ```
    pub fn reset(&mut self, deadline: impl Into<Instant>) {
        self.cancel_timer();
        self.deadline = deadline.into();
    }

    /// The reading of this sleep's runtime clock.
    pub(crate) fn clock_now(&self) -> Instant {
        self.handle.inner.driver.timers.now()
    }

    fn cancel_timer(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.handle.inner.driver.timers.remove(slot);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        std::task::ready!(nursery_scheduler::coop::poll_proceed(cx));
        let this = &mut *self;
        let driver = &this.handle.inner.driver;
        // A registered timer is pending until its wheel fires it (never before its deadline),
        // so a sleep polled again and again (a `select!` loop's timeout, re-polled on every
        // message) reads the clock only when it is registered and once it has fired.
        if let Some(slot) = this.slot {
            if driver.timers.update(slot, cx.waker()) {
                return pending(slot);
            }
            // Fired, or dropped with the wheels at shutdown: the clock decides.
            this.slot = None;
        }
        if driver.timers.now() >= this.deadline {
            return Poll::Ready(());
        }
        let worker = this.handle.scheduler().current_worker();
        let (slot, nearest) = driver
            .timers
            .insert(worker, this.deadline, cx.waker().clone());
        if let Some(at) = nearest {
            driver.deadline_moved_up(slot.wheel, at, worker.is_some());
        }
        this.slot = Some(slot);
        pending(slot)
    }
}

/// Records what the polling task waits for (task dumps: the timer's deadline) and returns
/// `Pending`.
fn pending(slot: Slot) -> Poll<()> {
    nursery_scheduler::current_node::record_timer_wait(slot.deadline);
    Poll::Pending
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel_timer();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("registered", &self.slot.is_some())
            .finish()
    }
}
