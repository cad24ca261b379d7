//! `Scope::shutdown_on`: the first signal shuts the scope down gracefully, the second cancels
//! it. The watcher is one of the scope's watchers (`scope/watchers.rs`): polled by the scope's
//! own future for as long as the scope lives, so it never outlives the scope and never keeps
//! it open.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::unix::{signal, Signal, SignalKind};
use crate::scope::{Scope, ShutdownRequested};

impl Scope {
    /// Shuts the scope down when one of `signals` arrives: the first delivery calls
    /// [`shutdown(grace)`](Scope::shutdown) (tasks see
    /// [`shutdown_requested`](Scope::shutdown_requested), the body is expected to return, and
    /// children still running after `grace` are cancelled); the next one, or the first one
    /// after a shutdown requested some other way, [`cancel`](Scope::cancel)s the scope's
    /// children at once, as a grace period that runs out does. The usual pair is
    /// `[SignalKind::interrupt(), SignalKind::terminate()]` (Ctrl-C, and `kill`/systemd).
    ///
    /// The watcher is not a task: the scope's own future polls it for as long as the scope
    /// lives (until its body has returned and every child is gone), so a scope whose work is
    /// done ends at once, and a second Ctrl-C still cancels children draining after the body
    /// returned. It is dropped with the scope, and listens only for signals delivered after
    /// this call. Call it from the body or from any task holding the scope; after the scope has
    /// completed it has no effect.
    ///
    /// # Errors
    ///
    /// As [`signal`]: a signal that cannot be listened for (`SIGKILL`...), named in the error.
    /// Nothing is installed then.
    ///
    /// # Panics
    ///
    /// Outside a nursery runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use nursery_runtime::signal::unix::SignalKind;
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build()?;
    /// let served = rt.block_on(nursery_runtime::scope(|s| async move {
    ///     s.shutdown_on([SignalKind::interrupt(), SignalKind::terminate()], Duration::from_secs(5))?;
    ///     let server = s.clone();
    ///     s.spawn(async move {
    ///         server.shutdown_requested().await; // serve until Ctrl-C, then finish up
    ///     });
    ///     // SAFETY: raise(3) has no preconditions. (A user would press Ctrl-C.)
    ///     unsafe { libc::raise(libc::SIGINT) };
    ///     s.shutdown_requested().await;
    ///     Ok::<_, std::io::Error>("drained")
    /// }))?;
    /// assert_eq!(served, "drained");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn shutdown_on(
        &self,
        signals: impl IntoIterator<Item = SignalKind>,
        grace: Duration,
    ) -> io::Result<()> {
        let signals = signals
            .into_iter()
            .map(signal)
            .collect::<io::Result<Vec<Signal>>>()?;
        if signals.is_empty() {
            return Ok(());
        }
        let watcher = Watcher {
            signals,
            scope: self.clone(),
            grace,
            requested: self.shutdown_requested(),
            stage: Stage::Running,
        };
        self.control.watchers.add(Box::pin(watcher));
        // The scope's future picks the watcher up at its next poll.
        self.handle.scheduler().wake_owner(&self.node);
        Ok(())
    }
}

/// Where the watched scope stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stage {
    /// No shutdown yet: the next signal asks for one.
    Running,
    /// Shutting down: the next signal cancels.
    ShuttingDown,
}

struct Watcher {
    signals: Vec<Signal>,
    scope: Scope,
    grace: Duration,
    requested: ShutdownRequested,
    stage: Stage,
}

impl Watcher {
    /// Polls every listener: `Ready(true)` for a delivery, `Ready(false)` if none can come any
    /// more (the runtime shut down), `Pending` otherwise (every listener has the waker).
    fn poll_signal(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        let mut open = 0;
        for signal in &mut self.signals {
            match signal.poll_recv(cx) {
                Poll::Ready(Some(())) => return Poll::Ready(true),
                Poll::Ready(None) => {}
                Poll::Pending => open += 1,
            }
        }
        if open == 0 {
            Poll::Ready(false)
        } else {
            Poll::Pending
        }
    }
}

impl Future for Watcher {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        // A shutdown requested some other way (the application, a deadline) first: a signal
        // seen in the same poll then cancels.
        if this.stage == Stage::Running && Pin::new(&mut this.requested).poll(cx).is_ready() {
            this.stage = Stage::ShuttingDown;
        }
        loop {
            match this.poll_signal(cx) {
                Poll::Ready(false) => return Poll::Ready(()), // no signal can come any more
                Poll::Pending => return Poll::Pending,
                Poll::Ready(true) if this.stage == Stage::Running => {
                    this.scope.shutdown(this.grace);
                    this.stage = Stage::ShuttingDown;
                    // Poll the listeners again: each must hold the waker for the next signal.
                }
                Poll::Ready(true) => {
                    this.scope.cancel();
                    return Poll::Ready(());
                }
            }
        }
    }
}
