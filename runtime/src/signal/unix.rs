//! Unix signals as streams: [`signal`] returns a [`Signal`] that yields once per delivery.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_io::AsyncRead;
use nursery_reactor::net::UnixStream;

pub use super::kind::SignalKind;
use super::registry::{self, Slot};

/// Listens for `kind`: the returned [`Signal`] yields once for each delivery from now on.
///
/// The first listener for a signal number replaces its default action for the rest of the
/// process (see the [module docs](super)): after listening for `SIGINT`, Ctrl-C no longer
/// kills the process. Listening for the same signal twice, from one runtime or several, gives
/// two listeners that both see every delivery.
///
/// # Errors
///
/// For a signal no process may handle (`SIGKILL`, `SIGSTOP`) or that signal-hook-registry
/// refuses (`SIGSEGV`, `SIGILL`, `SIGFPE`), or a number that is no signal: `InvalidInput`,
/// naming the signal. Also when the process is out of file descriptors.
///
/// # Panics
///
/// Outside a nursery runtime (a task, or `Runtime::block_on`).
///
/// # Examples
///
/// ```
/// use nursery_runtime::signal::unix::{signal, SignalKind};
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build()?;
/// rt.block_on(async {
///     let mut hangups = signal(SignalKind::hangup())?;
///     // SAFETY: raise(3) has no preconditions; SIGHUP now goes to the listener.
///     unsafe { libc::raise(libc::SIGHUP) };
///     hangups.recv().await; // a daemon would reload its configuration here
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    if nursery_reactor::ReactorHandle::try_current().is_none() {
        panic!(
            "nursery::signal::unix::signal({kind}): {}",
            crate::current_runtime::NO_RUNTIME
        );
    }
    let slot = registry::slot(kind)?;
    let cannot = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("nursery::signal: cannot listen for {kind}: {e}"),
        )
    };
    let read = UnixStream::from_std(slot.read_end().map_err(cannot)?).map_err(cannot)?;
    let (key, seen) = slot.add_listener();
    Ok(Signal {
        slot,
        read,
        key,
        seen,
        closed: false,
    })
}

/// A listener for one signal: [`recv`](Signal::recv) (or the [`Stream`](futures_core::Stream)
/// impl) yields once per delivery since the listener was created.
///
/// Deliveries are counted, not queued: a listener that is not polled for a while loses
/// nothing, and `recv` then returns at once for each delivery it missed. The kernel itself
/// merges a signal sent again while the first is still pending into one delivery.
///
/// Dropping it removes the listener (the handler stays installed: see the module docs).
///
/// ```
/// use futures::StreamExt;
/// use nursery_runtime::signal::unix::{signal, SignalKind};
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build()?;
/// rt.block_on(async {
///     let mut stream = signal(SignalKind::user_defined1())?;
///     // SAFETY: raise(3) has no preconditions.
///     unsafe { libc::raise(libc::SIGUSR1) };
///     assert_eq!(stream.next().await, Some(()));
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Signal {
    slot: Arc<Slot>,
    /// This listener's duplicate of the slot's read end, registered with its reactor.
    read: UnixStream,
    /// Its entry among the slot's listeners.
    key: usize,
    /// Deliveries this listener has returned (or that came before it).
    seen: u64,
    /// The reactor has shut down: no delivery can be seen any more.
    closed: bool,
}

impl Signal {
    /// Waits for the next delivery. `None` once the runtime the listener was created in has
    /// shut down.
    ///
    /// Cancel-safe: dropping the future loses no delivery.
    ///
    /// ```
    /// use nursery_runtime::signal::unix::{signal, SignalKind};
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let mut alarms = signal(SignalKind::alarm())?;
    ///     unsafe { libc::raise(libc::SIGALRM) };
    ///     assert_eq!(alarms.recv().await, Some(()));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn recv(&mut self) -> Option<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next delivery (what [`recv`](Signal::recv) awaits): `Ready(Some(()))` once
    /// per delivery, `Ready(None)` once the runtime has shut down.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        if self.closed {
            return Poll::Ready(None);
        }
        self.slot.set_waker(self.key, cx.waker());
        if self.slot.deliveries() == self.seen {
            // Nothing new counted: take what the handler wrote, for every listener.
            let mut drained = 0;
            let mut buf = [0u8; 64];
            loop {
                match Pin::new(&mut self.read).poll_read(cx, &mut buf) {
                    Poll::Ready(Ok(0)) => break, // the write end lives forever: not reached
                    Poll::Ready(Ok(n)) => drained += n,
                    Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                    Poll::Ready(Err(_)) => {
                        // The reactor has shut down.
                        self.closed = true;
                        return Poll::Ready(None);
                    }
                    Poll::Pending => break, // the reactor wakes us at the next write
                }
            }
            if drained > 0 {
                self.slot.delivered(drained, self.key);
            }
        }
        if self.slot.deliveries() > self.seen {
            self.seen += 1;
            Poll::Ready(Some(()))
        } else {
            Poll::Pending
        }
    }
}

impl futures_core::Stream for Signal {
    type Item = ();

    /// One item per delivery; the stream ends once the runtime has shut down.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.get_mut().poll_recv(cx)
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        self.slot.remove_listener(self.key);
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("kind", &self.slot.kind())
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}
