//! Non-blocking sockets driven by the reactor: TCP, UDP and Unix domain sockets, and
//! [`AsyncFd`] for any other descriptor the OS poller accepts.
//!
//! Every type registers with the reactor that [`ReactorHandle::current`](crate::ReactorHandle::current)
//! names when it is created (so create them inside a nursery runtime) and keeps
//! that handle for its whole life.
//!
//! Address arguments take a [`ToSocketAddrs`]: a literal address is used as
//! is; a host name is looked up off the threads that poll tasks (see
//! [`lookup_host`]).
//!
//! Any number of tasks may use one socket at once (an `Arc<TcpListener>` shared
//! by several accept loops, an `Arc<UdpSocket>` by several receivers, a
//! `&TcpStream` read by two tasks): readiness wakes every task waiting on its
//! direction, and each retries, so every connection, datagram or byte reaches
//! a task that waits for one. A future dropped while waiting (a timeout, a
//! `select!`) leaves no trace, and one polled again is listed once.
//!
//! ```
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use nursery::net::UnixStream;
//!
//! let rt = nursery::Runtime::builder().worker_threads(1).build()?;
//! rt.block_on(async {
//!     let (mut client, server) = UnixStream::pair()?; // inside the runtime
//!     let (mut server_read, mut server_write) = server.into_split();
//!     let echo = nursery::spawn(async move {
//!         futures::io::copy(&mut server_read, &mut server_write).await
//!     }); // the write half shuts down when the task ends
//!     client.write_all(b"ping").await?;
//!     client.close().await?; // EOF: the copy ends
//!     let mut reply = Vec::new();
//!     client.read_to_end(&mut reply).await?;
//!     assert_eq!(reply, b"ping");
//!     assert_eq!(echo.await.unwrap()?, 4);
//!     Ok::<_, std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

// `tcp` and `unix` are written once where their logic is the same: the
// connected socket in `stream_socket`, the read/write impls in `stream_io`, the
// owned halves in `split`, and the accept path and `Incoming` in `accept`.
mod accept;
mod addr;
mod async_fd;
mod split;
mod stream_io;
pub(crate) mod stream_socket;
pub mod tcp;
mod udp;
pub mod unix;

pub use addr::{lookup_host, ToSocketAddrs};
pub use async_fd::{AsyncFd, AsyncFdReadyGuard, TryIoError};
pub use tcp::{TcpListener, TcpSocket, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};

mod fd;

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod local_peer_tests;
#[cfg(test)]
mod waiter_tests;
