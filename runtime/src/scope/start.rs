//! `Scope::start`: spawn a child and wait until it says it is ready (Trio's `nursery.start`).

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;

use nursery_scheduler::{JoinError, JoinHandle};

use super::Scope;
use crate::sync::oneshot;

/// Given to a child started with [`Scope::start`]: call [`ready`](Ready::ready) once it is
/// ready to be used (a server bound its port), with a value for the starter.
///
/// ```
/// use nursery_runtime::Ready;
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(nursery_runtime::scope(|s| async move {
///     let (greeting, task) = s
///         .start(|ready: Ready<&'static str>| async move {
///             ready.ready("listening"); // set up, now usable
///             "served"
///         })
///         .await
///         .unwrap();
///     assert_eq!(greeting, "listening");
///     assert_eq!(task.await.unwrap(), "served");
/// }));
/// ```
pub struct Ready<V> {
    sender: oneshot::Sender<V>,
}

impl<V> Ready<V> {
    /// Reports readiness: `start` returns `Ok((value, handle))`.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(nursery_runtime::scope(|s| async move {
    ///     let (port, server) = s
    ///         .start(|ready| async move {
    ///             let port: u16 = 8080; // pretend to bind it
    ///             ready.ready(port);
    ///             std::future::pending::<()>().await // serve
    ///         })
    ///         .await
    ///         .unwrap();
    ///     assert_eq!(port, 8080);
    ///     server.cancel();
    /// }));
    /// ```
    pub fn ready(self, value: V) {
        self.sender.send(value);
    }
}

impl<V> fmt::Debug for Ready<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ready")
    }
}

/// What [`Scope::start`] resolves to.
///
/// ```
/// use nursery_runtime::{Ready, Scope, StartResult};
///
/// async fn start_worker(s: &Scope) -> StartResult<&'static str, u32> {
///     s.start(|ready: Ready<&'static str>| async move {
///         ready.ready("up");
///         7
///     })
///     .await
/// }
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// let (status, output) = rt.block_on(nursery_runtime::scope(|s| async move {
///     let (status, worker) = start_worker(&s).await.unwrap();
///     (status, worker.await.unwrap())
/// }));
/// assert_eq!((status, output), ("up", 7));
/// ```
pub type StartResult<V, T> = Result<(V, JoinHandle<T>), StartError<T>>;

/// Why [`Scope::start`] returned without the child becoming ready.
///
/// ```
/// use nursery_runtime::{Ready, StartError};
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// // The child returned before calling `ready`:
/// let exited = rt.block_on(nursery_runtime::scope(|s| async move {
///     s.start(|_ready: Ready<u16>| async { Err::<(), _>("port in use") })
///         .await
///         .unwrap_err()
/// }));
/// assert!(matches!(exited, StartError::Exited(Err("port in use"))));
///
/// // The child panicked first (in a supervised scope, the panic stays with the child):
/// let failed = rt.block_on(nursery_runtime::supervised(|s| async move {
///     s.start(|_ready: Ready<u16>| async { panic!("no config") })
///         .await
///         .unwrap_err()
/// }));
/// assert!(matches!(failed, StartError::Failed(ref e) if e.is_panic()));
/// ```
pub enum StartError<T> {
    /// The child finished without reporting ready; here is its output (an `Err` it returned
    /// before binding, say).
    Exited(T),
    /// The child was cancelled or panicked before reporting ready.
    Failed(JoinError),
}

impl<T> fmt::Debug for StartError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Exited(_) => f.write_str("StartError::Exited(..)"),
            StartError::Failed(e) => write!(f, "StartError::Failed({e:?})"),
        }
    }
}

impl<T> fmt::Display for StartError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Exited(_) => f.write_str("the task finished before reporting ready"),
            StartError::Failed(e) => write!(f, "the task failed before reporting ready: {e}"),
        }
    }
}

impl<T> std::error::Error for StartError<T> {}

impl Scope {
    /// Spawns `task(ready)` as a child and waits until it calls [`Ready::ready`]; returns the
    /// value it reported and its handle. If it finishes or fails first, that is the error.
    ///
    /// ```
    /// use nursery_runtime::net::TcpListener;
    /// nursery_runtime::Runtime::new().unwrap().block_on(nursery_runtime::scope(|s| async move {
    ///     let (addr, server) = s
    ///         .start(|ready| async move {
    ///             let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///             ready.ready(listener.local_addr()?);
    ///             let _ = listener.accept().await?; // serve...
    ///             Ok::<(), std::io::Error>(())
    ///         })
    ///         .await
    ///         .unwrap();
    ///     assert_ne!(addr.port(), 0);
    ///     server.cancel();
    /// }));
    /// ```
    #[track_caller]
    pub fn start<F, Fut, V>(
        &self,
        task: F,
    ) -> impl Future<Output = StartResult<V, Fut::Output>> + '_
    where
        F: FnOnce(Ready<V>) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
        V: Send + 'static,
    {
        let (sender, mut receiver) = oneshot::channel();
        let mut handle = Some(self.spawn(task(Ready { sender })));
        async move {
            let outcome = poll_fn(|cx| match Pin::new(&mut receiver).poll(cx) {
                Poll::Ready(value) => Poll::Ready(value),
                Poll::Pending => {
                    nursery_scheduler::current_node::record_wait(nursery_scheduler::Wait::Other {
                        what: "a started task's ready signal",
                    });
                    Poll::Pending
                }
            })
            .await;
            let handle = handle.take().expect("polled to completion once");
            match outcome {
                Some(value) => Ok((value, handle)),
                // The sender is gone without a value: the child's future finished or was
                // dropped; its handle says which.
                None => match handle.await {
                    Ok(output) => Err(StartError::Exited(output)),
                    Err(error) => Err(StartError::Failed(error)),
                },
            }
        }
    }
}
