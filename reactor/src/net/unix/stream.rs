//! `UnixStream`: a connected Unix domain stream socket (its connect wait, reads,
//! writes and shutdown are shared with `TcpStream`: `net/stream_socket.rs`, `net/stream_io.rs`).

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::Shutdown;
use std::os::unix::net::SocketAddr;
use std::path::Path;

// Named only by the doc links: the impls are written by the `stream_io` macros.
#[allow(unused_imports)]
use futures_io::{AsyncRead, AsyncWrite};

use crate::local_peer::{self, LocalPeer};
use crate::net::stream_io::{impl_async_read, impl_async_write, StreamIo};
use crate::net::stream_socket;
use crate::net::unix::split::{self, OwnedReadHalf, OwnedWriteHalf};
use crate::poll_evented::PollEvented;
use crate::reactor::ReactorHandle;
use crate::ready::Direction;

/// A Unix domain stream connection.
///
/// Implements [`AsyncRead`] and [`AsyncWrite`] (also through `&UnixStream`);
/// `poll_close` shuts down the write direction.
///
/// # Examples
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// use nursery_reactor::{net::UnixStream, Reactor};
///
/// let reactor = Reactor::new()?;
/// let _guard = reactor.handle().enter();
/// let (mut a, mut b) = UnixStream::pair()?;
/// futures::executor::block_on(async {
///     a.write_all(b"hi").await?;
///     let mut buf = [0; 2];
///     b.read_exact(&mut buf).await?; // new sockets are tried at once: no turn needed here
///     assert_eq!(&buf, b"hi");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixStream {
    io: PollEvented<mio::net::UnixStream>,
}

/// Whether a new stream's peer is this process.
enum Peer {
    /// Known to be (a `pair`).
    Ours,
    /// `SO_PEERCRED` says.
    AskTheKernel,
}

impl UnixStream {
    /// The mio source, for the descriptor impls.
    pub(crate) fn source_ref(&self) -> &mio::net::UnixStream {
        self.io.source()
    }
}

impl UnixStream {
    /// Connects to the socket file at `path`.
    ///
    /// # Panics
    ///
    /// When no nursery reactor is entered on this thread.
    ///
    /// # Errors
    ///
    /// From `connect(2)` (for example `NotFound`, `ConnectionRefused`, or
    /// `WouldBlock` when the listener's backlog is full) or from `SO_ERROR`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use nursery::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("nursery-doc-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let err = UnixStream::connect(&path).await.unwrap_err();
    ///     assert_eq!(err.kind(), ErrorKind::NotFound); // nothing bound there yet
    ///
    ///     let _listener = UnixListener::bind(&path)?;
    ///     let stream = UnixStream::connect(&path).await?;
    ///     std::fs::remove_file(&path)?;
    ///     assert_eq!(stream.peer_addr()?.as_pathname(), Some(path.as_path()));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let handle = ReactorHandle::current();
        let socket = mio::net::UnixStream::connect(path)?;
        let io = PollEvented::with_handle(socket, &handle)?;
        let stream = UnixStream::from_registered(io, Peer::AskTheKernel);
        poll_fn(|cx| stream_socket::poll_connected(&stream.io, cx)).await?;
        Ok(stream)
    }

    /// Two connected streams (`socketpair(2)`), both registered with the current reactor.
    ///
    /// # Panics
    ///
    /// When no nursery reactor is entered on this thread.
    ///
    /// # Errors
    ///
    /// From `socketpair(2)` or from registering.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::io::{AsyncReadExt, AsyncWriteExt};
    /// use nursery::net::UnixStream;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let (mut parent, mut child) = UnixStream::pair()?; // no file, no listener
    ///     parent.write_all(b"ping").await?;
    ///     let mut buf = [0; 4];
    ///     child.read_exact(&mut buf).await?;
    ///     assert_eq!(&buf, b"ping");
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let handle = ReactorHandle::current();
        let (a, b) = mio::net::UnixStream::pair()?;
        let a = UnixStream::from_registered(PollEvented::with_handle(a, &handle)?, Peer::Ours);
        let b = UnixStream::from_registered(PollEvented::with_handle(b, &handle)?, Peer::Ours);
        if let (Some(a_peer), Some(b_peer)) = (a.io.local_peer(), b.io.local_peer()) {
            let token = |stream: &UnixStream| stream.io.registration().token();
            local_peer::link_pair(a_peer, token(&a), b_peer, token(&b));
        }
        Ok((a, b))
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
    /// use nursery::net::UnixStream;
    ///
    /// let (std_a, std_b) = std::os::unix::net::UnixStream::pair()?;
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let mut a = UnixStream::from_std(std_a)?; // inside the runtime
    ///     let mut b = UnixStream::from_std(std_b)?;
    ///     a.write_all(b"hi").await?;
    ///     let mut buf = [0; 2];
    ///     b.read_exact(&mut buf).await?;
    ///     assert_eq!(&buf, b"hi");
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        let io = PollEvented::new(mio::net::UnixStream::from_std(stream))?;
        Ok(UnixStream::from_registered(io, Peer::AskTheKernel))
    }

    /// A connected stream registered with `handle`.
    pub(crate) fn from_accepted(
        stream: mio::net::UnixStream,
        handle: &ReactorHandle,
    ) -> io::Result<UnixStream> {
        let io = PollEvented::with_handle(stream, handle)?;
        Ok(UnixStream::from_registered(io, Peer::AskTheKernel))
    }

    /// Wraps a registered socket; writes look for the peer's reader if the peer is ours.
    fn from_registered(mut io: PollEvented<mio::net::UnixStream>, peer: Peer) -> UnixStream {
        let local_peer = LocalPeer::unix(io.handle(), || match peer {
            Peer::Ours => true,
            Peer::AskTheKernel => crate::sys::peer_is_this_process(io.source()),
        });
        io.set_local_peer(local_peer);
        UnixStream { io }
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
    /// From `getpeername(2)`.
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
    ///     let client = UnixStream::connect(&path).await?;
    ///     std::fs::remove_file(&path)?;
    ///     let (server, _) = listener.accept().await?;
    ///     assert_eq!(client.peer_addr()?.as_pathname(), Some(path.as_path()));
    ///     assert!(server.peer_addr()?.is_unnamed()); // the client bound no path
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
    /// use nursery::net::UnixStream;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let (a, _b) = UnixStream::pair()?;
    ///     assert!(a.local_addr()?.is_unnamed()); // a socketpair has no path
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().local_addr()
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
    /// use nursery::net::UnixStream;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let (a, mut b) = UnixStream::pair()?;
    ///     a.shutdown(Shutdown::Write)?;
    ///     let mut buf = [0; 16];
    ///     assert_eq!(b.read(&mut buf).await?, 0); // EOF
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
    /// use nursery::net::UnixStream;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let (stream, mut peer) = UnixStream::pair()?;
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

/// Readiness waits.
impl UnixStream {
    /// Waits until the UnixStream is readable (or read-closed, or has an error).
    ///
    /// It clears nothing: a read that then returns `WouldBlock` does, and until
    /// then this returns at once. Readiness may be spurious (a new UnixStream
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
    /// use nursery::net::{UnixStream};
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let (mut a, mut b) = UnixStream::pair()?;
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

    /// Waits until the UnixStream is writable (or write-closed, or has an error);
    /// see [`readable`](UnixStream::readable).
    ///
    /// # Errors
    ///
    /// The shutdown error once the runtime has shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::io::AsyncWriteExt;
    /// use nursery::net::{UnixStream};
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let (mut a, mut b) = UnixStream::pair()?;
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
}

impl StreamIo for UnixStream {
    type Socket = mio::net::UnixStream;

    fn io(&self) -> &PollEvented<mio::net::UnixStream> {
        &self.io
    }
}

impl_async_read!(UnixStream, &UnixStream);
impl_async_write!(UnixStream, &UnixStream);

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}
