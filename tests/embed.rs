//! Embedding: a runtime built by hand and driven from a plain synchronous program's threads
//! (what `examples/embed.rs` shows).

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

#[test]
fn start_and_stop_hooks_run_once_on_every_worker_which_is_named_after_thread_name() {
    let started = Arc::new(Mutex::new(Vec::new()));
    let stopped = Arc::new(Mutex::new(Vec::new()));
    let rt = {
        let started = started.clone();
        let stopped = stopped.clone();
        nursery::Runtime::builder()
            .worker_threads(3)
            .thread_name("embedded")
            .on_thread_start(move || {
                let name = thread::current().name().map(str::to_owned);
                started.lock().unwrap().push(name);
            })
            .on_thread_stop(move || {
                let name = thread::current().name().map(str::to_owned);
                stopped.lock().unwrap().push(name);
            })
            .build()
            .unwrap()
    };
    // A task runs on a worker, after that worker's start hook.
    let ran_on = rt.block_on(async {
        nursery::spawn(async { thread::current().name().map(str::to_owned) })
            .await
            .unwrap()
    });
    assert!(ran_on.is_some_and(|n| n.starts_with("embedded-")));
    assert!(rt.shutdown_timeout(Duration::from_secs(10)));

    let expected: HashSet<_> = (0..3).map(|i| Some(format!("embedded-{i}"))).collect();
    let started = started.lock().unwrap().clone();
    let stopped = stopped.lock().unwrap().clone();
    assert_eq!(started.len(), 3, "{started:?}");
    assert_eq!(stopped.len(), 3, "{stopped:?}");
    assert_eq!(started.into_iter().collect::<HashSet<_>>(), expected);
    assert_eq!(stopped.into_iter().collect::<HashSet<_>>(), expected);
}

#[test]
fn handles_cloned_into_plain_threads_spawn_and_block_on_at_the_same_time() {
    let rt = nursery::Runtime::builder()
        .worker_threads(2)
        .build()
        .unwrap();
    let barrier = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4u64)
        .map(|i| {
            let handle = rt.handle().clone();
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait(); // all four in block_on at once
                let jobs: Vec<_> = (0..10u64)
                    .map(|j| {
                        handle.spawn(async move {
                            nursery::time::sleep(Duration::from_millis(1)).await;
                            i * 100 + j
                        })
                    })
                    .collect();
                handle.block_on(async move {
                    let mut sum = 0;
                    for job in jobs {
                        sum += job.await.unwrap();
                    }
                    sum
                })
            })
        })
        .collect();
    let sums: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(sums, vec![45, 1045, 2045, 3045]);
}

#[test]
fn a_task_spawned_through_a_handle_from_a_plain_thread_is_a_child_of_the_root() {
    let rt = nursery::Runtime::builder()
        .worker_threads(1)
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    let job = thread::spawn(move || {
        // The sleep is made inside the task: timers need the runtime, this thread has none.
        handle.spawn(async { nursery::time::sleep(Duration::from_secs(3600)).await })
    })
    .join()
    .unwrap();
    // An unnamed task joins the tree's lists when it first waits (in its sleep), a moment
    // after the spawn: look until it is there.
    let here = file!();
    let (tree, task) = support::eventually(Duration::from_secs(10), || {
        let tree = rt.handle().task_tree();
        let task = tree
            .nodes
            .iter()
            .map(|(_, n)| n.clone())
            .find(|n| n.kind == "task" && n.location.is_some_and(|l| l.file() == here));
        match task {
            Some(task) => Ok((tree, task)),
            None => Err(format!("the task never showed in the tree:\n{tree}")),
        }
    });
    let root = tree
        .nodes
        .iter()
        .find(|(_, n)| n.kind == "root")
        .unwrap()
        .1
        .id;
    assert_eq!(task.parent, Some(root), "{tree}");
    drop(job); // dropping the handle does not detach it: it stays under the root
    assert!(rt.handle().task_tree().task_count() >= 1);
}

#[test]
fn shutdown_timeout_cancels_background_tasks_under_the_root_and_drops_their_futures() {
    struct CountDrop(Arc<AtomicUsize>);
    impl Drop for CountDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let rt = nursery::Runtime::builder()
        .worker_threads(2)
        .build()
        .unwrap();
    for _ in 0..5 {
        let token = CountDrop(dropped.clone());
        rt.handle().spawn(async move {
            let _token = token;
            let mut ticks = nursery::time::interval(Duration::from_millis(1));
            loop {
                ticks.tick().await;
            }
        });
    }
    assert!(
        rt.shutdown_timeout(Duration::from_secs(10)),
        "every task could be cancelled"
    );
    assert_eq!(
        dropped.load(SeqCst),
        5,
        "every future was dropped before it returned"
    );
}
