//! `UnixListener`: accepts Unix domain stream connections (the accept path and
//! `Incoming` are shared with `TcpListener`: `net/accept.rs`).

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{ready, Context, Poll};

use crate::net::accept;
use crate::net::unix::UnixStream;
use crate::poll_evented::PollEvented;

/// A Unix domain socket server, listening for connections.
///
/// # Examples
///
/// ```no_run
/// use nursery_reactor::net::UnixListener;
///
/// # async fn serve() -> std::io::Result<()> {
/// let listener = UnixListener::bind("/tmp/app.sock")?;
/// let (stream, _peer) = listener.accept().await?;
/// # drop(stream);
/// # Ok(())
/// # }
/// ```
pub struct UnixListener {
    io: PollEvented<mio::net::UnixListener>,
}

impl UnixListener {
    /// The mio source, for the descriptor impls.
    pub(crate) fn source_ref(&self) -> &mio::net::UnixListener {
        self.io.source()
    }
}

impl UnixListener {
    /// Binds a listener to the socket file `path` (which must not exist yet).
    ///
    /// # Panics
    ///
    /// When no nursery reactor is entered on this thread.
    ///
    /// # Errors
    ///
    /// From `socket(2)`/`bind(2)`/`listen(2)` (for example `AddrInUse` when
    /// the file exists), or the shutdown error.
    #[track_caller]
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let listener = mio::net::UnixListener::bind(path)?;
        Ok(UnixListener {
            io: PollEvented::new(listener)?,
        })
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
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            io: PollEvented::new(mio::net::UnixListener::from_std(listener))?,
        })
    }

    /// Waits for a connection and returns it with the peer's address.
    ///
    /// Cancel-safe, and errors (`EMFILE` included) behave as for
    /// [`TcpListener::accept`](crate::net::TcpListener::accept).
    ///
    /// # Errors
    ///
    /// Every error of `accept(2)`, as is.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection; see [`accept`](UnixListener::accept).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        let (stream, peer) = ready!(accept::poll_accept(&self.io, cx))?;
        Poll::Ready(UnixStream::from_accepted(stream, self.io.handle()).map(|s| (s, peer)))
    }

    /// A stream of incoming connections; it never ends.
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

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

accept::incoming!(UnixListener, UnixStream);
