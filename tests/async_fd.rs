//! `nursery::net::AsyncFd` on the real runtime: a pipe driven by its readiness, the readiness
//! cleared only through the guard, several tasks waiting on one descriptor, and the error for a
//! descriptor epoll refuses.

use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use nursery::net::AsyncFd;
use nursery::time::timeout;

/// Long enough for any readiness that is there to be seen; short enough to keep the tests quick.
const QUIET: Duration = Duration::from_millis(50);
/// A bound on waits that must end, so that a regression fails instead of hanging.
const BOUND: Duration = Duration::from_secs(10);

fn runtime() -> nursery::Runtime {
    nursery::Runtime::builder()
        .worker_threads(2)
        .build()
        .expect("runtime")
}

/// A non-blocking pipe: (read end, write end).
fn pipe() -> (File, File) {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", io::Error::last_os_error());
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    (File::from(r), File::from(w))
}

/// Reads from `fd` until `want` bytes came, waiting on its readiness between tries.
async fn read_exact(fd: &AsyncFd<File>, want: usize) -> io::Result<Vec<u8>> {
    let mut got = Vec::new();
    while got.len() < want {
        let mut guard = fd.readable().await?;
        let mut buf = [0; 64];
        if let Ok(result) = guard.try_io(|fd| fd.get_ref().read(&mut buf)) {
            let n = result?;
            if n == 0 {
                return Err(ErrorKind::UnexpectedEof.into());
            }
            got.extend_from_slice(&buf[..n]);
        }
    }
    Ok(got)
}

/// A task waits readable on the read end of a pipe; another thread writes; the task reads the
/// bytes. Then, with the readiness cleared, a wait blocks until more data comes.
#[test]
fn pipe_readable_from_another_thread_then_clear_ready_blocks() {
    runtime()
        .block_on(async {
            let (r, mut w) = pipe();
            let reader = Arc::new(AsyncFd::new(r)?);
            let task = nursery::spawn({
                let reader = reader.clone();
                async move { timeout(BOUND, read_exact(&reader, 5)).await }
            });
            let writer = std::thread::spawn(move || w.write_all(b"hello").map(|()| w));
            let got = task.await.expect("reader task").expect("read in time")?;
            assert_eq!(got, b"hello");
            let mut w = writer.join().expect("writer thread")?;

            // Everything is read; a read would block: clear, and the next wait blocks.
            let mut guard = reader.readable().await?;
            let would_block = guard.try_io(|fd| fd.get_ref().read(&mut [0; 8]));
            assert!(would_block.is_err(), "the pipe is empty");
            assert!(
                timeout(QUIET, reader.readable()).await.is_err(),
                "readiness came back with nothing written"
            );

            // A write from another thread ends the wait.
            let waiting = nursery::spawn({
                let reader = reader.clone();
                async move {
                    let guard = timeout(BOUND, reader.readable()).await;
                    guard.map(|guard| guard.map(|_| ()))
                }
            });
            std::thread::spawn(move || w.write_all(b"more"))
                .join()
                .expect("writer thread")?;
            waiting
                .await
                .expect("waiting task")
                .expect("readable in time")?;
            assert_eq!(read_exact(&reader, 4).await?, b"more");
            Ok::<_, io::Error>(())
        })
        .expect("test body");
}

/// `clear_ready` on the guard, not an operation, is what makes the next wait block; a guard
/// dropped uncleared leaves the readiness, so the next wait returns at once.
#[test]
fn clear_ready_is_what_blocks_the_next_wait() {
    runtime()
        .block_on(async {
            let (r, _w) = pipe();
            let reader = AsyncFd::new(r)?;
            let _uncleared = reader.readable().await?; // a new AsyncFd starts ready
            assert!(
                timeout(QUIET, reader.readable()).await.is_ok(),
                "an uncleared readiness must stay"
            );
            let mut guard = reader.readable().await?;
            guard.clear_ready();
            assert!(
                timeout(QUIET, reader.readable()).await.is_err(),
                "clear_ready must make the next wait block"
            );
            Ok::<_, io::Error>(())
        })
        .expect("test body");
}

/// Several tasks wait readable on one descriptor; one write wakes every one of them.
#[test]
fn one_write_wakes_every_waiting_task() {
    runtime()
        .block_on(async {
            let (r, mut w) = pipe();
            let reader = Arc::new(AsyncFd::new(r)?);
            reader.readable().await?.clear_ready(); // empty: the waits below block
            let (ready_tx, mut ready_rx) = futures::channel::mpsc::unbounded();
            let mut tasks = Vec::new();
            for _ in 0..3 {
                let reader = reader.clone();
                let ready_tx = ready_tx.clone();
                tasks.push(nursery::spawn(async move {
                    let woke = timeout(BOUND, reader.readable()).await.is_ok();
                    let _ = ready_tx.unbounded_send(woke);
                }));
            }
            drop(ready_tx);
            assert!(
                timeout(QUIET, futures::StreamExt::next(&mut ready_rx))
                    .await
                    .is_err(),
                "a waiter woke with nothing written"
            );
            w.write_all(b"x")?;
            for task in tasks {
                task.await.expect("waiting task");
            }
            let woke: Vec<bool> = futures::StreamExt::collect(ready_rx).await;
            assert_eq!(woke, [true, true, true]);
            Ok::<_, io::Error>(())
        })
        .expect("test body");
}

/// The write end: filled until a write would block, `writable` blocks; reading makes room and
/// ends the wait.
#[test]
fn writable_blocks_on_a_full_pipe_until_it_is_drained() {
    runtime()
        .block_on(async {
            let (mut r, w) = pipe();
            let writer = Arc::new(AsyncFd::new(w)?);
            let chunk = [7u8; 4096];
            let mut sent = 0;
            loop {
                let mut guard = writer.writable().await?;
                match guard.try_io(|fd| fd.get_ref().write(&chunk)) {
                    Ok(result) => sent += result?,
                    Err(_would_block) => break,
                }
            }
            assert!(sent > 0);
            // An event that arrived after the WouldBlock's readiness was read keeps it (the
            // tick-guarded clear, docs/architecture.md), so one wait may still return: it must
            // find the pipe full, and after at most two such waits the wait blocks.
            let mut spurious = 0;
            while let Ok(guard) = timeout(QUIET, writer.writable()).await {
                let mut guard = guard?;
                assert!(
                    guard.try_io(|fd| fd.get_ref().write(&chunk)).is_err(),
                    "a full pipe accepted a write"
                );
                spurious += 1;
                assert!(spurious <= 2, "a full pipe is not writable");
            }
            let waiting = nursery::spawn({
                let writer = writer.clone();
                async move {
                    timeout(BOUND, writer.writable())
                        .await
                        .map(|g| g.map(|_| ()))
                }
            });
            let drained = std::thread::spawn(move || {
                let mut buf = vec![0; sent];
                r.read_exact(&mut buf).map(|()| r)
            });
            waiting
                .await
                .expect("waiting task")
                .expect("writable in time")?;
            drained.join().expect("drain thread")?;
            Ok::<_, io::Error>(())
        })
        .expect("test body");
}

/// epoll refuses regular files: `AsyncFd::new` says so in its error, and the file is not lost.
#[test]
fn a_regular_file_is_refused_with_a_clear_error() {
    runtime()
        .block_on(async {
            let file = File::open(env!("CARGO_MANIFEST_DIR").to_owned() + "/Cargo.toml")?;
            let error = AsyncFd::new(file).expect_err("epoll refuses regular files");
            assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
            let message = error.to_string();
            assert!(message.contains("AsyncFd::new"), "{message}");
            assert!(message.contains("regular files"), "{message}");
            Ok::<_, io::Error>(())
        })
        .expect("test body");
}

/// `into_inner` leaves the reactor and gives the descriptor back open: it can be registered again
/// and still reads what was written.
#[test]
fn into_inner_gives_the_descriptor_back_open() {
    runtime()
        .block_on(async {
            let (r, mut w) = pipe();
            let fd = AsyncFd::new(r)?;
            let r = fd.into_inner();
            w.write_all(b"ok")?;
            let again = AsyncFd::new(r)?;
            assert_eq!(timeout(BOUND, read_exact(&again, 2)).await??, b"ok");
            Ok::<_, io::Error>(())
        })
        .expect("test body");
}
