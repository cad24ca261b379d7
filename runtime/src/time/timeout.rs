//! `timeout`: run a future with a deadline; dropping it on expiry.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

use super::sleep::{sleep, sleep_until, Sleep};

/// Runs `future` for at most `duration`. On expiry the future is dropped (cancelling whatever it
/// owned, scopes included) and `Err(Elapsed)` is returned.
///
/// ```
/// use std::time::Duration;
/// use nursery_runtime::time::{sleep, timeout};
/// nursery_runtime::Runtime::new().unwrap().block_on(async {
///     assert!(timeout(Duration::from_millis(1), sleep(Duration::from_secs(60))).await.is_err());
///     assert_eq!(timeout(Duration::from_secs(60), async { 5 }).await, Ok(5));
/// });
/// ```
///
/// # Panics
/// Outside a runtime.
#[track_caller]
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        delay: sleep(duration),
    }
}

/// Like [`timeout`], with an absolute deadline.
///
/// ```
/// use std::time::{Duration, Instant};
/// use nursery_runtime::time::timeout_at;
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(async {
///     let deadline = Instant::now() + Duration::from_millis(5);
///     // Steps that share one deadline:
///     assert_eq!(timeout_at(deadline, async { "step 1" }).await, Ok("step 1"));
///     assert!(timeout_at(deadline, std::future::pending::<()>()).await.is_err());
///     assert!(Instant::now() >= deadline);
/// });
/// ```
#[track_caller]
pub fn timeout_at<F: Future>(deadline: impl Into<Instant>, future: F) -> Timeout<F> {
    Timeout {
        future,
        delay: sleep_until(deadline),
    }
}

pin_project! {
    /// The future of [`timeout`].
    ///
    /// It resolves to `Ok(output)` if the future finished in time, `Err(Elapsed)` otherwise; the
    /// error converts into `std::io::Error` (`ErrorKind::TimedOut`), so `?` works in I/O code.
    ///
    /// ```
    /// use std::time::Duration;
    /// use nursery_runtime::time::{timeout, Timeout};
    ///
    /// async fn read_config() -> std::io::Result<String> {
    ///     let load: Timeout<_> =
    ///         timeout(Duration::from_secs(5), async { "port = 80".to_owned() });
    ///     Ok(load.await?)
    /// }
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// assert_eq!(rt.block_on(read_config()).unwrap(), "port = 80");
    /// ```
    #[must_use = "futures do nothing unless awaited"]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        delay: Sleep,
    }
}

impl<F> Timeout<F> {
    /// The wrapped future.
    ///
    /// ```
    /// use std::time::Duration;
    /// use nursery_runtime::time::{sleep, timeout};
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     let nap = sleep(Duration::from_millis(5));
    ///     let wakes_at = nap.deadline();
    ///     let guarded = timeout(Duration::from_secs(60), nap);
    ///     assert_eq!(guarded.get_ref().deadline(), wakes_at);
    ///     assert!(guarded.await.is_ok());
    /// });
    /// ```
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// Unwraps the future, dropping the timer.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     let guarded = nursery_runtime::time::timeout(Duration::from_millis(1), async { 5 });
    ///     let unbounded = guarded.into_inner(); // no deadline any more
    ///     assert_eq!(unbounded.await, 5);
    /// });
    /// ```
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(this.delay).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("deadline", &self.delay.deadline())
            .finish_non_exhaustive()
    }
}

/// The deadline of a [`timeout`] passed before the future finished.
///
/// ```
/// use std::time::Duration;
/// use nursery_runtime::time::{timeout, Elapsed};
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(async {
///     let err: Elapsed = timeout(Duration::from_millis(1), std::future::pending::<()>())
///         .await
///         .unwrap_err();
///     assert_eq!(err.to_string(), "deadline has elapsed");
///     let io: std::io::Error = err.into();
///     assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl Elapsed {
    pub(crate) fn new() -> Elapsed {
        Elapsed(())
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}
