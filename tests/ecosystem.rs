//! The ecosystem on nursery: what nursery does not provide itself (processes, files, stdin,
//! channels, locks) comes from runtime-agnostic crates, and libraries written for tokio run
//! through a bridge. Each test is a pattern to copy; docs/guide.md ("What to use for X") points
//! here.
//!
//! - processes: `async-process` (its reaper runs on its own `async-process` thread);
//! - files: `async-fs` (each call runs on the `blocking` crate's thread pool);
//! - stdin and other blocking readers: `blocking::Unblock`;
//! - channels and locks between nursery tasks: `async-channel`, `async-lock`;
//! - select and join: `futures::select!`, `futures::join!`;
//! - a library written against tokio's `AsyncRead`/`AsyncWrite`: tokio-util's `compat()`;
//! - a library that needs a tokio runtime (its timers, its `tokio::spawn`): `async_compat::Compat`.
//!   Its tasks run on async-compat's own tokio runtime, outside nursery's task tree.
//!
//! Every wait is bounded by a timeout, so a regression fails instead of hanging.

use std::io;
use std::time::{Duration, Instant};

use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use futures::{FutureExt, SinkExt, StreamExt};
use nursery::net::{TcpListener, TcpStream};
use nursery::time::timeout;

/// The bound on every wait in this file: generous, so only a real regression reaches it.
const LIMIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Processes: async-process
// ---------------------------------------------------------------------------------------------

/// Whether process `pid` still exists (a zombie counts: it has not been reaped yet).
fn process_exists(pid: u32) -> bool {
    let pid = libc::pid_t::try_from(pid).expect("pid fits in pid_t");
    // SAFETY: kill(2) with signal 0 only checks that `pid` exists and may be signalled.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Waits (bounded by `LIMIT`) until process `pid` is gone: killed and reaped.
async fn wait_until_gone(pid: u32) -> bool {
    let deadline = Instant::now() + LIMIT;
    while process_exists(pid) {
        if Instant::now() > deadline {
            return false;
        }
        nursery::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

#[nursery::test]
async fn process_output_of_echo_and_cat() -> io::Result<()> {
    use async_process::{Command, Stdio};

    // The whole output at once.
    let out = timeout(LIMIT, Command::new("echo").arg("hello").output())
        .await
        .expect("echo finishes")?;
    assert!(out.status.success());
    assert_eq!(out.stdout, b"hello\n");

    // Streaming: write to `cat`'s stdin from one nursery task, read its stdout line by line in
    // another.
    let mut cat = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = cat.stdin.take().expect("stdin is piped");
    let stdout = cat.stdout.take().expect("stdout is piped");
    let lines = nursery::scope(|s| async move {
        s.spawn(async move {
            for i in 0..3 {
                stdin.write_all(format!("line {i}\n").as_bytes()).await?;
            }
            stdin.close().await // EOF for cat
        });
        let lines: Vec<String> = BufReader::new(stdout)
            .lines()
            .map(|l| l.unwrap())
            .collect()
            .await;
        lines
    });
    let lines = timeout(LIMIT, lines).await.expect("cat echoes and exits");
    assert_eq!(lines, ["line 0", "line 1", "line 2"]);
    let status = timeout(LIMIT, cat.status()).await.expect("cat exits")?;
    assert!(status.success());
    Ok(())
}

/// `kill_on_drop(true)` ties the child process to the future that owns its `Child`: a timeout
/// that gives up waiting drops the future, and the process is killed (and reaped by
/// async-process's reaper thread).
#[nursery::test]
async fn process_is_killed_when_a_timeout_drops_its_wait() -> io::Result<()> {
    let (pid_tx, pid_rx) = async_channel::bounded(1);
    let waited = timeout(Duration::from_millis(200), async move {
        let mut child = async_process::Command::new("sleep")
            .arg("30")
            .kill_on_drop(true)
            .spawn()?;
        pid_tx.send(child.id()).await.expect("receiver alive");
        child.status().await
    })
    .await;
    assert!(waited.is_err(), "sleep 30 cannot finish in 200 ms");
    let pid = pid_rx.recv().await.expect("the child was spawned");
    assert!(
        wait_until_gone(pid).await,
        "child {pid} still alive after the timeout"
    );
    Ok(())
}

/// The same through the task tree: cancelling a scope cancels the task that waits on the child,
/// and dropping that task's future kills the process.
#[nursery::test]
async fn process_is_killed_when_its_task_is_cancelled() -> io::Result<()> {
    let (pid_tx, pid_rx) = async_channel::bounded(1);
    let pid = nursery::scope(|s| async move {
        s.spawn(async move {
            let mut child = async_process::Command::new("sleep")
                .arg("30")
                .kill_on_drop(true)
                .spawn()?;
            pid_tx.send(child.id()).await.expect("receiver alive");
            child.status().await
        });
        let pid = timeout(LIMIT, pid_rx.recv())
            .await
            .expect("spawned")
            .expect("sent");
        s.cancel();
        pid
    })
    .await;
    assert!(
        wait_until_gone(pid).await,
        "child {pid} still alive after its task was cancelled"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Files: async-fs
// ---------------------------------------------------------------------------------------------

#[nursery::test]
async fn files_write_read_back_and_list() -> io::Result<()> {
    let dir = std::env::temp_dir().join(format!("nursery-ecosystem-{}", std::process::id()));
    async_fs::create_dir_all(&dir).await?;
    let result = async {
        async_fs::write(dir.join("a.txt"), b"alpha").await?;
        let mut file = async_fs::File::create(dir.join("b.txt")).await?;
        file.write_all(b"beta").await?;
        file.sync_all().await?;
        drop(file);

        assert_eq!(async_fs::read_to_string(dir.join("a.txt")).await?, "alpha");
        let mut contents = String::new();
        async_fs::File::open(dir.join("b.txt"))
            .await?
            .read_to_string(&mut contents)
            .await?;
        assert_eq!(contents, "beta");

        let mut names = Vec::new();
        let mut entries = async_fs::read_dir(&dir).await?;
        while let Some(entry) = entries.next().await {
            names.push(entry?.file_name().into_string().expect("ASCII name"));
        }
        names.sort();
        assert_eq!(names, ["a.txt", "b.txt"]);
        Ok::<_, io::Error>(())
    };
    let result = timeout(LIMIT, result)
        .await
        .expect("file operations finish");
    async_fs::remove_dir_all(&dir).await?;
    result
}

// ---------------------------------------------------------------------------------------------
// Stdin and other blocking readers: blocking::Unblock
// ---------------------------------------------------------------------------------------------

/// `Unblock` moves a blocking reader onto the `blocking` pool and exposes it as `AsyncRead`. For
/// the real stdin it is `Unblock::new(std::io::stdin())`; here the reader is a pipe's read end,
/// fed by a plain thread, so the test controls what arrives and when.
#[nursery::test]
async fn unblock_reads_lines_from_a_pipe() -> io::Result<()> {
    use std::fs::File;
    use std::io::Write;
    use std::os::fd::FromRawFd;

    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe(2) just returned these two descriptors; each is owned by one `File` only.
    let (reader, mut writer) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };

    let feeder = std::thread::spawn(move || {
        for i in 0..3 {
            writeln!(writer, "input {i}")?;
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok::<_, io::Error>(()) // dropping `writer` is EOF
    });

    let stdin_like = blocking::Unblock::new(reader);
    let lines = BufReader::new(stdin_like)
        .lines()
        .map(|l| l.unwrap())
        .collect::<Vec<_>>();
    let lines = timeout(LIMIT, lines).await.expect("the pipe reaches EOF");
    assert_eq!(lines, ["input 0", "input 1", "input 2"]);
    feeder.join().expect("feeder thread")?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Channels and locks between nursery tasks: async-channel, async-lock
// ---------------------------------------------------------------------------------------------

#[nursery::test]
async fn channels_and_locks_between_tasks() {
    use std::sync::Arc;

    let (tx, rx) = async_channel::bounded::<u32>(4);
    let total = Arc::new(async_lock::Mutex::new(0u32));
    let seen = Arc::new(async_lock::RwLock::new(Vec::new()));

    let work = nursery::scope(|s| {
        let (total, seen) = (total.clone(), seen.clone());
        async move {
            // Three producers, each a nursery task with its own sender.
            for p in 0..3 {
                let tx = tx.clone();
                s.spawn(async move {
                    for i in 0..10 {
                        tx.send(p * 100 + i).await.expect("consumers alive");
                    }
                });
            }
            drop(tx); // the channel closes once every producer is done
                      // Two consumers sharing the receiver, the sum and the list behind async locks.
            for _ in 0..2 {
                let (rx, total, seen) = (rx.clone(), total.clone(), seen.clone());
                s.spawn(async move {
                    while let Ok(n) = rx.recv().await {
                        *total.lock().await += n;
                        seen.write().await.push(n);
                    }
                });
            }
        }
    });
    timeout(LIMIT, work)
        .await
        .expect("producers and consumers finish");

    let expected: u32 = (0..3).flat_map(|p| (0..10).map(move |i| p * 100 + i)).sum();
    assert_eq!(*total.lock().await, expected);
    assert_eq!(seen.read().await.len(), 30);
}

// ---------------------------------------------------------------------------------------------
// select and join: futures::select!, futures::join!
// ---------------------------------------------------------------------------------------------

#[nursery::test]
async fn select_and_join_over_nursery_futures() {
    // join!: both run concurrently, on the current task.
    let started = Instant::now();
    let (a, b) = futures::join!(
        async {
            nursery::time::sleep(Duration::from_millis(50)).await;
            1
        },
        async {
            nursery::time::sleep(Duration::from_millis(50)).await;
            2
        },
    );
    assert_eq!((a, b), (1, 2));
    assert!(started.elapsed() < LIMIT);

    // select! in a loop: messages from a nursery task until it closes the channel, with a
    // nursery timer as the overall deadline. The loser of each round is re-polled next round.
    let (tx, rx) = async_channel::unbounded::<u32>();
    let got = nursery::scope(|s| async move {
        s.spawn(async move {
            for i in 0..5 {
                tx.send(i).await.expect("receiver alive");
                nursery::task::yield_now().await;
            }
        });
        let mut got = Vec::new();
        let mut deadline = Box::pin(nursery::time::sleep(LIMIT).fuse());
        let mut rx = Box::pin(rx.fuse());
        loop {
            futures::select! {
                n = rx.next() => match n {
                    Some(n) => got.push(n),
                    None => break,
                },
                () = deadline => panic!("the producer never closed the channel"),
            }
        }
        got
    })
    .await;
    assert_eq!(got, [0, 1, 2, 3, 4]);
}

// ---------------------------------------------------------------------------------------------
// A library written against tokio's AsyncRead/AsyncWrite: tokio-util's compat()
// ---------------------------------------------------------------------------------------------

/// `tokio_util::codec::Framed` wants tokio's I/O traits; nursery's `TcpStream` implements the
/// `futures_io` ones, and `.compat()` converts. No tokio runtime is involved: the socket is
/// still driven by nursery's reactor.
#[nursery::test]
async fn tokio_codec_over_a_nursery_socket_through_compat() -> io::Result<()> {
    use tokio_util::codec::{Framed, LinesCodec};
    use tokio_util::compat::FuturesAsyncReadCompatExt;

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let replies = nursery::scope(|s| async move {
        // Server: upper-cases each line.
        s.spawn(async move {
            let (conn, _) = listener.accept().await?;
            let mut framed = Framed::new(conn.compat(), LinesCodec::new());
            while let Some(line) = framed.next().await {
                let line = line.map_err(io::Error::other)?;
                framed
                    .send(line.to_uppercase())
                    .await
                    .map_err(io::Error::other)?;
            }
            Ok::<_, io::Error>(())
        });
        // Client.
        let conn = TcpStream::connect(addr).await?;
        let mut framed = Framed::new(conn.compat(), LinesCodec::new());
        let mut replies = Vec::new();
        for word in ["one", "two", "three"] {
            framed.send(word).await.map_err(io::Error::other)?;
            let reply = framed
                .next()
                .await
                .expect("a reply")
                .map_err(io::Error::other)?;
            replies.push(reply);
        }
        Ok::<_, io::Error>(replies) // dropping the client ends the server's loop
    });
    let replies = timeout(LIMIT, replies)
        .await
        .expect("the exchange finishes")?;
    assert_eq!(replies, ["ONE", "TWO", "THREE"]);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// A library that needs a tokio runtime: async_compat::Compat
// ---------------------------------------------------------------------------------------------

/// `tokio::time::sleep` (like any tokio timer, tokio socket or `tokio::spawn`) panics outside a
/// tokio runtime. Wrapped in `Compat`, it runs on a nursery task: async-compat enters its own
/// tokio runtime, started on first use on a thread of its own, around each poll.
#[nursery::test]
async fn tokio_runtime_library_inside_compat() {
    use async_compat::Compat;

    let bare = std::panic::catch_unwind(|| tokio::time::sleep(Duration::from_millis(1)));
    assert!(bare.is_err(), "without Compat there is no tokio runtime");

    let task = nursery::spawn(Compat::new(async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        7
    }));
    assert_eq!(
        timeout(LIMIT, task)
            .await
            .expect("finishes")
            .expect("no panic"),
        7
    );
}

/// What `Compat` does not give: a task that the library spawns with `tokio::spawn` belongs to
/// async-compat's tokio runtime, not to nursery's tree. The scope below returns while that task
/// is still running (R2 holds for nursery tasks only), and the task finishes afterwards.
#[nursery::test]
async fn tokio_spawn_inside_compat_runs_outside_the_tree() {
    use async_compat::Compat;

    let (done_tx, done_rx) = async_channel::bounded(1);
    let (go_tx, go_rx) = async_channel::bounded::<()>(1);
    let scope = nursery::scope(|s| async move {
        s.spawn(Compat::new(async move {
            tokio::spawn(async move {
                // Waits for a message that is only sent after the scope has returned.
                let _ = go_rx.recv().await;
                done_tx.send(()).await.expect("receiver alive");
            });
        }));
    });
    timeout(LIMIT, scope)
        .await
        .expect("the scope does not wait for the tokio task");
    // The scope is done, yet the tokio task is still waiting: nursery did not wait for it.
    assert!(done_rx.try_recv().is_err());
    go_tx.send(()).await.expect("the tokio task is still alive");
    timeout(LIMIT, done_rx.recv())
        .await
        .expect("the tokio task finishes")
        .expect("sent");
}
