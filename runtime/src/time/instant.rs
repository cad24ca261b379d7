//! `Instant`: a point on the runtime's clock, which a test may pause and advance.

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

/// A measurement of the runtime's clock: like [`std::time::Instant`], but [`Instant::now`]
/// reads the clock of the runtime this thread belongs to, which stands still while time is
/// [paused](super::pause) and jumps when it is [advanced](super::advance). Outside a runtime it
/// reads the real clock.
///
/// It is a thin wrapper: [`from_std`](Instant::from_std) and [`into_std`](Instant::into_std)
/// (and `From` both ways) convert without changing the reading, and every function of
/// [`time`](super) that takes a deadline accepts either type. Instants the runtime hands back
/// ([`Interval::tick`](super::Interval::tick), [`Sleep::deadline`](super::Sleep::deadline)) are
/// `std::time::Instant`s on the same clock: wrap them with `Instant::from` to compare with
/// `Instant::now()`.
///
/// ```
/// use std::time::Duration;
/// use nursery_runtime::time::{sleep, Instant};
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).start_paused(true).build().unwrap();
/// rt.block_on(async {
///     let start = Instant::now();
///     sleep(Duration::from_secs(3600)).await; // at once: the clock jumps to the deadline
///     assert_eq!(start.elapsed(), Duration::from_secs(3600));
/// });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(std::time::Instant);

impl Instant {
    /// The runtime clock's reading now (the real clock outside a runtime).
    pub fn now() -> Instant {
        Instant(crate::current_runtime::with_handle(|handle| match handle {
            Some(handle) => handle.inner.driver.timers.now(),
            None => std::time::Instant::now(),
        }))
    }

    /// The same reading as a `nursery` instant.
    pub fn from_std(std: std::time::Instant) -> Instant {
        Instant(std)
    }

    /// The same reading as a `std::time::Instant`.
    pub fn into_std(self) -> std::time::Instant {
        self.0
    }

    /// The time from `earlier` to `self`; zero if `earlier` is later.
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// The time from `earlier` to `self`, or `None` if `earlier` is later.
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.0.checked_duration_since(earlier.0)
    }

    /// The time from `earlier` to `self`; zero if `earlier` is later.
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// The time since `self` on the runtime clock ([`Instant::now`] minus `self`, at least zero).
    pub fn elapsed(&self) -> Duration {
        Instant::now().duration_since(*self)
    }

    /// `self + duration`, or `None` past the end of the clock's range.
    pub fn checked_add(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_add(duration).map(Instant)
    }

    /// `self - duration`, or `None` before the start of the clock's range.
    pub fn checked_sub(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_sub(duration).map(Instant)
    }
}

/// The runtime clock's reading as a `std::time::Instant` (the real clock outside a runtime).
pub(crate) fn now() -> std::time::Instant {
    Instant::now().into_std()
}

impl From<std::time::Instant> for Instant {
    fn from(std: std::time::Instant) -> Instant {
        Instant(std)
    }
}

impl From<Instant> for std::time::Instant {
    fn from(instant: Instant) -> std::time::Instant {
        instant.0
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0 + rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        self.0 += rhs;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;

    fn sub(self, rhs: Duration) -> Instant {
        Instant(self.0 - rhs)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, rhs: Duration) {
        self.0 -= rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    /// Like [`duration_since`](Instant::duration_since): zero if `rhs` is later.
    fn sub(self, rhs: Instant) -> Duration {
        self.duration_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
