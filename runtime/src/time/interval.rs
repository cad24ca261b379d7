//! `Interval`: ticks at a fixed period, with a policy for ticks missed under load.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::sleep::{sleep_until, Sleep};

/// What an [`Interval`] does when ticks were missed (the task was busy past a deadline).
///
/// A tick returns the instant it was scheduled for, so the schedule can be checked exactly:
///
/// ```
/// use std::time::Duration;
/// use nursery_runtime::time::{interval, MissedTickBehavior};
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(async {
///     let period = Duration::from_millis(2);
///     let mut ticks = interval(period);
///     ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
///     let first = ticks.tick().await;
///     std::thread::sleep(period * 3); // busy: ticks are missed
///     let late = ticks.tick().await; // at once: the tick scheduled for first + period
///     assert_eq!(late, first + period);
///     let next = ticks.tick().await; // the missed ticks are skipped...
///     assert!(next - late > period);
///     assert_eq!((next - first).as_nanos() % period.as_nanos(), 0); // ...on the same grid
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks back to back, keeping the original schedule.
    #[default]
    Burst,
    /// Fire once now, then every period from now on.
    Delay,
    /// Fire once now, then at the next multiple of the period on the original schedule.
    Skip,
}

/// Ticks every `period`, the first tick completing at once.
///
/// ```
/// use std::time::Duration;
/// nursery_runtime::Runtime::new().unwrap().block_on(async {
///     let mut every = nursery_runtime::time::interval(Duration::from_millis(2));
///     let first = every.tick().await;
///     let second = every.tick().await;
///     assert!(second - first >= Duration::from_millis(2));
/// });
/// ```
///
/// # Panics
/// If `period` is zero, or outside a runtime.
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(crate::time::now(), period)
}

/// Ticks every `period`, the first tick at `start`.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(async {
///     let start = Instant::now() + Duration::from_millis(5);
///     let mut ticks = nursery_runtime::time::interval_at(start, Duration::from_millis(2));
///     assert_eq!(ticks.tick().await, start);
///     assert_eq!(ticks.tick().await, start + Duration::from_millis(2));
///     assert!(Instant::now() >= start + Duration::from_millis(2));
/// });
/// ```
///
/// # Panics
/// If `period` is zero, or outside a runtime.
#[track_caller]
pub fn interval_at(start: impl Into<Instant>, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "interval: the period must be greater than zero (a zero period would tick in a busy loop)"
    );
    Interval {
        delay: sleep_until(start),
        period,
        missed: MissedTickBehavior::default(),
    }
}

/// The stream of ticks of [`interval`]; also a `futures_core::Stream`.
///
/// ```
/// use std::time::{Duration, Instant};
/// use futures::StreamExt;
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(async {
///     let every = nursery_runtime::time::interval(Duration::from_millis(2));
///     let ticks: Vec<Instant> = every.take(3).collect().await;
///     assert_eq!(ticks[2] - ticks[0], Duration::from_millis(4));
/// });
/// ```
#[derive(Debug)]
pub struct Interval {
    delay: Sleep,
    period: Duration,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Completes at the next tick, returning its scheduled instant.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     let mut every = nursery_runtime::time::interval(Duration::from_millis(2));
    ///     let mut previous = every.tick().await; // the first tick is immediate
    ///     for _ in 0..3 {
    ///         let now = every.tick().await;
    ///         assert_eq!(now - previous, Duration::from_millis(2));
    ///         previous = now;
    ///     }
    /// });
    /// ```
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    ///
    /// For use in a hand-written `Future` or `Stream`; in `async` code, use
    /// [`tick`](Interval::tick).
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::time::Duration;
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     let mut every = nursery_runtime::time::interval(Duration::from_millis(2));
    ///     let first = poll_fn(|cx| every.poll_tick(cx)).await;
    ///     let second = poll_fn(|cx| every.poll_tick(cx)).await;
    ///     assert_eq!(second - first, Duration::from_millis(2));
    /// });
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        std::task::ready!(Pin::new(&mut self.delay).poll(cx));
        let scheduled = self.delay.deadline();
        let now = self.delay.clock_now();
        let next = match self.missed {
            MissedTickBehavior::Burst => scheduled + self.period,
            _ if now < scheduled + self.period => scheduled + self.period,
            MissedTickBehavior::Delay => now + self.period,
            MissedTickBehavior::Skip => {
                let behind = now.duration_since(scheduled).as_nanos();
                let periods = behind / self.period.as_nanos() + 1;
                let periods = u32::try_from(periods).unwrap_or(u32::MAX);
                scheduled + self.period * periods
            }
        };
        self.delay.reset(next);
        Poll::Ready(scheduled)
    }

    /// Sets the policy for missed ticks.
    ///
    /// ```
    /// use std::time::Duration;
    /// use nursery_runtime::time::{interval, MissedTickBehavior};
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     let period = Duration::from_millis(2);
    ///     let mut ticks = interval(period);
    ///     ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ///     let first = ticks.tick().await;
    ///     std::thread::sleep(period * 3); // busy: ticks are missed
    ///     let late = ticks.tick().await; // at once: the tick scheduled for first + period
    ///     assert_eq!(late, first + period);
    ///     // No catch-up tick at first + 2 * period: the next one is a period after the late
    ///     // tick was taken.
    ///     let next = ticks.tick().await;
    ///     assert!(next - late >= period * 3);
    /// });
    /// ```
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// The policy for missed ticks.
    ///
    /// ```
    /// use std::time::Duration;
    /// use nursery_runtime::time::{interval, MissedTickBehavior};
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     let mut ticks = interval(Duration::from_millis(10));
    ///     assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Burst); // the default
    ///     ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    ///     assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Skip);
    /// });
    /// ```
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// The period.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     let ticks = nursery_runtime::time::interval(Duration::from_millis(250));
    ///     assert_eq!(ticks.period(), Duration::from_millis(250));
    /// });
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Restarts the schedule: the next tick is one period from now.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     let period = Duration::from_millis(5);
    ///     let mut ticks = nursery_runtime::time::interval(period);
    ///     let before = Instant::now();
    ///     ticks.reset(); // the first tick is no longer immediate
    ///     assert!(ticks.tick().await >= before + period);
    /// });
    /// ```
    pub fn reset(&mut self) {
        let now = self.delay.clock_now();
        self.delay.reset(now + self.period);
    }
}

impl futures_core::Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}
