//! One path for internal faults: [`Builder::on_fault`](crate::Builder::on_fault).
//!
//! A fault is something that went wrong inside the runtime and that cannot be returned to
//! anyone: a foreign waker that panicked when woken, a failure in a scope that was dropped
//! without being awaited, a supervisor's handler that panicked, a reactor poll that failed.
//! The scheduler, the reactor and the runtime each describe it as a [`Fault`] and report it
//! on one path: to the runtime's hook if one was set, else to stderr (`nursery: <message>`).
//!
//! How a fault finds its runtime's hook: the scheduler and the reactor know nothing of the
//! runtime, and faults arise where no reference to it is held (a waker woken as a task
//! completes, a cell freed by its last reference), so
//! - the scheduler reports to the hook installed on the current thread
//!   (`nursery_scheduler::diagnostics`): the runtime installs its hook on each of its worker
//!   threads and for the length of each `block_on`;
//! - the reactor reports to a hook set on it once at construction (`Handle::set_fault_hook`),
//!   which the runtime forwards to its own;
//! - the runtime's own faults (a reactor turn that failed, a worker that panicked) go straight
//!   to its hook.
//!
//! Two runtimes side by side thus keep their own hooks. A fault reported on a thread that
//! belongs to no runtime (say, a task's output whose last reference is dropped on a plain
//! thread) is printed. A hook that panics is caught, and the fault printed.

use nursery_scheduler::diagnostics::{report_to, FaultHook};
pub use nursery_scheduler::diagnostics::{Fault, FaultKind};

/// The reactor's faults, as faults of the runtime that owns it.
pub(crate) fn forward_io_faults(io: &nursery_reactor::ReactorHandle, hook: Option<FaultHook>) {
    io.set_fault_hook(move |fault| {
        let fault = match fault {
            nursery_reactor::IoFault::CollectFailed(e) => Fault::new(
                FaultKind::IoPollFailed,
                format!("collecting ready I/O failed: {e}"),
            ),
            _ => Fault::waker_panicked(),
        };
        report_to(hook.as_ref(), fault);
    });
}
