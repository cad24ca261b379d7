//! The task-tree dump says where each waiting task is stuck: the last leaf future that returned
//! `Pending` in its latest poll (a timer, a socket, a join handle, a scope, a blocking job, or a
//! future from outside nursery).

mod support;

use std::time::{Duration, Instant};

use futures::io::AsyncReadExt;
use nursery::net::{TcpListener, TcpStream};
use nursery::task::NodeInfo;
use nursery::task::Wait;
use support::runtime;

/// Waits (up to 10 s) until task `id` is idle and its dump entry satisfies `matches`; returns
/// the entry and the printed dump. Fails with the last dump otherwise.
async fn dumped_when(id: u64, matches: impl Fn(&NodeInfo) -> bool) -> (NodeInfo, String) {
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        let tree = nursery::Handle::current().task_tree();
        let node = tree.nodes.iter().map(|(_, n)| n).find(|n| n.id == id);
        if let Some(node) = node.filter(|n| n.state == "idle" && matches(n)) {
            return (node.clone(), tree.to_string());
        }
        assert!(
            Instant::now() < give_up,
            "task #{id} never showed the expected wait:\n{tree}\n{node:#?}"
        );
        nursery::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The dump line of task `id`.
fn line_of(dump: &str, id: u64) -> &str {
    let tag = format!("#{id} ");
    dump.lines()
        .find(|l| l.contains(&tag))
        .unwrap_or_else(|| panic!("no line for #{id} in\n{dump}"))
}

#[test]
fn a_sleeping_task_shows_its_timer_and_deadline() {
    runtime(1).block_on(async {
        let hour = Duration::from_secs(3600);
        let before = Instant::now();
        let sleep = nursery::time::sleep(hour);
        let after = Instant::now();
        let task = nursery::task::Builder::new().name("sleeper").spawn(sleep);
        let (node, dump) = dumped_when(task.id(), |n| n.waiting_on.is_some()).await;
        match node.waiting_on {
            Some(Wait::Timer { deadline }) => {
                // The sleep's own deadline, to the nanosecond the clock gives.
                assert!(
                    before + hour <= deadline && deadline <= after + hour,
                    "deadline {deadline:?}, made between {before:?} and {after:?}"
                );
            }
            other => panic!("expected a timer, got {other:?}"),
        }
        let line = line_of(&dump, task.id());
        assert!(line.contains("'sleeper'"), "{line}");
        assert!(line.contains("— waiting on timer (deadline in "), "{line}");
        task.cancel();
    });
}

#[test]
fn a_task_in_accept_shows_accept_and_the_listeners_address() {
    runtime(1).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = nursery::task::Builder::new()
            .name("server")
            .spawn(async move { listener.accept().await.map(|_| ()) });
        let (node, dump) = dumped_when(server.id(), |n| n.socket.is_some()).await;
        assert!(matches!(
            node.waiting_on,
            Some(Wait::Io { write: false, .. })
        ));
        let socket = node.socket.unwrap();
        assert_eq!((socket.op, socket.local), ("accept", Some(addr)));
        let line = line_of(&dump, server.id());
        assert!(
            line.ends_with(&format!("— waiting on accept {addr}")),
            "{line}"
        );
        server.cancel();
    });
}

#[test]
fn a_task_reading_a_stream_shows_read_and_the_peer_address() {
    runtime(1).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut conn, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        let reader = nursery::task::Builder::new()
            .name("conn")
            .spawn(async move {
                let mut buf = [0u8; 16];
                conn.read(&mut buf).await.map(|_| ())
            });
        let (node, dump) = dumped_when(reader.id(), |n| n.socket.is_some()).await;
        let socket = node.socket.unwrap();
        assert_eq!((socket.op, socket.peer), ("read", Some(peer)));
        let line = line_of(&dump, reader.id());
        assert!(
            line.contains(&format!("waiting on read from {peer}")),
            "{line}"
        );
        reader.cancel();
        drop(client);
    });
}

#[test]
fn a_task_awaiting_a_join_handle_shows_the_childs_id() {
    runtime(1).block_on(async {
        let child = nursery::spawn(std::future::pending::<()>());
        let child_id = child.id();
        let child_node = child.node().clone();
        let parent = nursery::spawn(child);
        let (_, dump) = dumped_when(parent.id(), |n| {
            n.waiting_on == Some(Wait::Join { task: child_id })
        })
        .await;
        let line = line_of(&dump, parent.id());
        assert!(
            line.ends_with(&format!("waiting on task #{child_id}")),
            "{line}"
        );
        child_node.cancel();
        assert!(parent.await.unwrap().unwrap_err().is_cancelled());
    });
}

#[test]
fn a_task_awaiting_a_scope_shows_the_scope_and_its_live_children() {
    runtime(1).block_on(async {
        let task = nursery::spawn(nursery::scope(|s| async move {
            s.spawn(std::future::pending::<()>());
            s.spawn(std::future::pending::<()>());
        }));
        let (node, dump) = dumped_when(task.id(), |n| {
            matches!(n.waiting_on, Some(Wait::Scope { .. }))
        })
        .await;
        let Some(Wait::Scope { scope }) = node.waiting_on else {
            unreachable!()
        };
        let line = line_of(&dump, task.id());
        assert!(
            line.ends_with(&format!("waiting on scope #{scope} (2 live children)")),
            "{line}"
        );
        task.cancel();
    });
}

#[test]
fn a_task_waiting_for_a_blocking_job_shows_it() {
    runtime(1).block_on(async {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let task = nursery::task::spawn_blocking(move || {
            let _ = released.recv();
        });
        let (_, dump) = dumped_when(task.id(), |n| n.waiting_on == Some(Wait::Blocking)).await;
        assert!(line_of(&dump, task.id()).ends_with("waiting on a spawn_blocking job"));
        release.send(()).unwrap();
        task.await.unwrap();
    });
}

#[test]
fn a_task_awaiting_a_foreign_future_shows_the_foreign_note() {
    runtime(1).block_on(async {
        let task = nursery::task::Builder::new()
            .name("legacy")
            .spawn(std::future::pending::<()>());
        let (node, dump) = dumped_when(task.id(), |n| n.waiting_on.is_some()).await;
        assert!(
            matches!(node.waiting_on, Some(Wait::Foreign { .. })),
            "{:?}",
            node.waiting_on
        );
        let line = line_of(&dump, task.id());
        assert!(
            line.contains("— waiting on something outside nursery (for "),
            "{line}"
        );
        task.cancel();
    });
}

#[test]
fn a_timeout_around_a_read_shows_the_read_not_its_timer() {
    runtime(1).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = nursery::spawn(async move {
            nursery::time::timeout(Duration::from_secs(3600), listener.accept()).await
        });
        let (node, _) = dumped_when(server.id(), |n| n.waiting_on.is_some()).await;
        assert_eq!(
            node.socket.map(|s| (s.op, s.local)),
            Some(("accept", Some(addr))),
            "{:?}",
            node.waiting_on
        );
        server.cancel();
    });
}

#[test]
fn after_a_wait_ends_the_dump_shows_the_next_wait_and_not_the_old_one() {
    runtime(1).block_on(async {
        let (go_tx, go_rx) = futures::channel::oneshot::channel::<()>();
        let child = nursery::spawn(async move {
            let _ = go_rx.await;
        });
        let child_id = child.id();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = nursery::spawn(async move {
            child.await.unwrap(); // first: a join handle
            let _ = listener.accept().await; // then: a socket
            nursery::time::sleep(Duration::from_millis(20)).await; // then: a timer
            std::future::pending::<()>().await; // last: something foreign
        });
        dumped_when(task.id(), |n| {
            n.waiting_on == Some(Wait::Join { task: child_id })
        })
        .await;
        go_tx.send(()).unwrap();
        let (node, _) = dumped_when(task.id(), |n| n.socket.is_some()).await;
        assert_eq!(node.socket.map(|s| s.op), Some("accept"));
        let _client = TcpStream::connect(addr).await.unwrap();
        // The timer, or (once it has fired) the foreign future; never the old accept.
        let (node, _) = dumped_when(task.id(), |n| n.socket.is_none()).await;
        assert!(
            matches!(
                node.waiting_on,
                Some(Wait::Timer { .. } | Wait::Foreign { .. })
            ),
            "{:?}",
            node.waiting_on
        );
        dumped_when(task.id(), |n| {
            matches!(n.waiting_on, Some(Wait::Foreign { .. }))
        })
        .await;
        task.cancel();
    });
}

#[test]
fn a_scope_body_awaiting_a_foreign_future_shows_the_foreign_note_on_the_scope() {
    runtime(1).block_on(async {
        let (scope_tx, scope_rx) = futures::channel::oneshot::channel();
        let task = nursery::spawn(nursery::scope(|s| async move {
            let _ = scope_tx.send(s.node().id());
            std::future::pending::<()>().await;
        }));
        let scope = scope_rx.await.unwrap();
        dumped_when(scope, |n| {
            matches!(n.waiting_on, Some(Wait::Foreign { .. }))
        })
        .await;
        task.cancel();
    });
}

#[test]
fn a_body_taking_the_dump_shows_no_wait_for_itself() {
    runtime(1).block_on(nursery::scope(|s| async move {
        nursery::time::sleep(Duration::from_millis(1)).await; // a wait that has ended
        let tree = nursery::Handle::current().task_tree();
        let (_, me) = tree
            .nodes
            .iter()
            .find(|(_, n)| n.id == s.node().id())
            .unwrap();
        assert_eq!(me.waiting_on, None, "{tree}");
    }));
}
