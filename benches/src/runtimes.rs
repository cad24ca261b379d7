//! Building the two runtimes the same way: a multi-threaded scheduler with `workers` workers,
//! timers and I/O enabled.

/// A nursery runtime with `workers` worker threads.
///
/// # Panics
/// If the runtime cannot start (no threads, no epoll): a benchmark cannot go on without it.
pub fn nursery(workers: usize) -> nursery::Runtime {
    nursery::Runtime::builder()
        .worker_threads(workers)
        .thread_name("bench-nursery")
        .build()
        .expect("building the nursery runtime")
}

/// A tokio multi-threaded runtime with `workers` worker threads, timers and I/O enabled.
///
/// # Panics
/// If the runtime cannot start.
pub fn tokio(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("bench-tokio")
        .enable_all()
        .build()
        .expect("building the tokio runtime")
}
