//! `TcpListener`: accepts TCP connections (the accept path and `Incoming` are
//! shared with `UnixListener`: `net/accept.rs`).

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::task::{ready, Context, Poll};

use crate::error;
use crate::net::accept;
use crate::net::addr;
use crate::net::tcp::TcpStream;
use crate::poll_evented::PollEvented;

/// A TCP socket server, listening for connections.
///
/// # Examples
///
/// ```no_run
/// use nursery_reactor::net::TcpListener;
///
/// # async fn serve() -> std::io::Result<()> {
/// let listener = TcpListener::bind("127.0.0.1:8080").await?;
/// loop {
///     let (stream, peer) = listener.accept().await?;
///     println!("connection from {peer}");
///     drop(stream);
/// }
/// # }
/// ```
pub struct TcpListener {
    io: PollEvented<mio::net::TcpListener>,
}

impl TcpListener {
    /// The mio source, for the descriptor impls.
    pub(crate) fn source_ref(&self) -> &mio::net::TcpListener {
        self.io.source()
    }
}

impl TcpListener {
    /// Binds a listener to `addr` (trying each address it resolves to) with
    /// `SO_REUSEADDR` set, as `std` and mio do.
    ///
    /// Host names are resolved with `std`'s blocking resolver; see the
    /// [`net`](crate::net) docs.
    ///
    /// # Panics
    ///
    /// When no nursery reactor is entered on this thread.
    ///
    /// # Errors
    ///
    /// The error of the last address tried (or of resolution), or the
    /// shutdown error after the reactor shut down.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let mut last_error = None;
        for addr in addr::resolve(addr)? {
            match mio::net::TcpListener::bind(addr) {
                Ok(listener) => return TcpListener::from_mio(listener),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(error::no_addresses))
    }

    /// Wraps a bound `std` listener (switching it to non-blocking mode) and
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
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::from_mio(mio::net::TcpListener::from_std(listener))
    }

    #[track_caller]
    fn from_mio(listener: mio::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: PollEvented::new(listener)?,
        })
    }

    /// Waits for a connection and returns it with the peer's address.
    ///
    /// Cancel-safe: dropping the future accepts nothing, and a later `accept`
    /// gets the connection.
    ///
    /// # Errors
    ///
    /// Every error of `accept(2)` is returned as is, `EMFILE`/`ENFILE`
    /// (out of file descriptors) included. The listener stays ready after an
    /// error, so the next `accept` retries the system call at once: a server
    /// loop that meets `EMFILE` should back off (sleep, or close something)
    /// before retrying, or it will spin. No pending connection is lost.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection; see [`accept`](TcpListener::accept).
    ///
    /// Stores the waker when none is pending (one accepting task at a time).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (stream, peer) = ready!(accept::poll_accept(&self.io, cx))?;
        Poll::Ready(TcpStream::from_accepted(stream, self.io.handle()).map(|s| (s, peer)))
    }

    /// A stream of incoming connections (without their addresses); it never ends.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use futures::StreamExt;
    /// use nursery_reactor::net::TcpListener;
    ///
    /// # async fn serve(listener: TcpListener) -> std::io::Result<()> {
    /// let mut incoming = listener.incoming();
    /// while let Some(stream) = incoming.next().await {
    ///     let stream = stream?;
    ///     drop(stream);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    ///
    /// From `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().local_addr()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

accept::incoming!(TcpListener, TcpStream);
