//! Time: [`sleep`], [`sleep_until`], [`timeout`], [`interval`].
//!
//! Timers live in per-worker timing wheels with millisecond resolution; a timer never fires
//! before its deadline. Every function here must be called inside a runtime.

mod interval;
mod sleep;
mod timeout;
pub(crate) mod wheels;

pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use std::time::{Duration, Instant};
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};
