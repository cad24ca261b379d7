//! `NurseryExecutor`: where hyper's background futures become tasks of the tree.
//!
//! hyper calls [`Executor::execute`](hyper::rt::Executor::execute) from whatever task happens to
//! poll it, so "a child of the caller" is the wrong parent for anything that lives longer than
//! that poll: a pooled client's connection driver, handed over by the request that opened the
//! connection, would keep that request's task from completing until the pool closed the
//! connection. The default parent is therefore fixed when the executor is made (the runtime's
//! root); the caller's task is an explicit choice, for HTTP/2 servers, where the caller is the
//! connection.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use nursery::{Handle, Scope};

/// hyper's [`Executor`](hyper::rt::Executor): turns the futures hyper hands over (HTTP/2
/// streams, client connection drivers, hyper-util's pool upkeep, request body pipes) into
/// nursery tasks.
///
/// They stay in the task tree, under the parent chosen by the constructor:
///
/// * [`NurseryExecutor::new`] (the default): children of the runtime's root, whichever task
///   hands them over. They hold up no task, and runtime shutdown cancels them. For clients:
///   hyper-util's pooled `Client`, hyper's HTTP/2 client.
/// * [`NurseryExecutor::scope`]: children of the given [`Scope`]: cancelled with it, and it
///   waits for them. If the scope has closed by the time a future comes, the future goes to
///   the root instead.
/// * [`NurseryExecutor::current_task`]: children of the task that calls `execute`. For an
///   HTTP/2 server, where that task is the connection's: each stream cannot outlive its
///   connection, cancelling the connection cancels its streams, and a panic in a stream fails
///   the connection (in a [supervised](nursery::supervised) scope, only that connection).
///   Never for a client (see [`current_task`](NurseryExecutor::current_task)).
///
/// ```
/// use hyper::server::conn::http2;
/// use nursery_hyper::{NurseryExecutor, NurseryTimer};
///
/// let mut builder = http2::Builder::new(NurseryExecutor::current_task().name("h2 stream"));
/// builder.timer(NurseryTimer::new());
/// ```
#[derive(Clone)]
pub struct NurseryExecutor {
    parent: Parent,
    name: Option<Arc<str>>,
}

/// Where [`NurseryExecutor`] spawns.
#[derive(Clone)]
enum Parent {
    /// The root of this runtime, or (`None`: made outside any runtime) of the caller's.
    Root(Option<Handle>),
    /// This scope, or the root (as `Root`) once it has closed.
    Scope(Scope, Option<Handle>),
    /// The task that calls `execute`.
    CurrentTask,
}

impl NurseryExecutor {
    /// Spawns each future as a child of the runtime's root: the runtime this is called in, or,
    /// made outside any runtime, the runtime of the task that hands the future over.
    ///
    /// The default, and the one for clients: hyper-util's pooled `Client` hands a new
    /// connection's driver over from the request that opened it, and the connection then
    /// outlives that request (it waits in the pool for the next one). As a child of the root
    /// it holds up no task, it ends when the client drops the connection, and runtime shutdown
    /// cancels it. For an owner of your own (cancelled with it, waited for by it), use
    /// [`scope`](NurseryExecutor::scope).
    ///
    /// ```
    /// use hyper::rt::Executor;
    /// use std::time::Duration;
    ///
    /// let rt = nursery::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let exec = nursery_hyper::NurseryExecutor::new();
    ///     let request = nursery::spawn(async move {
    ///         // Say, the driver of a connection this request opened, kept alive by a pool.
    ///         exec.execute(nursery::time::sleep(Duration::from_secs(3600)));
    ///     });
    ///     request.await.unwrap(); // at once: the driver is not its child
    /// });
    /// drop(rt); // cancels the driver
    /// ```
    ///
    /// `execute` panics, as [`Handle::spawn`] does, if the runtime has shut down, and (made
    /// outside any runtime) on a thread with no nursery runtime.
    pub fn new() -> NurseryExecutor {
        NurseryExecutor {
            parent: Parent::Root(Handle::try_current()),
            name: None,
        }
    }

    /// Spawns each future into `scope`, whichever task hands it over: the scope cancels them
    /// with itself and waits for them.
    ///
    /// A future handed over after the scope has closed (its body returned and its children
    /// finished; say the executor, inside a client, outlived it) is spawned at the runtime's
    /// root instead, as with [`new`](NurseryExecutor::new): it runs, and nothing waits for a
    /// scope that is gone. A scope that is cancelled but still open takes the future and
    /// cancels it at once, as it does every child spawned into it.
    ///
    /// `execute` panics if the scope's concurrency limit is reached (`execute` cannot wait for
    /// a slot): a scope with a limit is a poor target for hyper's tasks.
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
            parent: Parent::Scope(scope, Handle::try_current()),
            name: None,
        }
    }

    /// Spawns each future as a child of the task that hands it over (like [`nursery::spawn`]).
    ///
    /// For an HTTP/2 server's builder: hyper hands streams over while the connection's task
    /// polls the connection, so each stream becomes a child of its connection. Not for a
    /// client: a pooled client hands a connection's driver over from the request that opened
    /// it, and that request's task could not complete until the pool closed the connection
    /// (keep-alive: tens of seconds, or never).
    ///
    /// ```
    /// use hyper::rt::Executor;
    /// let rt = nursery::Runtime::new().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// rt.block_on(async move {
    ///     NurseryExecutor::current_task().execute(async move { tx.send("ran").unwrap() });
    ///     // block_on returns only once its children, this one included, are done.
    /// });
    /// assert_eq!(rx.recv().unwrap(), "ran");
    /// # use nursery_hyper::NurseryExecutor;
    /// ```
    ///
    /// `execute` panics, as `nursery::spawn` does, on a thread with no nursery runtime.
    pub fn current_task() -> NurseryExecutor {
        NurseryExecutor {
            parent: Parent::CurrentTask,
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

    fn builder(&self) -> nursery::task::Builder {
        let builder = nursery::task::Builder::new();
        match &self.name {
            Some(name) => builder.name(&**name),
            None => builder,
        }
    }

    /// Spawns `future` at the root of `handle`'s runtime, or of the caller's.
    fn spawn_at_root<F>(&self, handle: Option<&Handle>, future: F)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let current;
        let handle = match handle {
            Some(handle) => handle,
            None => {
                current = Handle::try_current().unwrap_or_else(|| {
                    panic!(
                        "NurseryExecutor: hyper handed over a future on a thread with no nursery \
                         runtime, and the executor was made outside one too: make it inside the \
                         runtime (or poll hyper from a nursery task)"
                    )
                });
                &current
            }
        };
        // The handle is dropped: the task stays a child all the same (nursery never detaches).
        let _task = self.builder().spawn_on(handle, future);
    }

    /// Spawns `future` into `scope`; at the root if the scope has closed.
    fn spawn_in_scope<F>(&self, scope: &Scope, root: Option<&Handle>, future: F)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // A failed spawn drops what it was given, so the scope gets a shell that takes the
        // future out of `slot` when it first runs, and a refused future is still in `slot`.
        let slot = Arc::new(Mutex::new(Some(future)));
        let shell = {
            let slot = slot.clone();
            async move {
                let future = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
                if let Some(future) = future {
                    future.await;
                }
            }
        };
        let refused = match self.builder().try_spawn_in(scope, shell) {
            Ok(_task) => return,
            Err(refused) => refused,
        };
        let future = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        let Some(future) = future else { return };
        if !refused.is_closed() {
            panic!(
                "NurseryExecutor: cannot spawn hyper's task into its scope: {refused} (execute \
                 cannot wait for a free slot: give hyper a scope without a concurrency limit)"
            );
        }
        self.spawn_at_root(root, future);
    }
}

impl Default for NurseryExecutor {
    /// [`NurseryExecutor::new`].
    fn default() -> NurseryExecutor {
        NurseryExecutor::new()
    }
}

impl<F> hyper::rt::Executor<F> for NurseryExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        match &self.parent {
            Parent::Root(handle) => self.spawn_at_root(handle.as_ref(), future),
            Parent::Scope(scope, root) => self.spawn_in_scope(scope, root.as_ref(), future),
            Parent::CurrentTask => {
                // Dropped handle: still a child (nursery never detaches).
                let _task = self.builder().spawn(future);
            }
        }
    }
}

impl fmt::Debug for NurseryExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("NurseryExecutor");
        match &self.parent {
            Parent::Root(_) => d.field("parent", &"root"),
            Parent::Scope(scope, _) => d.field("parent", scope),
            Parent::CurrentTask => d.field("parent", &"current task"),
        };
        d.field("name", &self.name).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Executor;
    use std::time::Duration;

    fn runtime() -> nursery::Runtime {
        nursery::Runtime::builder()
            .worker_threads(2)
            .build()
            .unwrap()
    }

    /// The ids of the task named `name` and of its parent.
    fn id_of(tree: &nursery::TaskTree, name: &str) -> (u64, Option<u64>) {
        tree.nodes
            .iter()
            .find(|(_, n)| n.name.as_deref() == Some(name))
            .map(|(_, n)| (n.id, n.parent))
            .unwrap_or_else(|| panic!("no '{name}' in\n{tree}"))
    }

    fn root_id(tree: &nursery::TaskTree) -> u64 {
        tree.nodes
            .iter()
            .find(|(_, n)| n.kind == "root")
            .map(|(_, n)| n.id)
            .unwrap_or_else(|| panic!("no root in\n{tree}"))
    }

    #[test]
    fn by_default_a_future_a_task_hands_over_is_a_child_of_the_root_and_holds_up_no_task() {
        let rt = runtime();
        let handle = rt.handle().clone();
        rt.block_on(async move {
            let exec = NurseryExecutor::new().name("driver");
            let request = nursery::task::Builder::new()
                .name("request")
                .spawn(async move {
                    exec.execute(std::future::pending::<()>());
                });
            nursery::time::timeout(Duration::from_secs(2), request)
                .await
                .expect("the request's task ends although the driver runs on")
                .unwrap();
            let tree = handle.task_tree();
            let (_, driver_parent) = id_of(&tree, "driver");
            assert_eq!(driver_parent, Some(root_id(&tree)), "{tree}");
        });
        // Dropping the runtime cancels the driver.
    }

    #[test]
    fn current_task_makes_each_future_a_child_of_the_caller() {
        let rt = runtime();
        let handle = rt.handle().clone();
        rt.block_on(async move {
            let parent = nursery::task::Builder::new()
                .name("connection")
                .spawn(async {
                    NurseryExecutor::current_task()
                        .name("stream")
                        .execute(nursery::time::sleep(Duration::from_millis(50)));
                });
            nursery::time::sleep(Duration::from_millis(10)).await;
            let tree = handle.task_tree();
            let (connection, _) = id_of(&tree, "connection");
            let (_, stream_parent) = id_of(&tree, "stream");
            assert_eq!(stream_parent, Some(connection), "{tree}");
            assert!(!parent.is_finished(), "the parent waits for its child");
            parent.await.unwrap();
        });
    }

    #[test]
    fn a_future_handed_to_a_closed_scope_runs_at_the_root() {
        use futures::channel::oneshot;

        let rt = runtime();
        let handle = rt.handle().clone();
        let closed = rt.block_on(nursery::scope(|s| async move { s }));
        let exec = NurseryExecutor::scope(closed).name("late");
        rt.block_on(async move {
            let (release, released) = oneshot::channel::<()>();
            let (ran, has_run) = oneshot::channel();
            exec.execute(async move {
                let _ = released.await;
                let _ = ran.send(());
            });
            let tree = handle.task_tree();
            let (_, parent) = id_of(&tree, "late");
            assert_eq!(parent, Some(root_id(&tree)), "{tree}");
            release.send(()).unwrap();
            nursery::time::timeout(Duration::from_secs(2), has_run)
                .await
                .expect("the future ran")
                .unwrap();
        });
    }

    #[test]
    fn cancelling_the_scope_cancels_what_the_executor_spawned_into_it() {
        let rt = runtime();
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
        let rt = runtime();
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

    #[test]
    fn a_scope_at_its_limit_is_refused_with_a_message_that_says_why() {
        let rt = runtime();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(nursery::scope(|s| async move {
                s.set_limit(1);
                let _busy = s.spawn(std::future::pending::<()>());
                let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    NurseryExecutor::scope(s.clone()).execute(async {});
                }));
                s.cancel();
                refused
            }))
        }));
        let payload = outcome.unwrap().expect_err("execute panics");
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(
            message.starts_with("NurseryExecutor") && message.contains("concurrency limit"),
            "{message}"
        );
    }
}
