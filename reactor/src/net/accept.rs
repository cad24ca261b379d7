//! What the listeners share: accepting a connection through the reactor, and
//! the macro that writes their `Incoming` stream.

use std::io;
use std::task::{Context, Poll};

use mio::event::Source;

use crate::poll_evented::PollEvented;
use crate::registration::Waiter;

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

/// Polls `listener` for a connection, waiting when none is pending in `waiter`'s place (an
/// `accept` future's, an `Incoming`'s) or, without one, as an anonymous waiter; the caller
/// registers the accepted stream with `listener.handle()`.
pub(crate) fn poll_accept<L: ListenerSocket>(
    listener: &PollEvented<L>,
    cx: &mut Context<'_>,
    waiter: Option<&mut Waiter<'_>>,
) -> Poll<io::Result<(L::Stream, L::Addr)>> {
    let accept = || listener.source().accept();
    match waiter {
        Some(waiter) => waiter.poll_io(cx, accept),
        None => listener.registration().poll_read_io(cx, accept),
    }
}

/// Defines the public `Incoming` stream of the listener type `$listener`
/// (whose `poll_accept` yields `$stream`s) in the calling module.
///
/// Its doc example runs for both listener types: the hidden
/// `listener_with_client!` picks the setup by `$listener`.
macro_rules! incoming {
    ($listener:ident, $stream:ident) => {
        #[doc = concat!("The stream returned by [`", stringify!($listener),
                                            "::incoming`]: every accepted connection, forever.")]
        ///
        /// # Examples
        ///
        /// ```
        /// use futures::StreamExt;
        /// # use nursery::net::{TcpListener, TcpStream, UnixListener, UnixStream};
        /// # macro_rules! listener_with_client {
        /// #     (TcpListener) => {{
        /// #         let listener = TcpListener::bind("127.0.0.1:0").await?;
        /// #         let client = TcpStream::connect(listener.local_addr()?).await?;
        /// #         (listener, client)
        /// #     }};
        /// #     (UnixListener) => {{
        /// #         let name = format!("nursery-doc-{}.sock", std::process::id());
        /// #         let path = std::env::temp_dir().join(name);
        /// #         let _ = std::fs::remove_file(&path);
        /// #         let listener = UnixListener::bind(&path)?;
        /// #         let client = UnixStream::connect(&path).await?;
        /// #         std::fs::remove_file(&path)?;
        /// #         (listener, client)
        /// #     }};
        /// # }
        ///
        /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
        /// rt.block_on(async {
        #[doc = concat!("    // A ", stringify!($listener), " and a ", stringify!($stream),
            " connected to it.")]
        #[doc = concat!("    # let (listener, client) = listener_with_client!(",
            stringify!($listener), ");")]
        ///     let mut incoming = listener.incoming();
        ///     let accepted = incoming.next().await.expect("`Incoming` never ends")?;
        ///     let client_addr = format!("{:?}", client.local_addr()?);
        ///     assert_eq!(format!("{:?}", accepted.peer_addr()?), client_addr);
        ///     Ok::<_, std::io::Error>(())
        /// })?;
        /// # Ok::<(), std::io::Error>(())
        /// ```
        #[must_use = "streams do nothing unless polled"]
        pub struct Incoming<'a> {
            listener: &'a $listener,
            /// Its place among the listener's accepting tasks, kept from one connection to
            /// the next and freed when the stream is dropped.
            waiter: $crate::registration::Waiter<'a>,
        }

        impl futures_core::Stream for Incoming<'_> {
            type Item = std::io::Result<$stream>;

            fn poll_next(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Self::Item>> {
                let this = std::pin::Pin::get_mut(self);
                let accepted = this.listener.poll_accept_as(cx, Some(&mut this.waiter));
                let (stream, _) = std::task::ready!(accepted)?;
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
