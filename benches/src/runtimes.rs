//! Building the two runtimes the same way: a multi-threaded scheduler with `workers` workers,
//! timers and I/O enabled.

/// A nursery runtime with `workers` worker threads. `BENCH_WAKE_LOCAL_PEERS=1` in the
/// environment turns on `Builder::wake_local_peers` (off by default), for A/B runs of the
/// look after a write with one binary.
///
/// # Panics
/// If the runtime cannot start (no threads, no epoll): a benchmark cannot go on without it.
pub fn nursery(workers: usize) -> nursery::Runtime {
    let look = std::env::var_os("BENCH_WAKE_LOCAL_PEERS").is_some_and(|v| v == "1");
    nursery::Runtime::builder()
        .worker_threads(workers)
        .thread_name("bench-nursery")
        .wake_local_peers(look)
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
