//! `NurseryIo`: hyper's I/O traits over `futures_io`'s, in both directions.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use hyper::rt::{ReadBuf, ReadBufCursor};
use pin_project_lite::pin_project;

pin_project! {
    /// Wraps an I/O object so that hyper can use it, or so that a hyper I/O object can be used
    /// with `futures_io`.
    ///
    /// * `T: futures_io::AsyncRead + AsyncWrite` (nursery's [`TcpStream`], [`UnixStream`], anything
    ///   from the `futures` ecosystem) → `NurseryIo<T>` implements [`hyper::rt::Read`] and
    ///   [`hyper::rt::Write`]: hand it to `serve_connection` or a client `handshake`.
    /// * `T: hyper::rt::Read + Write` (hyper's [`Upgraded`] connection after a `101 Switching
    ///   Protocols`) → `NurseryIo<T>` implements `futures_io::AsyncRead` and `AsyncWrite`, so
    ///   `futures::io::AsyncReadExt` and friends work on it.
    ///
    /// hyper's [`Write::poll_shutdown`](hyper::rt::Write::poll_shutdown) maps to
    /// [`AsyncWrite::poll_close`] (for a `TcpStream`: shut down the write half) and back.
    ///
    /// ```
    /// use futures::io::Cursor;
    /// use nursery_hyper::NurseryIo;
    ///
    /// let io = NurseryIo::new(Cursor::new(b"GET / HTTP/1.1\r\n\r\n".to_vec()));
    /// assert!(!hyper::rt::Write::is_write_vectored(&io));
    /// let cursor = io.into_inner();
    /// assert_eq!(cursor.position(), 0);
    /// ```
    ///
    /// [`TcpStream`]: nursery::net::TcpStream
    /// [`UnixStream`]: nursery::net::UnixStream
    /// [`Upgraded`]: hyper::upgrade::Upgraded
    #[derive(Debug)]
    pub struct NurseryIo<T> {
        #[pin]
        inner: T,
        vectored: bool,
    }
}

/// The most one read asks of `futures_io` (hyper may offer more when its buffer has grown for a
/// large body; the rest comes with the next read).
const MAX_READ: usize = 64 * 1024;

thread_local! {
    /// Initialized memory that `futures_io` reads into on this thread; the bytes read are then
    /// copied into hyper's uninitialized buffer. `futures_io` reads only into initialized
    /// memory, and zeroing hyper's buffer before every read cost each read the zeroed cache
    /// lines (cold ones with many connections) and each idle connection the pages it touched;
    /// tokio's reads write into uninitialized memory. Here a read touches this thread's memory,
    /// which stays warm, and only as many bytes of hyper's buffer as it returns. (A reader that
    /// reports bytes it did not write hands hyper an earlier read's bytes instead of zeros: it
    /// breaks `AsyncRead`'s contract either way.)
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl<T> NurseryIo<T> {
    /// Wraps `inner`. hyper is told that it has no efficient vectored writes, so it gathers each
    /// response (head and body) into one buffer before writing; see
    /// [`with_vectored_writes`](NurseryIo::with_vectored_writes).
    ///
    /// ```
    /// # nursery::Runtime::new().unwrap().block_on(async {
    /// use nursery::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = TcpStream::connect(listener.local_addr()?).await?;
    /// let io = nursery_hyper::NurseryIo::new(stream);
    /// # drop(io);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn new(inner: T) -> NurseryIo<T> {
        NurseryIo {
            inner,
            vectored: false,
        }
    }

    /// Tells hyper whether `inner` writes several buffers in one call (`writev`) rather than
    /// only the first one, as `futures_io`'s default `poll_write_vectored` does. With `true`,
    /// hyper writes a response's head and body straight from their buffers, without copying
    /// them into one. nursery's `TcpStream` and `UnixStream` do real vectored writes.
    ///
    /// ```
    /// # nursery::Runtime::new().unwrap().block_on(async {
    /// use nursery::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = TcpStream::connect(listener.local_addr()?).await?;
    /// let io = nursery_hyper::NurseryIo::new(stream).with_vectored_writes(true);
    /// assert!(hyper::rt::Write::is_write_vectored(&io));
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn with_vectored_writes(mut self, vectored: bool) -> NurseryIo<T> {
        self.vectored = vectored;
        self
    }

    /// The wrapped I/O object.
    ///
    /// ```
    /// let io = nursery_hyper::NurseryIo::new(futures::io::Cursor::new(vec![1, 2, 3]));
    /// assert_eq!(io.get_ref().get_ref(), &[1, 2, 3]);
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped I/O object, mutably.
    ///
    /// ```
    /// let mut io = nursery_hyper::NurseryIo::new(futures::io::Cursor::new(vec![1, 2, 3]));
    /// io.get_mut().set_position(2);
    /// assert_eq!(io.get_ref().position(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// The wrapped I/O object, pinned (for `T` that is not `Unpin`).
    ///
    /// ```
    /// use std::pin::pin;
    /// let mut io = pin!(nursery_hyper::NurseryIo::new(futures::io::Cursor::new(vec![7])));
    /// assert_eq!(io.as_mut().get_pin_mut().get_ref(), &[7]);
    /// ```
    pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut T> {
        self.project().inner
    }

    /// Unwraps the I/O object.
    ///
    /// ```
    /// let io = nursery_hyper::NurseryIo::new(futures::io::Cursor::new(vec![1]));
    /// assert_eq!(io.into_inner().into_inner(), vec![1]);
    /// ```
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T> From<T> for NurseryIo<T> {
    /// Same as [`NurseryIo::new`].
    fn from(inner: T) -> NurseryIo<T> {
        NurseryIo::new(inner)
    }
}

/// futures-io → hyper.
impl<T: AsyncRead> hyper::rt::Read for NurseryIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let inner = self.project().inner;
        let want = buf.remaining().min(MAX_READ);
        SCRATCH.with(|scratch| {
            let Ok(mut scratch) = scratch.try_borrow_mut() else {
                // A read through another `NurseryIo` under this one, on this thread (a hyper
                // connection over an upgraded one): its own, zeroed memory.
                let mut nested = vec![0; want];
                return read_into(inner, cx, &mut nested, &mut buf);
            };
            if scratch.len() < want {
                scratch.resize(want, 0);
            }
            read_into(inner, cx, &mut scratch[..want], &mut buf)
        })
    }
}

/// Reads from `inner` into `dst` (initialized memory), then copies what it read into hyper's `buf`.
fn read_into<T: AsyncRead>(
    inner: Pin<&mut T>,
    cx: &mut Context<'_>,
    dst: &mut [u8],
    buf: &mut ReadBufCursor<'_>,
) -> Poll<io::Result<()>> {
    let n = ready!(inner.poll_read(cx, dst))?;
    let Some(read) = dst.get(..n) else {
        return Poll::Ready(Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "AsyncRead::poll_read reported {n} bytes read into a {}-byte buffer",
                dst.len()
            ),
        )));
    };
    buf.put_slice(read);
    Poll::Ready(Ok(()))
}

/// futures-io → hyper.
impl<T: AsyncWrite> hyper::rt::Write for NurseryIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_close(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.vectored
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }
}

/// hyper → futures-io (an upgraded connection, say).
impl<T: hyper::rt::Read> AsyncRead for NurseryIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut read = ReadBuf::new(buf);
        ready!(self.project().inner.poll_read(cx, read.unfilled()))?;
        Poll::Ready(Ok(read.filled().len()))
    }
}

/// hyper → futures-io (an upgraded connection, say).
impl<T: hyper::rt::Write> AsyncWrite for NurseryIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use futures::io::{AsyncReadExt, AsyncWriteExt, Cursor};
    use std::future::poll_fn;
    use std::mem::MaybeUninit;

    /// Reads once through hyper's trait into a fresh, uninitialized buffer of `cap` bytes.
    fn hyper_read<T: AsyncRead + Unpin>(io: &mut NurseryIo<T>, cap: usize) -> Vec<u8> {
        let mut storage = vec![MaybeUninit::<u8>::uninit(); cap];
        let mut buf = ReadBuf::uninit(&mut storage);
        block_on(poll_fn(|cx| {
            hyper::rt::Read::poll_read(Pin::new(&mut *io), cx, buf.unfilled())
        }))
        .unwrap();
        buf.filled().to_vec()
    }

    #[test]
    fn a_read_takes_what_hyper_offers_up_to_max_read_and_touches_only_what_it_returns() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut io = NurseryIo::new(Cursor::new(data.clone()));
        let mut got = hyper_read(&mut io, 100);
        assert_eq!(got.len(), 100, "no more than hyper offers");
        let big = hyper_read(&mut io, 100_000);
        assert_eq!(big.len(), MAX_READ, "no more than MAX_READ at once");
        got.extend(big);
        while got.len() < data.len() {
            got.extend(hyper_read(&mut io, 8192));
        }
        assert_eq!(got, data);
        // hyper's buffer past what was read stays as it was handed over (here: 0xAA).
        let mut io = NurseryIo::new(Cursor::new(b"GET / HTTP/1.1\r\n\r\n".to_vec()));
        let mut storage = vec![MaybeUninit::new(0xAA_u8); 8192];
        let mut buf = ReadBuf::uninit(&mut storage);
        block_on(poll_fn(|cx| {
            hyper::rt::Read::poll_read(Pin::new(&mut io), cx, buf.unfilled())
        }))
        .unwrap();
        assert_eq!(buf.filled().len(), 18);
        // SAFETY: every element was initialized (to 0xAA) when `storage` was made.
        let rest: Vec<u8> = storage[18..]
            .iter()
            .map(|b| unsafe { b.assume_init() })
            .collect();
        assert!(
            rest.iter().all(|&b| b == 0xAA),
            "a read zeroed hyper's buffer past its bytes"
        );
    }

    #[test]
    fn a_read_through_a_nested_nursery_io_on_the_same_thread_works() {
        // hyper over futures-io over hyper over futures-io: the inner hyper read runs while the
        // outer one holds this thread's scratch memory.
        let inner = NurseryIo::new(Cursor::new(b"nested".to_vec()));
        let mut io = NurseryIo::new(NurseryIo::new(inner));
        assert_eq!(hyper_read(&mut io, 64), b"nested");
    }

    #[test]
    fn hyper_reads_what_the_futures_reader_returns() {
        let mut io = NurseryIo::new(Cursor::new(b"hello world".to_vec()));
        assert_eq!(hyper_read(&mut io, 5), b"hello");
        assert_eq!(hyper_read(&mut io, 64), b" world");
        assert_eq!(hyper_read(&mut io, 64), b"", "end of stream reads nothing");
    }

    #[test]
    fn a_reader_that_claims_too_many_bytes_is_an_error_not_undefined_behaviour() {
        struct Liar;
        impl AsyncRead for Liar {
            fn poll_read(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                Poll::Ready(Ok(buf.len() + 1))
            }
        }
        let mut io = NurseryIo::new(Liar);
        let mut storage = [MaybeUninit::<u8>::uninit(); 4];
        let mut buf = ReadBuf::uninit(&mut storage);
        let err = block_on(poll_fn(|cx| {
            hyper::rt::Read::poll_read(Pin::new(&mut io), cx, buf.unfilled())
        }))
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(buf.filled().is_empty());
    }

    #[test]
    fn hyper_writes_reach_the_futures_writer_and_shutdown_closes_it() {
        let mut io = NurseryIo::new(Cursor::new(Vec::new())).with_vectored_writes(true);
        assert!(hyper::rt::Write::is_write_vectored(&io));
        block_on(async {
            let n = poll_fn(|cx| {
                hyper::rt::Write::poll_write_vectored(
                    Pin::new(&mut io),
                    cx,
                    &[io::IoSlice::new(b"head "), io::IoSlice::new(b"body")],
                )
            })
            .await
            .unwrap();
            assert!(n > 0);
            poll_fn(|cx| hyper::rt::Write::poll_flush(Pin::new(&mut io), cx))
                .await
                .unwrap();
            poll_fn(|cx| hyper::rt::Write::poll_shutdown(Pin::new(&mut io), cx))
                .await
                .unwrap();
        });
        assert!(b"head body".starts_with(io.get_ref().get_ref()));
    }

    #[test]
    fn wrapping_twice_round_trips_to_futures_io() {
        // futures-io → hyper → futures-io: the outer layer is what an upgraded connection gets.
        let inner = NurseryIo::new(Cursor::new(Vec::new()));
        let mut io = NurseryIo::new(inner);
        block_on(async {
            io.write_all(b"ping").await.unwrap();
            io.flush().await.unwrap();
            io.get_mut().get_mut().set_position(0);
            let mut back = String::new();
            io.read_to_string(&mut back).await.unwrap();
            assert_eq!(back, "ping");
            io.close().await.unwrap();
        });
    }
}
