//! `ScopeCore`: the future every kind of scope is built on. At its first poll it opens a group
//! under the polling task and creates the body; it runs the body inline, stops it when a child
//! fails, the scope is aborted or its deadline passes, then waits until every child is gone and
//! re-raises a child's panic.

use std::future::Future;
use std::panic::{resume_unwind, Location};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use nursery_scheduler::{Group, SpawnMeta};
use pin_project_lite::pin_project;

use super::control::Control;
use super::Scope;
use crate::current_runtime;
use crate::time::{sleep_until, Sleep};

/// Makes a scope's body from its handle: any `FnOnce(Scope) -> Future`, or a named wrapper
/// (`try_scope` turns the body's `Err` into the scope's error). An implementation detail of the
/// scope futures' types; there is no need to implement it.
pub trait MakeBody {
    /// The body future.
    type Body: Future;
    /// Creates the body.
    fn make(self, scope: Scope) -> Self::Body;
}

impl<F, Fut> MakeBody for F
where
    F: FnOnce(Scope) -> Fut,
    Fut: Future,
{
    type Body = Fut;
    fn make(self, scope: Scope) -> Fut {
        self(scope)
    }
}

/// How a scope ended (panics are re-raised, not returned).
pub(crate) enum Exit<T> {
    /// The body returned (children may have been cancelled by a grace period).
    Finished(T),
    /// The deadline passed before the scope finished; the body was dropped.
    DeadlineHit,
    /// `try_scope`'s first error stopped the body.
    Aborted,
}

pin_project! {
    /// `body` is the one pinned field: created in place by `open`, polled in place, and dropped
    /// in place (`Pin::set(None)`) or with the struct.
    #[project = CoreProj]
    pub(crate) struct ScopeCore<M: MakeBody> {
        // What opening the scope needs, until the first poll opens it under the polling task.
        unopened: Option<Unopened<M>>,
        #[pin]
        body: Option<M::Body>,
        output: Option<<M::Body as Future>::Output>,
        group: Option<Group>,
        control: Arc<Control>,
        timer: Option<Sleep>,
        deadline_hit: bool,
    }

    impl<M: MakeBody> PinnedDrop for ScopeCore<M> {
        fn drop(this: Pin<&mut Self>) {
            // A scope future dropped early (a `timeout`, a `select`): its body goes inside the
            // scope, before the group (a later field) is dropped and cancels the children.
            let mut this = this.project();
            let _span = this.control.span.enter();
            if this.group.as_ref().is_some_and(|g| !g.node().is_complete()) {
                crate::trace::scope_finished("dropped");
            }
            this.drop_body();
            this.control.watchers.close();
            // Dropped after its body returned, while it waited for children (R4): they are
            // cancelled too. (Before the body returned, dropping the group abandons it, which
            // cancels them.)
            if let Some(group) = this.group.as_ref() {
                if !group.node().is_complete() {
                    this.control.cancel(group.node());
                }
            }
        }
    }
}

struct Unopened<F> {
    make_body: F,
    supervised: bool,
    location: &'static Location<'static>,
    /// What the scope is called in its `tracing` span: `scope`, `supervised`, `try_scope`, ...
    kind: &'static str,
}

/// A scope to be opened at its first poll: `block_on(scope(..))` works, and the scope belongs
/// to the task that awaits it.
#[track_caller]
pub(crate) fn new<M: MakeBody>(
    make_body: M,
    kind: &'static str,
    supervised: bool,
    control: Control,
) -> ScopeCore<M> {
    ScopeCore {
        unopened: Some(Unopened {
            make_body,
            supervised,
            location: Location::caller(),
            kind,
        }),
        body: None,
        output: None,
        group: None,
        control: Arc::new(control),
        timer: None,
        deadline_hit: false,
    }
}

impl<M: MakeBody> CoreProj<'_, M> {
    /// Creates the group under the current node, and the body.
    fn open(&mut self) {
        let Some(unopened) = self.unopened.take() else {
            return;
        };
        let handle = current_runtime::expect_handle();
        let meta = SpawnMeta {
            name: None,
            location: unopened.location,
            shielded: false,
        };
        let group = nursery_scheduler::current_node::with_current_node(|node| {
            let parent = node.unwrap_or(handle.root());
            let group =
                handle
                    .scheduler()
                    .new_group(parent, unopened.supervised, Some(meta), "task");
            if let Ok(group) = &group {
                let id = group.node().id();
                let span = &self.control.span;
                span.open(id, parent, unopened.kind, unopened.location);
            }
            group
        })
        .unwrap_or_else(|e| panic!("nursery::scope: {e}"));
        let scope = Scope {
            node: group.node().clone(),
            handle,
            control: self.control.clone(),
        };
        // Made inside the scope: a `nursery::spawn` in the closure itself belongs to it too.
        let body = {
            let _span = self.control.span.enter();
            let _inside = nursery_scheduler::current_node::enter(group.node());
            unopened.make_body.make(scope)
        };
        *self.group = Some(group);
        self.body.set(Some(body));
    }

    /// Drops the body inside the scope, so that whatever its destructors spawn belongs to the
    /// scope (born cancelled once the scope is) and not to the enclosing task.
    fn drop_body(&mut self) {
        if let (Some(group), Some(_)) = (&*self.group, self.body.as_ref().as_pin_ref()) {
            let _span = self.control.span.enter();
            let _inside = nursery_scheduler::current_node::enter(group.node());
            self.body.set(None);
        }
    }

    /// Arms the timer for the current deadline. Once it has passed: `Some(drops_body)`.
    fn deadline_passed(&mut self, cx: &mut Context<'_>) -> Option<bool> {
        let deadline = self.control.deadline()?;
        match &mut *self.timer {
            Some(t) if t.deadline() == deadline.at => {}
            slot => *slot = Some(sleep_until(deadline.at)),
        }
        let timer = self.timer.as_mut().expect("armed above");
        Pin::new(timer)
            .poll(cx)
            .is_ready()
            .then_some(deadline.drops_body)
    }

    /// The enclosing task (the current node again, the body's poll over) waits on this scope.
    fn record_waiting_on_scope(&self) {
        nursery_scheduler::current_node::record_wait(nursery_scheduler::Wait::Scope {
            scope: self.group().node().id(),
        });
    }

    fn group(&self) -> &Group {
        self.group
            .as_ref()
            .expect("the scope is opened at its first poll")
    }
}

impl<M: MakeBody> ScopeCore<M> {
    /// The group's id, once opened.
    pub(crate) fn group_id(&self) -> Option<u64> {
        self.group.as_ref().map(|g| g.node().id())
    }

    pub(crate) fn poll_exit(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Exit<<M::Body as Future>::Output>> {
        let mut this = self.project();
        this.open();
        let _span = this.control.span.enter();
        // First: a shutdown a watcher requests now is seen by the checks below.
        this.control.watchers.poll(cx);

        if !*this.deadline_hit {
            if let Some(drops_body) = this.deadline_passed(cx) {
                // Every child (and every later one) is cancelled; a move-on/fail deadline stops
                // the body as well, a grace period only the children.
                this.control.cancel(this.group().node());
                *this.timer = None;
                *this.deadline_hit = drops_body;
                if !drops_body {
                    this.control.clear_deadline();
                }
            }
        }

        if this.body.is_some() {
            let group = this.group();
            // Registered before the checks, so a failing child, an abort or a shutdown request
            // that lands in between still wakes us.
            let _ = group.poll_complete(cx);
            if group.has_failed() || this.control.is_aborted() || *this.deadline_hit {
                crate::trace::scope_stopping(if group.has_failed() {
                    "a child failed"
                } else if this.control.is_aborted() {
                    "a child returned an error"
                } else {
                    "deadline"
                });
                this.drop_body();
                this.group().abandon();
            } else {
                // While the body is polled the scope is the current nursery (rule R1): every
                // `nursery::spawn` from the body, or from a helper it calls, is the scope's
                // child, so the scope's deadline, cancel, shutdown and failures reach it and
                // the scope waits for it.
                let inside = nursery_scheduler::current_node::enter(group.node());
                let body = this.body.as_mut().as_pin_mut().expect("checked");
                let polled = nursery_scheduler::current_node::poll_recording_wait(|| body.poll(cx));
                drop(inside);
                match polled {
                    Poll::Pending => {
                        this.record_waiting_on_scope();
                        return Poll::Pending;
                    }
                    Poll::Ready(output) => {
                        *this.output = Some(output);
                        this.drop_body();
                        this.group().close();
                    }
                }
            }
        }

        if this.group().poll_complete(cx).is_pending() {
            this.record_waiting_on_scope();
            return Poll::Pending;
        }
        *this.timer = None;
        this.control.watchers.close();
        if let Some(err) = this.group().take_failure() {
            crate::trace::scope_finished("failed");
            resume_unwind(err.into_panic());
        }
        Poll::Ready(if *this.deadline_hit {
            crate::trace::scope_finished("deadline");
            Exit::DeadlineHit
        } else if this.control.is_aborted() {
            crate::trace::scope_finished("aborted");
            Exit::Aborted
        } else {
            match this.output.take() {
                Some(output) => {
                    crate::trace::scope_finished("ok");
                    Exit::Finished(output)
                }
                None => panic!("a scope future was polled after it completed"),
            }
        })
    }
}
