//! Peers on this machine: with `wake_local_peers(true)`, a write to a socket whose peer is one of
//! this runtime's own sockets wakes that peer's reader from inside the write
//! (reactor/src/local_peer.rs); by default (and with `false`) the reactor does it; a peer's waker
//! that panics does not fail the writer.
mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Context;
use std::time::Duration;

use futures::channel::oneshot;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use nursery::net::UnixStream;
use support::net::*;

// ---------------------------------------------------------------------------------------------
// Peers on this machine
// ---------------------------------------------------------------------------------------------

/// Who ran first on a one-worker runtime after `writer` sent a byte to `reader`'s socket: the
/// task waiting to read it, or a task the writer had queued just before its write.
///
/// A write to a local peer wakes that peer's reader from inside the write, onto the writer's
/// worker: it runs next, ahead of the earlier task. Without that, the reader waits for the
/// worker's next look at the reactor and the earlier task runs first.
async fn first_to_run_after_a_local_write<S>(mut writer: S, mut reader: S) -> &'static str
where
    S: futures::io::AsyncRead + futures::io::AsyncWrite + Unpin + Send + 'static,
{
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (waiting_tx, waiting_rx) = oneshot::channel();
    let reading = nursery::spawn({
        let order = order.clone();
        async move {
            let mut byte = [0u8; 1];
            notify_when_pending(reader.read_exact(&mut byte), waiting_tx)
                .await
                .unwrap();
            order.lock().unwrap().push("reader");
        }
    });
    waiting_rx.await.unwrap();
    let writing = nursery::spawn({
        let order = order.clone();
        async move {
            let _earlier = nursery::spawn(async move {
                order.lock().unwrap().push("earlier task");
            });
            writer.write_all(b"x").await.unwrap();
        }
    });
    writing.await.unwrap();
    reading.await.unwrap();
    let order = order.lock().unwrap();
    assert_eq!(order.len(), 2);
    order[0]
}

/// A runtime of `workers` workers that looks after writes to local peers.
fn looking_runtime(workers: usize) -> nursery::Runtime {
    nursery::Runtime::builder()
        .worker_threads(workers)
        .wake_local_peers(true)
        .stall_threshold(None)
        .build()
        .unwrap()
}

#[test]
fn a_write_to_a_unix_stream_runs_its_reader_next_on_the_writers_worker() {
    let rt = looking_runtime(1);
    for round in 0..3 {
        let (a, b) = rt.block_on(async { UnixStream::pair().unwrap() });
        let first = rt.block_on(first_to_run_after_a_local_write(a, b));
        assert_eq!(first, "reader", "round {round}");
    }
}

#[test]
fn a_write_over_loopback_tcp_runs_its_reader_next_on_the_writers_worker() {
    let rt = looking_runtime(1);
    // Loopback delivers inside `send`, unless the kernel defers its receive work to a
    // softirq thread, which it may under load: most rounds, not all, must see the reader first.
    let mut reader_first = 0;
    for round in 0..6 {
        let (client, server) = rt.block_on(tcp_pair());
        // Both ends know their peer is local: the client from `connect`, the server from `accept`.
        let (writer, reader) = if round % 2 == 0 {
            (client, server)
        } else {
            (server, client)
        };
        if rt.block_on(first_to_run_after_a_local_write(writer, reader)) == "reader" {
            reader_first += 1;
        }
    }
    assert!(
        reader_first >= 4,
        "the reader ran first in {reader_first} of 6 rounds"
    );
}

/// How many of six rounds on `rt` (one worker) ran the task queued before a local write ahead
/// of the reader that the write made ready.
fn rounds_where_the_earlier_task_ran_first(rt: &nursery::Runtime) -> usize {
    let mut earlier_first = 0;
    for _ in 0..6 {
        let (a, b) = rt.block_on(async { UnixStream::pair().unwrap() });
        if rt.block_on(first_to_run_after_a_local_write(a, b)) == "earlier task" {
            earlier_first += 1;
        }
    }
    earlier_first
}

#[test]
fn by_default_and_when_turned_off_a_write_leaves_the_reader_to_the_reactor() {
    // The earlier task runs first unless a maintenance tick of the worker happens to poll the
    // reactor between the write and that task: most rounds, not all.
    let default = nursery::Runtime::builder()
        .worker_threads(1)
        .build()
        .unwrap();
    let off = nursery::Runtime::builder()
        .worker_threads(1)
        .wake_local_peers(false)
        .build()
        .unwrap();
    for (name, rt) in [("default", default), ("off", off)] {
        let earlier_first = rounds_where_the_earlier_task_ran_first(&rt);
        assert!(
            earlier_first >= 4,
            "{name}: the earlier task ran first in {earlier_first} of 6 rounds"
        );
    }
}

/// What ran first on another worker while a writer that had just woken two tasks by message
/// and one reader by its write blocked its own: one of the tasks queued behind the reader ("queued task"), the reader
/// itself ("reader": the idle worker blocked in the reactor took the write's event before the
/// look did), or nothing within five seconds ("nothing").
async fn what_a_peer_ran_while_the_writer_blocked() -> &'static str {
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let (ran_tx, ran_rx) = std::sync::mpsc::channel();
    // Two tasks waiting for a message and one waiting to read b, all blocked.
    let mut messages = Vec::new();
    let mut waiting = Vec::new();
    for _ in 0..2 {
        let (message_tx, message_rx) = oneshot::channel::<()>();
        let (pending_tx, pending_rx) = oneshot::channel();
        let ran = ran_tx.clone();
        waiting.push(nursery::spawn(async move {
            notify_when_pending(message_rx, pending_tx).await.unwrap();
            let _ = ran.send("queued task");
        }));
        pending_rx.await.unwrap();
        messages.push(message_tx);
    }
    let (pending_tx, pending_rx) = oneshot::channel();
    let reader = nursery::spawn(async move {
        let mut byte = [0u8; 1];
        notify_when_pending(b.read_exact(&mut byte), pending_tx)
            .await
            .unwrap();
        let _ = ran_tx.send("reader");
    });
    pending_rx.await.unwrap();
    let writer = nursery::spawn(async move {
        // Long enough for the other worker, woken when this task was spawned, to find nothing
        // and park again. (Blocking: with a timer pending, a parked worker wakes to check it.)
        std::thread::sleep(Duration::from_millis(20));
        // Messages from a task: the woken tasks stay on this worker, no peer is woken.
        for message in messages {
            message.send(()).unwrap();
        }
        // The look after this write wakes the reader as I/O: with the two tasks queued
        // behind it, that is parallel work, and the parked worker is woken for it.
        a.write_all(b"x").await.unwrap();
        // Block this worker: only the other one can run the woken tasks now.
        ran_rx
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or("nothing")
    });
    let ran = writer.await.unwrap();
    reader.await.unwrap();
    for task in waiting {
        task.await.unwrap();
    }
    ran
}

#[test]
fn a_reader_that_a_write_wakes_is_io_work_and_a_backlog_behind_it_wakes_an_idle_worker() {
    let rt = looking_runtime(2);
    // A round whose write event the idle worker took from the reactor itself proves nothing
    // (that worker runs the reader, then steals the rest): try again.
    for _ in 0..20 {
        match rt.block_on(what_a_peer_ran_while_the_writer_blocked()) {
            "queued task" => return,
            "reader" => continue,
            nothing => panic!("{nothing} ran while the writer blocked its worker"),
        }
    }
    panic!("in 20 rounds, the look never took the write's event");
}

#[test]
fn a_foreign_waker_that_panics_when_a_write_wakes_it_does_not_fail_the_writer() {
    looking_runtime(1).block_on(a_write_wakes_a_panicking_foreign_waker());
}

async fn a_write_wakes_a_panicking_foreign_waker() {
    struct PanicOnWake;
    impl std::task::Wake for PanicOnWake {
        fn wake(self: Arc<Self>) {
            panic!("a foreign waker panics");
        }
    }
    let (mut a, mut b) = UnixStream::pair().unwrap();
    // b's read waits with a waker from outside the runtime, one that panics.
    let waker = std::task::Waker::from(Arc::new(PanicOnWake));
    let mut byte = [0u8; 1];
    let mut read = b.read_exact(&mut byte);
    let polled = Pin::new(&mut read).poll(&mut Context::from_waker(&waker));
    assert!(polled.is_pending());
    // The look after this write takes b's event and wakes that waker: its panic is reported,
    // and the write still succeeds.
    a.write_all(b"x").await.unwrap();
    drop(read);
    b.read_exact(&mut byte).await.unwrap();
    assert_eq!(&byte, b"x");
}
