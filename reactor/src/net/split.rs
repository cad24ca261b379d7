//! The owned halves of a stream, for moving reads and writes to different
//! tasks: the sharing, the shutdown on drop and the reuniting written once,
//! generic over the stream, and the macro that builds `tcp`'s and `unix`'s
//! public half types on top of them.

use std::io;
use std::sync::Arc;

use crate::net::stream_io::StreamIo;
use crate::net::stream_socket::shutdown_write;
use crate::poll_evented::PollEvented;

/// The read side of a split stream.
pub(crate) struct ReadHalf<T> {
    stream: Arc<T>,
}

/// The write side of a split stream. The public half that holds it calls
/// [`on_drop`](WriteHalf::on_drop) from its `Drop`.
pub(crate) struct WriteHalf<T> {
    stream: Arc<T>,
    shutdown_on_drop: bool,
}

/// Splits `stream` into its two halves.
pub(crate) fn split<T: StreamIo>(stream: T) -> (ReadHalf<T>, WriteHalf<T>) {
    let stream = Arc::new(stream);
    let read = ReadHalf {
        stream: stream.clone(),
    };
    let write = WriteHalf {
        stream,
        shutdown_on_drop: true,
    };
    (read, write)
}

/// Puts the stream back together from `read` and the public write half
/// `write` (whose `WriteHalf` `half` reaches), or hands both back unchanged
/// when they come from different streams.
pub(crate) fn reunite<T: StreamIo, W>(
    read: ReadHalf<T>,
    mut write: W,
    half: fn(&mut W) -> &mut WriteHalf<T>,
) -> Result<T, (ReadHalf<T>, W)> {
    let write_half = half(&mut write);
    if !Arc::ptr_eq(&read.stream, &write_half.stream) {
        return Err((read, write));
    }
    write_half.shutdown_on_drop = false;
    drop(write);
    match Arc::try_unwrap(read.stream) {
        Ok(stream) => Ok(stream),
        // The two halves hold the only two references and the write half's is gone.
        Err(_) => unreachable!("a stream half was shared beyond its pair"),
    }
}

impl<T> ReadHalf<T> {
    /// The stream the half was split from.
    pub(crate) fn stream(&self) -> &T {
        &self.stream
    }
}

impl<T: StreamIo> WriteHalf<T> {
    /// The stream the half was split from.
    pub(crate) fn stream(&self) -> &T {
        &self.stream
    }

    /// What dropping the write half does: shut down the write direction,
    /// unless the half was closed or reunited first.
    pub(crate) fn on_drop(&mut self) {
        if self.shutdown_on_drop {
            // Nothing to report to: the connection may already be gone.
            let _ = shutdown_write(self.stream.io());
        }
    }
}

impl<T: StreamIo> StreamIo for ReadHalf<T> {
    type Socket = T::Socket;

    fn io(&self) -> &PollEvented<T::Socket> {
        self.stream.io()
    }
}

impl<T: StreamIo> StreamIo for WriteHalf<T> {
    type Socket = T::Socket;

    fn io(&self) -> &PollEvented<T::Socket> {
        self.stream.io()
    }

    /// Shuts down the write direction; once that succeeded, dropping the half
    /// does not do it again.
    fn close_write(&mut self) -> io::Result<()> {
        let result = shutdown_write(self.stream.io());
        if result.is_ok() {
            self.shutdown_on_drop = false;
        }
        result
    }
}

/// Defines the public `OwnedReadHalf`, `OwnedWriteHalf` and `ReuniteError` of
/// the stream type `$stream` (whose addresses are `$addr`) in the calling
/// module, which also gets `split`, for `$stream::into_split`.
///
/// The doc examples of the public items run for both stream types: their hidden
/// `connected_pair!` picks the setup by `$stream` (in the `@addrs` arm, which
/// knows only the address type, by `module_path!()`).
macro_rules! owned_halves {
    ($stream:ident, $addr:ty) => {
        #[doc = concat!("The read half of a [`", stringify!($stream), "`], from [`",
            stringify!($stream), "::into_split`].")]
        ///
        /// # Examples
        ///
        /// ```
        /// use futures::io::{AsyncReadExt, AsyncWriteExt};
        /// # use nursery::net::{TcpListener, TcpStream, UnixStream};
        /// # macro_rules! connected_pair {
        /// #     (TcpStream) => {{
        /// #         let listener = TcpListener::bind("127.0.0.1:0").await?;
        /// #         let stream = TcpStream::connect(listener.local_addr()?).await?;
        /// #         (stream, listener.accept().await?.0)
        /// #     }};
        /// #     (UnixStream) => { UnixStream::pair()? };
        /// # }
        ///
        /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
        /// rt.block_on(async {
        #[doc = concat!("    // `stream` and `peer`: two connected ",
            stringify!($stream), "s.")]
        #[doc = concat!("    # let (stream, mut peer) = connected_pair!(",
            stringify!($stream), ");")]
        ///     let (mut read, _write) = stream.into_split();
        ///     let reader = nursery::spawn(async move {
        ///         let mut buf = [0; 4];
        ///         read.read_exact(&mut buf).await.map(|()| buf)
        ///     });
        ///     peer.write_all(b"ping").await?;
        ///     assert_eq!(&reader.await.unwrap()?, b"ping");
        ///     Ok::<_, std::io::Error>(())
        /// })?;
        /// # Ok::<(), std::io::Error>(())
        /// ```
        pub struct OwnedReadHalf {
            inner: $crate::net::split::ReadHalf<$stream>,
        }

        #[doc = concat!("The write half of a [`", stringify!($stream), "`], from [`",
            stringify!($stream), "::into_split`].")]
        ///
        /// Dropping it (or closing it) shuts down the write direction of the
        /// connection: the peer reads EOF, and the read half keeps working.
        ///
        /// # Examples
        ///
        /// ```
        /// use futures::io::{AsyncReadExt, AsyncWriteExt};
        /// # use nursery::net::{TcpListener, TcpStream, UnixStream};
        /// # macro_rules! connected_pair {
        /// #     (TcpStream) => {{
        /// #         let listener = TcpListener::bind("127.0.0.1:0").await?;
        /// #         let stream = TcpStream::connect(listener.local_addr()?).await?;
        /// #         (stream, listener.accept().await?.0)
        /// #     }};
        /// #     (UnixStream) => { UnixStream::pair()? };
        /// # }
        ///
        /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
        /// rt.block_on(async {
        #[doc = concat!("    // `stream` and `peer`: two connected ",
            stringify!($stream), "s.")]
        #[doc = concat!("    # let (stream, mut peer) = connected_pair!(",
            stringify!($stream), ");")]
        ///     let (_read, mut write) = stream.into_split();
        ///     write.write_all(b"bye").await?;
        ///     drop(write); // the peer reads EOF after the data
        ///     let mut received = Vec::new();
        ///     peer.read_to_end(&mut received).await?;
        ///     assert_eq!(received, b"bye");
        ///     Ok::<_, std::io::Error>(())
        /// })?;
        /// # Ok::<(), std::io::Error>(())
        /// ```
        pub struct OwnedWriteHalf {
            inner: $crate::net::split::WriteHalf<$stream>,
        }

        /// The two halves given to `reunite` came from different streams; here they are back.
        ///
        /// # Examples
        ///
        /// ```
        /// # use nursery::net::{TcpListener, TcpStream, UnixStream};
        /// # macro_rules! connected_pair {
        /// #     (TcpStream) => {{
        /// #         let listener = TcpListener::bind("127.0.0.1:0").await?;
        /// #         let stream = TcpStream::connect(listener.local_addr()?).await?;
        /// #         (stream, listener.accept().await?.0)
        /// #     }};
        /// #     (UnixStream) => { UnixStream::pair()? };
        /// # }
        ///
        /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
        /// rt.block_on(async {
        #[doc = concat!("    // `stream` and `peer`: two connected ",
            stringify!($stream), "s.")]
        #[doc = concat!("    # let (stream, mut peer) = connected_pair!(",
            stringify!($stream), ");")]
        ///     let (read, write) = stream.into_split();
        ///     let (peer_read, peer_write) = peer.into_split();
        ///     let error = read.reunite(peer_write).unwrap_err();
        ///     assert!(error.to_string().contains("not from the same"));
        ///     let (read, peer_write) = (error.0, error.1); // both halves, unchanged
        ///     let _stream = read.reunite(write).expect("the halves of one stream");
        ///     let _peer = peer_read.reunite(peer_write).expect("the halves of one stream");
        ///     Ok::<_, std::io::Error>(())
        /// })?;
        /// # Ok::<(), std::io::Error>(())
        /// ```
        pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

        /// Splits `stream` into its two halves.
        pub(crate) fn split(stream: $stream) -> (OwnedReadHalf, OwnedWriteHalf) {
            let (read, write) = $crate::net::split::split(stream);
            (OwnedReadHalf { inner: read }, OwnedWriteHalf { inner: write })
        }

        fn reunite(read: OwnedReadHalf, write: OwnedWriteHalf) -> Result<$stream, ReuniteError> {
            $crate::net::split::reunite(read.inner, write, |write| &mut write.inner)
                .map_err(|(read, write)| ReuniteError(OwnedReadHalf { inner: read }, write))
        }

        impl OwnedReadHalf {
            /// Puts the stream back together with the write half it was split from.
            ///
            /// # Errors
            ///
            /// Both halves, unchanged, when they come from different streams.
            ///
            /// # Examples
            ///
            /// ```
            /// use futures::io::{AsyncReadExt, AsyncWriteExt};
            /// # use nursery::net::{TcpListener, TcpStream, UnixStream};
            /// # macro_rules! connected_pair {
            /// #     (TcpStream) => {{
            /// #         let listener = TcpListener::bind("127.0.0.1:0").await?;
            /// #         let stream = TcpStream::connect(listener.local_addr()?).await?;
            /// #         (stream, listener.accept().await?.0)
            /// #     }};
            /// #     (UnixStream) => { UnixStream::pair()? };
            /// # }
            ///
            /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
            /// rt.block_on(async {
            #[doc = concat!("    // `stream` and `peer`: two connected ",
                stringify!($stream), "s.")]
            #[doc = concat!("    # let (stream, mut peer) = connected_pair!(",
                stringify!($stream), ");")]
            ///     let (read, write) = stream.into_split();
            ///     let mut stream = read.reunite(write).expect("the halves of one stream");
            ///     stream.write_all(b"whole").await?; // reuniting did not shut the write side
            ///     let mut buf = [0; 5];
            ///     peer.read_exact(&mut buf).await?;
            ///     assert_eq!(&buf, b"whole");
            ///     Ok::<_, std::io::Error>(())
            /// })?;
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn reunite(self, other: OwnedWriteHalf) -> Result<$stream, ReuniteError> {
                reunite(self, other)
            }

            $crate::net::split::owned_halves!(@addrs $addr);
        }

        impl OwnedWriteHalf {
            /// Puts the stream back together with the read half it was split from.
            ///
            /// # Errors
            ///
            /// Both halves, unchanged, when they come from different streams.
            ///
            /// # Examples
            ///
            /// ```
            /// use futures::io::{AsyncReadExt, AsyncWriteExt};
            /// # use nursery::net::{TcpListener, TcpStream, UnixStream};
            /// # macro_rules! connected_pair {
            /// #     (TcpStream) => {{
            /// #         let listener = TcpListener::bind("127.0.0.1:0").await?;
            /// #         let stream = TcpStream::connect(listener.local_addr()?).await?;
            /// #         (stream, listener.accept().await?.0)
            /// #     }};
            /// #     (UnixStream) => { UnixStream::pair()? };
            /// # }
            ///
            /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
            /// rt.block_on(async {
            #[doc = concat!("    // `stream` and `peer`: two connected ",
                stringify!($stream), "s.")]
            #[doc = concat!("    # let (stream, mut peer) = connected_pair!(",
                stringify!($stream), ");")]
            ///     let (read, write) = stream.into_split();
            ///     let mut stream = write.reunite(read).expect("the halves of one stream");
            ///     peer.write_all(b"whole").await?;
            ///     let mut buf = [0; 5];
            ///     stream.read_exact(&mut buf).await?;
            ///     assert_eq!(&buf, b"whole");
            ///     Ok::<_, std::io::Error>(())
            /// })?;
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn reunite(self, other: OwnedReadHalf) -> Result<$stream, ReuniteError> {
                reunite(other, self)
            }

            $crate::net::split::owned_halves!(@addrs $addr);
        }

        $crate::net::split::owned_halves!(@stream_io $stream);
        $crate::net::stream_io::impl_async_read!(OwnedReadHalf);
        $crate::net::stream_io::impl_async_write!(OwnedWriteHalf);

        impl std::fmt::Debug for OwnedReadHalf {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("OwnedReadHalf")
                    .field("stream", self.inner.stream())
                    .finish()
            }
        }

        impl std::fmt::Debug for OwnedWriteHalf {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("OwnedWriteHalf")
                    .field("stream", self.inner.stream())
                    .finish()
            }
        }

        impl std::fmt::Debug for ReuniteError {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("ReuniteError(..)")
            }
        }

        impl std::fmt::Display for ReuniteError {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(
                    "tried to reunite halves that are not from the same ",
                    stringify!($stream)
                ))
            }
        }

        impl std::error::Error for ReuniteError {}
    };
    // The address getters both halves have.
    (@addrs $addr:ty) => {
        /// The address of the remote peer.
        ///
        /// # Errors
        ///
        /// From `getpeername(2)`.
        ///
        /// # Examples
        ///
        /// ```
        /// # use nursery::net::{TcpListener, TcpStream, UnixStream};
        /// # macro_rules! connected_pair {
        /// #     ("nursery_reactor::net::tcp::split") => {{
        /// #         let listener = TcpListener::bind("127.0.0.1:0").await?;
        /// #         let stream = TcpStream::connect(listener.local_addr()?).await?;
        /// #         (stream, listener.accept().await?.0)
        /// #     }};
        /// #     ("nursery_reactor::net::unix::split") => { UnixStream::pair()? };
        /// # }
        ///
        /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
        /// rt.block_on(async {
        ///     // `stream` and `peer`: the two ends of a connection.
        #[doc = concat!("    # let (stream, mut peer) = connected_pair!(\"",
            module_path!(), "\");")]
        ///     // Both halves report the stream's addresses (compared as text: a Unix
        ///     // socket address has no `==`).
        ///     let expected = format!("{:?}", peer.local_addr()?);
        ///     let (read, write) = stream.into_split();
        ///     assert_eq!(format!("{:?}", read.peer_addr()?), expected);
        ///     assert_eq!(format!("{:?}", write.peer_addr()?), expected);
        ///     Ok::<_, std::io::Error>(())
        /// })?;
        /// # Ok::<(), std::io::Error>(())
        /// ```
        pub fn peer_addr(&self) -> std::io::Result<$addr> {
            self.inner.stream().peer_addr()
        }

        /// The local address of the socket.
        ///
        /// # Errors
        ///
        /// From `getsockname(2)`.
        ///
        /// # Examples
        ///
        /// ```
        /// # use nursery::net::{TcpListener, TcpStream, UnixStream};
        /// # macro_rules! connected_pair {
        /// #     ("nursery_reactor::net::tcp::split") => {{
        /// #         let listener = TcpListener::bind("127.0.0.1:0").await?;
        /// #         let stream = TcpStream::connect(listener.local_addr()?).await?;
        /// #         (stream, listener.accept().await?.0)
        /// #     }};
        /// #     ("nursery_reactor::net::unix::split") => { UnixStream::pair()? };
        /// # }
        ///
        /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
        /// rt.block_on(async {
        ///     // `stream` and `peer`: the two ends of a connection.
        #[doc = concat!("    # let (stream, mut peer) = connected_pair!(\"",
            module_path!(), "\");")]
        ///     // Both halves report the stream's addresses (compared as text: a Unix
        ///     // socket address has no `==`).
        ///     let expected = format!("{:?}", peer.peer_addr()?);
        ///     let (read, write) = stream.into_split();
        ///     assert_eq!(format!("{:?}", read.local_addr()?), expected);
        ///     assert_eq!(format!("{:?}", write.local_addr()?), expected);
        ///     Ok::<_, std::io::Error>(())
        /// })?;
        /// # Ok::<(), std::io::Error>(())
        /// ```
        pub fn local_addr(&self) -> std::io::Result<$addr> {
            self.inner.stream().local_addr()
        }
    };
    // Reads, writes and the write shutdown of the halves go to their inner halves.
    (@stream_io $stream:ident) => {
        impl $crate::net::stream_io::StreamIo for OwnedReadHalf {
            type Socket = <$stream as $crate::net::stream_io::StreamIo>::Socket;

            fn io(&self) -> &$crate::poll_evented::PollEvented<Self::Socket> {
                $crate::net::stream_io::StreamIo::io(&self.inner)
            }
        }

        impl $crate::net::stream_io::StreamIo for OwnedWriteHalf {
            type Socket = <$stream as $crate::net::stream_io::StreamIo>::Socket;

            fn io(&self) -> &$crate::poll_evented::PollEvented<Self::Socket> {
                $crate::net::stream_io::StreamIo::io(&self.inner)
            }

            fn close_write(&mut self) -> std::io::Result<()> {
                $crate::net::stream_io::StreamIo::close_write(&mut self.inner)
            }
        }

        impl Drop for OwnedWriteHalf {
            fn drop(&mut self) {
                self.inner.on_drop();
            }
        }
    };
}

pub(crate) use owned_halves;
