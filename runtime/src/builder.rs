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
}

impl Builder {
    /// A builder with one worker per CPU core.
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
        }
    }

    /// The number of worker threads.
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
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Builder {
        self.thread_name = name.into();
        self
    }

    /// The stack size of worker threads, in bytes.
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Builder {
        self.thread_stack_size = Some(bytes);
        self
    }

    /// Runs on each worker thread before it runs any task.
    pub fn on_thread_start(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Builder {
        self.on_thread_start = Some(Arc::new(f));
        self
    }

    /// Runs on each worker thread after its last task, before it exits.
    pub fn on_thread_stop(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Builder {
        self.on_thread_stop = Some(Arc::new(f));
        self
    }

    /// The most threads the blocking pool (`task::spawn_blocking`) may run at once; further
    /// jobs queue. Default: 512.
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
    pub fn thread_keep_alive(&mut self, keep_alive: std::time::Duration) -> &mut Builder {
        self.blocking_keep_alive = keep_alive;
        self
    }

    /// Report any poll that blocks a worker for longer than `threshold` (default: 1 s); `None`
    /// turns the stall detector off.
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

    /// Starts the worker threads.
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
