//! Networking helpers shared by `tests/net.rs`, `tests/net_udp_unix.rs` and
//! `tests/local_peers.rs`.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::channel::oneshot;
use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use nursery::net::{TcpListener, TcpStream};

/// Wraps `inner` and calls `on_pending` the first time `inner` returns `Pending`: from then on
/// the wrapped operation is known to be waiting (its waker stored), not merely about to start.
pub struct SignalWhenPending<F, S: FnOnce()> {
    inner: Pin<Box<F>>,
    on_pending: Option<S>,
}

impl<F: Future, S: FnOnce() + Unpin> Future for SignalWhenPending<F, S> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let poll = self.inner.as_mut().poll(cx);
        if poll.is_pending() {
            if let Some(signal) = self.on_pending.take() {
                signal();
            }
        }
        poll
    }
}

pub fn signal_when_pending<F: Future, S: FnOnce() + Unpin>(
    inner: F,
    on_pending: S,
) -> SignalWhenPending<F, S> {
    SignalWhenPending {
        inner: Box::pin(inner),
        on_pending: Some(on_pending),
    }
}

/// `signal_when_pending` that completes a oneshot, for a test body that `.await`s the signal.
pub fn notify_when_pending<F: Future>(
    inner: F,
    tx: oneshot::Sender<()>,
) -> SignalWhenPending<F, impl FnOnce() + Unpin> {
    signal_when_pending(inner, move || {
        let _ = tx.send(());
    })
}

/// A connected pair of TCP streams over loopback: (client, server side).
pub async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    // The handshake completes in the kernel's backlog, so connecting before accepting is fine.
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, peer) = listener.accept().await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    (client, server)
}

/// The bytes client `id` sends: a pattern that differs per client and per position, so a byte
/// lost, duplicated, reordered or crossed over from another connection shows up.
pub fn pattern(id: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + id * 7 + i / 251) % 251) as u8)
        .collect()
}

/// Panics with the first position where `got` differs from `want`.
pub fn assert_same_bytes(got: &[u8], want: &[u8], what: &str) {
    if let Some(i) = got.iter().zip(want).position(|(g, w)| g != w) {
        panic!("{what}: byte {i} is {} but {} was sent", got[i], want[i]);
    }
    assert_eq!(got.len(), want.len(), "{what}: wrong length");
}

/// One client of an echo server over the two halves of its stream: a child task writes `sent`
/// and closes the write half while this one reads the echo to EOF; panics (naming `what`) if
/// the echo differs.
pub async fn send_and_read_echo<R, W>(mut reader: R, mut writer: W, sent: Vec<u8>, what: &str)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let to_send = sent.clone();
    let write = nursery::spawn(async move {
        writer.write_all(&to_send).await.unwrap();
        writer.close().await.unwrap();
    });
    let mut got = Vec::with_capacity(sent.len());
    reader.read_to_end(&mut got).await.unwrap();
    write.await.unwrap();
    assert_same_bytes(&got, &sent, what);
}

/// Echoes everything `stream` sends until EOF, then closes its write half; returns the count.
pub async fn echo_connection(stream: TcpStream) -> io::Result<u64> {
    let (reader, writer) = stream.into_split();
    echo_halves(reader, writer).await
}

/// Copies `reader` to `writer` until EOF, then closes `writer`; returns the count (the server
/// side of an echo over any stream's two halves).
pub async fn echo_halves<R, W>(reader: R, mut writer: W) -> io::Result<u64>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let echoed = futures::io::copy(reader, &mut writer).await?;
    writer.close().await?;
    Ok(echoed)
}

/// A fresh directory for Unix socket files, removed when dropped (even if the test fails).
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("nursery-net-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sets `SO_LINGER` to 0 on `stream`, so that closing it sends RST instead of FIN.
pub fn set_linger_zero(stream: &TcpStream) {
    stream
        .set_linger(Some(std::time::Duration::ZERO))
        .expect("setsockopt(SO_LINGER)");
}
