//! The owned halves of a `UnixStream`, for moving reads and writes to different tasks.

use std::error::Error;
use std::fmt;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::unix::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use crate::net::unix::UnixStream;

/// The read half of a [`UnixStream`], from [`UnixStream::into_split`].
pub struct OwnedReadHalf {
    stream: Arc<UnixStream>,
}

/// The write half of a [`UnixStream`], from [`UnixStream::into_split`].
///
/// Dropping it (or closing it) shuts down the write direction of the
/// connection: the peer reads EOF, and the read half keeps working.
pub struct OwnedWriteHalf {
    stream: Arc<UnixStream>,
    shutdown_on_drop: bool,
}

/// The two halves given to `reunite` came from different streams; here they are back.
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

/// Splits `stream` into its two halves.
pub(crate) fn split(stream: UnixStream) -> (OwnedReadHalf, OwnedWriteHalf) {
    let stream = Arc::new(stream);
    let read = OwnedReadHalf {
        stream: stream.clone(),
    };
    let write = OwnedWriteHalf {
        stream,
        shutdown_on_drop: true,
    };
    (read, write)
}

fn reunite(read: OwnedReadHalf, mut write: OwnedWriteHalf) -> Result<UnixStream, ReuniteError> {
    if !Arc::ptr_eq(&read.stream, &write.stream) {
        return Err(ReuniteError(read, write));
    }
    write.shutdown_on_drop = false;
    drop(write);
    match Arc::try_unwrap(read.stream) {
        Ok(stream) => Ok(stream),
        // The two halves hold the only two references and the write half's is gone.
        Err(_) => unreachable!("a UnixStream half was shared beyond its pair"),
    }
}

impl OwnedReadHalf {
    /// Puts the stream back together with the write half it was split from.
    ///
    /// # Errors
    ///
    /// Both halves, unchanged, when they come from different streams.
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<UnixStream, ReuniteError> {
        reunite(self, other)
    }

    /// The address of the remote peer.
    ///
    /// # Errors
    ///
    /// From `getpeername(2)`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// The local address of the socket.
    ///
    /// # Errors
    ///
    /// From `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }
}

impl OwnedWriteHalf {
    /// Puts the stream back together with the read half it was split from.
    ///
    /// # Errors
    ///
    /// Both halves, unchanged, when they come from different streams.
    pub fn reunite(self, other: OwnedReadHalf) -> Result<UnixStream, ReuniteError> {
        reunite(other, self)
    }

    /// The address of the remote peer.
    ///
    /// # Errors
    ///
    /// From `getpeername(2)`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// The local address of the socket.
    ///
    /// # Errors
    ///
    /// From `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }
}

impl AsyncRead for OwnedReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_read_priv(cx, buf)
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_read_vectored_priv(cx, bufs)
    }
}

impl AsyncWrite for OwnedWriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_write_priv(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_write_vectored_priv(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = self.stream.close_write();
        if result.is_ok() {
            self.shutdown_on_drop = false;
        }
        Poll::Ready(result)
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            // Nothing to report to: the connection may already be gone.
            let _ = self.stream.close_write();
        }
    }
}

impl fmt::Debug for OwnedReadHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedReadHalf")
            .field("stream", &self.stream)
            .finish()
    }
}

impl fmt::Debug for OwnedWriteHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedWriteHalf")
            .field("stream", &self.stream)
            .finish()
    }
}

impl fmt::Debug for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same UnixStream")
    }
}

impl Error for ReuniteError {}
