//! Building the two runtimes the same way: a multi-threaded scheduler with `workers` workers,
//! timers and I/O enabled.

/// A nursery runtime with `workers` worker threads. `BENCH_WAKE_LOCAL_PEERS=1` in the
/// environment turns on `Builder::wake_local_peers` (off by default), for A/B runs of the
/// look after a write with one binary; `BENCH_PIN=1` pins its threads (see [`pinning`]).
///
/// # Panics
/// If the runtime cannot start (no threads, no epoll): a benchmark cannot go on without it.
pub fn nursery(workers: usize) -> nursery::Runtime {
    let look = std::env::var_os("BENCH_WAKE_LOCAL_PEERS").is_some_and(|v| v == "1");
    nursery::Runtime::builder()
        .worker_threads(workers)
        .on_thread_start(pinning())
        .thread_name("bench-nursery")
        .wake_local_peers(look)
        .build()
        .expect("building the nursery runtime")
}

/// A tokio multi-threaded runtime with `workers` worker threads, timers and I/O enabled;
/// `BENCH_PIN=1` pins its threads (see [`pinning`]).
///
/// # Panics
/// If the runtime cannot start.
pub fn tokio(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .on_thread_start(pinning())
        .thread_name("bench-tokio")
        .enable_all()
        .build()
        .expect("building the tokio runtime")
}

/// A runtime's thread-start hook: with `BENCH_PIN=1` in the environment, the runtime's n-th
/// thread is pinned to CPU n modulo the CPUs there are (its workers start first, so each gets
/// a CPU of its own while there are enough); otherwise it does nothing. On a VM whose kernel
/// puts a woken thread on its waker's vCPU (docs/benchmarks.md, "Machine and conditions"),
/// pinned workers stand in for cores of their own.
///
/// # Panics
/// In the hook, if `sched_setaffinity` fails: a run meant to be pinned must not go on unpinned.
pub fn pinning() -> impl Fn() + Send + Sync + 'static {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    let pin = std::env::var_os("BENCH_PIN").is_some_and(|v| v == "1");
    let next = AtomicUsize::new(0);
    move || {
        if !pin {
            return;
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cpu = next.fetch_add(1, Relaxed) % cpus;
        // SAFETY: `cpu_set_t` is plain old data; an all-zero value is the empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `cpu` is below the number of CPUs, within the set's capacity (1,024).
        unsafe { libc::CPU_SET(cpu, &mut set) };
        // SAFETY: `set` is a valid, initialised `cpu_set_t` of the size given; pid 0 is the
        // calling thread.
        let rc =
            unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
        assert_eq!(rc, 0, "BENCH_PIN: sched_setaffinity to CPU {cpu} failed");
    }
}
