//! `Interval`: ticks at a fixed period, with a policy for ticks missed under load.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::sleep::{sleep_until, Sleep};

/// What an [`Interval`] does when ticks were missed (the task was busy past a deadline).
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
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first tick at `start`.
///
/// # Panics
/// If `period` is zero, or outside a runtime.
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
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
#[derive(Debug)]
pub struct Interval {
    delay: Sleep,
    period: Duration,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Completes at the next tick, returning its scheduled instant.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        std::task::ready!(Pin::new(&mut self.delay).poll(cx));
        let scheduled = self.delay.deadline();
        let now = Instant::now();
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
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// The policy for missed ticks.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.delay.reset(Instant::now() + self.period);
    }
}

impl futures_core::Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}
