//! What a connected mio stream socket (TCP or Unix) does through the reactor,
//! beyond [`PollEvented`]'s writes: reading (and knowing when a read emptied
//! the socket), finishing a non-blocking connect, and shutting down the write
//! direction.

use std::io::{self, Read};
use std::net::Shutdown;
use std::task::{ready, Context, Poll};

use mio::event::Source;

use crate::poll_evented::PollEvented;
use crate::ready::Direction;

/// A mio stream socket: `mio::net::TcpStream` or `mio::net::UnixStream`.
pub(crate) trait StreamSocket: Source {
    /// `shutdown(2)`.
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;

    /// Takes the pending socket error (`SO_ERROR`).
    fn take_error(&self) -> io::Result<Option<io::Error>>;

    /// `Ok` once the socket has a peer (`getpeername(2)`, without the address).
    fn has_peer(&self) -> io::Result<()>;

    /// Reads into `buf`; also says whether the read left nothing in the socket's receive
    /// queue: a stream socket's read returns fewer bytes than asked for only when no more were
    /// queued.
    fn read_and_tell_drained(&self, buf: &mut [u8]) -> io::Result<(usize, bool)>;
}

/// Each listed mio socket is a [`StreamSocket`] through its own methods.
macro_rules! impl_stream_socket {
    ($($ty:ty => $read:path),*) => {$(
        impl StreamSocket for $ty {
            fn shutdown(&self, how: Shutdown) -> io::Result<()> {
                <$ty>::shutdown(self, how)
            }

            fn take_error(&self) -> io::Result<Option<io::Error>> {
                <$ty>::take_error(self)
            }

            fn has_peer(&self) -> io::Result<()> {
                self.peer_addr().map(drop)
            }

            fn read_and_tell_drained(&self, buf: &mut [u8]) -> io::Result<(usize, bool)> {
                $read(self, buf)
            }
        }
    )*};
}

impl_stream_socket!(
    mio::net::TcpStream => read_short_is_drained,
    mio::net::UnixStream => read_short_is_drained
);

/// A plain `read(2)`. One that returned fewer bytes than `buf` holds emptied the receive queue
/// (what tokio relies on too); data that arrives afterwards raises a new edge, and the clear
/// that follows is tick-guarded against an edge that came meanwhile (`scheduled_io.rs`).
fn read_short_is_drained<S>(socket: &S, buf: &mut [u8]) -> io::Result<(usize, bool)>
where
    for<'a> &'a S: Read,
{
    let mut socket = socket;
    socket.read(buf).map(|n| (n, n < buf.len()))
}

/// Reads from `io` once it is readable. A read that emptied the socket (as the
/// socket reports it) clears the read readiness at once, so the next read
/// waits for the reactor's next event instead of first trying a `read(2)` that
/// can only fail with `EAGAIN`: half the reads of a request/response protocol.
pub(crate) fn poll_read<S: StreamSocket>(
    io: &PollEvented<S>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    io.registration()
        .poll_read_io_until_drained(cx, || io.source().read_and_tell_drained(buf))
}

/// Waits until a non-blocking connect of `io` has finished, successfully or not.
pub(crate) fn poll_connected<S: StreamSocket>(
    io: &PollEvented<S>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    let socket = io.source();
    loop {
        let event = ready!(io.registration().poll_ready(cx, Direction::Write))?;
        if let Some(e) = socket.take_error()? {
            return Poll::Ready(Err(e));
        }
        match socket.has_peer() {
            Ok(()) => return Poll::Ready(Ok(())),
            // Still connecting: the writable event was spurious.
            Err(e)
                if e.kind() == io::ErrorKind::NotConnected
                    || e.raw_os_error() == Some(libc::EINPROGRESS) =>
            {
                io.registration().clear_readiness(event);
            }
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

/// Shuts down the write direction of `io`; a connection already gone counts as closed.
pub(crate) fn shutdown_write<S: StreamSocket>(io: &PollEvented<S>) -> io::Result<()> {
    match io.source().shutdown(Shutdown::Write) {
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::io::Write;
    use std::pin::pin;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use futures_io::AsyncRead;

    use crate::net::UnixStream;
    use crate::reactor::Reactor;
    use crate::test_waker::counting_waker;

    /// Whether `stream` counts as readable now, without reading (one poll of `readable()`).
    fn readable_now(stream: &UnixStream, cx: &mut Context<'_>) -> bool {
        pin!(stream.readable()).poll(cx).is_ready()
    }

    #[test]
    fn a_short_read_clears_the_read_readiness_and_a_full_one_keeps_it() {
        let mut reactor = Reactor::new().unwrap();
        let _entered = reactor.handle().enter();
        let (ours, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut stream = UnixStream::from_std(ours).unwrap();
        let waker = counting_waker().1;
        let mut cx = Context::from_waker(&waker);

        peer.write_all(b"hello").unwrap();
        let mut buf = [0u8; 16];
        let read = std::pin::Pin::new(&mut stream).poll_read(&mut cx, &mut buf);
        assert!(matches!(read, Poll::Ready(Ok(5))));
        assert!(
            !readable_now(&stream, &mut cx),
            "5 bytes into 16: the queue is empty, the next read waits for an event"
        );

        peer.write_all(&[7u8; 16]).unwrap();
        reactor.turn(Some(Duration::from_secs(5))).unwrap();
        let read = std::pin::Pin::new(&mut stream).poll_read(&mut cx, &mut buf);
        assert!(matches!(read, Poll::Ready(Ok(16))));
        assert!(
            readable_now(&stream, &mut cx),
            "16 bytes into 16: more may be queued, so the stream stays readable"
        );
    }
}
