//! `TcpStream`: a connected TCP socket (its connect wait, reads, writes and
//! shutdown are shared with `UnixStream`: `net/stream_socket.rs`, `net/stream_io.rs`).

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};

// Named only by the doc links: the impls are written by the `stream_io` macros.
#[allow(unused_imports)]
use futures_io::{AsyncRead, AsyncWrite};

use crate::driver::Handle;
use crate::error;
use crate::net::addr;
use crate::net::stream_io::{impl_async_read, impl_async_write, StreamIo};
use crate::net::stream_socket;
use crate::net::tcp::split::{self, OwnedReadHalf, OwnedWriteHalf};
use crate::poll_evented::PollEvented;

/// A TCP connection.
///
/// Implements [`AsyncRead`] and [`AsyncWrite`] (also through `&TcpStream`,
/// so one task can read while another writes); `poll_close` shuts down the
/// write direction, so the peer reads EOF while this side can still read.
///
/// # Examples
///
/// ```no_run
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// use nursery_reactor::net::TcpStream;
///
/// # async fn talk() -> std::io::Result<()> {
/// let mut stream = TcpStream::connect("127.0.0.1:8080").await?;
/// stream.write_all(b"ping").await?;
/// stream.close().await?; // the peer sees EOF
/// let mut reply = Vec::new();
/// stream.read_to_end(&mut reply).await?;
/// # Ok(())
/// # }
/// ```
pub struct TcpStream {
    io: PollEvented<mio::net::TcpStream>,
}

impl TcpStream {
    /// The mio source, for the descriptor impls.
    pub(crate) fn source_ref(&self) -> &mio::net::TcpStream {
        self.io.source()
    }
}

impl TcpStream {
    /// Connects to `addr`, trying each address it resolves to in turn.
    ///
    /// The connect is non-blocking: the socket is registered, the future waits
    /// until it is writable, then checks `SO_ERROR` and the peer address.
    /// Host names are resolved with `std`'s blocking resolver; see the
    /// [`net`](crate::net) docs. Dropping the future abandons the attempt.
    ///
    /// # Panics
    ///
    /// When no nursery reactor is entered on this thread.
    ///
    /// # Errors
    ///
    /// The error of the last address tried (for example `ConnectionRefused`).
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let handle = Handle::current();
        let mut last_error = None;
        for addr in addr::resolve(addr)? {
            match TcpStream::connect_addr(addr, &handle).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(error::no_addresses))
    }

    async fn connect_addr(addr: SocketAddr, handle: &Handle) -> io::Result<TcpStream> {
        let socket = mio::net::TcpStream::connect(addr)?;
        let stream = TcpStream {
            io: PollEvented::with_handle(socket, handle)?,
        };
        poll_fn(|cx| stream_socket::poll_connected(&stream.io, cx)).await?;
        Ok(stream)
    }

    /// Wraps a connected `std` stream (switching it to non-blocking mode) and
    /// registers it with the current reactor.
    ///
    /// # Panics
    ///
    /// When no nursery reactor is entered on this thread.
    ///
    /// # Errors
    ///
    /// From switching to non-blocking mode or from registering.
    #[track_caller]
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        Ok(TcpStream {
            io: PollEvented::new(mio::net::TcpStream::from_std(stream))?,
        })
    }

    /// A stream the listener registered with `handle` has just accepted.
    pub(crate) fn from_accepted(
        stream: mio::net::TcpStream,
        handle: &Handle,
    ) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: PollEvented::with_handle(stream, handle)?,
        })
    }

    /// The address of the remote peer.
    ///
    /// # Errors
    ///
    /// From `getpeername(2)` (`NotConnected` once the connection is gone).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().peer_addr()
    }

    /// The local address of this socket.
    ///
    /// # Errors
    ///
    /// From `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().local_addr()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm when `true`).
    ///
    /// # Errors
    ///
    /// From `setsockopt(2)`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.source().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    ///
    /// From `getsockopt(2)`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.source().nodelay()
    }

    /// Shuts down the read, write, or both directions (`shutdown(2)`).
    ///
    /// # Errors
    ///
    /// From `shutdown(2)`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.source().shutdown(how)
    }

    /// Splits the stream into a read half and a write half that can move to
    /// different tasks; [`OwnedReadHalf::reunite`] puts them back together.
    ///
    /// Dropping the write half shuts down the write direction.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::split(self)
    }
}

impl StreamIo for TcpStream {
    type Socket = mio::net::TcpStream;

    fn io(&self) -> &PollEvented<mio::net::TcpStream> {
        &self.io
    }
}

impl_async_read!(TcpStream, &TcpStream);
impl_async_write!(TcpStream, &TcpStream);

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}
