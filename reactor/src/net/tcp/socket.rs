//! `TcpSocket`: a TCP socket not yet connected or listening, for the options that
//! must be set before `bind`, `connect` or `listen` (set through `socket2`).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, TcpKeepalive, Type};

use crate::net::tcp::{TcpListener, TcpStream};

/// A TCP socket before it connects or listens: set options, bind, then
/// [`connect`](TcpSocket::connect) for a [`TcpStream`] or
/// [`listen`](TcpSocket::listen) for a [`TcpListener`].
///
/// # Examples
///
/// ```
/// use nursery::net::TcpSocket;
///
/// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
/// rt.block_on(async {
///     let server = TcpSocket::new_v4()?;
///     server.set_reuseaddr(true)?; // rebind at once after a restart
///     server.bind("127.0.0.1:0".parse().unwrap())?;
///     let listener = server.listen(128)?;
///
///     let client = TcpSocket::new_v4()?;
///     client.set_nodelay(true)?;
///     client.set_recv_buffer_size(64 * 1024)?;
///     let stream = client.connect(listener.local_addr()?).await?;
///     let (_peer, from) = listener.accept().await?;
///     assert_eq!(from, stream.local_addr()?);
///     assert!(stream.nodelay()?);
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpSocket {
    socket: Socket,
}

impl TcpSocket {
    /// A new IPv4 TCP socket (close-on-exec, non-blocking).
    ///
    /// # Errors
    ///
    /// From `socket(2)` (for example `EMFILE`).
    ///
    /// # Examples
    ///
    /// See [`TcpSocket`].
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV4)
    }

    /// A new IPv6 TCP socket (close-on-exec, non-blocking).
    ///
    /// # Errors
    ///
    /// From `socket(2)` (for example `EAFNOSUPPORT` where IPv6 is off).
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::TcpSocket;
    ///
    /// if let Ok(socket) = TcpSocket::new_v6() { // a host may have IPv6 off
    ///     assert!(socket.local_addr()?.is_ipv6());
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV6)
    }

    fn new(domain: Domain) -> io::Result<TcpSocket> {
        let socket = Socket::new(domain, Type::STREAM.nonblocking(), Some(Protocol::TCP))?;
        Ok(TcpSocket { socket })
    }

    /// Sets `SO_REUSEADDR`: bind to an address still in `TIME_WAIT`.
    ///
    /// # Errors
    ///
    /// From `setsockopt(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::TcpSocket;
    ///
    /// let socket = TcpSocket::new_v4()?;
    /// socket.set_reuseaddr(true)?;
    /// assert!(socket.reuseaddr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
        self.socket.set_reuse_address(reuseaddr)
    }

    /// Whether `SO_REUSEADDR` is set.
    ///
    /// # Errors
    ///
    /// From `getsockopt(2)`.
    ///
    /// # Examples
    ///
    /// See [`set_reuseaddr`](TcpSocket::set_reuseaddr).
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.socket.reuse_address()
    }

    /// Sets `SO_REUSEPORT`: several sockets listen on one port, the kernel
    /// spreading connections among them.
    ///
    /// # Errors
    ///
    /// From `setsockopt(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::TcpSocket;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let first = TcpSocket::new_v4()?;
    ///     first.set_reuseport(true)?;
    ///     first.bind("127.0.0.1:0".parse().unwrap())?;
    ///     let addr = first.local_addr()?;
    ///     let second = TcpSocket::new_v4()?;
    ///     second.set_reuseport(true)?;
    ///     second.bind(addr)?; // the same port
    ///     let (_a, _b) = (first.listen(16)?, second.listen(16)?);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_reuseport(&self, reuseport: bool) -> io::Result<()> {
        self.socket.set_reuse_port(reuseport)
    }

    /// Whether `SO_REUSEPORT` is set.
    ///
    /// # Errors
    ///
    /// From `getsockopt(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::TcpSocket;
    ///
    /// let socket = TcpSocket::new_v4()?;
    /// assert!(!socket.reuseport()?);
    /// socket.set_reuseport(true)?;
    /// assert!(socket.reuseport()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reuseport(&self) -> io::Result<bool> {
        self.socket.reuse_port()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm when `true`); the
    /// connected stream keeps it.
    ///
    /// # Errors
    ///
    /// From `setsockopt(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::TcpSocket;
    ///
    /// let socket = TcpSocket::new_v4()?;
    /// socket.set_nodelay(true)?;
    /// assert!(socket.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.socket.set_tcp_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    ///
    /// From `getsockopt(2)`.
    ///
    /// # Examples
    ///
    /// See [`set_nodelay`](TcpSocket::set_nodelay).
    pub fn nodelay(&self) -> io::Result<bool> {
        self.socket.tcp_nodelay()
    }

    /// Sets `SO_KEEPALIVE`: probe an idle connection (after the system's idle time).
    ///
    /// # Errors
    ///
    /// From `setsockopt(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::TcpSocket;
    ///
    /// let socket = TcpSocket::new_v4()?;
    /// socket.set_keepalive(true)?;
    /// assert!(socket.keepalive()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        self.socket.set_keepalive(keepalive)
    }

    /// Turns `SO_KEEPALIVE` on, probing after `idle` without traffic (`TCP_KEEPIDLE`).
    ///
    /// # Errors
    ///
    /// From `setsockopt(2)` (for example `InvalidInput` for a zero `idle`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use nursery::net::TcpSocket;
    ///
    /// let socket = TcpSocket::new_v4()?;
    /// socket.set_keepalive_idle(Duration::from_secs(30))?;
    /// assert!(socket.keepalive()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_keepalive_idle(&self, idle: Duration) -> io::Result<()> {
        self.socket
            .set_tcp_keepalive(&TcpKeepalive::new().with_time(idle))
    }

    /// Whether `SO_KEEPALIVE` is set.
    ///
    /// # Errors
    ///
    /// From `getsockopt(2)`.
    ///
    /// # Examples
    ///
    /// See [`set_keepalive`](TcpSocket::set_keepalive).
    pub fn keepalive(&self) -> io::Result<bool> {
        self.socket.keepalive()
    }

    /// Sets `SO_SNDBUF` (Linux doubles the value for its bookkeeping, see
    /// [`send_buffer_size`](TcpSocket::send_buffer_size)).
    ///
    /// # Errors
    ///
    /// From `setsockopt(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::TcpSocket;
    ///
    /// let socket = TcpSocket::new_v4()?;
    /// socket.set_send_buffer_size(64 * 1024)?;
    /// assert!(socket.send_buffer_size()? >= 64 * 1024);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_send_buffer_size(&self, size: usize) -> io::Result<()> {
        self.socket.set_send_buffer_size(size)
    }

    /// `SO_SNDBUF`, as the kernel keeps it.
    ///
    /// # Errors
    ///
    /// From `getsockopt(2)`.
    ///
    /// # Examples
    ///
    /// See [`set_send_buffer_size`](TcpSocket::set_send_buffer_size).
    pub fn send_buffer_size(&self) -> io::Result<usize> {
        self.socket.send_buffer_size()
    }

    /// Sets `SO_RCVBUF` (before `connect`/`listen`, so the window scale fits it).
    ///
    /// # Errors
    ///
    /// From `setsockopt(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::TcpSocket;
    ///
    /// let socket = TcpSocket::new_v4()?;
    /// socket.set_recv_buffer_size(64 * 1024)?;
    /// assert!(socket.recv_buffer_size()? >= 64 * 1024);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_recv_buffer_size(&self, size: usize) -> io::Result<()> {
        self.socket.set_recv_buffer_size(size)
    }

    /// `SO_RCVBUF`, as the kernel keeps it.
    ///
    /// # Errors
    ///
    /// From `getsockopt(2)`.
    ///
    /// # Examples
    ///
    /// See [`set_recv_buffer_size`](TcpSocket::set_recv_buffer_size).
    pub fn recv_buffer_size(&self) -> io::Result<usize> {
        self.socket.recv_buffer_size()
    }

    /// Binds the socket to `addr` (port 0: the OS picks one).
    ///
    /// # Errors
    ///
    /// From `bind(2)`: for example `AddrInUse` when another socket holds `addr`
    /// (and the options do not allow sharing it), `PermissionDenied` for a port
    /// below 1024 without the privilege, `InvalidInput` for an address of the
    /// other family.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::TcpSocket;
    ///
    /// let socket = TcpSocket::new_v4()?;
    /// socket.bind("127.0.0.1:0".parse().unwrap())?;
    /// assert_ne!(socket.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        self.socket.bind(&SockAddr::from(addr))
    }

    /// The local address (unspecified, port 0, before `bind`).
    ///
    /// # Errors
    ///
    /// From `getsockname(2)`.
    ///
    /// # Examples
    ///
    /// See [`bind`](TcpSocket::bind).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()?.as_socket().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "TcpSocket::local_addr: not an IP address",
            )
        })
    }

    /// Connects to `addr` without blocking: the socket is registered with the
    /// current reactor and the future waits until the connect has finished.
    /// Dropping the future abandons the attempt (and closes the socket).
    ///
    /// # Panics
    ///
    /// When no nursery reactor is entered on this thread.
    ///
    /// # Errors
    ///
    /// From `connect(2)` or `SO_ERROR` (for example `ConnectionRefused`), or
    /// from registering.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::{TcpListener, TcpSocket};
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let socket = TcpSocket::new_v4()?;
    ///     socket.bind("127.0.0.1:0".parse().unwrap())?; // a chosen source address
    ///     let local = socket.local_addr()?;
    ///     let stream = socket.connect(listener.local_addr()?).await?;
    ///     assert_eq!(stream.local_addr()?, local);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        match self.socket.connect(&SockAddr::from(addr)) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        let stream: std::net::TcpStream = self.socket.into();
        TcpStream::connect_std(stream, addr).await
    }

    /// Listens for connections (`backlog`: how many may wait to be accepted)
    /// and registers the listener with the current reactor.
    ///
    /// # Panics
    ///
    /// When no nursery reactor is entered on this thread.
    ///
    /// # Errors
    ///
    /// From `listen(2)` (for example `AddrInUse` when another socket listens on
    /// the port it was bound to), or from registering.
    ///
    /// # Examples
    ///
    /// See [`TcpSocket`].
    #[track_caller]
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        self.socket.listen(backlog)?;
        TcpListener::from_std(self.socket.into())
    }
}

impl AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

impl AsFd for TcpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSocket")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
