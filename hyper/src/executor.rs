//! `NurseryExecutor`: where hyper's background futures become tasks of the tree.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use nursery::Scope;

/// hyper's [`Executor`](hyper::rt::Executor): turns the futures hyper hands over (HTTP/2
/// streams, the HTTP/2 client's connection driver, request body pipes) into nursery tasks.
///
/// They stay in the task tree, under one of two parents:
///
/// * [`NurseryExecutor::new`]: a child of the task that calls `execute`. hyper calls it while
///   polling a connection, so each HTTP/2 stream becomes a child of its connection's task: it
///   cannot outlive the connection, cancelling the connection cancels its streams, and a panic
///   in a stream fails the connection (and, in a [supervised](nursery::supervised) scope, only
///   that connection).
/// * [`NurseryExecutor::scope`]: a child of the given [`Scope`], wherever `execute` is called
///   from.
///
/// ```
/// use hyper::server::conn::http2;
/// use nursery_hyper::{NurseryExecutor, NurseryTimer};
///
/// let mut builder = http2::Builder::new(NurseryExecutor::new().name("h2 stream"));
/// builder.timer(NurseryTimer::new());
/// ```
#[derive(Clone, Default)]
pub struct NurseryExecutor {
    scope: Option<Scope>,
    name: Option<Arc<str>>,
}

impl NurseryExecutor {
    /// Spawns each future as a child of the task that hands it over (like [`nursery::spawn`]).
    ///
    /// ```
    /// use hyper::rt::Executor;
    /// let rt = nursery::Runtime::new().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// rt.block_on(async move {
    ///     NurseryExecutor::new().execute(async move { tx.send("ran").unwrap() });
    ///     // block_on returns only once its children, this one included, are done.
    /// });
    /// assert_eq!(rx.recv().unwrap(), "ran");
    /// # use nursery_hyper::NurseryExecutor;
    /// ```
    ///
    /// `execute` panics, as `nursery::spawn` does, on a thread with no nursery runtime.
    pub fn new() -> NurseryExecutor {
        NurseryExecutor::default()
    }

    /// Spawns each future into `scope`, whichever task hands it over.
    ///
    /// `execute` panics, as [`Scope::spawn`] does, if the scope has closed or its concurrency
    /// limit is reached (`execute` cannot wait for a slot): a scope with a limit is a poor
    /// target for hyper's tasks.
    ///
    /// ```
    /// use hyper::rt::Executor;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use nursery_hyper::NurseryExecutor;
    ///
    /// let done = Arc::new(AtomicUsize::new(0));
    /// let rt = nursery::Runtime::new().unwrap();
    /// rt.block_on(nursery::scope(|s| {
    ///     let done = done.clone();
    ///     async move {
    ///         let exec = NurseryExecutor::scope(s);
    ///         for _ in 0..3 {
    ///             let done = done.clone();
    ///             exec.execute(async move { done.fetch_add(1, Ordering::SeqCst); });
    ///         }
    ///     }
    /// }));
    /// assert_eq!(done.load(Ordering::SeqCst), 3, "the scope waited for them");
    /// ```
    pub fn scope(scope: Scope) -> NurseryExecutor {
        NurseryExecutor {
            scope: Some(scope),
            name: None,
        }
    }

    /// Names the tasks it spawns, for panic messages and [`nursery::Handle::task_tree`].
    ///
    /// ```
    /// use hyper::rt::Executor;
    /// use std::time::Duration;
    /// let rt = nursery::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// rt.block_on(async move {
    ///     let exec = nursery_hyper::NurseryExecutor::new().name("h2 stream");
    ///     exec.execute(nursery::time::sleep(Duration::from_millis(20)));
    ///     assert!(handle.task_tree().to_string().contains("'h2 stream'"));
    /// });
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> NurseryExecutor {
        self.name = Some(Arc::from(name.into()));
        self
    }
}

impl<F> hyper::rt::Executor<F> for NurseryExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        let mut builder = nursery::task::Builder::new();
        if let Some(name) = &self.name {
            builder = builder.name(&**name);
        }
        // The handle is dropped: the task stays a child all the same (nursery never detaches).
        let _task = match &self.scope {
            Some(scope) => builder.spawn_in(scope, future),
            None => builder.spawn(future),
        };
    }
}

impl fmt::Debug for NurseryExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NurseryExecutor")
            .field("scope", &self.scope)
            .field("name", &self.name)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Executor;
    use std::time::Duration;

    #[test]
    fn a_task_spawned_through_the_executor_is_a_child_of_the_caller() {
        let rt = nursery::Runtime::builder()
            .worker_threads(2)
            .build()
            .unwrap();
        let handle = rt.handle().clone();
        rt.block_on(async move {
            let parent = nursery::task::Builder::new()
                .name("connection")
                .spawn(async {
                    NurseryExecutor::new()
                        .name("stream")
                        .execute(nursery::time::sleep(Duration::from_millis(50)));
                });
            nursery::time::sleep(Duration::from_millis(10)).await;
            let tree = handle.task_tree();
            let id_of = |name: &str| {
                tree.nodes
                    .iter()
                    .find(|(_, n)| n.name.as_deref() == Some(name))
                    .map(|(_, n)| (n.id, n.parent))
                    .unwrap_or_else(|| panic!("no '{name}' in\n{tree}"))
            };
            let (connection, _) = id_of("connection");
            let (_, stream_parent) = id_of("stream");
            assert_eq!(stream_parent, Some(connection), "{tree}");
            assert!(!parent.is_finished(), "the parent waits for its child");
            parent.await.unwrap();
        });
    }

    #[test]
    fn cancelling_the_scope_cancels_what_the_executor_spawned_into_it() {
        let rt = nursery::Runtime::builder()
            .worker_threads(2)
            .build()
            .unwrap();
        let started = std::time::Instant::now();
        rt.block_on(nursery::scope(|s| async move {
            let exec = NurseryExecutor::scope(s.clone());
            exec.execute(nursery::time::sleep(Duration::from_secs(3600)));
            s.cancel();
        }));
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_panic_in_an_executed_task_reaches_the_scope() {
        let rt = nursery::Runtime::builder()
            .worker_threads(2)
            .build()
            .unwrap();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(nursery::scope(|s| async move {
                NurseryExecutor::scope(s)
                    .name("h2 stream")
                    .execute(async { panic!("stream bug") });
                nursery::time::sleep(Duration::from_secs(3600)).await;
            }))
        }));
        let payload = outcome.expect_err("the panic is re-raised, not lost");
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(
            message.contains("h2 stream") && message.contains("stream bug"),
            "{message}"
        );
    }
}
