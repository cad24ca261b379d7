//! `Runtime`: owns the worker threads; dropping it cancels every task and waits for them.

use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use nursery_scheduler::Scheduler;

use crate::builder::Builder;
use crate::handle::{Handle, Inner};
use crate::thread_waker::ThreadWaker;
use crate::worker_park::Driver;
use crate::worker_park::WorkerPark;

/// A nursery runtime: worker threads, a reactor, timers, and the root of the task tree.
///
/// Dropping it cancels every task, waits until every task's future (and every output nobody can
/// claim any more) has been dropped, then joins its threads.
///
/// ```
/// let rt = nursery_runtime::Runtime::new().unwrap();
/// let out = rt.block_on(async {
///     let child = nursery_runtime::spawn(async { "hello" });
///     child.await.unwrap()
/// });
/// assert_eq!(out, "hello");
/// ```
pub struct Runtime {
    handle: Handle,
    threads: Vec<thread::JoinHandle<()>>,
    monitor: Option<(Arc<crate::stall::Monitor>, thread::JoinHandle<()>)>,
    /// `shutdown_timeout` gave up: nothing left to wait for.
    abandoned: bool,
}

impl Runtime {
    /// A runtime with one worker per CPU core.
    ///
    /// ```
    /// fn main() -> std::io::Result<()> {
    ///     let rt = nursery_runtime::Runtime::new()?;
    ///     assert_eq!(rt.block_on(async { 40 + 2 }), 42);
    ///     Ok(())
    /// }
    /// ```
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// A builder to configure the runtime.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder()
    ///     .worker_threads(1)
    ///     .thread_name("db-worker")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(rt.handle().worker_threads(), 1);
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(crate) fn from_builder(builder: &Builder) -> io::Result<Runtime> {
        crate::dump::install_wait_hook();
        let workers = builder.worker_threads;
        let monitor = builder
            .stall_threshold
            .map(|_| Arc::new(crate::stall::Monitor::default()));
        let io_config = nursery_reactor::Config::new().wake_local_peers(builder.wake_local_peers);
        let driver = Arc::new(Driver::new(
            workers,
            monitor.clone(),
            io_config,
            builder.on_fault.clone(),
            builder.start_paused,
        )?);
        let (scheduler, runners) = Scheduler::new(workers, WorkerPark(driver.clone()));
        let root = scheduler.new_root();
        let blocking = Arc::new(crate::blocking::BlockingPool::new(
            builder.max_blocking_threads,
            builder.blocking_keep_alive,
            builder.thread_name.clone(),
        ));
        // Host-name lookups of the net types run on the pool, outside the task tree. (The
        // pool does not refer to the reactor: no cycle.)
        // A lookup in flight counts as busy, so that a paused clock does not jump past it. (Weak:
        // the reactor keeps this closure.)
        let pool = blocking.clone();
        let weak = Arc::downgrade(&driver);
        driver.io_handle.set_offload(move |job| {
            let active = weak.upgrade().map(|driver| driver.active());
            pool.run_detached(Box::new(move || {
                job();
                drop(active);
            }));
        });
        let handle = Handle {
            inner: Arc::new(Inner {
                blocking,
                scheduler,
                root,
                driver,
            }),
        };
        let mut runtime = Runtime {
            handle,
            threads: Vec::with_capacity(workers),
            monitor: None,
            abandoned: false,
        };
        for runner in runners {
            let handle = runtime.handle.clone();
            let start = builder.on_thread_start.clone();
            let stop = builder.on_thread_stop.clone();
            let mut thread =
                thread::Builder::new().name(format!("{}-{}", builder.thread_name, runner.index()));
            if let Some(size) = builder.thread_stack_size {
                thread = thread.stack_size(size);
            }
            // On failure, `runtime` drops here and stops the threads already started.
            let joined = thread.spawn(move || {
                // A worker's timed waits are tens of microseconds (a searcher's doze) to
                // milliseconds (timers): the default 50 µs of slack would double the first.
                nursery_reactor::tighten_timer_slack();
                let _io = handle.inner.driver.io_handle.enter();
                let _enter = crate::current_runtime::enter(handle);
                if let Some(f) = start {
                    f();
                }
                runner.run();
                if let Some(f) = stop {
                    f();
                }
            })?;
            runtime.threads.push(joined);
        }
        if let (Some(monitor), Some(threshold)) = (monitor, builder.stall_threshold) {
            let hook = builder
                .on_stall
                .clone()
                .unwrap_or_else(|| Arc::new(crate::stall::print_report));
            let thread = crate::stall::spawn_monitor(
                runtime.handle.clone(),
                monitor.clone(),
                threshold,
                hook,
            )?;
            runtime.monitor = Some((monitor, thread));
        }
        Ok(runtime)
    }

    /// Runs `future` to completion on the calling thread, with the runtime's workers running
    /// every task it spawns. Returns only after every task spawned inside it is done (its body
    /// is a node of the task tree, child of the root). A child's panic cancels the rest and is
    /// re-raised here.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    ///
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let done = Arc::new(AtomicBool::new(false));
    /// let flag = done.clone();
    /// let out = rt.block_on(async move {
    ///     // Not awaited: block_on still waits for it before returning.
    ///     nursery_runtime::spawn(async move { flag.store(true, Ordering::SeqCst) });
    ///     "body done"
    /// });
    /// assert_eq!(out, "body done");
    /// assert!(done.load(Ordering::SeqCst));
    /// ```
    ///
    /// # Panics
    /// If called from a worker thread of any nursery runtime (a worker must never block: use
    /// `.await`), or from inside another `block_on`.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        crate::block_on::block_on(&self.handle, future)
    }

    /// A handle to spawn onto this runtime from anywhere.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let handle = rt.handle().clone();
    /// let task = handle.spawn(async { "spawned through the handle" });
    /// assert_eq!(rt.block_on(task).unwrap(), "spawned through the handle");
    /// ```
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Shuts the runtime down like `drop`, but waits at most `timeout` for the tasks to go.
    /// Returns true if everything shut down cleanly. Otherwise (a task blocking in a poll, a
    /// `spawn_blocking` closure that does not return) the worker and blocking threads are left
    /// to finish on their own, detached, and what they still hold is leaked: a last resort
    /// for embedders that must not hang.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = nursery_runtime::Runtime::new().unwrap();
    /// rt.handle()
    ///     .spawn(async { nursery_runtime::time::sleep(Duration::from_secs(3600)).await });
    /// assert!(rt.shutdown_timeout(Duration::from_secs(5)), "a sleeping task is cancelled at once");
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) -> bool {
        let clean = self.shut_down_within(Some(timeout));
        if !clean {
            // Nothing more can be done safely: do not let Drop wait again. The unfinished tasks
            // still point at the scheduler, so it must never be freed: leak a handle to it.
            std::mem::forget(self.handle.clone());
            self.threads.clear();
            self.monitor = None;
            self.abandoned = true;
        }
        clean
    }

    fn shut_down(&mut self) {
        self.shut_down_within(None);
    }

    /// Returns false if the tasks were not all gone within `timeout`.
    fn shut_down_within(&mut self, timeout: Option<Duration>) -> bool {
        if self.abandoned {
            return false;
        }
        let inner = &self.handle.inner;
        // Shields protect from scopes, not from shutdown: every task goes.
        crate::trace::runtime_shutdown();
        self.handle.scheduler().cancel_all(inner.root.node());
        inner.root.close();
        let waker = ThreadWaker::new();
        let finished = match timeout {
            None => {
                waker.wait_until(|cx| inner.root.poll_complete(cx).is_ready());
                true
            }
            Some(timeout) => waker.wait_until_timeout(
                |cx| inner.root.poll_complete(cx).is_ready(),
                Instant::now() + timeout,
            ),
        };
        if !finished {
            if let Some((monitor, _)) = &self.monitor {
                monitor.stop();
            }
            inner.scheduler.shutdown();
            return false;
        }
        if let Some((monitor, thread)) = self.monitor.take() {
            monitor.stop();
            let _ = thread.join();
        }
        inner.scheduler.shutdown();
        for thread in self.threads.drain(..) {
            // A worker thread only panics through a bug of ours; report it rather than hide it.
            if thread.join().is_err() {
                nursery_scheduler::diagnostics::report_to(
                    inner.driver.on_fault.as_ref(),
                    crate::Fault::new(
                        crate::FaultKind::WorkerPanicked,
                        "a worker thread panicked during shutdown",
                    ),
                );
            }
        }
        inner.scheduler.drain();
        // Every blocking job of a task is done, since every task is gone; a host-name lookup
        // abandoned by its future may still be inside the resolver: joining waits for it.
        inner.blocking.shutdown();
        inner.driver.shutdown();
        true
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if self.abandoned {
            return;
        }
        if nursery_scheduler::current_node::is_worker_thread() {
            // Waiting here would block a worker, possibly one this very runtime needs to finish.
            panic!(
                "a nursery Runtime was dropped on a worker thread: dropping waits for every task \
                 to finish, which a worker must never do; drop it from a plain thread"
            );
        }
        self.shut_down();
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.threads.len())
            .finish()
    }
}
