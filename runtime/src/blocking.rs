//! `spawn_blocking`: run blocking code on a pool of threads, as a task of the tree.
//!
//! The pool grows on demand up to a bound and retires threads idle for a while. A blocking job is
//! a child task whose future waits for the closure's result; the job holds a pending slot on that
//! task (`NodeRef::hold`), so the task — and therefore its parent — cannot complete before the
//! closure has returned, even if the task is cancelled. A running closure cannot be interrupted.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use nursery_scheduler::{Hold, JoinHandle, SpawnMeta};
use parking_lot::{Condvar, Mutex};

use crate::handle::Handle;
use crate::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

pub(crate) struct BlockingPool {
    state: Mutex<PoolState>,
    condvar: Condvar,
    max_threads: usize,
    keep_alive: Duration,
    thread_name: String,
}

#[derive(Default)]
struct PoolState {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
    shutdown: bool,
    handles: Vec<thread::JoinHandle<()>>,
}

impl BlockingPool {
    pub(crate) fn new(
        max_threads: usize,
        keep_alive: Duration,
        thread_name: String,
    ) -> BlockingPool {
        BlockingPool {
            state: Mutex::new(PoolState::default()),
            condvar: Condvar::new(),
            max_threads,
            keep_alive,
            thread_name,
        }
    }

    fn submit(self: &Arc<Self>, job: Job) -> std::io::Result<()> {
        let mut state = self.state.lock();
        state.queue.push_back(job);
        if state.idle > 0 {
            self.condvar.notify_one();
        } else if state.threads < self.max_threads {
            state.threads += 1;
            let pool = self.clone();
            let spawned = thread::Builder::new()
                .name(format!("{}-blocking", self.thread_name))
                .spawn(move || pool.run_thread());
            match spawned {
                Ok(handle) => state.handles.push(handle),
                Err(e) => {
                    state.threads -= 1;
                    if state.threads == 0 {
                        state.queue.pop_back();
                        return Err(e);
                    }
                    // Other threads will get to the job.
                }
            }
        }
        Ok(())
    }

    fn run_thread(&self) {
        let mut state = self.state.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                job();
                state = self.state.lock();
                continue;
            }
            if state.shutdown {
                break;
            }
            state.idle += 1;
            let timed_out = self
                .condvar
                .wait_for(&mut state, self.keep_alive)
                .timed_out();
            state.idle -= 1;
            if timed_out && state.queue.is_empty() && !state.shutdown {
                break; // retire
            }
        }
        state.threads -= 1;
    }

    /// Joins every pool thread (at runtime shutdown, after every task is gone).
    pub(crate) fn shutdown(&self) {
        let handles = {
            let mut state = self.state.lock();
            state.shutdown = true;
            self.condvar.notify_all();
            std::mem::take(&mut state.handles)
        };
        for handle in handles {
            let _ = handle.join();
        }
    }

    /// Threads currently in the pool.
    pub(crate) fn threads(&self) -> usize {
        self.state.lock().threads
    }
}

/// Runs `f` on the blocking pool; the returned handle resolves to its result.
///
/// The job is a child of the current task: the parent waits for it like for any child. It
/// cannot be interrupted: cancelling its handle makes the handle resolve as cancelled, but only
/// once the closure has returned. A panic in `f` is a panic of that task (see `nursery::spawn`).
///
/// ```
/// nursery_runtime::Runtime::new().unwrap().block_on(async {
///     let sum = nursery_runtime::task::spawn_blocking(|| (1..=10u64).sum::<u64>());
///     assert_eq!(sum.await.unwrap(), 55);
/// });
/// ```
///
/// # Panics
/// Outside a runtime.
#[track_caller]
pub fn spawn_blocking<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let handle = crate::context::expect_handle();
    let (sender, receiver) = oneshot::channel();
    let task = crate::spawn::spawn_with(WaitForJob { receiver }, SpawnMeta::here())
        .unwrap_or_else(|e| panic!("spawn_blocking: {e}"));
    let hold = handle
        .scheduler()
        .hold(task.node())
        .expect("a task that was just spawned has not completed");
    let runtime = handle.clone();
    let job: Job = Box::new(move || run_job(runtime, hold, f, sender));
    if let Err(e) = handle.inner.blocking.submit(job) {
        panic!("spawn_blocking: could not start a blocking thread: {e}");
    }
    task
}

fn run_job<F, T>(runtime: Handle, hold: Hold, f: F, sender: oneshot::Sender<std::thread::Result<T>>)
where
    F: FnOnce() -> T,
{
    {
        // The closure runs as the blocking task: what it spawns becomes that task's children.
        let _io = runtime.inner.driver.io_handle.enter();
        let _runtime = crate::context::enter(runtime.clone());
        let _node = nursery_scheduler::context::enter(hold.node());
        sender.send(catch_unwind(AssertUnwindSafe(f)));
    }
    // Dropping the hold lets the task complete (after its waiting future is gone).
    drop(hold);
}

/// The future of a blocking task: waits for the closure's result.
struct WaitForJob<T> {
    receiver: oneshot::Receiver<std::thread::Result<T>>,
}

impl<T> Future for WaitForJob<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match Pin::new(&mut self.receiver).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(value))) => Poll::Ready(value),
            Poll::Ready(Some(Err(panic))) => resume_unwind(panic),
            Poll::Ready(None) => unreachable!("a blocking job always sends its result"),
        }
    }
}
