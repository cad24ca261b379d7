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
use crate::ready::Direction;
use crate::registration::Waiter;

/// A Unix domain socket server, listening for connections.
///
/// # Examples
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// use nursery::net::{UnixListener, UnixStream};
///
/// let path = std::env::temp_dir().join(format!("nursery-doc-{}.sock", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
/// rt.block_on(async {
///     let listener = UnixListener::bind(&path)?;
///     let server = nursery::spawn(async move {
///         let (mut stream, _peer) = listener.accept().await?;
///         stream.write_all(b"hello").await
///     }); // the connection closes when the task ends
///     let mut client = UnixStream::connect(&path).await?;
///     let mut greeting = String::new();
///     client.read_to_string(&mut greeting).await?;
///     assert_eq!(greeting, "hello");
///     server.await.unwrap()
/// })?;
/// std::fs::remove_file(&path)?; // the socket file outlives the listener
/// # Ok::<(), std::io::Error>(())
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
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use nursery::net::UnixListener;
    ///
    /// let path = std::env::temp_dir().join(format!("nursery-doc-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    ///     assert_eq!(UnixListener::bind(&path).unwrap_err().kind(), ErrorKind::AddrInUse);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("nursery-doc-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let std_listener = std::os::unix::net::UnixListener::bind(&path)?;
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let listener = UnixListener::from_std(std_listener)?; // inside the runtime
    ///     let _client = UnixStream::connect(&path).await?;
    ///     let (_stream, _peer) = listener.accept().await?;
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("nursery-doc-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     let _client = UnixStream::connect(&path).await?;
    ///     std::fs::remove_file(&path)?; // the listener keeps working without its file
    ///     let (stream, peer) = listener.accept().await?;
    ///     assert!(peer.is_unnamed()); // the client did not bind a path
    ///     assert_eq!(stream.local_addr()?.as_pathname(), Some(path.as_path()));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let mut waiter = self.io.waiter(Direction::Read);
        poll_fn(|cx| self.poll_accept_as(cx, Some(&mut waiter))).await
    }

    /// Polls for a connection; see [`accept`](UnixListener::accept).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::task::Context;
    /// use nursery::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("nursery-doc-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    ///     assert!(listener.poll_accept(&mut cx).is_pending()); // nobody connected yet
    ///
    ///     let _client = UnixStream::connect(&path).await?;
    ///     std::fs::remove_file(&path)?;
    ///     let (_stream, peer) = poll_fn(|cx| listener.poll_accept(cx)).await?;
    ///     assert!(peer.is_unnamed());
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        self.poll_accept_as(cx, None)
    }

    /// [`poll_accept`](UnixListener::poll_accept), waiting in `waiter`'s place when one is given.
    fn poll_accept_as(
        &self,
        cx: &mut Context<'_>,
        waiter: Option<&mut Waiter<'_>>,
    ) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        let (stream, peer) = ready!(accept::poll_accept(&self.io, cx, waiter))?;
        Poll::Ready(UnixStream::from_accepted(stream, self.io.handle()).map(|s| (s, peer)))
    }

    /// A stream of incoming connections; it never ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{StreamExt, TryStreamExt};
    /// use nursery::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("nursery-doc-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     let _clients = [UnixStream::connect(&path).await?, UnixStream::connect(&path).await?];
    ///     std::fs::remove_file(&path)?;
    ///     let accepted: Vec<UnixStream> = listener.incoming().take(2).try_collect().await?;
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
    /// use nursery::net::UnixListener;
    ///
    /// let path = std::env::temp_dir().join(format!("nursery-doc-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
