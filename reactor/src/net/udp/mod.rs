//! `UdpSocket`: datagrams, unconnected (`send_to`/`recv_from`) or connected (`send`/`recv`).

mod options;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use crate::error;
use crate::net::addr::{self, ToSocketAddrs};
use crate::poll_evented::PollEvented;
use crate::ready::Direction;

/// A UDP socket.
///
/// Sends and receives are cancel-safe: a dropped `recv` future has received
/// nothing, a dropped `send` future has sent nothing. Any number of tasks may
/// wait to receive or send on one socket (share it in an `Arc`): each datagram
/// reaches one of them.
///
/// # Examples
///
/// ```
/// use nursery::net::UdpSocket;
///
/// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
/// rt.block_on(async {
///     let server = UdpSocket::bind("127.0.0.1:0").await?;
///     let client = UdpSocket::bind("127.0.0.1:0").await?;
///     client.send_to(b"ping", server.local_addr()?).await?;
///
///     // An echo: send each datagram back to where it came from.
///     let mut buf = [0; 1500];
///     let (n, from) = server.recv_from(&mut buf).await?;
///     server.send_to(&buf[..n], from).await?;
///
///     let (n, _) = client.recv_from(&mut buf).await?;
///     assert_eq!(&buf[..n], b"ping");
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UdpSocket {
    io: PollEvented<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// The mio source, for the descriptor impls.
    pub(crate) fn source_ref(&self) -> &mio::net::UdpSocket {
        self.io.source()
    }

    /// How many tasks wait on `direction`.
    #[cfg(test)]
    pub(crate) fn waiters(&self, direction: Direction) -> usize {
        self.io.registration().waiters(direction)
    }
}

impl UdpSocket {
    /// Binds a socket to `addr` (trying each address it resolves to).
    ///
    /// # Panics
    ///
    /// When no nursery reactor is entered on this thread.
    ///
    /// # Errors
    ///
    /// The error of the last address tried, or the shutdown error.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::UdpSocket;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await?; // port 0: the OS picks one
    ///     assert_ne!(socket.local_addr()?.port(), 0);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let mut last_error = None;
        for addr in addr::resolve(addr).await? {
            match mio::net::UdpSocket::bind(addr) {
                Ok(socket) => {
                    return Ok(UdpSocket {
                        io: PollEvented::new(socket)?,
                    })
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(error::no_addresses))
    }

    /// Wraps a bound `std` socket (switching it to non-blocking mode) and
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
    /// use nursery::net::UdpSocket;
    ///
    /// let std_socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let addr = std_socket.local_addr()?;
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let socket = UdpSocket::from_std(std_socket)?; // inside the runtime
    ///     assert_eq!(socket.local_addr()?, addr);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(UdpSocket {
            io: PollEvented::new(mio::net::UdpSocket::from_std(socket))?,
        })
    }

    /// Sets the default destination for [`send`](UdpSocket::send) and the only
    /// source [`recv`](UdpSocket::recv) accepts (the first address of `addr`
    /// that `connect(2)` accepts).
    ///
    /// # Errors
    ///
    /// The error of the last address tried.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::UdpSocket;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(b.local_addr()?).await?;
    ///     assert_eq!(a.peer_addr()?, b.local_addr()?);
    ///     a.send(b"hi").await?; // no address needed any more
    ///     let mut buf = [0; 2];
    ///     assert_eq!(b.recv_from(&mut buf).await?, (2, a.local_addr()?));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let mut last_error = None;
        for addr in addr::resolve(addr).await? {
            match self.io.source().connect(addr) {
                Ok(()) => return Ok(()),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(error::no_addresses))
    }

    /// Sends `buf` as one datagram to `target` (its first resolved address).
    ///
    /// # Errors
    ///
    /// From `sendto(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::UdpSocket;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let sender = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let receiver = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let sent = sender.send_to(b"hello", receiver.local_addr()?).await?;
    ///     assert_eq!(sent, 5);
    ///     let mut buf = [0; 16];
    ///     let (n, from) = receiver.recv_from(&mut buf).await?;
    ///     assert_eq!((&buf[..n], from), (&b"hello"[..], sender.local_addr()?));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let target = addr::resolve_first(target).await?;
        self.io
            .async_io(Direction::Write, || self.io.source().send_to(buf, target))
            .await
    }

    /// Polls sending `buf` to `target`.
    ///
    /// # Errors
    ///
    /// From `sendto(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use nursery::net::UdpSocket;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let sender = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let receiver = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let target = receiver.local_addr()?;
    ///     let sent = poll_fn(|cx| sender.poll_send_to(cx, b"hello", target)).await?;
    ///     assert_eq!(sent, 5);
    ///     let mut buf = [0; 16];
    ///     assert_eq!(receiver.recv(&mut buf).await?, 5);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io
            .registration()
            .poll_write_io(cx, || self.io.source().send_to(buf, target))
    }

    /// Receives one datagram into `buf` (the excess of a longer one is
    /// discarded) and returns its length and sender.
    ///
    /// # Errors
    ///
    /// From `recvfrom(2)` (for example `ConnectionRefused` after an ICMP
    /// port-unreachable on a connected socket).
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::UdpSocket;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let sender = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let receiver = UdpSocket::bind("127.0.0.1:0").await?;
    ///     sender.send_to(b"a longer datagram", receiver.local_addr()?).await?;
    ///     let mut buf = [0; 8];
    ///     let (n, from) = receiver.recv_from(&mut buf).await?;
    ///     assert_eq!(&buf[..n], b"a longer"); // the rest is discarded
    ///     assert_eq!(from, sender.local_addr()?);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .async_io(Direction::Read, || self.io.source().recv_from(buf))
            .await
    }

    /// Polls receiving one datagram; see [`recv_from`](UdpSocket::recv_from).
    ///
    /// # Errors
    ///
    /// From `recvfrom(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::task::Context;
    /// use nursery::net::UdpSocket;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let sender = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let receiver = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let mut buf = [0; 16];
    ///     let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    ///     assert!(receiver.poll_recv_from(&mut cx, &mut buf).is_pending()); // nothing sent yet
    ///
    ///     sender.send_to(b"hello", receiver.local_addr()?).await?;
    ///     let (n, from) = poll_fn(|cx| receiver.poll_recv_from(cx, &mut buf)).await?;
    ///     assert_eq!((&buf[..n], from), (&b"hello"[..], sender.local_addr()?));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.io
            .registration()
            .poll_read_io(cx, || self.io.source().recv_from(buf))
    }

    /// Sends `buf` as one datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// From `send(2)` (`NotConnected` without a prior `connect`).
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::UdpSocket;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert!(a.send(b"hi").await.is_err()); // not connected yet
    ///     a.connect(b.local_addr()?).await?;
    ///     assert_eq!(a.send(b"hi").await?, 2);
    ///     let mut buf = [0; 2];
    ///     assert_eq!(b.recv(&mut buf).await?, 2);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .async_io(Direction::Write, || self.io.source().send(buf))
            .await
    }

    /// Polls sending `buf` to the connected peer.
    ///
    /// # Errors
    ///
    /// From `send(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use nursery::net::UdpSocket;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(b.local_addr()?).await?;
    ///     assert_eq!(poll_fn(|cx| a.poll_send(cx, b"hi")).await?, 2);
    ///     let mut buf = [0; 2];
    ///     assert_eq!(b.recv(&mut buf).await?, 2);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io
            .registration()
            .poll_write_io(cx, || self.io.source().send(buf))
    }

    /// Receives one datagram from the connected peer into `buf`.
    ///
    /// # Errors
    ///
    /// From `recv(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::UdpSocket;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let stranger = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(b.local_addr()?).await?;
    ///     stranger.send_to(b"spam", a.local_addr()?).await?; // filtered out by `connect`
    ///     b.send_to(b"hi", a.local_addr()?).await?;
    ///     let mut buf = [0; 4];
    ///     let n = a.recv(&mut buf).await?;
    ///     assert_eq!(&buf[..n], b"hi");
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .async_io(Direction::Read, || self.io.source().recv(buf))
            .await
    }

    /// Polls receiving one datagram from the connected peer.
    ///
    /// # Errors
    ///
    /// From `recv(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use nursery::net::UdpSocket;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(b.local_addr()?).await?;
    ///     b.send_to(b"hi", a.local_addr()?).await?;
    ///     let mut buf = [0; 2];
    ///     assert_eq!(poll_fn(|cx| a.poll_recv(cx, &mut buf)).await?, 2);
    ///     assert_eq!(&buf, b"hi");
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io
            .registration()
            .poll_read_io(cx, || self.io.source().recv(buf))
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
    /// use nursery::net::UdpSocket;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let addr = socket.local_addr()?; // the port the OS picked
    ///     assert!(addr.ip().is_loopback() && addr.port() != 0);
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
    /// use nursery::net::UdpSocket;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert_eq!(a.peer_addr().unwrap_err().kind(), std::io::ErrorKind::NotConnected);
    ///     a.connect(b.local_addr()?).await?;
    ///     assert_eq!(a.peer_addr()?, b.local_addr()?);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().peer_addr()
    }
}

/// `peek_from` and readiness waits (the socket options are in `options.rs`).
impl UdpSocket {
    /// Receives the next datagram into `buf` without removing it: the next receive gets it again.
    ///
    /// # Errors
    ///
    /// From `recvfrom(2)` with `MSG_PEEK`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::UdpSocket;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let sender = UdpSocket::bind("127.0.0.1:0").await?;
    ///     sender.send_to(b"hi", socket.local_addr()?).await?;
    ///     let mut buf = [0; 2];
    ///     assert_eq!(socket.peek_from(&mut buf).await?, (2, sender.local_addr()?));
    ///     assert_eq!(socket.recv_from(&mut buf).await?.0, 2); // still there
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .async_io(Direction::Read, || self.io.source().peek_from(buf))
            .await
    }

    /// Waits until the socket is readable (or has an error). It clears nothing: a receive that then returns `WouldBlock` does. Readiness may be spurious (a new socket starts ready); any number of tasks may wait. Cancel-safe.
    ///
    /// # Errors
    ///
    /// The shutdown error once the runtime has shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::UdpSocket;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let sender = UdpSocket::bind("127.0.0.1:0").await?;
    ///     sender.send_to(b"hi", socket.local_addr()?).await?;
    ///     socket.readable().await?;
    ///     let mut buf = [0; 2];
    ///     assert_eq!(socket.recv_from(&mut buf).await?.0, 2);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        self.io.ready(Direction::Read).await
    }

    /// Waits until the socket is writable (or has an error); see [`readable`](UdpSocket::readable).
    ///
    /// # Errors
    ///
    /// The shutdown error once the runtime has shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::UdpSocket;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await?;
    ///     socket.writable().await?; // room in the send buffer
    ///     socket.send_to(b"hi", socket.local_addr()?).await?;
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        self.io.ready(Direction::Write).await
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
