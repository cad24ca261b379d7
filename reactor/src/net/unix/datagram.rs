//! `UnixDatagram`: Unix domain datagrams, unconnected (`send_to`/`recv_from`)
//! or connected (`send`/`recv`).

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;

use crate::poll_evented::PollEvented;
use crate::ready::Direction;

/// A Unix domain datagram socket.
///
/// Sends and receives are cancel-safe: a dropped `recv` future has received
/// nothing, a dropped `send` future has sent nothing. Any number of tasks may
/// wait to receive or send on one socket (share it in an `Arc`): each datagram
/// reaches one of them.
///
/// # Examples
///
/// ```
/// use nursery::net::UnixDatagram;
///
/// let dir = std::env::temp_dir();
/// let server_path = dir.join(format!("nursery-doc-dgram-{}.sock", std::process::id()));
/// # let _ = std::fs::remove_file(&server_path);
/// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
/// rt.block_on(async {
///     let server = UnixDatagram::bind(&server_path)?;
///     let client = UnixDatagram::unbound()?;
///     client.send_to(b"ping", &server_path).await?;
///
///     let mut buf = [0; 16];
///     let (n, from) = server.recv_from(&mut buf).await?;
///     assert_eq!(&buf[..n], b"ping");
///     assert!(from.is_unnamed()); // an unbound client cannot be answered
///     std::fs::remove_file(&server_path)?;
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixDatagram {
    io: PollEvented<mio::net::UnixDatagram>,
}

impl UnixDatagram {
    /// Binds a socket to the file system path `path` (which must not exist).
    ///
    /// # Panics
    ///
    /// When no nursery reactor is entered on this thread.
    ///
    /// # Errors
    ///
    /// From `bind(2)` (for example `AddrInUse` when the path exists), or from
    /// registering.
    ///
    /// # Examples
    ///
    /// See [`UnixDatagram`].
    #[track_caller]
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        UnixDatagram::from_mio(mio::net::UnixDatagram::bind(path)?)
    }

    /// A socket bound to no address: it can send, and receive from a peer it
    /// [`connect`](UnixDatagram::connect)s to.
    ///
    /// # Panics
    ///
    /// When no nursery reactor is entered on this thread.
    ///
    /// # Errors
    ///
    /// From `socket(2)`, or from registering.
    ///
    /// # Examples
    ///
    /// See [`UnixDatagram`].
    #[track_caller]
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_mio(mio::net::UnixDatagram::unbound()?)
    }

    /// A pair of sockets connected to each other.
    ///
    /// # Panics
    ///
    /// When no nursery reactor is entered on this thread.
    ///
    /// # Errors
    ///
    /// From `socketpair(2)`, or from registering.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::UnixDatagram;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let (a, b) = UnixDatagram::pair()?;
    ///     a.send(b"one").await?;
    ///     a.send(b"two").await?;
    ///     let mut buf = [0; 8];
    ///     let n = b.recv(&mut buf).await?; // datagrams keep their bounds
    ///     assert_eq!(&buf[..n], b"one");
    ///     let n = b.recv(&mut buf).await?;
    ///     assert_eq!(&buf[..n], b"two");
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_mio(a)?, UnixDatagram::from_mio(b)?))
    }

    /// Wraps a `std` socket (switching it to non-blocking mode) and registers
    /// it with the current reactor.
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
    /// use nursery::net::UnixDatagram;
    ///
    /// let (std_a, std_b) = std::os::unix::net::UnixDatagram::pair()?;
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let a = UnixDatagram::from_std(std_a)?; // inside the runtime
    ///     std_b.send(b"hi")?;
    ///     let mut buf = [0; 2];
    ///     assert_eq!(a.recv(&mut buf).await?, 2);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        UnixDatagram::from_mio(mio::net::UnixDatagram::from_std(socket))
    }

    #[track_caller]
    fn from_mio(socket: mio::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            io: PollEvented::new(socket)?,
        })
    }

    /// Sets the default destination for [`send`](UnixDatagram::send) and the
    /// only source [`recv`](UnixDatagram::recv) accepts.
    ///
    /// # Errors
    ///
    /// From `connect(2)` (for example `NotFound` for a path nobody bound).
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("nursery-doc-dgc-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let client = UnixDatagram::unbound()?;
    ///     assert!(client.connect(&path).is_err()); // nobody bound it yet
    ///     let server = UnixDatagram::bind(&path)?;
    ///     client.connect(&path)?;
    ///     client.send(b"hi").await?;
    ///     let mut buf = [0; 2];
    ///     assert_eq!(server.recv(&mut buf).await?, 2);
    ///     std::fs::remove_file(&path)?;
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.io.source().connect(path)
    }

    /// Sends `buf` as one datagram to the socket bound to `path`.
    ///
    /// # Errors
    ///
    /// From `sendto(2)` (for example `NotFound` for a path nobody bound).
    ///
    /// # Examples
    ///
    /// See [`UnixDatagram`].
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        self.io
            .async_io(Direction::Write, || self.io.source().send_to(buf, path))
            .await
    }

    /// Receives one datagram into `buf` (the excess of a longer one is
    /// discarded) and returns its length and sender.
    ///
    /// # Errors
    ///
    /// From `recvfrom(2)`.
    ///
    /// # Examples
    ///
    /// See [`UnixDatagram`].
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .async_io(Direction::Read, || self.io.source().recv_from(buf))
            .await
    }

    /// Sends `buf` as one datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// From `send(2)` (`NotConnected` without a prior `connect`).
    ///
    /// # Examples
    ///
    /// See [`pair`](UnixDatagram::pair).
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .async_io(Direction::Write, || self.io.source().send(buf))
            .await
    }

    /// Receives one datagram from the connected peer into `buf`.
    ///
    /// # Errors
    ///
    /// From `recv(2)`.
    ///
    /// # Examples
    ///
    /// See [`pair`](UnixDatagram::pair).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .async_io(Direction::Read, || self.io.source().recv(buf))
            .await
    }

    /// Waits until the socket is readable (or has an error). It clears nothing:
    /// a receive that then returns `WouldBlock` does. Readiness may be spurious
    /// (a new socket starts ready); any number of tasks may wait. Cancel-safe.
    ///
    /// # Errors
    ///
    /// The shutdown error once the runtime has shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::UnixDatagram;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let (a, b) = UnixDatagram::pair()?;
    ///     a.send(b"hi").await?;
    ///     b.readable().await?;
    ///     let mut buf = [0; 2];
    ///     assert_eq!(b.recv(&mut buf).await?, 2);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        self.io.ready(Direction::Read).await
    }

    /// Waits until the socket is writable (or has an error); see
    /// [`readable`](UnixDatagram::readable).
    ///
    /// # Errors
    ///
    /// The shutdown error once the runtime has shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::UnixDatagram;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let (a, _b) = UnixDatagram::pair()?;
    ///     a.writable().await?;
    ///     assert_eq!(a.send(b"hi").await?, 2);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        self.io.ready(Direction::Write).await
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
    /// use nursery::net::UnixDatagram;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let socket = UnixDatagram::unbound()?;
    ///     assert!(socket.local_addr()?.is_unnamed());
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().local_addr()
    }

    /// The address of the connected peer.
    ///
    /// # Errors
    ///
    /// `NotConnected` when the socket is not connected.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::UnixDatagram;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let socket = UnixDatagram::unbound()?;
    ///     let error = socket.peer_addr().unwrap_err();
    ///     assert_eq!(error.kind(), std::io::ErrorKind::NotConnected);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().peer_addr()
    }
}

impl AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> RawFd {
        self.io.source().as_raw_fd()
    }
}

impl AsFd for UnixDatagram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.source().as_fd()
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
