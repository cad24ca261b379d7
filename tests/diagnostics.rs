//! One diagnostics path for internal faults: `Builder::on_fault` receives what the runtime
//! caught and carried on from, and without a hook the default (stderr) changes nothing else.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use futures::channel::oneshot;
use nursery::{Fault, FaultKind, Runtime};

/// A waker of "another executor" that panics when woken.
struct PanickingWaker;

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("intentional: a foreign waker that panics when woken");
    }
}

/// Sends when dropped (here: while its task unwinds).
struct SendOnDrop(Option<oneshot::Sender<()>>);

impl Drop for SendOnDrop {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// A runtime whose fault hook sends each fault's kind and text down the returned channel.
fn runtime_with_hook() -> (Runtime, Receiver<(FaultKind, String)>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let rt = Runtime::builder()
        .worker_threads(2)
        .on_fault(move |fault: &Fault| {
            let _ = tx.lock().unwrap().send((fault.kind(), fault.to_string()));
        })
        .build()
        .unwrap();
    (rt, rx)
}

/// Polls a task's join handle from a plain thread with a (foreign) waker that panics, then
/// lets the task finish: the worker that completes it wakes that waker. Returns the handle,
/// not polled again (a new poll would replace the waker).
fn join_with_panicking_waker(rt: &Runtime) -> nursery::JoinHandle<u32> {
    let (go, gate) = oneshot::channel::<()>();
    let mut task = rt.handle().spawn(async move {
        let _ = gate.await;
        7
    });
    let waker = Waker::from(Arc::new(PanickingWaker));
    let polled = Pin::new(&mut task).poll(&mut Context::from_waker(&waker));
    assert!(polled.is_pending(), "the task waits for the gate");
    go.send(()).unwrap();
    task
}

/// Waits (bounded) until the task has completed, and so woken the waker it had.
fn finished(task: nursery::JoinHandle<u32>, rt: &Runtime) -> u32 {
    let start = std::time::Instant::now();
    while !task.is_finished() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the task never finished"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    rt.block_on(task).unwrap()
}

#[test]
fn a_panicking_foreign_waker_is_reported_to_the_hook() {
    let (rt, faults) = runtime_with_hook();
    let task = join_with_panicking_waker(&rt);
    let (kind, text) = faults
        .recv_timeout(Duration::from_secs(10))
        .expect("the hook never saw the panicking waker");
    assert_eq!(kind, FaultKind::WakerPanicked);
    assert!(text.contains("a waker panicked"), "{text}");
    assert_eq!(rt.block_on(task).unwrap(), 7);
    // The runtime carries on.
    assert_eq!(
        rt.block_on(async { nursery::spawn(async { 1 + 1 }).await })
            .unwrap(),
        2
    );
}

#[test]
fn an_unhandled_failure_in_a_dropped_scope_is_reported_to_the_hook() {
    let (rt, faults) = runtime_with_hook();
    rt.block_on(nursery::supervised(|_| async {
        // A scope whose child fails, dropped without being awaited to the end: its parent is
        // supervised, so nobody will ever see the failure.
        let (unwound, child_unwound) = oneshot::channel::<()>();
        let (go, gate) = oneshot::channel::<()>();
        let mut inner = Box::pin(nursery::scope(|s| async move {
            s.spawn(async move {
                let _signal = SendOnDrop(Some(unwound));
                // Not before the scope's first poll has returned: a child that failed and
                // completed during that poll would make the scope re-raise it right there.
                let _ = gate.await;
                panic!("intentional: a child of a dropped scope fails")
            });
        }));
        let first = futures::poll!(inner.as_mut());
        assert!(first.is_pending(), "the scope waits for its child");
        go.send(()).unwrap();
        let _ = child_unwound.await;
        // The child has unwound; its completion (and the scope's) follows at once.
        nursery::time::sleep(Duration::from_millis(200)).await;
        drop(inner);
    }));
    let (kind, text) = faults
        .recv_timeout(Duration::from_secs(10))
        .expect("the hook never saw the dropped scope's failure");
    assert_eq!(kind, FaultKind::UnhandledFailure);
    assert!(text.contains("unhandled failure"), "{text}");
}

#[test]
fn a_failure_that_completes_a_scope_after_it_was_dropped_is_reported_to_the_hook() {
    let (rt, faults) = runtime_with_hook();
    rt.block_on(nursery::supervised(|_| async {
        // The scope is dropped while its child is still in the middle of a poll; the child
        // then fails, and the scope completes with nobody left to re-raise the failure.
        let (started, child_started) = oneshot::channel::<()>();
        let dropped = Arc::new(AtomicBool::new(false));
        let scope_dropped = dropped.clone();
        let mut inner = Box::pin(nursery::scope(|s| async move {
            s.spawn(async move {
                let _ = started.send(());
                while !scope_dropped.load(SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                panic!("intentional: a child fails after its scope was dropped")
            });
        }));
        assert!(futures::poll!(inner.as_mut()).is_pending());
        let _ = child_started.await;
        drop(inner);
        dropped.store(true, SeqCst);
    }));
    let (kind, text) = faults
        .recv_timeout(Duration::from_secs(10))
        .expect("the hook never saw the failure of a scope completed after its drop");
    assert_eq!(kind, FaultKind::UnhandledFailure);
    assert!(text.contains("unhandled failure"), "{text}");
}

#[test]
fn two_runtimes_keep_their_own_hooks() {
    let (with_hook, faults) = runtime_with_hook();
    let without_hook = Runtime::builder().worker_threads(1).build().unwrap();
    // A fault on the runtime without a hook is printed, not sent to the other's hook.
    let task = join_with_panicking_waker(&without_hook);
    assert_eq!(finished(task, &without_hook), 7);
    assert!(faults.recv_timeout(Duration::from_millis(200)).is_err());
    let task = join_with_panicking_waker(&with_hook);
    assert_eq!(finished(task, &with_hook), 7);
    assert_eq!(
        faults.recv_timeout(Duration::from_secs(10)).unwrap().0,
        FaultKind::WakerPanicked
    );
}

#[test]
fn without_a_hook_faults_are_printed_and_nothing_else_changes() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    assert_eq!(finished(join_with_panicking_waker(&rt), &rt), 7);
    assert_eq!(
        rt.block_on(async { nursery::spawn(async { 1 + 1 }).await })
            .unwrap(),
        2
    );
}

#[test]
fn a_panicking_hook_is_caught() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .on_fault(|_: &Fault| panic!("intentional: a fault hook that panics"))
        .build()
        .unwrap();
    assert_eq!(finished(join_with_panicking_waker(&rt), &rt), 7);
    assert_eq!(
        rt.block_on(async { nursery::spawn(async { 1 + 1 }).await })
            .unwrap(),
        2
    );
}
