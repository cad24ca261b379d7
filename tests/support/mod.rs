//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod net;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};

/// Counts drops of the futures (or values) it is attached to.
#[derive(Clone, Default)]
pub struct DropCounter(Arc<AtomicUsize>);

impl DropCounter {
    pub fn new() -> DropCounter {
        DropCounter::default()
    }
    pub fn token(&self) -> DropToken {
        DropToken(self.0.clone())
    }
    pub fn count(&self) -> usize {
        self.0.load(SeqCst)
    }
}

/// Increments its counter when dropped.
pub struct DropToken(Arc<AtomicUsize>);

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A future that never completes and is never woken: only cancellation ends it.
pub async fn pending_forever(token: DropToken) {
    std::future::pending::<()>().await;
    drop(token);
}

/// Like [`pending_forever`], but counts itself in `started` when first polled.
pub async fn started_pending_forever(token: DropToken, started: Arc<AtomicUsize>) {
    started.fetch_add(1, SeqCst);
    pending_forever(token).await
}

/// Blocks the calling (plain) thread until `counter` reaches `target`, or panics after 10 s.
pub fn wait_for_count(counter: &AtomicUsize, target: usize) {
    eventually(std::time::Duration::from_secs(10), || {
        let n = counter.load(SeqCst);
        if n >= target {
            Ok(())
        } else {
            Err(format!("only {n} of {target} arrived"))
        }
    })
}

/// Tries `check` on the calling (plain) thread, yielding between tries, until it returns `Ok`;
/// panics with its last `Err` once `within` has passed. For conditions no event announces,
/// such as a task joining the tree's lists just after its first poll returns.
pub fn eventually<T>(
    within: std::time::Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = std::time::Instant::now() + within;
    loop {
        match check() {
            Ok(value) => return value,
            Err(why) if std::time::Instant::now() >= deadline => panic!("{why}"),
            Err(_) => std::thread::yield_now(),
        }
    }
}

/// Polls `fut` once without blocking: `Some` if it was ready.
pub fn poll_once<F: Future + Unpin>(fut: &mut F) -> Option<F::Output> {
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    match Pin::new(fut).poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// Gives the other tasks many chances to run, then reports whether `fut` became ready. Used to
/// show that something does *not* happen: on a runtime that broke the rule, it would happen
/// within a few scheduler passes, long before these yields are spent.
pub async fn stays_pending<F: Future + Unpin>(fut: &mut F, yields: usize) -> bool {
    for _ in 0..yields {
        if poll_once(fut).is_some() {
            return false;
        }
        nursery::task::yield_now().await;
    }
    poll_once(fut).is_none()
}

/// The message of a caught panic.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string payload>".to_owned()
    }
}

pub fn runtime(workers: usize) -> nursery::Runtime {
    nursery::Runtime::builder()
        .worker_threads(workers)
        .build()
        .expect("runtime")
}

/// Computes (keeps its worker) until `flag` is set; returns whether it was, within 10 s.
pub fn compute_until(flag: &AtomicBool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !flag.load(SeqCst) {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::hint::spin_loop();
    }
    true
}
