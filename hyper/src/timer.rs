//! `NurseryTimer`: hyper's timer on nursery's timing wheels.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use nursery::time::Sleep;

/// hyper's [`Timer`](hyper::rt::Timer) on nursery's timers: header-read timeouts, keep-alive
/// and HTTP/2 pings. Give it to a connection builder's `.timer(..)`.
///
/// It holds nothing: the sleeps it makes find the runtime when they are first polled, which
/// is always inside a task, so a builder may be configured on any thread.
///
/// ```
/// use std::time::Duration;
/// use hyper::server::conn::http1;
/// use nursery_hyper::NurseryTimer;
///
/// let mut builder = http1::Builder::new();
/// builder
///     .timer(NurseryTimer::new())
///     .header_read_timeout(Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NurseryTimer;

impl NurseryTimer {
    /// The timer. Same as `NurseryTimer` or `NurseryTimer::default()`.
    ///
    /// ```
    /// use hyper::rt::Timer;
    /// let timer = nursery_hyper::NurseryTimer::new();
    /// let sleep = timer.sleep(std::time::Duration::from_millis(5));
    /// nursery::Runtime::new().unwrap().block_on(sleep);
    /// ```
    pub fn new() -> NurseryTimer {
        NurseryTimer
    }
}

impl hyper::rt::Timer for NurseryTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(NurserySleep::after(duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(NurserySleep::until(deadline))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        // Our own sleep moves its timer; anything else is replaced.
        match sleep.as_mut().downcast_mut_pin::<NurserySleep>() {
            Some(mine) => mine.get_mut().reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }

    /// The runtime's clock, which the sleeps read too: hyper's deadlines follow a clock that
    /// a test paused or moved (`nursery::time::pause`, `advance`). The real clock outside a
    /// runtime.
    fn now(&self) -> Instant {
        nursery::time::Instant::now().into_std()
    }
}

/// The sleep future of [`NurseryTimer`]: a [`nursery::time::Sleep`] made at its first poll.
///
/// Dropping it cancels the timer. Like every nursery timer it never completes before its
/// deadline (deadlines are rounded up to the next millisecond).
///
/// ```
/// use std::time::{Duration, Instant};
/// use nursery_hyper::NurserySleep;
///
/// let sleep = NurserySleep::after(Duration::from_millis(5)); // made outside the runtime
/// let start = Instant::now();
/// nursery::Runtime::new().unwrap().block_on(sleep);          // armed at its first poll
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct NurserySleep {
    deadline: Instant,
    /// Made at the first poll.
    armed: Option<Sleep>,
}

impl NurserySleep {
    /// A sleep that completes at `deadline`.
    ///
    /// ```
    /// let deadline = std::time::Instant::now();
    /// let sleep = nursery_hyper::NurserySleep::until(deadline);
    /// assert_eq!(sleep.deadline(), deadline);
    /// ```
    pub fn until(deadline: Instant) -> NurserySleep {
        NurserySleep {
            deadline,
            armed: None,
        }
    }

    /// A sleep that completes `duration` from now.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let sleep = nursery_hyper::NurserySleep::after(Duration::from_secs(1));
    /// assert!(sleep.deadline() > Instant::now());
    /// ```
    pub fn after(duration: Duration) -> NurserySleep {
        let now = Instant::now();
        // A deadline past the end of `Instant` is as good as never: about thirty years.
        let deadline = now
            .checked_add(duration)
            .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30));
        NurserySleep::until(deadline)
    }

    /// When it completes.
    ///
    /// ```
    /// let now = std::time::Instant::now();
    /// assert_eq!(nursery_hyper::NurserySleep::until(now).deadline(), now);
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Moves the deadline, earlier or later; the timer follows at the next poll.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let mut sleep = nursery_hyper::NurserySleep::after(Duration::from_secs(3600));
    /// sleep.reset(Instant::now());
    /// nursery::Runtime::new().unwrap().block_on(sleep); // completes at once
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        if let Some(sleep) = &mut self.armed {
            sleep.reset(deadline);
        }
    }
}

impl Future for NurserySleep {
    type Output = ();

    /// # Panics
    /// If first polled outside a nursery runtime (the first poll makes the timer).
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        // hyper makes one for every request's header-read timeout and drops it once the head is
        // read, usually after one poll: that poll's clock read (in `Sleep`) is the only one.
        let sleep = this
            .armed
            .get_or_insert_with(|| nursery::time::sleep_until(this.deadline));
        Pin::new(sleep).poll(cx)
    }
}

impl hyper::rt::Sleep for NurserySleep {}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Timer;

    #[test]
    fn reset_moves_our_own_sleep_instead_of_replacing_it() {
        let rt = nursery::Runtime::builder()
            .worker_threads(1)
            .build()
            .unwrap();
        rt.block_on(async {
            let timer = NurseryTimer::new();
            let mut sleep = timer.sleep(Duration::from_secs(3600));
            // Arm it: the first poll registers a timer an hour away.
            let pending = std::future::poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx))).await;
            assert!(pending.is_pending());
            let before: *const () = &*sleep as *const dyn hyper::rt::Sleep as *const ();
            let soon = Instant::now() + Duration::from_millis(5);
            timer.reset(&mut sleep, soon);
            let after: *const () = &*sleep as *const dyn hyper::rt::Sleep as *const ();
            assert_eq!(before, after, "the same allocation, its deadline moved");
            sleep.as_mut().await;
            assert!(Instant::now() >= soon);
        });
        assert_eq!(rt.handle().pending_timers(), 0, "no timer left behind");
    }

    #[test]
    fn reset_replaces_a_foreign_sleep() {
        struct Foreign;
        impl Future for Foreign {
            type Output = ();
            fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
                Poll::Pending
            }
        }
        impl hyper::rt::Sleep for Foreign {}

        let mut sleep: Pin<Box<dyn hyper::rt::Sleep>> = Box::pin(Foreign);
        NurseryTimer.reset(&mut sleep, Instant::now());
        assert!(sleep.as_mut().downcast_mut_pin::<NurserySleep>().is_some());
        nursery::Runtime::new().unwrap().block_on(sleep);
    }

    #[test]
    fn a_dropped_sleep_cancels_its_timer() {
        let rt = nursery::Runtime::builder()
            .worker_threads(1)
            .build()
            .unwrap();
        rt.block_on(async {
            let mut sleep = Box::pin(NurserySleep::after(Duration::from_secs(3600)));
            let pending = std::future::poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx))).await;
            assert!(pending.is_pending());
            assert_eq!(nursery::Handle::current().pending_timers(), 1);
            drop(sleep);
            assert_eq!(nursery::Handle::current().pending_timers(), 0);
        });
    }

    #[test]
    fn a_sleep_far_beyond_instant_s_range_does_not_overflow() {
        let sleep = NurserySleep::after(Duration::MAX);
        assert!(sleep.deadline() > Instant::now() + Duration::from_secs(86_400 * 365));
    }
}
