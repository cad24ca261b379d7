//! `EMFILE` on accept, on the nursery runtime: the error reaches the accept loop, the server and
//! its connections keep running, and the connection that waited is accepted once descriptors
//! are free again.
//!
//! This lowers `RLIMIT_NOFILE`, which is process-wide, so it lives alone in its own test binary
//! (the tests of one binary share the process).

use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use futures::channel::mpsc;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::StreamExt;
use nursery::net::{TcpListener, TcpStream};

fn nofile_limit() -> libc::rlimit {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit` for the call's duration.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(rc, 0, "getrlimit: {}", io::Error::last_os_error());
    limit
}

fn set_nofile_limit(limit: &libc::rlimit) {
    // SAFETY: `limit` points to a valid `rlimit`; lowering the soft limit only affects
    // descriptors opened from now on.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, limit) };
    assert_eq!(rc, 0, "setrlimit: {}", io::Error::last_os_error());
}

/// The process out of file descriptors: a low soft limit, every descriptor below it taken.
/// Dropping it frees them and restores the limit (also when the test fails half-way).
struct Exhausted {
    fillers: Vec<File>,
    original: libc::rlimit,
}

impl Exhausted {
    fn new() -> Exhausted {
        let original = nofile_limit();
        let probe = File::open("/dev/null").unwrap();
        let lowest_free = probe.as_raw_fd() as libc::rlim_t;
        drop(probe);
        set_nofile_limit(&libc::rlimit {
            rlim_cur: lowest_free + 16,
            rlim_max: original.rlim_max,
        });
        let mut exhausted = Exhausted {
            fillers: Vec::new(),
            original,
        };
        loop {
            match File::open("/dev/null") {
                Ok(file) => exhausted.fillers.push(file),
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e:?}");
                    break;
                }
            }
            assert!(
                exhausted.fillers.len() < 1024,
                "the lowered limit did not take"
            );
        }
        exhausted
    }

    /// Frees one descriptor, for the next socket to take.
    fn free_one(&mut self) {
        self.fillers.pop().expect("no descriptor to free");
    }

    /// Whether every descriptor is taken.
    fn is_full() -> bool {
        matches!(File::open("/dev/null"), Err(e) if e.raw_os_error() == Some(libc::EMFILE))
    }
}

impl Drop for Exhausted {
    fn drop(&mut self) {
        self.fillers.clear();
        set_nofile_limit(&self.original);
    }
}

async fn round_trip(stream: &mut TcpStream, msg: &[u8]) {
    stream.write_all(msg).await.unwrap();
    let mut back = vec![0u8; msg.len()];
    stream.read_exact(&mut back).await.unwrap();
    assert_eq!(back, msg);
}

#[test]
fn accept_returns_emfile_the_server_keeps_running_and_accepts_the_waiting_connection_later() {
    let rt = nursery::Runtime::builder()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (errors_tx, mut errors_rx) = mpsc::unbounded::<Option<i32>>();
        let (accepted_tx, mut accepted_rx) = mpsc::unbounded::<SocketAddr>();

        let errors_rx = nursery::scope(|s| async move {
            let conns = s.clone();
            let server = s.spawn(async move {
                loop {
                    match listener.accept().await {
                        Ok((stream, peer)) => {
                            let _ = accepted_tx.unbounded_send(peer);
                            conns.spawn(async move {
                                let (reader, mut writer) = stream.into_split();
                                let _ = futures::io::copy(reader, &mut writer).await;
                            });
                        }
                        Err(e) => {
                            let _ = errors_tx.unbounded_send(e.raw_os_error());
                            // The listener stays ready after an error, so a server backs off
                            // before retrying (the `accept` docs say so) instead of spinning.
                            // This is the server's behaviour, not the test's synchronisation.
                            nursery::time::sleep(Duration::from_millis(2)).await;
                        }
                    }
                }
            });

            // A connection made while descriptors are plentiful.
            let mut early = TcpStream::connect(addr).await.unwrap();
            assert_eq!(accepted_rx.next().await, Some(early.local_addr().unwrap()));
            round_trip(&mut early, b"before the limit").await;

            // Out of descriptors, but for the one the waiting client's socket takes: the
            // handshake completes in the kernel's backlog, and `accept(2)` has none left.
            let mut exhausted = Exhausted::new();
            exhausted.free_one();
            let mut waiting = TcpStream::connect(addr).await.unwrap();
            assert!(Exhausted::is_full());

            assert_eq!(errors_rx.next().await, Some(Some(libc::EMFILE)));
            assert!(!server.is_finished(), "the accept loop died on EMFILE");
            // Every other task is still served while accept keeps failing.
            round_trip(&mut early, b"during EMFILE").await;
            waiting.write_all(b"sent while waiting").await.unwrap();

            drop(exhausted);
            assert_eq!(
                accepted_rx.next().await,
                Some(waiting.local_addr().unwrap())
            );
            let mut back = [0u8; 18];
            waiting.read_exact(&mut back).await.unwrap();
            assert_eq!(&back, b"sent while waiting");
            round_trip(&mut waiting, b"after the limit").await;
            round_trip(&mut early, b"after the limit").await;

            drop((early, waiting));
            server.cancel();
            assert!(server.await.unwrap_err().is_cancelled());
            errors_rx
        })
        .await;

        // The server's sender is gone with its future: every error it saw was EMFILE.
        let errors: Vec<_> = errors_rx.collect().await;
        assert!(
            errors.iter().all(|e| *e == Some(libc::EMFILE)),
            "{errors:?}"
        );
    });
}
