//! What the listeners share: accepting a connection through the reactor, and
//! the macro that writes their `Incoming` stream.

use std::io;
use std::task::{Context, Poll};

use mio::event::Source;

use crate::poll_evented::PollEvented;

/// A mio listener socket.
pub(crate) trait ListenerSocket: Source {
    /// The mio stream socket of an accepted connection.
    type Stream;
    /// The peer address of an accepted connection.
    type Addr;

    /// `accept(2)`: one pending connection, or `WouldBlock`.
    fn accept(&self) -> io::Result<(Self::Stream, Self::Addr)>;
}

impl ListenerSocket for mio::net::TcpListener {
    type Stream = mio::net::TcpStream;
    type Addr = std::net::SocketAddr;

    fn accept(&self) -> io::Result<(Self::Stream, Self::Addr)> {
        mio::net::TcpListener::accept(self)
    }
}

impl ListenerSocket for mio::net::UnixListener {
    type Stream = mio::net::UnixStream;
    type Addr = std::os::unix::net::SocketAddr;

    fn accept(&self) -> io::Result<(Self::Stream, Self::Addr)> {
        mio::net::UnixListener::accept(self)
    }
}

/// Polls `listener` for a connection (storing the waker when none is pending);
/// the caller registers the accepted stream with `listener.handle()`.
pub(crate) fn poll_accept<L: ListenerSocket>(
    listener: &PollEvented<L>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<(L::Stream, L::Addr)>> {
    listener
        .registration()
        .poll_read_io(cx, || listener.source().accept())
}

/// Defines the public `Incoming` stream of the listener type `$listener`
/// (whose `poll_accept` yields `$stream`s) in the calling module.
macro_rules! incoming {
    ($listener:ident, $stream:ident) => {
        #[doc = concat!("The stream returned by [`", stringify!($listener),
                                            "::incoming`]: every accepted connection, forever.")]
        #[must_use = "streams do nothing unless polled"]
        pub struct Incoming<'a> {
            listener: &'a $listener,
        }

        impl futures_core::Stream for Incoming<'_> {
            type Item = std::io::Result<$stream>;

            fn poll_next(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Self::Item>> {
                let (stream, _) = std::task::ready!(self.listener.poll_accept(cx))?;
                std::task::Poll::Ready(Some(Ok(stream)))
            }
        }

        impl std::fmt::Debug for Incoming<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("Incoming")
                    .field("listener", self.listener)
                    .finish()
            }
        }
    };
}

pub(crate) use incoming;
