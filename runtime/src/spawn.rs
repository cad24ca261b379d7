//! `nursery::spawn`: a child of the current task.

use std::future::Future;

use nursery_scheduler::{JoinHandle, SpawnError, SpawnMeta};

use crate::current_runtime;
use crate::trace::Parent;

/// Spawns `future` as a child of the current task (or of the `block_on` body).
///
/// The child cannot outlive its parent: the parent completes only after the child has, and
/// cancelling the parent cancels the child. A panic in the child cancels its siblings and the
/// parent's body, and reaches the parent's `JoinHandle`.
///
/// ```
/// let rt = nursery_runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let child = nursery_runtime::spawn(async { 2 + 2 });
///     assert_eq!(child.await.unwrap(), 4);
/// });
/// ```
///
/// # Panics
/// Outside a runtime, with a message naming the problem.
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_with(future, SpawnMeta::here()).unwrap_or_else(|e| panic!("nursery::spawn: {e}"))
}

pub(crate) fn spawn_with<F>(future: F, meta: SpawnMeta) -> Result<JoinHandle<F::Output>, SpawnError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    current_runtime::with_handle(|handle| {
        let Some(handle) = handle else {
            panic!("nursery::spawn: {}", current_runtime::NO_RUNTIME)
        };
        nursery_scheduler::current_node::with_current_node(|node| match node {
            Some(parent) => {
                let future = crate::trace::task(future, &meta, parent, Parent::Current);
                crate::task_local::spawn(handle.scheduler(), parent, future, meta, "task")
            }
            // On a worker thread but outside any task (e.g. a start hook): the root adopts it.
            None => handle.spawn_root(future, meta),
        })
    })
}
