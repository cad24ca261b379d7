//! **nursery**: an async runtime with structured concurrency in its core.
//!
//! Every task is born inside a nursery (a task, a [`scope`], or the runtime's root), and no task
//! can outlive its parent: a [`JoinHandle`] resolves only after the task's whole subtree is gone,
//! cancellation reaches every task at its next poll point, and a panic is never lost in a
//! detached task — it cancels its siblings and is re-raised where the parent waits.
//!
//! ```
//! let rt = nursery::Runtime::new().unwrap();
//! let total = rt.block_on(async {
//!     nursery::scope(|s| async move {
//!         let a = s.spawn(async { 1 });
//!         let b = s.spawn(async { 2 });
//!         a.await.unwrap() + b.await.unwrap()
//!     })
//!     .await
//! });
//! assert_eq!(total, 3);
//! ```
//!
//! The `tracing` feature (off by default) gives every task and every scope a `tracing` span,
//! parented like the task tree and entered on every poll, with events for failures,
//! cancellations and how scopes end (`docs/semantics.md`, `examples/tracing.rs`).
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

pub use nursery_runtime::{
    fail_after, fail_at, move_on_after, move_on_at, scope, spawn, supervised, try_scope, Builder,
    FailAfter, Fault, FaultKind, Handle, JoinError, JoinHandle, MoveOnAfter, Ready, Runtime,
    RuntimeMetrics, Scope, ScopeFuture, ShutdownRequested, SpawnError, StallReport, StartError,
    TaskSet, TaskTree, TryScope, TryScopeFuture, WorkerMetrics,
};

/// Declares task-locals that the tasks spawned inside their scope inherit (see
/// [`task::LocalKey`]).
#[doc(inline)]
pub use nursery_runtime::task_local;

/// `#[nursery::main]` and `#[nursery::test]`: run an `async fn` on a fresh runtime.
#[doc(inline)]
pub use nursery_macros::{main, test};

/// Time: sleeps, timeouts, intervals.
///
/// ```
/// use std::time::Duration;
///
/// let rt = nursery::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(async {
///     let too_slow = nursery::time::sleep(Duration::from_secs(3600));
///     assert!(nursery::time::timeout(Duration::from_millis(1), too_slow).await.is_err());
/// });
/// ```
pub mod time {
    pub use nursery_runtime::time::*;
}

/// Networking: TCP, UDP and Unix sockets (`futures_io` traits on the streams).
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// use nursery::net::{TcpListener, TcpStream};
///
/// let rt = nursery::Runtime::builder().worker_threads(1).build().unwrap();
/// let reply = rt.block_on(nursery::scope(|s| async move {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     s.spawn(async move {
///         let (mut conn, _) = listener.accept().await?;
///         let mut buf = [0; 4];
///         conn.read_exact(&mut buf).await?;
///         conn.write_all(&buf).await // echo
///     });
///     let mut client = TcpStream::connect(addr).await?;
///     client.write_all(b"ping").await?;
///     let mut reply = [0; 4];
///     client.read_exact(&mut reply).await?;
///     Ok::<_, std::io::Error>(reply)
/// }));
/// assert_eq!(&reply.unwrap(), b"ping");
/// ```
pub mod net {
    pub use nursery_runtime::net::*;
}

/// Signals: `ctrl_c`, Unix signals as streams, and `Scope::shutdown_on` (the first Ctrl-C
/// shuts a scope down gracefully, the second cancels it).
///
/// ```
/// use nursery::signal::unix::{signal, SignalKind};
///
/// let rt = nursery::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(async {
///     let mut reload = signal(SignalKind::hangup())?;
///     // SAFETY: raise(3) has no preconditions. (An operator would run `kill -HUP`.)
///     unsafe { libc::raise(libc::SIGHUP) };
///     assert_eq!(reload.recv().await, Some(()));
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub mod signal {
    pub use nursery_runtime::signal::*;
}

/// Task utilities: yielding, named spawns, the cooperative budget.
///
/// ```
/// let rt = nursery::Runtime::builder().worker_threads(1).build().unwrap();
/// let n = rt.block_on(async {
///     let job = nursery::task::Builder::new().name("job").spawn(async { 7 });
///     nursery::task::yield_now().await;
///     job.await.unwrap()
/// });
/// assert_eq!(n, 7);
/// ```
pub mod task {
    pub use nursery_runtime::task::*;
}
