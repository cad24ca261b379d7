//! One path for the runtime's internal faults: what cannot be returned to anyone (a foreign
//! waker that panicked, a failure nobody will ever join, a reactor poll that failed) is
//! described by a [`Fault`] and handed to [`report`].
//!
//! # Where a fault goes
//!
//! The hook is per runtime, found through the thread that reports: the runtime installs its
//! hook on each of its worker threads and on a thread for the length of a `block_on`
//! ([`enter`]); [`report`] calls the hook installed on the current thread, or, where there is
//! none (a thread that belongs to no runtime, e.g. a join handle's last reference dropped on a
//! foreign thread), prints the fault on stderr, as it did before hooks existed. A thread-local
//! rather than a hook stored in every task or waker: faults arise in places that hold no
//! reference to their runtime (a waker woken from a completion, a cell freed by its last
//! reference), and two runtimes side by side keep their own hooks because each installs its
//! hook only on its own threads. A hook that panics is caught: the fault is then printed.

use std::cell::RefCell;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::sync::thread_local;

/// What a runtime calls with each [`Fault`] (`Builder::on_fault`).
pub type FaultHook = Arc<dyn Fn(&Fault) + Send + Sync>;

thread_local! {
    static HOOK: RefCell<Option<FaultHook>> = const { RefCell::new(None) };
}

/// What kind of internal fault happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FaultKind {
    /// A waker the runtime does not own (a join handle's, a scope owner's, an I/O or timer
    /// waiter's) panicked when woken; the runtime caught the panic and carries on.
    WakerPanicked,
    /// The reactor failed to poll or to collect ready I/O (only a bug can cause it).
    IoPollFailed,
    /// A task's output or future panicked while being dropped or freed.
    DropPanicked,
    /// A task failed and nobody will see it: the failure of a dropped scope, or of a child of
    /// a supervised scope with no handler and no join handle.
    UnhandledFailure,
    /// A supervisor's failure handler panicked.
    HandlerPanicked,
    /// A worker thread panicked (a bug of the runtime), seen when it was joined at shutdown.
    WorkerPanicked,
}

/// An internal fault: what happened, in words, and the task it concerns where one is known.
///
/// `Display` writes the message (the text the default printed after `nursery: `).
#[derive(Clone, Debug)]
pub struct Fault {
    kind: FaultKind,
    message: String,
    task_id: Option<u64>,
}

impl Fault {
    /// A fault of `kind`, described by `message`.
    pub fn new(kind: FaultKind, message: impl Into<String>) -> Fault {
        Fault {
            kind,
            message: message.into(),
            task_id: None,
        }
    }

    /// A foreign waker panicked when woken: the one message for every place that wakes one.
    pub fn waker_panicked() -> Fault {
        Fault::new(
            FaultKind::WakerPanicked,
            "a waker panicked when woken; the runtime caught it and carries on",
        )
    }

    /// The same fault, concerning the task (or scope) with id `id`.
    pub fn with_task_id(mut self, id: u64) -> Fault {
        self.task_id = Some(id);
        self
    }

    /// What kind of fault it is.
    pub fn kind(&self) -> FaultKind {
        self.kind
    }

    /// What happened, in words.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The id of the task or scope the fault concerns, where one is known.
    pub fn task_id(&self) -> Option<u64> {
        self.task_id
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The default: print the fault on stderr.
pub fn print(fault: &Fault) {
    eprintln!("nursery: {fault}");
}

/// Reports `fault` through `hook`, or prints it where there is none (or the hook panics).
pub fn report_to(hook: Option<&FaultHook>, fault: Fault) {
    match hook {
        Some(hook) => {
            if catch_unwind(AssertUnwindSafe(|| hook(&fault))).is_err() {
                eprintln!("nursery: the fault hook panicked; the fault was:");
                print(&fault);
            }
        }
        None => print(&fault),
    }
}

/// Reports `fault` to the hook installed on this thread (see the [module docs](self)), or
/// prints it on stderr.
pub fn report(fault: Fault) {
    // `try_with`: a fault may be reported while the thread's locals are torn down.
    let hook = HOOK.try_with(|h| h.borrow().clone()).ok().flatten();
    report_to(hook.as_ref(), fault);
}

/// Keeps a thread's hook installed until dropped; see [`enter`].
#[must_use = "the hook is installed only until the guard is dropped"]
pub struct HookGuard {
    previous: Option<FaultHook>,
}

/// Installs `hook` on this thread (`None`: print) until the guard is dropped.
pub fn enter(hook: Option<FaultHook>) -> HookGuard {
    let previous = HOOK.try_with(|h| h.replace(hook)).ok().flatten();
    HookGuard { previous }
}

impl Drop for HookGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = HOOK.try_with(|h| *h.borrow_mut() = previous);
    }
}

impl fmt::Debug for HookGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookGuard").finish_non_exhaustive()
    }
}
