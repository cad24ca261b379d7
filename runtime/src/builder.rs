//! `Builder`: how many workers, what their threads are called, hooks around them.

use std::fmt;
use std::io;
use std::sync::Arc;

use crate::runtime::Runtime;

type Hook = Arc<dyn Fn() + Send + Sync>;

/// Configures and builds a [`Runtime`].
///
/// ```
/// let rt = nursery_runtime::Runtime::builder().worker_threads(2).build().unwrap();
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// ```
#[derive(Clone)]
pub struct Builder {
    pub(crate) worker_threads: usize,
    pub(crate) thread_name: String,
    pub(crate) thread_stack_size: Option<usize>,
    pub(crate) on_thread_start: Option<Hook>,
    pub(crate) on_thread_stop: Option<Hook>,
    pub(crate) stall_threshold: Option<std::time::Duration>,
    pub(crate) max_blocking_threads: usize,
    pub(crate) blocking_keep_alive: std::time::Duration,
    pub(crate) on_stall: Option<crate::stall::StallHook>,
    pub(crate) wake_local_peers: bool,
    pub(crate) on_fault: Option<nursery_scheduler::diagnostics::FaultHook>,
    pub(crate) start_paused: bool,
}

impl Builder {
    /// A builder with one worker per CPU core.
    ///
    /// ```
    /// let rt = nursery_runtime::Builder::new().build().unwrap();
    /// let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    /// assert_eq!(rt.handle().worker_threads(), cores);
    /// ```
    pub fn new() -> Builder {
        Builder {
            worker_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            thread_name: "nursery-worker".to_owned(),
            thread_stack_size: None,
            on_thread_start: None,
            on_thread_stop: None,
            stall_threshold: Some(std::time::Duration::from_secs(1)),
            max_blocking_threads: 512,
            blocking_keep_alive: std::time::Duration::from_secs(10),
            on_stall: None,
            wake_local_peers: false,
            on_fault: None,
            start_paused: false,
        }
    }

    /// The number of worker threads.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// assert_eq!(rt.handle().worker_threads(), 1);
    /// ```
    ///
    /// # Panics
    /// If `n` is zero: a runtime without workers could never run a task.
    #[track_caller]
    pub fn worker_threads(&mut self, n: usize) -> &mut Builder {
        assert!(
            n > 0,
            "Builder::worker_threads(0): a runtime needs at least one worker thread to run tasks; \
             pass 1 or more (or leave it unset for one per CPU core)"
        );
        self.worker_threads = n;
        self
    }

    /// The name prefix of worker threads (`{name}-{index}`). Default: `nursery-worker`.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder()
    ///     .worker_threads(1)
    ///     .thread_name("app-worker")
    ///     .build()
    ///     .unwrap();
    /// let name = rt.block_on(async {
    ///     nursery_runtime::spawn(async { std::thread::current().name().map(str::to_owned) })
    ///         .await
    ///         .unwrap()
    /// });
    /// assert_eq!(name.as_deref(), Some("app-worker-0"));
    /// ```
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Builder {
        self.thread_name = name.into();
        self
    }

    /// The stack size of worker threads, in bytes.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder()
    ///     .worker_threads(1)
    ///     .thread_stack_size(8 * 1024 * 1024) // for tasks that recurse deeply
    ///     .build()
    ///     .unwrap();
    /// let levels = rt.block_on(async {
    ///     fn depth(n: u64) -> u64 {
    ///         if n == 0 { 0 } else { 1 + depth(n - 1) }
    ///     }
    ///     nursery_runtime::spawn(async { depth(10_000) }).await.unwrap()
    /// });
    /// assert_eq!(levels, 10_000);
    /// ```
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Builder {
        self.thread_stack_size = Some(bytes);
        self
    }

    /// Runs on each worker thread before it runs any task.
    ///
    /// On Linux the thread's timer slack (how late the kernel may end its timed waits, 50 µs by
    /// default) is 1 µs by then: a worker's waits are as short as 50 µs. A hook may set another
    /// (`prctl(PR_SET_TIMERSLACK)`).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let started = Arc::new(AtomicUsize::new(0));
    /// let counter = started.clone();
    /// let rt = nursery_runtime::Runtime::builder()
    ///     .worker_threads(1)
    ///     .on_thread_start(move || {
    ///         counter.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// // A task has run on the only worker, so its start hook has run before it.
    /// rt.block_on(async { nursery_runtime::spawn(async {}).await.unwrap() });
    /// assert_eq!(started.load(Ordering::SeqCst), 1);
    /// ```
    pub fn on_thread_start(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Builder {
        self.on_thread_start = Some(Arc::new(f));
        self
    }

    /// Runs on each worker thread after its last task, before it exits.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let stopped = Arc::new(AtomicUsize::new(0));
    /// let counter = stopped.clone();
    /// let rt = nursery_runtime::Runtime::builder()
    ///     .worker_threads(2)
    ///     .on_thread_stop(move || {
    ///         counter.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(stopped.load(Ordering::SeqCst), 0);
    /// drop(rt); // joins the worker threads
    /// assert_eq!(stopped.load(Ordering::SeqCst), 2);
    /// ```
    pub fn on_thread_stop(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Builder {
        self.on_thread_stop = Some(Arc::new(f));
        self
    }

    /// The most threads the blocking pool (`task::spawn_blocking`) may run at once; further
    /// jobs queue. Default: 512.
    ///
    /// ```
    /// use nursery_runtime::task::spawn_blocking;
    ///
    /// let rt = nursery_runtime::Runtime::builder()
    ///     .worker_threads(1)
    ///     .max_blocking_threads(2)
    ///     .build()
    ///     .unwrap();
    /// let total = rt.block_on(async {
    ///     let jobs: Vec<_> = (1..=4u64).map(|i| spawn_blocking(move || i * 10)).collect();
    ///     let mut total = 0;
    ///     for job in jobs {
    ///         total += job.await.unwrap();
    ///     }
    ///     total
    /// });
    /// assert_eq!(total, 100);
    /// assert!(rt.handle().blocking_threads() <= 2);
    /// ```
    ///
    /// # Panics
    /// If `n` is zero.
    #[track_caller]
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Builder {
        assert!(n > 0, "Builder::max_blocking_threads(0): spawn_blocking would never run a job; pass 1 or more");
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking thread waits for work before it exits. Default: 10 s.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let rt = nursery_runtime::Runtime::builder()
    ///     .worker_threads(1)
    ///     .thread_keep_alive(Duration::from_millis(10))
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(async { nursery_runtime::task::spawn_blocking(|| ()).await.unwrap() });
    /// // The idle blocking thread retires about 10 ms after its last job.
    /// let give_up = Instant::now() + Duration::from_secs(10);
    /// while rt.handle().blocking_threads() > 0 {
    ///     assert!(Instant::now() < give_up, "the idle thread should have retired");
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// ```
    pub fn thread_keep_alive(&mut self, keep_alive: std::time::Duration) -> &mut Builder {
        self.blocking_keep_alive = keep_alive;
        self
    }

    /// Report any poll that blocks a worker for longer than `threshold` (default: 1 s); `None`
    /// turns the stall detector off. Its monitor thread looks every `threshold / 2` while the
    /// runtime is busy (and not at all while it is idle), so a report comes between one and one
    /// and a half thresholds into the blocking poll.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let (reports, stalls) = std::sync::mpsc::channel();
    /// let rt = nursery_runtime::Runtime::builder()
    ///     .worker_threads(1)
    ///     .stall_threshold(Some(Duration::from_millis(20)))
    ///     .on_stall(move |report| {
    ///         let _ = reports.send(report.clone());
    ///     })
    ///     .build()
    ///     .unwrap();
    /// let report = rt.block_on(async {
    ///     nursery_runtime::task::Builder::new()
    ///         .name("stuck")
    ///         // Blocks its worker (never do this) until the detector has reported it.
    ///         .spawn(async move { stalls.recv().unwrap() })
    ///         .await
    ///         .unwrap()
    /// });
    /// assert_eq!(report.task_name.as_deref(), Some("stuck"));
    /// assert!(report.blocked_for >= Duration::from_millis(20));
    /// ```
    pub fn stall_threshold(&mut self, threshold: Option<std::time::Duration>) -> &mut Builder {
        self.stall_threshold = threshold;
        self
    }

    /// What to do with a stall report (default: print it to stderr).
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = nursery_runtime::Runtime::builder()
    ///     .stall_threshold(Some(Duration::from_millis(100)))
    ///     .on_stall(|report| eprintln!("{report}"))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn on_stall(
        &mut self,
        hook: impl Fn(&crate::StallReport) + Send + Sync + 'static,
    ) -> &mut Builder {
        self.on_stall = Some(Arc::new(hook));
        self
    }

    /// Where the runtime's internal faults go (default: a line on stderr): faults it caught
    /// and carried on from, which it cannot return to anyone, such as a waker of another
    /// executor that panicked when woken, or a failure in a scope dropped without being awaited.
    /// See [`diagnostics`](crate::diagnostics) for which faults there are and how each finds
    /// its runtime. The hook runs on whichever thread of the runtime met the fault, so it
    /// should be quick; a panic in it is caught, and the fault printed.
    ///
    /// ```
    /// use nursery_runtime::{Fault, FaultKind};
    ///
    /// let rt = nursery_runtime::Runtime::builder()
    ///     .on_fault(|fault: &Fault| {
    ///         if fault.kind() != FaultKind::WakerPanicked {
    ///             eprintln!("my service: nursery fault: {fault}");
    ///         }
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn on_fault(
        &mut self,
        hook: impl Fn(&crate::Fault) + Send + Sync + 'static,
    ) -> &mut Builder {
        self.on_fault = Some(Arc::new(hook));
        self
    }

    /// Whether a write to a stream whose peer is one of this process's own sockets wakes the
    /// peer's reader at once, onto the writer's worker (default `false`).
    ///
    /// Such a peer (the other end of a `UnixStream::pair`, a loopback TCP connection between
    /// two streams of this runtime) is readable as soon as the write returns: with this on, its
    /// reader runs soon on the writer's worker, where the bytes are in cache, instead of
    /// waiting for the reactor's next turn on another worker. That pays an extra `epoll_wait`
    /// per write, and it is not fair: a conversation whose two ends keep waking each other runs
    /// in bursts while other connections wait. On an echo client and server in one process
    /// (64 connections, 2 workers) it served 1.12× tokio's round trips per second, but with
    /// twice tokio's p99; off, 0.95× and the same p99 (docs/benchmarks.md). Turn it on where
    /// in-process conversations (a proxy to a backend in the same process, tests) matter more
    /// than the tail latency of the others. Writes to peers in other processes never look.
    ///
    /// ```
    /// use futures::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let rt = nursery_runtime::Runtime::builder()
    ///     .wake_local_peers(true) // b's reader is woken from inside a's write
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(async {
    ///     let (mut a, mut b) = nursery_runtime::net::UnixStream::pair()?;
    ///     a.write_all(b"hi").await?;
    ///     let mut buf = [0; 2];
    ///     b.read_exact(&mut buf).await?;
    ///     assert_eq!(&buf, b"hi");
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn wake_local_peers(&mut self, on: bool) -> &mut Builder {
        self.wake_local_peers = on;
        self
    }

    /// Starts the runtime's clock paused, as if [`time::pause`](crate::time::pause) had been
    /// called first: the clock then moves only by [`time::advance`](crate::time::advance), or
    /// jumps to the next timer deadline whenever the whole runtime is idle. For tests of
    /// timeouts, retries and intervals that should not take real time.
    ///
    /// ```
    /// use std::time::Duration;
    /// use nursery_runtime::time::{sleep, Instant};
    ///
    /// let rt = nursery_runtime::Runtime::builder().start_paused(true).build().unwrap();
    /// let real = std::time::Instant::now();
    /// rt.block_on(async {
    ///     let start = Instant::now();
    ///     sleep(Duration::from_secs(30 * 60)).await;
    ///     assert_eq!(start.elapsed(), Duration::from_secs(30 * 60));
    /// });
    /// assert!(real.elapsed() < Duration::from_secs(30)); // not half an hour
    /// ```
    pub fn start_paused(&mut self, paused: bool) -> &mut Builder {
        self.start_paused = paused;
        self
    }

    /// Starts the worker threads.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder()
    ///     .worker_threads(1)
    ///     .build()
    ///     .expect("could not start the worker threads");
    /// assert_eq!(rt.block_on(async { 2 + 2 }), 4);
    /// ```
    pub fn build(&mut self) -> io::Result<Runtime> {
        Runtime::from_builder(self)
    }
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("worker_threads", &self.worker_threads)
            .field("thread_name", &self.thread_name)
            .finish_non_exhaustive()
    }
}
