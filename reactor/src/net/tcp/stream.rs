//! `TcpStream`: a connected TCP socket (its connect wait, reads, writes and
//! shutdown are shared with `UnixStream`: `net/stream_socket.rs`, `net/stream_io.rs`).

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

// Named only by the doc links: the impls are written by the `stream_io` macros.
#[allow(unused_imports)]
use futures_io::{AsyncRead, AsyncWrite};

use crate::error;
use crate::local_peer::LocalPeer;
use crate::net::addr::{self, ToSocketAddrs};
use crate::net::stream_io::{impl_async_read, impl_async_write, StreamIo};
use crate::net::stream_socket;
use crate::net::tcp::split::{self, OwnedReadHalf, OwnedWriteHalf};
use crate::poll_evented::PollEvented;
use crate::reactor::ReactorHandle;
use crate::ready::Direction;

/// A TCP connection.
///
/// Implements [`AsyncRead`] and [`AsyncWrite`] (also through `&TcpStream`,
/// so one task can read while another writes, or several read or write at
/// once, each getting a part of the bytes); `poll_close` shuts down the
/// write direction, so the peer reads EOF while this side can still read.
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
///     let mut stream = TcpStream::connect(listener.local_addr()?).await?;
///     let (mut peer, _) = listener.accept().await?;
///
///     stream.write_all(b"ping").await?;
///     stream.close().await?; // the peer sees EOF
///     let mut request = Vec::new();
///     peer.read_to_end(&mut request).await?;
///     assert_eq!(request, b"ping");
///
///     peer.write_all(b"pong").await?; // this side can still read
///     drop(peer);
///     let mut reply = Vec::new();
///     stream.read_to_end(&mut reply).await?;
///     assert_eq!(reply, b"pong");
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
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
    /// A host name is looked up off the runtime's workers; see
    /// [`lookup_host`](crate::net::lookup_host). Dropping the future abandons the attempt.
    ///
    /// # Panics
    ///
    /// When no nursery reactor is entered on this thread.
    ///
    /// # Errors
    ///
    /// The error of the last address tried (for example `ConnectionRefused`).
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::{TcpListener, TcpStream};
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let port = listener.local_addr()?.port();
    ///     let stream = TcpStream::connect(("127.0.0.1", port)).await?; // any `ToSocketAddrs`
    ///     assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let handle = ReactorHandle::current();
        let mut last_error = None;
        for addr in addr::resolve(addr).await? {
            match TcpStream::connect_addr(addr, &handle).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(error::no_addresses))
    }

    async fn connect_addr(addr: SocketAddr, handle: &ReactorHandle) -> io::Result<TcpStream> {
        let socket = mio::net::TcpStream::connect(addr)?;
        let io = PollEvented::with_handle(socket, handle)?;
        let stream = TcpStream::from_registered(io, Some(addr));
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
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::io::{AsyncReadExt, AsyncWriteExt};
    /// use nursery::net::TcpStream;
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let std_stream = std::net::TcpStream::connect(listener.local_addr()?)?;
    /// let (std_peer, _) = listener.accept()?;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let mut stream = TcpStream::from_std(std_stream)?; // inside the runtime
    ///     let mut peer = TcpStream::from_std(std_peer)?;
    ///     stream.write_all(b"hi").await?;
    ///     let mut buf = [0; 2];
    ///     peer.read_exact(&mut buf).await?;
    ///     assert_eq!(&buf, b"hi");
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        let peer = stream.peer_addr().ok();
        let io = PollEvented::new(mio::net::TcpStream::from_std(stream))?;
        Ok(TcpStream::from_registered(io, peer))
    }

    /// A stream the listener registered with `handle` has just accepted.
    pub(crate) fn from_accepted(
        stream: mio::net::TcpStream,
        peer: &SocketAddr,
        handle: &ReactorHandle,
    ) -> io::Result<TcpStream> {
        let io = PollEvented::with_handle(stream, handle)?;
        Ok(TcpStream::from_registered(io, Some(*peer)))
    }

    /// Wraps a registered socket connected to `peer`: reads learn when they empty it
    /// (a short read), and writes to a peer that is one of our streams look for its reader.
    fn from_registered(
        mut io: PollEvented<mio::net::TcpStream>,
        peer: Option<SocketAddr>,
    ) -> TcpStream {
        let local_peer = peer.and_then(|peer| {
            let socket = io.source();
            LocalPeer::tcp(io.handle(), io.registration().token(), peer, || {
                socket.local_addr()
            })
        });
        io.set_local_peer(local_peer);
        TcpStream { io }
    }

    /// What the stream knows of its peer being one of our sockets.
    #[cfg(test)]
    pub(crate) fn local_peer(&self) -> Option<&LocalPeer> {
        self.io.local_peer()
    }

    /// The address of the remote peer.
    ///
    /// # Errors
    ///
    /// From `getpeername(2)` (`NotConnected` once the connection is gone).
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::{TcpListener, TcpStream};
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (peer, _) = listener.accept().await?;
    ///     assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    ///     assert_eq!(peer.peer_addr()?, stream.local_addr()?);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().peer_addr()
    }

    /// The local address of this socket.
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
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (_peer, peer_sees) = listener.accept().await?;
    ///     assert_eq!(stream.local_addr()?, peer_sees); // an ephemeral port
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().local_addr()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm when `true`).
    ///
    /// # Errors
    ///
    /// From `setsockopt(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::{TcpListener, TcpStream};
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     stream.set_nodelay(true)?; // small writes go out at once
    ///     assert!(stream.nodelay()?);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.source().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    ///
    /// From `getsockopt(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::{TcpListener, TcpStream};
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     assert!(!stream.nodelay()?); // Nagle's algorithm is on by default
    ///     stream.set_nodelay(true)?;
    ///     assert!(stream.nodelay()?);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.source().nodelay()
    }

    /// Sets `SO_LINGER`: with `Some(d)`, closing the stream waits up to `d` for unsent data
    /// (and with `Some(Duration::ZERO)` resets the connection, an RST instead of a FIN);
    /// `None` restores the default (close returns at once, the kernel sends in the background).
    ///
    /// # Errors
    ///
    /// From `setsockopt(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use nursery::net::{TcpListener, TcpStream};
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     assert_eq!(stream.linger()?, None);
    ///     stream.set_linger(Some(Duration::ZERO))?; // dropping it now resets the peer
    ///     assert_eq!(stream.linger()?, Some(Duration::ZERO));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        socket2::SockRef::from(self.io.source()).set_linger(linger)
    }

    /// The `SO_LINGER` setting (see [`set_linger`](Self::set_linger)).
    ///
    /// # Errors
    ///
    /// From `getsockopt(2)`.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        socket2::SockRef::from(self.io.source()).linger()
    }

    /// Shuts down the read, write, or both directions (`shutdown(2)`).
    ///
    /// # Errors
    ///
    /// From `shutdown(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Shutdown;
    /// use futures::io::AsyncReadExt;
    /// use nursery::net::{TcpListener, TcpStream};
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (mut peer, _) = listener.accept().await?;
    ///     stream.shutdown(Shutdown::Write)?;
    ///     let mut buf = [0; 16];
    ///     assert_eq!(peer.read(&mut buf).await?, 0); // EOF
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.source().shutdown(how)
    }

    /// Splits the stream into a read half and a write half that can move to
    /// different tasks; [`OwnedReadHalf::reunite`] puts them back together.
    ///
    /// Dropping the write half shuts down the write direction.
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
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (mut peer, _) = listener.accept().await?;
    ///
    ///     let (mut read, mut write) = stream.into_split();
    ///     let writer = nursery::spawn(async move { write.write_all(b"ping").await });
    ///     let mut buf = [0; 4];
    ///     peer.read_exact(&mut buf).await?; // from the writer task
    ///     peer.write_all(&buf).await?;
    ///     read.read_exact(&mut buf).await?; // the echo, on this task
    ///     assert_eq!(&buf, b"ping");
    ///     writer.await.unwrap()
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::split(self)
    }
}

/// Readiness waits, `peek`, and the connect of a `TcpSocket`.
impl TcpStream {
    /// Registers `stream`, whose non-blocking connect to `addr` is under way, with
    /// the current reactor and waits until the connect has finished (`TcpSocket::connect`).
    pub(crate) async fn connect_std(
        stream: std::net::TcpStream,
        addr: SocketAddr,
    ) -> io::Result<TcpStream> {
        let io = PollEvented::new(mio::net::TcpStream::from_std(stream))?;
        let stream = TcpStream::from_registered(io, Some(addr));
        poll_fn(|cx| stream_socket::poll_connected(&stream.io, cx)).await?;
        Ok(stream)
    }

    /// Waits until the TcpStream is readable (or read-closed, or has an error).
    ///
    /// It clears nothing: a read that then returns `WouldBlock` does, and until
    /// then this returns at once. Readiness may be spurious (a new TcpStream
    /// starts ready). Any number of tasks may wait; readiness wakes them all.
    /// Cancel-safe.
    ///
    /// # Errors
    ///
    /// The shutdown error once the runtime has shut down.
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
    ///     let mut a = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (mut b, _) = listener.accept().await?;
    ///     let reader = nursery::spawn(async move {
    ///         b.readable().await?; // until the bytes come
    ///         let mut buf = [0; 2];
    ///         b.read_exact(&mut buf).await.map(|()| buf)
    ///     });
    ///     a.write_all(b"hi").await?;
    ///     assert_eq!(&reader.await.unwrap()?, b"hi");
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        self.io.ready(Direction::Read).await
    }

    /// Waits until the TcpStream is writable (or write-closed, or has an error);
    /// see [`readable`](TcpStream::readable).
    ///
    /// # Errors
    ///
    /// The shutdown error once the runtime has shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::io::AsyncWriteExt;
    /// use nursery::net::{TcpListener, TcpStream};
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let mut a = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (mut b, _) = listener.accept().await?;
    ///     a.writable().await?; // room in the send buffer
    ///     a.write_all(b"hi").await?;
    ///     drop(b);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        self.io.ready(Direction::Write).await
    }

    /// Receives into `buf` without removing the bytes from the stream: the next
    /// read gets them again. Waits until there is something to read.
    ///
    /// # Errors
    ///
    /// From `recv(2)` with `MSG_PEEK`.
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
    ///     let mut a = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (mut b, _) = listener.accept().await?;
    ///     a.write_all(b"GET /").await?;
    ///     let mut head = [0; 3];
    ///     let n = b.peek(&mut head).await?;
    ///     assert_eq!(&head[..n], &b"GET"[..n]); // a look at the protocol
    ///     let mut all = [0; 5];
    ///     b.read_exact(&mut all).await?; // the peeked bytes are still there
    ///     assert_eq!(&all, b"GET /");
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .async_io(Direction::Read, || self.io.source().peek(buf))
            .await
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
