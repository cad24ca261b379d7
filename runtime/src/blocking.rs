//! `spawn_blocking`: run blocking code on a pool of threads, as a task of the tree.
//!
//! The pool grows on demand up to a bound and retires threads idle for a while. A blocking job is
//! a child task whose future waits for the closure's result; the job holds a pending slot on that
//! task (`NodeRef::hold`), so the task — and therefore its parent — cannot complete before the
//! closure has returned, even if the task is cancelled. A running closure cannot be interrupted.
//!
//! The reactor's host-name lookups run here too, as detached jobs that belong to no task
//! (`run_detached`): their future may be dropped while the lookup runs, and nothing waits for it.
//!
//! The pool keeps the `JoinHandle`s of its live threads only, so memory follows live threads
//! however often the pool grows and shrinks. A retiring thread takes its own handle out and
//! leaves it as the pool's one `retired` handle, joining the one it replaces (a thread that has
//! already left the pool and only has to exit); shutdown joins the live threads and the last
//! retiree, so no pool thread outlives the runtime.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use nursery_scheduler::{Hold, JoinHandle, SpawnMeta};

use crate::handle::Handle;
use crate::sleeper::Sleeper;
use crate::sync::oneshot;

/// A job runs when called with `Ok(())` on a pool thread; called with `Err(why)`, it fails its
/// task with that reason instead (no thread could be started for it).
type Job = Box<dyn FnOnce(Result<(), &io::Error>) + Send>;

pub(crate) struct BlockingPool {
    /// Idle pool threads sleep on it until a job comes, shutdown, or their keep-alive ends.
    state: Sleeper<PoolState>,
    max_threads: usize,
    keep_alive: Duration,
    thread_name: String,
    /// Makes every thread start fail, to test that path.
    #[cfg(test)]
    refuse_threads: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct PoolState {
    queue: VecDeque<Job>,
    /// Threads that will look at the queue again: running a job or idle.
    threads: usize,
    /// Idle threads no job has been handed to yet. A submit that finds one takes it at once
    /// (`idle - 1`, `handed + 1`), before the thread even runs, so that the next submit starts
    /// a thread of its own instead of queueing behind the same one.
    idle: usize,
    /// Idle threads handed a job and not yet awake to take it.
    handed: usize,
    shutdown: bool,
    /// The handles of the live threads, keyed by the key each thread was started with.
    handles: slab::Slab<thread::JoinHandle<()>>,
    /// The last thread that retired: it has left the pool and is exiting. Joined by the next
    /// thread to retire, or at shutdown.
    retired: Option<thread::JoinHandle<()>>,
}

impl BlockingPool {
    pub(crate) fn new(
        max_threads: usize,
        keep_alive: Duration,
        thread_name: String,
    ) -> BlockingPool {
        BlockingPool {
            state: Sleeper::new(PoolState::default()),
            max_threads,
            keep_alive,
            thread_name,
            #[cfg(test)]
            refuse_threads: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Runs `job` on a pool thread outside the task tree: no task waits for it (the reactor's
    /// host-name lookups, whose waiting future may be dropped at any time). A job the pool cannot
    /// run (it has shut down, or no thread can be started) is dropped unrun.
    pub(crate) fn run_detached(self: &Arc<Self>, job: nursery_reactor::OffloadJob) {
        self.submit(Box::new(move |start| {
            if start.is_ok() {
                job();
            }
        }));
    }

    /// Queues `job`, handing it to an idle thread or starting a thread for it if the bound
    /// allows. If no thread can be started and none is left to get to the job, or the pool has
    /// shut down, the job fails its task with the reason.
    fn submit(self: &Arc<Self>, job: Job) {
        let mut state = self.state.lock();
        let refused = self.place(&mut state, job);
        drop(state);
        if let Some((job, why)) = refused {
            job(Err(&why));
        }
    }

    /// `submit` under the pool's lock; returns the job and the reason if it must fail.
    fn place(self: &Arc<Self>, state: &mut PoolState, job: Job) -> Option<(Job, io::Error)> {
        if state.shutdown {
            // No thread would be joined any more: refuse rather than leak one.
            return Some((job, io::Error::other("the runtime has shut down")));
        }
        if state.idle > 0 {
            state.idle -= 1;
            state.handed += 1;
            state.queue.push_back(job);
            self.state.wake_one();
            return None;
        }
        if state.threads >= self.max_threads {
            state.queue.push_back(job); // a busy thread will get to it
            return None;
        }
        let entry = state.handles.vacant_entry();
        let key = entry.key();
        match self.start_thread(key) {
            Ok(handle) => {
                entry.insert(handle);
                state.threads += 1;
                state.queue.push_back(job);
                None
            }
            // Busy threads will get to the job.
            Err(_) if state.threads > 0 => {
                state.queue.push_back(job);
                None
            }
            Err(e) => Some((job, e)),
        }
    }

    fn start_thread(self: &Arc<Self>, key: usize) -> io::Result<thread::JoinHandle<()>> {
        #[cfg(test)]
        if self
            .refuse_threads
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(io::Error::other("refused by the test"));
        }
        let pool = self.clone();
        thread::Builder::new()
            .name(format!("{}-blocking", self.thread_name))
            .spawn(move || pool.run_thread(key))
    }

    /// The loop of a pool thread; `key` is its handle's key in `handles`.
    fn run_thread(&self, key: usize) {
        let mut state = self.state.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                job(Ok(()));
                state = self.state.lock();
                continue;
            }
            if state.shutdown {
                // Shutdown took every handle and joins this thread.
                state.threads -= 1;
                return;
            }
            state.idle += 1;
            let until = Instant::now() + self.keep_alive;
            // Waits at least once: a job handed out before this thread went idle was handed to
            // a thread that was waiting then (tokio's rule too), and taking it from that one
            // would leave one thread counted twice in `idle` and the other in none.
            let mut fresh = true;
            self.state.sleep_while(&mut state, Some(until), |state| {
                std::mem::take(&mut fresh) || (state.handed == 0 && !state.shutdown)
            });
            if state.handed > 0 {
                // Handed a job (perhaps as the keep-alive ran out): the submit counted a waiting
                // thread out of `idle` already, and this is that one. A busy thread may have
                // taken the job from the queue first; then this one looks again and waits anew.
                state.handed -= 1;
                continue;
            }
            state.idle -= 1;
            if !state.shutdown {
                break; // retire: idle for the whole keep-alive
            }
        }
        state.threads -= 1;
        let mine = state.handles.try_remove(key);
        let previous = std::mem::replace(&mut state.retired, mine);
        drop(state);
        if let Some(previous) = previous {
            // It left the pool before this thread did: it only has to exit.
            let _ = previous.join();
        }
    }

    /// Joins every pool thread (at runtime shutdown, after every task is gone).
    pub(crate) fn shutdown(&self) {
        let (live, retired) = {
            let mut state = self.state.lock();
            state.shutdown = true;
            self.state.wake_all();
            (std::mem::take(&mut state.handles), state.retired.take())
        };
        for handle in live.into_iter().map(|(_, h)| h).chain(retired) {
            let _ = handle.join();
        }
    }

    /// Threads currently in the pool.
    pub(crate) fn threads(&self) -> usize {
        self.state.lock().threads
    }

    /// Threads in the pool and, among them, those idle (waiting for a job), read together.
    pub(crate) fn thread_counts(&self) -> (usize, usize) {
        let state = self.state.lock();
        (state.threads, state.idle)
    }

    /// Thread handles the pool holds: the live threads' and the last retiree's.
    #[cfg(test)]
    fn held_handles(&self) -> usize {
        let state = self.state.lock();
        state.handles.len() + usize::from(state.retired.is_some())
    }
}

/// Runs `f` on the blocking pool; the returned handle resolves to its result.
///
/// The job is a child of the current task: the parent waits for it like for any child. It
/// cannot be interrupted: cancelling its handle makes the handle resolve as cancelled, but only
/// once the closure has returned. Spawned into a cancelled scope, the closure may never start
/// (the handle then resolves as cancelled at once). A panic in `f` is a panic of that task (see `nursery::spawn`).
/// If the pool has to start a thread for the job and the OS refuses one while no pool thread is
/// left to take the job, the task fails the same way, with a message that gives the reason.
/// The closure sees the task-locals its caller saw (see [`LocalKey`](crate::task::LocalKey)).
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
    let handle = crate::current_runtime::expect_handle();
    let (sender, receiver) = oneshot::channel();
    let task = crate::spawn::spawn_with(WaitForJob { receiver }, SpawnMeta::here())
        .unwrap_or_else(|e| panic!("spawn_blocking: {e}"));
    // In a cancelled scope another worker may already have polled the new task, found it
    // cancelled and completed it: then the job never starts and the handle says cancelled.
    let Some(hold) = handle.scheduler().hold(task.node()) else {
        return task;
    };
    let runtime = handle.clone();
    let locals = crate::task_local::snapshot();
    // Until the job is done, a paused clock must not jump: the job may still wake a task.
    let active = handle.inner.driver.active();
    let job: Job = Box::new(move |start| {
        match start {
            Ok(()) => run_job(runtime, hold, locals, f, sender),
            Err(e) => {
                let why =
                    format!("spawn_blocking: the blocking pool could not start a thread: {e}");
                sender.send(Err(Box::new(why)));
                drop(hold);
            }
        }
        drop(active);
    });
    handle.inner.blocking.submit(job);
    task
}

fn run_job<F, T>(
    runtime: Handle,
    hold: Hold,
    locals: crate::task_local::Locals,
    f: F,
    sender: oneshot::Sender<std::thread::Result<T>>,
) where
    F: FnOnce() -> T,
{
    {
        // The closure runs as the blocking task: what it spawns becomes that task's children.
        let _io = runtime.inner.driver.io_handle.enter();
        let _runtime = crate::current_runtime::enter(runtime.clone());
        let _node = nursery_scheduler::current_node::enter(hold.node());
        // It sees the task-locals `spawn_blocking`'s caller saw.
        let result = crate::task_local::run_with(locals, || catch_unwind(AssertUnwindSafe(f)));
        sender.send(result);
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
            Poll::Pending => {
                nursery_scheduler::current_node::record_wait(nursery_scheduler::Wait::Blocking);
                Poll::Pending
            }
            Poll::Ready(Some(Ok(value))) => Poll::Ready(value),
            Poll::Ready(Some(Err(panic))) => resume_unwind(panic),
            // Only if the pool dropped a job it never ran, which it does not do.
            Poll::Ready(None) => panic!("spawn_blocking: the job was dropped before it ran"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::SeqCst;
    use std::sync::{mpsc, Arc, Barrier};
    use std::time::{Duration, Instant};

    use super::spawn_blocking;

    fn runtime(max_threads: usize, keep_alive: Duration) -> crate::Runtime {
        crate::Runtime::builder()
            .worker_threads(1)
            .max_blocking_threads(max_threads)
            .thread_keep_alive(keep_alive)
            .build()
            .expect("runtime")
    }

    /// Waits (bounded) until `done` holds; panics with `never` if it does not in 10 s.
    fn until(never: &str, done: impl Fn() -> bool) {
        let give_up = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < give_up, "{never}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Waits (bounded) until every pool thread has retired.
    fn until_all_retired(rt: &crate::Runtime) {
        until("idle threads never retired", || {
            rt.handle().blocking_threads() == 0
        });
    }

    #[test]
    fn the_pool_holds_handles_of_live_threads_only_across_bursts() {
        const BURST: usize = 8;
        let rt = runtime(BURST, Duration::from_millis(5));
        let pool = rt.handle().inner.blocking.clone();
        for _ in 0..20 {
            let barrier = Arc::new(Barrier::new(BURST));
            rt.block_on(async {
                let jobs: Vec<_> = (0..BURST)
                    .map(|_| {
                        let barrier = barrier.clone();
                        // All wait for each other: the pool grows to BURST threads.
                        spawn_blocking(move || {
                            barrier.wait();
                        })
                    })
                    .collect();
                for job in jobs {
                    job.await.unwrap();
                }
            });
            assert!(pool.held_handles() <= BURST + 1, "{}", pool.held_handles());
            until_all_retired(&rt);
            // Only the last retiree's handle is left, to be joined by the next one or at shutdown.
            assert!(
                pool.held_handles() <= 1,
                "retired threads are still held: {}",
                pool.held_handles()
            );
        }
    }

    #[test]
    fn a_job_no_thread_can_be_started_for_fails_its_task_with_the_reason() {
        let rt = runtime(4, Duration::from_secs(10));
        let pool = rt.handle().inner.blocking.clone();
        pool.refuse_threads.store(true, SeqCst);
        // Under the root, the failure stays in the task's handle.
        let task = rt.handle().spawn(async { spawn_blocking(|| 5).await });
        let err = rt.block_on(task).unwrap_err();
        assert!(err.is_panic());
        let message = err.panic_message().unwrap_or_default();
        assert!(
            message.contains("could not start a thread") && message.contains("refused by the test"),
            "{message}"
        );
        // Once threads can start again, the pool works.
        pool.refuse_threads.store(false, SeqCst);
        assert_eq!(
            rt.block_on(async { spawn_blocking(|| 5).await }).unwrap(),
            5
        );
    }

    #[test]
    fn a_job_handed_to_the_one_idle_thread_makes_the_next_job_start_a_thread() {
        let rt = runtime(4, Duration::from_secs(10));
        let pool = rt.handle().inner.blocking.clone();
        rt.block_on(async { spawn_blocking(|| ()).await.unwrap() });
        until("the first job's thread never went idle", || {
            pool.thread_counts() == (1, 1)
        });
        // Both jobs are placed before the idle thread can wake (it needs this lock): the
        // second must not be queued behind the first on that one thread.
        let (done, finished) = mpsc::channel();
        let mut state = pool.state.lock();
        for _ in 0..2 {
            let done = done.clone();
            let job: super::Job = Box::new(move |start| {
                start.unwrap();
                done.send(()).unwrap();
            });
            assert!(pool.place(&mut state, job).is_none());
        }
        assert_eq!(
            state.threads, 2,
            "the second job started a thread of its own"
        );
        assert_eq!((state.idle, state.handed), (0, 1));
        drop(state);
        for _ in 0..2 {
            finished.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        // Both threads go back to waiting, each counted once.
        until("the two threads never both went idle", || {
            pool.thread_counts() == (2, 2)
        });
    }

    #[test]
    fn a_job_no_new_thread_can_be_started_for_waits_for_a_busy_one() {
        let rt = runtime(4, Duration::from_secs(10));
        let pool = rt.handle().inner.blocking.clone();
        let out = rt.block_on(async {
            let (release, released) = mpsc::channel::<()>();
            let (started, has_started) = futures::channel::oneshot::channel::<()>();
            let busy = spawn_blocking(move || {
                let _ = started.send(());
                released.recv().unwrap();
            });
            has_started.await.unwrap();
            pool.refuse_threads.store(true, SeqCst);
            let queued = spawn_blocking(|| 7);
            pool.refuse_threads.store(false, SeqCst);
            release.send(()).unwrap();
            busy.await.unwrap();
            queued.await
        });
        assert_eq!(out.unwrap(), 7, "the busy thread took the queued job");
        assert_eq!(rt.handle().blocking_threads(), 1);
    }
}
