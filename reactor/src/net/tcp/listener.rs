//! `TcpListener`: accepts TCP connections (the accept path and `Incoming` are
//! shared with `UnixListener`: `net/accept.rs`).

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::{ready, Context, Poll};

use crate::error;
use crate::net::accept;
use crate::net::addr::{self, ToSocketAddrs};
use crate::net::tcp::TcpStream;
use crate::poll_evented::PollEvented;
use crate::ready::Direction;
use crate::registration::Waiter;

/// A TCP socket server, listening for connections.
///
/// # Examples
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// use nursery::net::{TcpListener, TcpStream};
///
/// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
/// rt.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     let server = nursery::spawn(async move {
///         let (mut stream, _peer) = listener.accept().await?;
///         stream.write_all(b"hello").await
///     }); // the connection closes when the task ends
///     let mut client = TcpStream::connect(addr).await?;
///     let mut greeting = String::new();
///     client.read_to_string(&mut greeting).await?;
///     assert_eq!(greeting, "hello");
///     server.await.unwrap()
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpListener {
    io: PollEvented<mio::net::TcpListener>,
}

impl TcpListener {
    /// The mio source, for the descriptor impls.
    pub(crate) fn source_ref(&self) -> &mio::net::TcpListener {
        self.io.source()
    }

    /// How many tasks wait on `direction`.
    #[cfg(test)]
    pub(crate) fn waiters(&self, direction: Direction) -> usize {
        self.io.registration().waiters(direction)
    }
}

impl TcpListener {
    /// Binds a listener to `addr` (trying each address it resolves to) with
    /// `SO_REUSEADDR` set, as `std` and mio do.
    ///
    /// A host name is looked up off the runtime's workers; see
    /// [`lookup_host`](crate::net::lookup_host).
    ///
    /// # Panics
    ///
    /// When no nursery reactor is entered on this thread.
    ///
    /// # Errors
    ///
    /// The error of the last address tried (or of resolution), or the
    /// shutdown error after the reactor shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use nursery::net::TcpListener;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     // Port 0: the OS picks a free port.
    ///     let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    ///     assert_ne!(listener.local_addr()?.port(), 0);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let mut last_error = None;
        for addr in addr::resolve(addr).await? {
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
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::{TcpListener, TcpStream};
    ///
    /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = std_listener.local_addr()?;
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::from_std(std_listener)?; // inside the runtime
    ///     let client = TcpStream::connect(addr).await?;
    ///     let (_stream, peer) = listener.accept().await?;
    ///     assert_eq!(peer, client.local_addr()?);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::{TcpListener, TcpStream};
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     // The kernel completes the handshake before `accept` is called.
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (stream, peer) = listener.accept().await?;
    ///     assert_eq!(peer, client.local_addr()?);
    ///     assert_eq!(stream.local_addr()?, client.peer_addr()?);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let mut waiter = self.io.waiter(Direction::Read);
        poll_fn(|cx| self.poll_accept_as(cx, Some(&mut waiter))).await
    }

    /// Polls for a connection; see [`accept`](TcpListener::accept).
    ///
    /// When none is pending, the task waits among the listener's accepting
    /// tasks (any number of them; a connection wakes them all) until the
    /// listener is next ready. A task that keeps polling is listed once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::task::Context;
    /// use nursery::net::{TcpListener, TcpStream};
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    ///     assert!(listener.poll_accept(&mut cx).is_pending()); // nobody connected yet
    ///
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (_stream, peer) = poll_fn(|cx| listener.poll_accept(cx)).await?;
    ///     assert_eq!(peer, client.local_addr()?);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.poll_accept_as(cx, None)
    }

    /// [`poll_accept`](TcpListener::poll_accept), waiting in `waiter`'s place when one is given.
    fn poll_accept_as(
        &self,
        cx: &mut Context<'_>,
        waiter: Option<&mut Waiter<'_>>,
    ) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (stream, peer) = ready!(accept::poll_accept(&self.io, cx, waiter))?;
        Poll::Ready(TcpStream::from_accepted(stream, &peer, self.io.handle()).map(|s| (s, peer)))
    }

    /// A stream of incoming connections (without their addresses); it never ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{StreamExt, TryStreamExt};
    /// use nursery::net::{TcpListener, TcpStream};
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let addr = listener.local_addr()?;
    ///     let _clients = [TcpStream::connect(addr).await?, TcpStream::connect(addr).await?];
    ///     let accepted: Vec<TcpStream> = listener.incoming().take(2).try_collect().await?;
    ///     assert_eq!(accepted.len(), 2);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming {
            listener: self,
            waiter: self.io.waiter(Direction::Read),
        }
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    ///
    /// From `getsockname(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::{TcpListener, TcpStream};
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let addr = listener.local_addr()?; // the port the OS picked
    ///     assert!(addr.ip().is_loopback());
    ///     let client = TcpStream::connect(addr).await?;
    ///     assert_eq!(client.peer_addr()?, addr);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
