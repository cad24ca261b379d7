//! Time: [`sleep`], [`sleep_until`], [`timeout`], [`interval`].
//!
//! Timers live in per-worker timing wheels with millisecond resolution; a timer never fires
//! before its deadline. Every function here must be called inside a runtime.
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

mod interval;
mod sleep;
mod timeout;
pub(crate) mod wheels;

pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use std::time::{Duration, Instant};
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};
