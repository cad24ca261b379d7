//! R1 (one parent) and R2 (no child outlives its parent).

mod support;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use futures::channel::oneshot;
use support::{runtime, stays_pending};

#[test]
fn a_spawned_task_is_a_child_of_the_task_that_spawned_it() {
    let rt = runtime(2);
    let handle = rt.handle().clone();
    rt.block_on(async move {
        let (release_tx, release_rx) = oneshot::channel::<()>();
        let (ids_tx, ids_rx) = oneshot::channel();
        let parent = nursery::task::Builder::new()
            .name("parent")
            .spawn(async move {
                let child = nursery::task::Builder::new()
                    .name("child")
                    .spawn(async move {
                        let _ = release_rx.await;
                    });
                let _ = ids_tx.send(child.id());
                child.await.unwrap();
            });
        let child_id = ids_rx.await.unwrap();
        let seen = handle.task_tree().nodes;
        let child = seen
            .iter()
            .map(|(_, n)| n)
            .find(|n| n.id == child_id)
            .expect("child in tree");
        assert_eq!(
            child.parent,
            Some(parent.id()),
            "the spawning task is the parent"
        );
        assert_eq!(child.name.as_deref(), Some("child"));
        release_tx.send(()).unwrap();
        parent.await.unwrap();
    });
}

#[test]
fn tasks_spawned_from_outside_any_task_belong_to_the_root() {
    let rt = runtime(1);
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let task = rt.handle().spawn(async move {
        started_tx.send(()).unwrap();
        let _ = release_rx.await;
    });
    // An unnamed task joins its parent's list when it first waits (just after this signal), and
    // is counted as "starting" until then.
    started_rx.recv().unwrap();
    let (parent, root) = support::eventually(Duration::from_secs(10), || {
        let nodes = rt.handle().task_tree().nodes;
        let root = nodes
            .iter()
            .find(|(_, n)| n.kind == "root")
            .map(|(_, n)| n.id);
        let parent = nodes
            .iter()
            .find(|(_, n)| n.id == task.id())
            .map(|(_, n)| n.parent);
        parent
            .map(|p| (p, root))
            .ok_or_else(|| "the task never showed in the tree".to_owned())
    });
    assert_eq!(parent, root);
    assert!(root.is_some());
    release_tx.send(()).unwrap();
    rt.block_on(task).unwrap();
}

#[test]
fn a_task_completes_only_after_its_child_completes() {
    let rt = runtime(2);
    rt.block_on(async {
        let (release_tx, release_rx) = oneshot::channel::<()>();
        let (body_done_tx, body_done_rx) = oneshot::channel::<()>();
        let child_done = Arc::new(AtomicBool::new(false));
        let flag = child_done.clone();
        let mut parent = nursery::spawn(async move {
            nursery::spawn(async move {
                let _ = release_rx.await;
                flag.store(true, SeqCst);
            });
            body_done_tx.send(()).unwrap();
            "parent output"
        });
        body_done_rx.await.unwrap();
        assert!(
            stays_pending(&mut parent, 2000).await,
            "the parent's handle resolved while its child was still running"
        );
        assert!(!parent.is_finished());
        release_tx.send(()).unwrap();
        assert_eq!(parent.await.unwrap(), "parent output");
        assert!(
            child_done.load(SeqCst),
            "handle resolved before the child finished"
        );
    });
}

#[test]
fn a_task_completes_only_after_its_grandchildren_complete() {
    let rt = runtime(2);
    rt.block_on(async {
        let (release_tx, release_rx) = oneshot::channel::<()>();
        let (bodies_done_tx, bodies_done_rx) = oneshot::channel::<()>();
        let grandchild_done = Arc::new(AtomicBool::new(false));
        let flag = grandchild_done.clone();
        let mut parent = nursery::spawn(async move {
            let child = nursery::spawn(async move {
                nursery::spawn(async move {
                    let _ = release_rx.await;
                    flag.store(true, SeqCst);
                });
            });
            // The child's own body is done at once; only the grandchild keeps it alive.
            let mut child = child;
            assert!(stays_pending(&mut child, 500).await);
            bodies_done_tx.send(()).unwrap();
        });
        bodies_done_rx.await.unwrap();
        assert!(stays_pending(&mut parent, 2000).await);
        release_tx.send(()).unwrap();
        parent.await.unwrap();
        assert!(grandchild_done.load(SeqCst));
    });
}

#[test]
fn block_on_returns_only_after_every_task_spawned_inside_it() {
    let rt = runtime(2);
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let handle = rt.handle().clone();
    rt.block_on(async move {
        nursery::spawn(async move {
            let _ = release_rx.await;
            flag.store(true, SeqCst);
        });
        // Detached-looking: the body returns while the child waits. Release it from a task of
        // the root nursery, which is not part of this block_on's subtree.
        handle.spawn(async move {
            nursery::task::yield_now().await;
            release_tx.send(()).unwrap();
        });
    });
    assert!(
        done.load(SeqCst),
        "block_on returned before its child finished"
    );
}

#[test]
fn a_scope_returns_only_after_every_child_is_done() {
    let rt = runtime(2);
    let finished = rt.block_on(async {
        let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = counter.clone();
        nursery::scope(|s| async move {
            for i in 0..100 {
                let c = c.clone();
                s.spawn(async move {
                    for _ in 0..(i % 7) {
                        nursery::task::yield_now().await;
                    }
                    c.fetch_add(1, SeqCst);
                });
            }
        })
        .await;
        counter.load(SeqCst)
    });
    assert_eq!(finished, 100);
}
