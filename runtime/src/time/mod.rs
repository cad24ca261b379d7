//! Time: [`sleep`], [`sleep_until`], [`timeout`], [`interval`]; for tests, [`pause`],
//! [`advance`] and [`resume`] of the runtime's clock, read with [`Instant::now`].
//!
//! Timers live in per-worker timing wheels with millisecond resolution; a timer never fires
//! before its deadline. Every function here must be called inside a runtime. Deadlines are
//! taken as `impl Into<std::time::Instant>`: a `std::time::Instant` or this module's
//! [`Instant`] (the same reading).
//!
//! ```
//! use std::time::Duration;
//! use nursery_runtime::time::{interval, sleep, timeout};
//!
//! let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
//! rt.block_on(async {
//!     sleep(Duration::from_millis(1)).await;
//!     let too_slow = sleep(Duration::from_secs(3600));
//!     assert!(timeout(Duration::from_millis(1), too_slow).await.is_err());
//!     let mut ticks = interval(Duration::from_millis(1));
//!     let first = ticks.tick().await;
//!     assert_eq!(ticks.tick().await - first, Duration::from_millis(1));
//! });
//! ```

mod clock;
mod instant;
mod interval;
mod pause;
mod sleep;
mod timeout;
pub(crate) mod wheels;

pub(crate) use instant::now;
pub use instant::Instant;
pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use pause::{advance, pause, resume};
pub use sleep::{sleep, sleep_until, Sleep};
pub use std::time::Duration;
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};
