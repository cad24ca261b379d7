//! What a connected mio stream socket (TCP or Unix) does through the reactor,
//! beyond [`PollEvented`]'s reads and writes: finishing a non-blocking
//! connect, and shutting down the write direction.

use std::io;
use std::net::Shutdown;
use std::task::{ready, Context, Poll};

use mio::event::Source;

use crate::poll_evented::PollEvented;
use crate::ready::Direction;

/// A mio stream socket: `mio::net::TcpStream` or `mio::net::UnixStream`.
pub(crate) trait StreamSocket: Source {
    /// `shutdown(2)`.
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;

    /// Takes the pending socket error (`SO_ERROR`).
    fn take_error(&self) -> io::Result<Option<io::Error>>;

    /// `Ok` once the socket has a peer (`getpeername(2)`, without the address).
    fn has_peer(&self) -> io::Result<()>;
}

/// Each listed mio socket is a [`StreamSocket`] through its own methods.
macro_rules! impl_stream_socket {
    ($($ty:ty),*) => {$(
        impl StreamSocket for $ty {
            fn shutdown(&self, how: Shutdown) -> io::Result<()> {
                <$ty>::shutdown(self, how)
            }

            fn take_error(&self) -> io::Result<Option<io::Error>> {
                <$ty>::take_error(self)
            }

            fn has_peer(&self) -> io::Result<()> {
                self.peer_addr().map(drop)
            }
        }
    )*};
}

impl_stream_socket!(mio::net::TcpStream, mio::net::UnixStream);

/// Waits until a non-blocking connect of `io` has finished, successfully or not.
pub(crate) fn poll_connected<S: StreamSocket>(
    io: &PollEvented<S>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    let socket = io.source();
    loop {
        let event = ready!(io.registration().poll_ready(cx, Direction::Write))?;
        if let Some(e) = socket.take_error()? {
            return Poll::Ready(Err(e));
        }
        match socket.has_peer() {
            Ok(()) => return Poll::Ready(Ok(())),
            // Still connecting: the writable event was spurious.
            Err(e)
                if e.kind() == io::ErrorKind::NotConnected
                    || e.raw_os_error() == Some(libc::EINPROGRESS) =>
            {
                io.registration().clear_readiness(event);
            }
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

/// Shuts down the write direction of `io`; a connection already gone counts as closed.
pub(crate) fn shutdown_write<S: StreamSocket>(io: &PollEvented<S>) -> io::Result<()> {
    match io.source().shutdown(Shutdown::Write) {
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
        other => other,
    }
}
