//! `Group`: the owner's handle on a group node (a scope, the body of `block_on`, the root).

use std::task::{Context, Poll};

use crate::task::error::JoinError;
use crate::task::meta::{Meta, SpawnMeta};
use crate::task::state::Kind;
use crate::task::{self, tree, NodeRef, SpawnError};

/// Owns a group node's body slot: while the owner's body runs, the group cannot complete.
/// Children are spawned under [`node`](Group::node).
///
/// Dropping a group whose body was not [`close`](Group::close)d cancels its children (the owner
/// went away mid-body, e.g. a dropped or timed-out scope future); they stay in the tree, so the
/// enclosing task still waits for them. A failure that arrives after the owner is gone is handed
/// to the parent, never dropped.
///
/// (`Parker`, a [`Park`](crate::Park) on condition variables, the worker thread and the shutdown
/// are as in the [`Scheduler::new`](crate::Scheduler::new) example, hidden here.)
///
/// ```
/// # use std::sync::{Condvar, Mutex};
/// # struct Parker { workers: Vec<(Mutex<bool>, Condvar)> }
/// # impl Parker {
/// #     fn new(workers: usize) -> Parker {
/// #         Parker { workers: (0..workers).map(|_| Default::default()).collect() }
/// #     }
/// # }
/// # impl nursery_scheduler::Park for Parker {
/// #     fn park(&self, index: usize) {
/// #         let (notified, wake) = &self.workers[index];
/// #         let mut notified = notified.lock().unwrap();
/// #         while !*notified {
/// #             notified = wake.wait(notified).unwrap();
/// #         }
/// #         *notified = false;
/// #     }
/// #     fn unpark(&self, index: usize) {
/// #         let (notified, wake) = &self.workers[index];
/// #         *notified.lock().unwrap() = true;
/// #         wake.notify_one();
/// #     }
/// #     fn poll_events(&self, _index: usize) {}
/// # }
/// # let (scheduler, runners) = nursery_scheduler::Scheduler::new(1, Parker::new(1));
/// # let threads: Vec<_> = runners
/// #     .into_iter()
/// #     .map(|runner| std::thread::spawn(move || runner.run()))
/// #     .collect();
/// # let root = scheduler.new_root();
/// use std::future::poll_fn;
/// use futures::executor::block_on;
/// use nursery_scheduler::SpawnMeta;
///
/// // What a scope does: open a group, spawn children under it, run its body, close, wait.
/// let group = scheduler.new_group(root.node(), false, None, "root").unwrap();
/// let child = scheduler
///     .spawn(group.node(), async { 21 * 2 }, SpawnMeta::here(), "scope").unwrap();
/// group.close();
/// block_on(poll_fn(|cx| group.poll_complete(cx)));
/// assert!(group.take_failure().is_none());
/// assert_eq!(block_on(child).unwrap(), 42);
/// # drop(group);
/// # root.close();
/// # futures::executor::block_on(std::future::poll_fn(|cx| root.poll_complete(cx)));
/// # scheduler.shutdown();
/// # for thread in threads {
/// #     thread.join().unwrap();
/// # }
/// # scheduler.drain();
/// ```
pub struct Group {
    node: NodeRef,
    parent: Option<NodeRef>,
}

impl Group {
    pub(crate) fn root(id: u64, tree: u32) -> Group {
        Group {
            node: NodeRef::new_group(Kind::Root, None, Meta::new(id, tree, None)),
            parent: None,
        }
    }

    pub(crate) fn child(
        shared: &crate::worker::Shared,
        parent: &NodeRef,
        supervised: bool,
        meta: Option<SpawnMeta>,
        what: &'static str,
    ) -> Result<Group, SpawnError> {
        Ok(Group {
            node: task::new_group(shared, parent, supervised, meta, what)?,
            parent: Some(parent.clone()),
        })
    }

    /// The group's node: the parent for its children.
    ///
    /// (`Parker`, a [`Park`](crate::Park) on condition variables, the worker thread and the
    /// shutdown are as in the [`Scheduler::new`](crate::Scheduler::new) example, hidden here.)
    ///
    /// ```
    /// # use std::sync::{Condvar, Mutex};
    /// # struct Parker { workers: Vec<(Mutex<bool>, Condvar)> }
    /// # impl Parker {
    /// #     fn new(workers: usize) -> Parker {
    /// #         Parker { workers: (0..workers).map(|_| Default::default()).collect() }
    /// #     }
    /// # }
    /// # impl nursery_scheduler::Park for Parker {
    /// #     fn park(&self, index: usize) {
    /// #         let (notified, wake) = &self.workers[index];
    /// #         let mut notified = notified.lock().unwrap();
    /// #         while !*notified {
    /// #             notified = wake.wait(notified).unwrap();
    /// #         }
    /// #         *notified = false;
    /// #     }
    /// #     fn unpark(&self, index: usize) {
    /// #         let (notified, wake) = &self.workers[index];
    /// #         *notified.lock().unwrap() = true;
    /// #         wake.notify_one();
    /// #     }
    /// #     fn poll_events(&self, _index: usize) {}
    /// # }
    /// # let (scheduler, runners) = nursery_scheduler::Scheduler::new(1, Parker::new(1));
    /// # let threads: Vec<_> = runners
    /// #     .into_iter()
    /// #     .map(|runner| std::thread::spawn(move || runner.run()))
    /// #     .collect();
    /// # let root = scheduler.new_root();
    /// use nursery_scheduler::SpawnMeta;
    ///
    /// let group = scheduler.new_group(root.node(), false, None, "root").unwrap();
    /// let child = scheduler.spawn(group.node(), async { 1 }, SpawnMeta::here(), "scope").unwrap();
    /// assert_eq!(futures::executor::block_on(child).unwrap(), 1);
    /// group.close();
    /// # drop(group);
    /// # root.close();
    /// # futures::executor::block_on(std::future::poll_fn(|cx| root.poll_complete(cx)));
    /// # scheduler.shutdown();
    /// # for thread in threads {
    /// #     thread.join().unwrap();
    /// # }
    /// # scheduler.drain();
    /// ```
    pub fn node(&self) -> &NodeRef {
        &self.node
    }

    /// The owner's body is finished: from now on the group completes when its last child does.
    /// Idempotent.
    ///
    /// (`Parker`, a [`Park`](crate::Park) on condition variables, the worker thread and the
    /// shutdown are as in the [`Scheduler::new`](crate::Scheduler::new) example, hidden here.)
    ///
    /// ```
    /// # use std::sync::{Condvar, Mutex};
    /// # struct Parker { workers: Vec<(Mutex<bool>, Condvar)> }
    /// # impl Parker {
    /// #     fn new(workers: usize) -> Parker {
    /// #         Parker { workers: (0..workers).map(|_| Default::default()).collect() }
    /// #     }
    /// # }
    /// # impl nursery_scheduler::Park for Parker {
    /// #     fn park(&self, index: usize) {
    /// #         let (notified, wake) = &self.workers[index];
    /// #         let mut notified = notified.lock().unwrap();
    /// #         while !*notified {
    /// #             notified = wake.wait(notified).unwrap();
    /// #         }
    /// #         *notified = false;
    /// #     }
    /// #     fn unpark(&self, index: usize) {
    /// #         let (notified, wake) = &self.workers[index];
    /// #         *notified.lock().unwrap() = true;
    /// #         wake.notify_one();
    /// #     }
    /// #     fn poll_events(&self, _index: usize) {}
    /// # }
    /// # let (scheduler, runners) = nursery_scheduler::Scheduler::new(1, Parker::new(1));
    /// # let threads: Vec<_> = runners
    /// #     .into_iter()
    /// #     .map(|runner| std::thread::spawn(move || runner.run()))
    /// #     .collect();
    /// # let root = scheduler.new_root();
    /// use std::future::poll_fn;
    /// use futures::executor::block_on;
    ///
    /// let group = scheduler.new_group(root.node(), false, None, "root").unwrap();
    /// assert!(!group.node().is_complete()); // its body is still running
    /// group.close();
    /// group.close(); // idempotent
    /// block_on(poll_fn(|cx| group.poll_complete(cx))); // no children: complete at once
    /// assert!(group.node().is_complete());
    /// # drop(group);
    /// # root.close();
    /// # futures::executor::block_on(std::future::poll_fn(|cx| root.poll_complete(cx)));
    /// # scheduler.shutdown();
    /// # for thread in threads {
    /// #     thread.join().unwrap();
    /// # }
    /// # scheduler.drain();
    /// ```
    pub fn close(&self) {
        tree::close_group_body(&self.node, false);
    }

    /// The owner's body is being abandoned: cancel the children, then close.
    ///
    /// (`Parker`, a [`Park`](crate::Park) on condition variables, the worker thread and the
    /// shutdown are as in the [`Scheduler::new`](crate::Scheduler::new) example, hidden here.)
    ///
    /// ```
    /// # use std::sync::{Condvar, Mutex};
    /// # struct Parker { workers: Vec<(Mutex<bool>, Condvar)> }
    /// # impl Parker {
    /// #     fn new(workers: usize) -> Parker {
    /// #         Parker { workers: (0..workers).map(|_| Default::default()).collect() }
    /// #     }
    /// # }
    /// # impl nursery_scheduler::Park for Parker {
    /// #     fn park(&self, index: usize) {
    /// #         let (notified, wake) = &self.workers[index];
    /// #         let mut notified = notified.lock().unwrap();
    /// #         while !*notified {
    /// #             notified = wake.wait(notified).unwrap();
    /// #         }
    /// #         *notified = false;
    /// #     }
    /// #     fn unpark(&self, index: usize) {
    /// #         let (notified, wake) = &self.workers[index];
    /// #         *notified.lock().unwrap() = true;
    /// #         wake.notify_one();
    /// #     }
    /// #     fn poll_events(&self, _index: usize) {}
    /// # }
    /// # let (scheduler, runners) = nursery_scheduler::Scheduler::new(1, Parker::new(1));
    /// # let threads: Vec<_> = runners
    /// #     .into_iter()
    /// #     .map(|runner| std::thread::spawn(move || runner.run()))
    /// #     .collect();
    /// # let root = scheduler.new_root();
    /// use std::future::{pending, poll_fn};
    /// use futures::executor::block_on;
    /// use nursery_scheduler::SpawnMeta;
    ///
    /// let group = scheduler.new_group(root.node(), false, None, "root").unwrap();
    /// let child = scheduler
    ///     .spawn(group.node(), pending::<()>(), SpawnMeta::here(), "scope").unwrap();
    /// group.abandon(); // e.g. the scope future was dropped mid-body
    /// block_on(poll_fn(|cx| group.poll_complete(cx)));
    /// assert!(block_on(child).unwrap_err().is_cancelled());
    /// # drop(group);
    /// # root.close();
    /// # futures::executor::block_on(std::future::poll_fn(|cx| root.poll_complete(cx)));
    /// # scheduler.shutdown();
    /// # for thread in threads {
    /// #     thread.join().unwrap();
    /// # }
    /// # scheduler.drain();
    /// ```
    pub fn abandon(&self) {
        tree::close_group_body(&self.node, true);
    }

    /// Registers `cx`'s waker to be woken when the group completes or is cancelled (a child
    /// failed), and reports whether it has completed.
    ///
    /// (`Parker`, a [`Park`](crate::Park) on condition variables, the worker thread and the
    /// shutdown are as in the [`Scheduler::new`](crate::Scheduler::new) example, hidden here.)
    ///
    /// ```
    /// # use std::sync::{Condvar, Mutex};
    /// # struct Parker { workers: Vec<(Mutex<bool>, Condvar)> }
    /// # impl Parker {
    /// #     fn new(workers: usize) -> Parker {
    /// #         Parker { workers: (0..workers).map(|_| Default::default()).collect() }
    /// #     }
    /// # }
    /// # impl nursery_scheduler::Park for Parker {
    /// #     fn park(&self, index: usize) {
    /// #         let (notified, wake) = &self.workers[index];
    /// #         let mut notified = notified.lock().unwrap();
    /// #         while !*notified {
    /// #             notified = wake.wait(notified).unwrap();
    /// #         }
    /// #         *notified = false;
    /// #     }
    /// #     fn unpark(&self, index: usize) {
    /// #         let (notified, wake) = &self.workers[index];
    /// #         *notified.lock().unwrap() = true;
    /// #         wake.notify_one();
    /// #     }
    /// #     fn poll_events(&self, _index: usize) {}
    /// # }
    /// # let (scheduler, runners) = nursery_scheduler::Scheduler::new(1, Parker::new(1));
    /// # let threads: Vec<_> = runners
    /// #     .into_iter()
    /// #     .map(|runner| std::thread::spawn(move || runner.run()))
    /// #     .collect();
    /// # let root = scheduler.new_root();
    /// use std::future::poll_fn;
    /// use std::task::{Context, Waker};
    /// use futures::executor::block_on;
    /// use nursery_scheduler::SpawnMeta;
    ///
    /// let group = scheduler.new_group(root.node(), false, None, "root").unwrap();
    /// let child = scheduler.spawn(group.node(), async { 7 }, SpawnMeta::here(), "scope").unwrap();
    /// // The body has not finished: not complete, however the child is doing.
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(group.poll_complete(&mut cx).is_pending());
    /// group.close();
    /// block_on(poll_fn(|cx| group.poll_complete(cx))); // once the child is gone too
    /// assert!(child.is_finished());
    /// # drop(group);
    /// # root.close();
    /// # futures::executor::block_on(std::future::poll_fn(|cx| root.poll_complete(cx)));
    /// # scheduler.shutdown();
    /// # for thread in threads {
    /// #     thread.join().unwrap();
    /// # }
    /// # scheduler.drain();
    /// ```
    pub fn poll_complete(&self, cx: &mut Context<'_>) -> Poll<()> {
        if tree::register_waiter(&self.node, cx.waker()) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Whether a child failure has reached the group (its body should stop).
    ///
    /// (`Parker`, a [`Park`](crate::Park) on condition variables, the worker thread and the
    /// shutdown are as in the [`Scheduler::new`](crate::Scheduler::new) example, hidden here.)
    ///
    /// ```
    /// # use std::sync::{Condvar, Mutex};
    /// # struct Parker { workers: Vec<(Mutex<bool>, Condvar)> }
    /// # impl Parker {
    /// #     fn new(workers: usize) -> Parker {
    /// #         Parker { workers: (0..workers).map(|_| Default::default()).collect() }
    /// #     }
    /// # }
    /// # impl nursery_scheduler::Park for Parker {
    /// #     fn park(&self, index: usize) {
    /// #         let (notified, wake) = &self.workers[index];
    /// #         let mut notified = notified.lock().unwrap();
    /// #         while !*notified {
    /// #             notified = wake.wait(notified).unwrap();
    /// #         }
    /// #         *notified = false;
    /// #     }
    /// #     fn unpark(&self, index: usize) {
    /// #         let (notified, wake) = &self.workers[index];
    /// #         *notified.lock().unwrap() = true;
    /// #         wake.notify_one();
    /// #     }
    /// #     fn poll_events(&self, _index: usize) {}
    /// # }
    /// # let (scheduler, runners) = nursery_scheduler::Scheduler::new(1, Parker::new(1));
    /// # let threads: Vec<_> = runners
    /// #     .into_iter()
    /// #     .map(|runner| std::thread::spawn(move || runner.run()))
    /// #     .collect();
    /// # let root = scheduler.new_root();
    /// use std::future::poll_fn;
    /// use futures::executor::block_on;
    /// use nursery_scheduler::SpawnMeta;
    ///
    /// let group = scheduler.new_group(root.node(), false, None, "root").unwrap();
    /// assert!(!group.has_failed());
    /// let child = scheduler
    ///     .spawn(group.node(), async { panic!("boom") }, SpawnMeta::here(), "scope");
    /// let _ = block_on(child.unwrap()); // resolves after the failure has reached the group
    /// assert!(group.has_failed());
    /// group.abandon(); // the body stops
    /// block_on(poll_fn(|cx| group.poll_complete(cx)));
    /// # let _ = group.take_failure();
    /// # drop(group);
    /// # root.close();
    /// # futures::executor::block_on(std::future::poll_fn(|cx| root.poll_complete(cx)));
    /// # scheduler.shutdown();
    /// # for thread in threads {
    /// #     thread.join().unwrap();
    /// # }
    /// # scheduler.drain();
    /// ```
    pub fn has_failed(&self) -> bool {
        self.node.header().state.load().has_failed()
    }

    /// Takes the failure to re-raise at the owner's await point, once the group is complete.
    ///
    /// (`Parker`, a [`Park`](crate::Park) on condition variables, the worker thread and the
    /// shutdown are as in the [`Scheduler::new`](crate::Scheduler::new) example, hidden here.)
    ///
    /// ```
    /// # use std::sync::{Condvar, Mutex};
    /// # struct Parker { workers: Vec<(Mutex<bool>, Condvar)> }
    /// # impl Parker {
    /// #     fn new(workers: usize) -> Parker {
    /// #         Parker { workers: (0..workers).map(|_| Default::default()).collect() }
    /// #     }
    /// # }
    /// # impl nursery_scheduler::Park for Parker {
    /// #     fn park(&self, index: usize) {
    /// #         let (notified, wake) = &self.workers[index];
    /// #         let mut notified = notified.lock().unwrap();
    /// #         while !*notified {
    /// #             notified = wake.wait(notified).unwrap();
    /// #         }
    /// #         *notified = false;
    /// #     }
    /// #     fn unpark(&self, index: usize) {
    /// #         let (notified, wake) = &self.workers[index];
    /// #         *notified.lock().unwrap() = true;
    /// #         wake.notify_one();
    /// #     }
    /// #     fn poll_events(&self, _index: usize) {}
    /// # }
    /// # let (scheduler, runners) = nursery_scheduler::Scheduler::new(1, Parker::new(1));
    /// # let threads: Vec<_> = runners
    /// #     .into_iter()
    /// #     .map(|runner| std::thread::spawn(move || runner.run()))
    /// #     .collect();
    /// # let root = scheduler.new_root();
    /// use std::future::poll_fn;
    /// use futures::executor::block_on;
    /// use nursery_scheduler::SpawnMeta;
    ///
    /// let group = scheduler.new_group(root.node(), false, None, "root").unwrap();
    /// let _child = scheduler
    ///     .spawn(group.node(), async { panic!("boom") }, SpawnMeta::here(), "scope");
    /// group.close();
    /// block_on(poll_fn(|cx| group.poll_complete(cx)));
    /// let failure = group.take_failure().unwrap();
    /// assert_eq!(failure.panic_message(), Some("boom"));
    /// assert!(group.take_failure().is_none()); // taken
    /// // A scope would now re-raise it: std::panic::resume_unwind(failure.into_panic())
    /// # drop(group);
    /// # root.close();
    /// # futures::executor::block_on(std::future::poll_fn(|cx| root.poll_complete(cx)));
    /// # scheduler.shutdown();
    /// # for thread in threads {
    /// #     thread.join().unwrap();
    /// # }
    /// # scheduler.drain();
    /// ```
    pub fn take_failure(&self) -> Option<JoinError> {
        tree::take_failure(&self.node).map(JoinError::panic)
    }

    /// Messages of failures that arrived after the first one.
    ///
    /// (`Parker`, a [`Park`](crate::Park) on condition variables, the worker thread and the
    /// shutdown are as in the [`Scheduler::new`](crate::Scheduler::new) example, hidden here.)
    ///
    /// ```
    /// # use std::sync::{Condvar, Mutex};
    /// # struct Parker { workers: Vec<(Mutex<bool>, Condvar)> }
    /// # impl Parker {
    /// #     fn new(workers: usize) -> Parker {
    /// #         Parker { workers: (0..workers).map(|_| Default::default()).collect() }
    /// #     }
    /// # }
    /// # impl nursery_scheduler::Park for Parker {
    /// #     fn park(&self, index: usize) {
    /// #         let (notified, wake) = &self.workers[index];
    /// #         let mut notified = notified.lock().unwrap();
    /// #         while !*notified {
    /// #             notified = wake.wait(notified).unwrap();
    /// #         }
    /// #         *notified = false;
    /// #     }
    /// #     fn unpark(&self, index: usize) {
    /// #         let (notified, wake) = &self.workers[index];
    /// #         *notified.lock().unwrap() = true;
    /// #         wake.notify_one();
    /// #     }
    /// #     fn poll_events(&self, _index: usize) {}
    /// # }
    /// # let (scheduler, runners) = nursery_scheduler::Scheduler::new(1, Parker::new(1));
    /// # let threads: Vec<_> = runners
    /// #     .into_iter()
    /// #     .map(|runner| std::thread::spawn(move || runner.run()))
    /// #     .collect();
    /// # let root = scheduler.new_root();
    /// use std::future::poll_fn;
    /// use futures::executor::block_on;
    /// use nursery_scheduler::SpawnMeta;
    ///
    /// let group = scheduler.new_group(root.node(), false, None, "root").unwrap();
    /// let first = scheduler
    ///     .spawn(group.node(), async { panic!("first") }, SpawnMeta::here(), "scope");
    /// let first = first.unwrap();
    /// // A shielded child is not cancelled by the first failure; it fails after it.
    /// let mut shielded = SpawnMeta::here();
    /// shielded.shielded = true;
    /// let second = async move {
    ///     let _ = first.await;
    ///     panic!("second")
    /// };
    /// let _second = scheduler.spawn(group.node(), second, shielded, "scope");
    /// group.close();
    /// block_on(poll_fn(|cx| group.poll_complete(cx)));
    /// assert_eq!(group.take_failure().unwrap().panic_message(), Some("first"));
    /// let later = group.suppressed_failures();
    /// assert_eq!(later.len(), 1);
    /// assert!(later[0].ends_with("panicked: second"), "{later:?}");
    /// # drop(group);
    /// # root.close();
    /// # futures::executor::block_on(std::future::poll_fn(|cx| root.poll_complete(cx)));
    /// # scheduler.shutdown();
    /// # for thread in threads {
    /// #     thread.join().unwrap();
    /// # }
    /// # scheduler.drain();
    /// ```
    pub fn suppressed_failures(&self) -> Vec<String> {
        let tree = self.node.header().tree.lock();
        tree.cold
            .as_ref()
            .map(|c| c.suppressed.clone())
            .unwrap_or_default()
    }

    /// Cancels every child (present and future).
    ///
    /// (`Parker`, a [`Park`](crate::Park) on condition variables, the worker thread and the
    /// shutdown are as in the [`Scheduler::new`](crate::Scheduler::new) example, hidden here.)
    ///
    /// ```
    /// # use std::sync::{Condvar, Mutex};
    /// # struct Parker { workers: Vec<(Mutex<bool>, Condvar)> }
    /// # impl Parker {
    /// #     fn new(workers: usize) -> Parker {
    /// #         Parker { workers: (0..workers).map(|_| Default::default()).collect() }
    /// #     }
    /// # }
    /// # impl nursery_scheduler::Park for Parker {
    /// #     fn park(&self, index: usize) {
    /// #         let (notified, wake) = &self.workers[index];
    /// #         let mut notified = notified.lock().unwrap();
    /// #         while !*notified {
    /// #             notified = wake.wait(notified).unwrap();
    /// #         }
    /// #         *notified = false;
    /// #     }
    /// #     fn unpark(&self, index: usize) {
    /// #         let (notified, wake) = &self.workers[index];
    /// #         *notified.lock().unwrap() = true;
    /// #         wake.notify_one();
    /// #     }
    /// #     fn poll_events(&self, _index: usize) {}
    /// # }
    /// # let (scheduler, runners) = nursery_scheduler::Scheduler::new(1, Parker::new(1));
    /// # let threads: Vec<_> = runners
    /// #     .into_iter()
    /// #     .map(|runner| std::thread::spawn(move || runner.run()))
    /// #     .collect();
    /// # let root = scheduler.new_root();
    /// use std::future::{pending, poll_fn};
    /// use futures::executor::block_on;
    /// use nursery_scheduler::SpawnMeta;
    ///
    /// let group = scheduler.new_group(root.node(), false, None, "root").unwrap();
    /// let before = scheduler
    ///     .spawn(group.node(), pending::<()>(), SpawnMeta::here(), "scope").unwrap();
    /// group.cancel();
    /// let after = scheduler
    ///     .spawn(group.node(), pending::<()>(), SpawnMeta::here(), "scope").unwrap();
    /// assert!(block_on(before).unwrap_err().is_cancelled());
    /// assert!(block_on(after).unwrap_err().is_cancelled());
    /// group.close(); // the body goes on after a cancel: the owner still closes the group
    /// block_on(poll_fn(|cx| group.poll_complete(cx)));
    /// # drop(group);
    /// # root.close();
    /// # futures::executor::block_on(std::future::poll_fn(|cx| root.poll_complete(cx)));
    /// # scheduler.shutdown();
    /// # for thread in threads {
    /// #     thread.join().unwrap();
    /// # }
    /// # scheduler.drain();
    /// ```
    pub fn cancel(&self) {
        self.node.cancel();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if !self.node.header().state.load().is_body_done() {
            self.abandon();
        }
        if self.node.header().state.drop_join_interest() {
            // Complete already: a failure nobody re-raised goes to the parent.
            if let Some(failure) = tree::take_failure(&self.node) {
                match &self.parent {
                    Some(parent) if !parent.header().state.load().is_supervised() => {
                        tree::record_failure(parent, failure)
                    }
                    _ => crate::diagnostics::report(
                        crate::diagnostics::Fault::new(
                            crate::diagnostics::FaultKind::UnhandledFailure,
                            format!("unhandled failure in a dropped scope: {failure:?}"),
                        )
                        .with_task_id(self.node.id()),
                    ),
                }
            }
        }
    }
}
