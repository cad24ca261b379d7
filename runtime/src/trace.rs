//! Spans and events for `tracing` subscribers, behind the `tracing` feature.
//!
//! Every task gets a `task` span (target `nursery::task`) when it is spawned, a child of the
//! span of the node it is spawned under: the spawning task's, or the scope's (a scope gets a
//! `scope` span, target `nursery::scope`, a child of the task that awaits it). A subscriber
//! therefore sees the task tree. A task's span is entered on every poll, on whichever worker
//! runs it, and while its future is dropped. Events: a task's failure (`warn`, with the panic
//! message), its cancellation (`debug`), why a scope stops its body (`debug`) and how it ended
//! (`debug`, `outcome`). Spans and events are at `debug` (failures at `warn`): a subscriber not
//! interested in them pays one cached interest check per spawn.
//!
//! Without the feature every item here is an empty `#[inline]` function or a zero-sized type:
//! [`task`] returns the future it was given, so nothing of this is compiled in.

pub(crate) use imp::*;

/// Whose span a new task's span hangs under.
pub(crate) enum Parent<'a> {
    /// The span being polled now: the spawning task's, or the scope whose body spawns.
    Current,
    /// None: the task is a child of the runtime's root, which has no span.
    Root,
    /// The scope's (`Scope::spawn`, from wherever the handle is).
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    Scope(&'a ScopeSpan),
}

#[cfg(feature = "tracing")]
mod imp {
    use std::future::Future;
    use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe, Location};
    use std::pin::Pin;
    use std::sync::OnceLock;
    use std::task::{Context, Poll};

    use nursery_scheduler::{NodeRef, SpawnMeta};
    use pin_project_lite::pin_project;
    use tracing::{field, Level, Span};

    use super::Parent;

    /// A task's future with its span: enters the span on every poll and while it is dropped.
    pub(crate) fn task<F: Future>(
        future: F,
        meta: &SpawnMeta,
        parent: &NodeRef,
        span_parent: Parent<'_>,
    ) -> Traced<F> {
        // The parent expression is only evaluated when a subscriber wants the span.
        let span = tracing::span!(
            target: "nursery::task",
            parent: match span_parent {
                Parent::Current => Span::current().id(),
                Parent::Root => None,
                Parent::Scope(scope) => scope.0.get().and_then(Span::id),
            },
            Level::DEBUG,
            "task",
            id = field::Empty,
            parent_id = parent.id(),
            kind = "task",
            name = meta.name.as_deref(),
            location = %meta.location,
        );
        Traced {
            future: Some(future),
            span,
            state: State::New,
        }
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum State {
        New,
        Polled,
        Finished,
        Failed,
    }

    pin_project! {
        /// A task's future inside its span.
        pub(crate) struct Traced<F> {
            #[pin]
            future: Option<F>,
            span: Span,
            state: State,
        }

        impl<F> PinnedDrop for Traced<F> {
            fn drop(this: Pin<&mut Self>) {
                let mut this = this.project();
                let _entered = this.span.enter();
                if matches!(*this.state, State::New | State::Polled) {
                    // The scheduler drops an unfinished task's future only when the task is
                    // cancelled (by a handle, its scope, or the runtime's shutdown).
                    tracing::debug!(target: "nursery::task", "task cancelled");
                }
                // Inside the span: what the future's destructors log belongs to the task.
                this.future.set(None);
            }
        }
    }

    impl<F: Future> Future for Traced<F> {
        type Output = F::Output;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            let this = self.project();
            let _entered = this.span.enter();
            if *this.state == State::New {
                *this.state = State::Polled;
                // The scheduler runs a task as the current node: its id is known from the
                // first poll on (before any of the task's own code runs).
                nursery_scheduler::current_node::with_current_node(|node| {
                    if let Some(node) = node {
                        this.span.record("id", node.id());
                    }
                });
            }
            let Some(future) = this.future.as_pin_mut() else {
                panic!("a task's future was polled after it completed")
            };
            match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                Ok(Poll::Pending) => Poll::Pending,
                Ok(Poll::Ready(output)) => {
                    *this.state = State::Finished;
                    Poll::Ready(output)
                }
                Err(panic) => {
                    *this.state = State::Failed;
                    let message = panic
                        .downcast_ref::<&str>()
                        .copied()
                        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                        .unwrap_or("Box<dyn Any>");
                    tracing::warn!(target: "nursery::task", panic = message, "task failed");
                    // The scheduler records the failure as before; the panic hook already ran.
                    resume_unwind(panic)
                }
            }
        }
    }

    /// A scope's span, set when the scope opens; kept in the scope's `Control`, so that its
    /// handles spawn under it.
    #[derive(Default)]
    pub(crate) struct ScopeSpan(pub(super) OnceLock<Span>);

    impl ScopeSpan {
        /// Creates the span, a child of the span being polled (the task awaiting the scope).
        pub(crate) fn open(
            &self,
            id: u64,
            parent: &NodeRef,
            kind: &'static str,
            location: &'static Location<'static>,
        ) {
            let span = tracing::span!(
                target: "nursery::scope",
                Level::DEBUG,
                "scope",
                id,
                parent_id = parent.id(),
                kind,
                location = %location,
            );
            let _ = self.0.set(span);
        }

        /// Enters the span until the guard is dropped.
        pub(crate) fn enter(&self) -> Option<tracing::span::EnteredSpan> {
            self.0.get().map(|span| span.clone().entered())
        }

        /// An event on the scope's span, from wherever its handle is used.
        pub(crate) fn requested(&self, what: &'static str) {
            if let Some(span) = self.0.get() {
                tracing::debug!(target: "nursery::scope", parent: span, "{what}");
            }
        }
    }

    /// The scope stops its body (and cancels its children): `why` is a child's failure, a
    /// `try_scope` error or the deadline. Inside the scope's span.
    pub(crate) fn scope_stopping(why: &'static str) {
        tracing::debug!(target: "nursery::scope", reason = why, "scope cancelled");
    }

    /// The scope has ended: `outcome` is `ok`, `failed`, `deadline`, `aborted` or `dropped`.
    pub(crate) fn scope_finished(outcome: &'static str) {
        tracing::debug!(target: "nursery::scope", outcome, "scope finished");
    }

    /// A `try_scope` child returned an error (the first one cancels the scope). In the
    /// child's span.
    pub(crate) fn task_error(first: bool) {
        tracing::debug!(target: "nursery::task", first, "task returned an error");
    }

    /// The runtime cancels every task (shutdown).
    pub(crate) fn runtime_shutdown() {
        tracing::debug!(target: "nursery::runtime", "runtime shutting down: every task is cancelled");
    }
}

#[cfg(not(feature = "tracing"))]
mod imp {
    use std::panic::Location;

    use nursery_scheduler::{NodeRef, SpawnMeta};

    use super::Parent;

    #[inline(always)]
    pub(crate) fn task<F>(future: F, _: &SpawnMeta, _: &NodeRef, _: Parent<'_>) -> F {
        future
    }

    #[derive(Default)]
    pub(crate) struct ScopeSpan;

    /// What `ScopeSpan::enter` returns: nothing to leave.
    pub(crate) struct Entered;

    impl ScopeSpan {
        #[inline(always)]
        pub(crate) fn open(
            &self,
            _: u64,
            _: &NodeRef,
            _: &'static str,
            _: &'static Location<'static>,
        ) {
        }

        #[inline(always)]
        pub(crate) fn enter(&self) -> Entered {
            Entered
        }

        #[inline(always)]
        pub(crate) fn requested(&self, _: &'static str) {}
    }

    #[inline(always)]
    pub(crate) fn scope_stopping(_: &'static str) {}

    #[inline(always)]
    pub(crate) fn scope_finished(_: &'static str) {}

    #[inline(always)]
    pub(crate) fn task_error(_: bool) {}

    #[inline(always)]
    pub(crate) fn runtime_shutdown() {}
}
