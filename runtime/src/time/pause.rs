//! [`pause`], [`resume`] and [`advance`]: virtual time for tests.

use std::time::Duration;

use crate::handle::Handle;

/// Stops this runtime's clock: from now on it moves only by [`advance`], or by itself when the
/// whole runtime is idle (every worker and `block_on` thread waiting, no blocking job running,
/// no I/O ready): then it jumps straight to the next timer's deadline, so a test of a 30-minute
/// timeout takes milliseconds. [`Builder::start_paused`](crate::Builder::start_paused) (and
/// `#[nursery::test(start_paused = true)]`) starts a runtime paused.
///
/// Pausing is per runtime and may be done on any number of workers. The clock may move forward
/// to the next whole millisecond (the timers' resolution) when paused.
///
/// ```
/// use std::time::Duration;
/// use nursery_runtime::time::{self, Instant};
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(async {
///     time::pause();
///     let start = Instant::now();
///     // A 30-minute timeout, in no time at all:
///     let waited = time::timeout(Duration::from_secs(1800), std::future::pending::<()>()).await;
///     assert!(waited.is_err());
///     assert_eq!(start.elapsed(), Duration::from_secs(1800));
/// });
/// ```
///
/// # Panics
/// Outside a runtime, or if the clock is already paused.
#[track_caller]
pub fn pause() {
    let handle = expect_handle("pause");
    let timers = &handle.inner.driver.timers;
    if !timers.pause() {
        panic!("time::pause: this runtime's clock is already paused");
    }
}

/// Lets this runtime's clock run again, from the reading it had when paused (plus what was
/// advanced since): time does not jump back to the real clock.
///
/// ```
/// use std::time::Duration;
/// use nursery_runtime::time::{self, Instant};
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).start_paused(true).build().unwrap();
/// rt.block_on(async {
///     let start = Instant::now();
///     time::advance(Duration::from_secs(60)).await;
///     time::resume();
///     time::sleep(Duration::from_millis(1)).await; // real time again
///     assert!(start.elapsed() >= Duration::from_secs(60) + Duration::from_millis(1));
/// });
/// ```
///
/// # Panics
/// Outside a runtime, or if the clock is not paused.
#[track_caller]
pub fn resume() {
    let handle = expect_handle("resume");
    let driver = &handle.inner.driver;
    if !driver.timers.resume() {
        panic!("time::resume: this runtime's clock is not paused");
    }
    // Workers wait without a timeout while the clock is paused: let them compute one.
    driver.unpark_all();
}

/// Moves this runtime's paused clock forward by exactly `duration`, fires the timers that are
/// then due, and yields so that the tasks they woke get to run.
///
/// ```
/// use std::time::Duration;
/// use nursery_runtime::time::{self, Instant};
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).start_paused(true).build().unwrap();
/// rt.block_on(async {
///     let start = Instant::now();
///     let alarm = nursery_runtime::spawn(time::sleep(Duration::from_secs(10)));
///     time::advance(Duration::from_secs(10)).await;
///     assert_eq!(start.elapsed(), Duration::from_secs(10));
///     alarm.await.unwrap(); // its timer fired
/// });
/// ```
///
/// # Panics
/// Outside a runtime, or if the clock is not paused.
pub async fn advance(duration: Duration) {
    let handle = expect_handle("advance");
    let driver = &handle.inner.driver;
    if !driver.timers.advance(duration) {
        panic!(
            "time::advance: this runtime's clock is not paused; call time::pause() first (or \
             build the runtime with start_paused(true))"
        );
    }
    driver.timers.fire_all();
    crate::task::yield_now().await;
}

#[track_caller]
fn expect_handle(what: &str) -> Handle {
    crate::current_runtime::with_handle(|h| h.cloned()).unwrap_or_else(|| {
        panic!(
            "time::{what} must be called inside a nursery runtime: it acts on that runtime's \
             clock (call it from a task or a block_on body)"
        )
    })
}
