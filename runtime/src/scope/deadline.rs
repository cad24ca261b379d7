//! Deadlines on scopes, as in Trio: `move_on_after` gives up quietly, `fail_after` with an error.
//! The deadline is fixed when the scope is entered and reaches every task inside it, nested
//! scopes included, because it cancels the scope's whole subtree.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

use super::control::{Control, Deadline};
use super::scope_future::{self, Exit, MakeBody, ScopeCore};
use super::Scope;
use crate::time::Elapsed;

fn deadline_after(duration: Duration) -> Instant {
    let now = crate::time::now();
    now.checked_add(duration)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

/// A scope that is cancelled as a whole (body and every child) when `duration` has passed.
/// Resolves to `Some(output)` if it finished in time, `None` if the deadline fired first — the
/// answer to "did the deadline fire?".
///
/// ```
/// use std::time::Duration;
/// use nursery_runtime::time::sleep;
/// nursery_runtime::Runtime::new().unwrap().block_on(async {
///     let out = nursery_runtime::move_on_after(Duration::from_millis(5), |s| async move {
///         s.spawn(sleep(Duration::from_secs(60))); // cancelled at the deadline
///         sleep(Duration::from_secs(60)).await;
///     })
///     .await;
///     assert!(out.is_none());
/// });
/// ```
#[track_caller]
pub fn move_on_after<F, Fut>(duration: Duration, body: F) -> MoveOnAfter<F>
where
    F: FnOnce(Scope) -> Fut,
    Fut: Future,
{
    move_on_at(deadline_after(duration), body)
}

/// Like [`move_on_after`], with an absolute deadline.
///
/// ```
/// use std::time::{Duration, Instant};
/// use nursery_runtime::time::sleep;
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// let deadline = Instant::now() + Duration::from_millis(5);
/// let out = rt.block_on(nursery_runtime::move_on_at(deadline, |_s| async {
///     sleep(Duration::from_secs(3600)).await;
///     "finished"
/// }));
/// assert_eq!(out, None); // the deadline came first
/// assert!(Instant::now() >= deadline);
/// ```
#[track_caller]
pub fn move_on_at<F, Fut>(deadline: impl Into<Instant>, body: F) -> MoveOnAfter<F>
where
    F: FnOnce(Scope) -> Fut,
    Fut: Future,
{
    MoveOnAfter {
        core: scope_future::new(body, "move_on", false, with_deadline(deadline.into())),
    }
}

/// Like [`move_on_after`], but resolves to `Err(Elapsed)` when the deadline fires.
///
/// ```
/// use std::time::Duration;
/// nursery_runtime::Runtime::new().unwrap().block_on(async {
///     let out = nursery_runtime::fail_after(Duration::from_secs(5), |_s| async { 42 }).await;
///     assert_eq!(out, Ok(42));
/// });
/// ```
#[track_caller]
pub fn fail_after<F, Fut>(duration: Duration, body: F) -> FailAfter<F>
where
    F: FnOnce(Scope) -> Fut,
    Fut: Future,
{
    fail_at(deadline_after(duration), body)
}

/// Like [`fail_after`], with an absolute deadline.
///
/// ```
/// use std::time::{Duration, Instant};
/// use nursery_runtime::time::sleep;
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// let deadline = Instant::now() + Duration::from_millis(5);
/// let out = rt.block_on(nursery_runtime::fail_at(deadline, |_s| {
///     sleep(Duration::from_secs(3600))
/// }));
/// assert!(out.is_err()); // Err(Elapsed)
/// ```
#[track_caller]
pub fn fail_at<F, Fut>(deadline: impl Into<Instant>, body: F) -> FailAfter<F>
where
    F: FnOnce(Scope) -> Fut,
    Fut: Future,
{
    FailAfter {
        core: scope_future::new(body, "fail_after", false, with_deadline(deadline.into())),
    }
}

fn with_deadline(at: Instant) -> Control {
    Control::with_deadline(Some(Deadline {
        at,
        drops_body: true,
    }))
}

pin_project! {
    /// The future of [`move_on_after`] and [`move_on_at`].
    ///
    /// Like every scope future, it does nothing until awaited, and dropping it cancels the scope's
    /// children.
    ///
    /// ```
    /// use std::time::Duration;
    /// use nursery_runtime::{move_on_after, MoveOnAfter, Scope};
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let guarded: MoveOnAfter<_> =
    ///     move_on_after(Duration::from_secs(5), |_s: Scope| async { 1 });
    /// assert_eq!(rt.block_on(guarded), Some(1)); // finished in time
    /// ```
    #[must_use = "a scope does nothing unless awaited; dropping it cancels its children"]
    pub struct MoveOnAfter<F: MakeBody> {
        #[pin]
        core: ScopeCore<F>,
    }
}

impl<F: MakeBody> Future for MoveOnAfter<F> {
    type Output = Option<<F::Body as Future>::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let core = self.project().core;
        core.poll_exit(cx).map(|exit| match exit {
            Exit::Finished(output) => Some(output),
            Exit::DeadlineHit | Exit::Aborted => None,
        })
    }
}

pin_project! {
    /// The future of [`fail_after`] and [`fail_at`].
    ///
    /// Its error converts into `std::io::Error` (`ErrorKind::TimedOut`), so `?` works in I/O code:
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// async fn fetch() -> std::io::Result<u32> {
    ///     let value =
    ///         nursery_runtime::fail_after(Duration::from_secs(5), |_s| async { 42 }).await?;
    ///     Ok(value)
    /// }
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// assert_eq!(rt.block_on(fetch()).unwrap(), 42);
    /// ```
    #[must_use = "a scope does nothing unless awaited; dropping it cancels its children"]
    pub struct FailAfter<F: MakeBody> {
        #[pin]
        core: ScopeCore<F>,
    }
}

impl<F: MakeBody> Future for FailAfter<F> {
    type Output = Result<<F::Body as Future>::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let core = self.project().core;
        core.poll_exit(cx).map(|exit| match exit {
            Exit::Finished(output) => Ok(output),
            Exit::DeadlineHit | Exit::Aborted => Err(Elapsed::new()),
        })
    }
}

impl<F: MakeBody> fmt::Debug for MoveOnAfter<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MoveOnAfter")
    }
}

impl<F: MakeBody> fmt::Debug for FailAfter<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FailAfter")
    }
}
