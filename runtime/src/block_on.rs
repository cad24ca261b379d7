//! `block_on`: run a future on a plain thread, as a node of the runtime's tree.

use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe, Location};
use std::pin::pin;
use std::task::Poll;

use nursery_scheduler::SpawnMeta;

use crate::handle::Handle;
use crate::thread_waker::ThreadWaker;

#[track_caller]
pub(crate) fn block_on<F: Future>(handle: &Handle, future: F) -> F::Output {
    if nursery_scheduler::current_node::is_worker_thread() {
        panic!(
            "block_on was called from a nursery worker thread: a worker must never block, or the \
             tasks it should run stall; inside a task, use `.await` instead (or move blocking work \
             to task::spawn_blocking)"
        );
    }
    let Some(_block_on) = crate::current_runtime::enter_block_on() else {
        panic!(
            "block_on was called inside another block_on: the outer call already runs a future \
             on this thread; `.await` the inner future instead"
        );
    };
    let meta = SpawnMeta {
        name: Some("block_on".to_owned()),
        location: Location::caller(),
        shielded: false,
    };
    let group = handle
        .scheduler()
        .new_group(handle.root(), false, Some(meta), "runtime")
        .unwrap_or_else(|e| panic!("block_on: {e}"));

    let _io = handle.inner.driver.io_handle.enter();
    let _runtime = crate::current_runtime::enter(handle.clone());
    let _node = nursery_scheduler::current_node::enter(group.node());
    let waker = ThreadWaker::counted(&handle.inner.driver);

    let body = {
        let mut future = pin!(future);
        loop {
            let mut cx = waker.context();
            // Registered before the checks below, so a failure or cancellation that lands
            // between them still wakes this thread.
            let _ = group.poll_complete(&mut cx);
            // A child's failure, or the runtime shutting down (the only other way this group
            // gets cancelled), ends the body: stop polling it and tear down.
            if group.has_failed() || group.node().is_cancelled() {
                break None;
            }
            let poll = || {
                nursery_scheduler::current_node::poll_recording_wait(|| {
                    future.as_mut().poll(&mut cx)
                })
            };
            match catch_unwind(AssertUnwindSafe(poll)) {
                Ok(Poll::Ready(output)) => break Some(Ok(output)),
                Ok(Poll::Pending) => waker.park(),
                Err(panic) => break Some(Err(panic)),
            }
        }
        // The future is dropped here, while this thread is still the group's context.
    };

    match &body {
        Some(Ok(_)) => group.close(),
        _ => group.abandon(),
    }
    waker.wait_until(|cx| group.poll_complete(cx).is_ready());
    if let Some(err) = group.take_failure() {
        match body {
            // The body's own panic came first; the children's failure was its consequence.
            Some(Err(panic)) => resume_unwind(panic),
            _ => resume_unwind(err.into_panic()),
        }
    }
    match body {
        Some(Ok(output)) => output,
        Some(Err(panic)) => resume_unwind(panic),
        None => panic!(
            "block_on: the runtime was shut down (dropped) while this future was still running; \
             keep the Runtime alive until every block_on call has returned"
        ),
    }
}
