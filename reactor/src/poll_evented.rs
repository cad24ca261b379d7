//! A mio source that owns its registration: the building block of the net types.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::task::{Context, Poll};

use mio::event::Source;
use mio::Interest;

use crate::local_peer;
use crate::reactor::ReactorHandle;
use crate::ready::Direction;
use crate::registration::{Registration, Waiter};

/// A mio source registered (readable and writable) with a reactor; deregistered on drop.
pub(crate) struct PollEvented<S: Source> {
    source: S,
    registration: Registration,
    /// Set when the peer is, or may turn out to be, a socket of this process: a write makes it
    /// readable at once, so its reader is looked for right after (see `local_peer.rs`).
    local_peer: Option<Arc<local_peer::LocalPeer>>,
}

impl<S: Source> PollEvented<S> {
    /// Registers `source` with the current thread's reactor.
    ///
    /// Panics with the "no nursery reactor" message when none is entered.
    #[track_caller]
    pub(crate) fn new(source: S) -> io::Result<PollEvented<S>>
    where
        S: AsRawFd,
    {
        PollEvented::with_handle(source, &ReactorHandle::current())
    }

    /// Registers `source` with `handle`'s reactor.
    pub(crate) fn with_handle(mut source: S, handle: &ReactorHandle) -> io::Result<PollEvented<S>>
    where
        S: AsRawFd,
    {
        let mut registration =
            Registration::new(&mut source, Interest::READABLE | Interest::WRITABLE, handle)?;
        registration.set_fd(source.as_raw_fd());
        Ok(PollEvented {
            source,
            registration,
            local_peer: None,
        })
    }

    /// Sets what the source knows of its peer being one of our sockets (see `local_peer.rs`).
    pub(crate) fn set_local_peer(&mut self, peer: Option<Arc<local_peer::LocalPeer>>) {
        self.local_peer = peer;
    }

    /// What the source knows of its peer being one of our sockets, if it may be.
    pub(crate) fn local_peer(&self) -> Option<&local_peer::LocalPeer> {
        self.local_peer.as_deref()
    }

    /// The source.
    pub(crate) fn source(&self) -> &S {
        &self.source
    }

    /// The registration.
    pub(crate) fn registration(&self) -> &Registration {
        &self.registration
    }

    /// A place among the tasks waiting on `direction`, for a future to hold.
    pub(crate) fn waiter(&self, direction: Direction) -> Waiter<'_> {
        Waiter::new(&self.registration, direction)
    }

    /// Runs `op` whenever `direction` is ready until it does not return `WouldBlock` (see
    /// [`Registration::poll_read_io`]), waiting in a place of its own among the tasks waiting
    /// on `direction`: the future of an `async fn` of the net types.
    pub(crate) async fn async_io<R>(
        &self,
        direction: Direction,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        let mut waiter = self.waiter(direction);
        poll_fn(|cx| waiter.poll_io(cx, &mut op)).await
    }

    /// Waits, in a place of its own, until `direction` is ready (readable, read-closed or an
    /// error for reads; writable, write-closed or an error for writes): the future of the
    /// `readable`/`writable` methods of the net types. It clears nothing: an operation that
    /// then returns `WouldBlock` does.
    pub(crate) async fn ready(&self, direction: Direction) -> io::Result<()> {
        let mut waiter = self.waiter(direction);
        poll_fn(|cx| waiter.poll_ready(cx)).await.map(|_| ())
    }

    /// The handle of the reactor the source is registered with.
    pub(crate) fn handle(&self) -> &ReactorHandle {
        self.registration.handle()
    }
}

impl<S: Source> PollEvented<S>
where
    for<'a> &'a S: Read + Write,
{
    /// Vectored read once the source is readable.
    pub(crate) fn poll_read_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        self.registration
            .poll_read_io(cx, || (&self.source).read_vectored(bufs))
    }

    /// Writes `buf` once the source is writable (an empty `buf` writes nothing at once).
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let written = self
            .registration
            .poll_write_io(cx, || (&self.source).write(buf));
        self.after_write(&written);
        written
    }

    /// Vectored write once the source is writable.
    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = self
            .registration
            .poll_write_io(cx, || (&self.source).write_vectored(bufs));
        self.after_write(&written);
        written
    }

    /// After a write that sent bytes to a peer that is one of our sockets: wake its reader.
    fn after_write(&self, written: &Poll<io::Result<usize>>) {
        if let Some(peer) = &self.local_peer {
            if matches!(written, Poll::Ready(Ok(n)) if *n > 0) {
                peer.after_write(self.handle());
            }
        }
    }
}

impl<S: Source> Drop for PollEvented<S> {
    fn drop(&mut self) {
        // Leave the poller before the descriptor closes; an error here (the
        // reactor's poller is gone) leaves nothing to clean up, and closing the
        // descriptor right after removes it from the poller anyway.
        let _ = self.registration.deregister(&mut self.source);
    }
}

impl<S: Source + fmt::Debug> fmt::Debug for PollEvented<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollEvented")
            .field("source", &self.source)
            .field("registration", &self.registration)
            .finish()
    }
}
