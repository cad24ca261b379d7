//! The `AsyncRead`/`AsyncWrite` impls of the stream types, written once for
//! `TcpStream`, `UnixStream`, their `&` forms and their owned halves: the
//! [`StreamIo`] trait that reaches each one's registered socket, and the two
//! macros that write the impls (the traits are foreign, so each type needs
//! its own impl).

use std::io;

use crate::net::stream_socket::{shutdown_write, StreamSocket};
use crate::poll_evented::PollEvented;

/// A type whose reads and writes go to a registered stream socket: a stream or
/// one of its owned halves. The impls the macros below write go through it.
pub(crate) trait StreamIo {
    /// The mio socket.
    type Socket: StreamSocket;

    /// The registered socket.
    fn io(&self) -> &PollEvented<Self::Socket>;

    /// Shuts down the write direction (`poll_close`); a connection already gone counts as closed.
    fn close_write(&mut self) -> io::Result<()> {
        shutdown_write(self.io())
    }
}

/// A `&` stream reads and writes like the stream (what `&TcpStream`'s impls use).
impl<T: StreamIo> StreamIo for &T {
    type Socket = T::Socket;

    fn io(&self) -> &PollEvented<T::Socket> {
        (**self).io()
    }
}

/// `impl AsyncRead` for each listed [`StreamIo`] type (or `&` of one).
macro_rules! impl_async_read {
    ($($ty:ty),* $(,)?) => {$(
        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::net::stream_socket::poll_read(
                    <$ty as $crate::net::stream_io::StreamIo>::io(&self),
                    cx,
                    buf,
                )
            }

            fn poll_read_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                <$ty as $crate::net::stream_io::StreamIo>::io(&self).poll_read_vectored(cx, bufs)
            }
        }
    )*};
}

/// `impl AsyncWrite` for each listed [`StreamIo`] type (or `&` of one):
/// flushing has nothing to do, closing shuts down the write direction.
macro_rules! impl_async_write {
    ($($ty:ty),* $(,)?) => {$(
        impl futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                <$ty as $crate::net::stream_io::StreamIo>::io(&self).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                <$ty as $crate::net::stream_io::StreamIo>::io(&self).poll_write_vectored(cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let this = std::pin::Pin::get_mut(self);
                std::task::Poll::Ready(<$ty as $crate::net::stream_io::StreamIo>::close_write(this))
            }
        }
    )*};
}

pub(crate) use {impl_async_read, impl_async_write};
