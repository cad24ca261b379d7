//! The allocation of one task: header followed by its stage, and the vtable functions that know
//! the future's type.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::task::{Context, Poll};

use super::error::{Failure, JoinError};
use super::header::{Header, PollOutcome, Vtable};
use super::waker;
use crate::diagnostics::{report, Fault, FaultKind};

#[repr(C)]
pub(crate) struct Cell<F: Future> {
    pub(crate) header: Header,
    pub(crate) stage: crate::sync::UnsafeCell<Stage<F>>,
}

pub(crate) enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

pub(crate) struct Vtables<F>(std::marker::PhantomData<F>);

impl<F> Vtables<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    pub(crate) const VTABLE: Vtable = Vtable {
        poll: poll::<F>,
        drop_future: drop_future::<F>,
        set_error: set_error::<F>,
        drop_output: drop_output::<F>,
        take_output: take_output::<F>,
        dealloc: dealloc::<F, false>,
    };

    /// The same for a cell from `recycle::alloc` that is to be recycled.
    pub(crate) const RECYCLED: Vtable = Vtable {
        dealloc: dealloc::<F, true>,
        ..Self::VTABLE
    };
}

/// # Safety
/// `ptr` is the header of a live `Cell<F>`.
unsafe fn stage<F: Future>(ptr: NonNull<Header>) -> *mut Stage<F> {
    // SAFETY: `Cell` is `repr(C)` with the header first, so the header pointer is the cell
    // pointer; the caller guarantees the type.
    let cell = unsafe { ptr.cast::<Cell<F>>().as_ref() };
    cell.stage.with_mut(|s| s)
}

/// Drops whatever the stage holds, catching a panic from a `Drop` impl, and leaves `Consumed`.
///
/// # Safety
/// The caller has exclusive access to the stage.
unsafe fn clear_stage<F: Future>(stage: *mut Stage<F>) -> Option<Box<dyn std::any::Any + Send>> {
    // SAFETY: exclusive access; `drop_in_place` keeps dropping fields on unwind, and we write a
    // valid value back whether or not it panicked.
    let result = catch_unwind(AssertUnwindSafe(|| unsafe { ptr::drop_in_place(stage) }));
    // SAFETY: the old value is dropped; overwrite without dropping it again.
    unsafe { ptr::write(stage, Stage::Consumed) };
    result.err()
}

fn failure_of(header: &Header, payload: Box<dyn std::any::Any + Send>) -> Failure {
    Failure::new(payload, header.meta.display_name(), header.meta.location)
}

unsafe fn poll<F: Future>(ptr: NonNull<Header>) -> PollOutcome {
    // SAFETY: the caller holds RUNNING on a live `Cell<F>`: exclusive access to the stage.
    let stage = unsafe { stage::<F>(ptr) };
    // SAFETY: `ptr` stays alive for the poll (the caller holds the queue's reference); the
    // borrowed waker never drops that reference.
    let waker = ManuallyDrop::new(unsafe { waker::borrowed(ptr) });
    let mut cx = Context::from_waker(&waker);
    let polled = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: exclusive access (RUNNING); the future never moves out of the cell.
        match unsafe { &mut *stage } {
            Stage::Running(future) => {
                // SAFETY: the future lives in the heap cell, which never moves; it leaves the
                // stage only by being dropped in place (`clear_stage`), so it stays pinned.
                unsafe { Pin::new_unchecked(future) }.poll(&mut cx)
            }
            _ => unreachable!("a task was polled after its future was dropped"),
        }
    }));
    // SAFETY: `ptr` is a live header.
    let header = unsafe { ptr.as_ref() };
    match polled {
        Ok(Poll::Pending) => PollOutcome::Pending,
        Ok(Poll::Ready(output)) => {
            // SAFETY: exclusive access (RUNNING).
            let dropped = unsafe { clear_stage(stage) };
            // SAFETY: as above.
            unsafe { ptr::write(stage, Stage::Finished(Ok(output))) };
            match dropped {
                None => PollOutcome::Ready,
                Some(payload) => PollOutcome::Panicked(failure_of(header, payload)),
            }
        }
        Err(payload) => {
            // SAFETY: exclusive access (RUNNING). A second panic while dropping the broken
            // future is reported after the first.
            let _ = unsafe { clear_stage(stage) };
            PollOutcome::Panicked(failure_of(header, payload))
        }
    }
}

unsafe fn drop_future<F: Future>(ptr: NonNull<Header>) -> Option<Failure> {
    // SAFETY: the caller holds RUNNING on a live `Cell<F>`.
    let stage = unsafe { stage::<F>(ptr) };
    // SAFETY: exclusive access (RUNNING).
    let dropped = unsafe { clear_stage(stage) };
    // SAFETY: as above.
    unsafe { ptr::write(stage, Stage::Finished(Err(JoinError::cancelled()))) };
    // SAFETY: `ptr` is a live header.
    dropped.map(|payload| failure_of(unsafe { ptr.as_ref() }, payload))
}

unsafe fn set_error<F: Future>(ptr: NonNull<Header>, error: JoinError) {
    // SAFETY: the caller is the completer: exclusive access to a live `Cell<F>`'s stage. A panic
    // while dropping the replaced output cannot be reported anywhere better than stderr.
    let stage = unsafe { stage::<F>(ptr) };
    // SAFETY: as above.
    if unsafe { clear_stage(stage) }.is_some() {
        report(Fault::new(
            FaultKind::DropPanicked,
            "a task's output panicked while being dropped",
        ));
    }
    // SAFETY: as above.
    unsafe { ptr::write(stage, Stage::Finished(Err(error))) };
}

unsafe fn drop_output<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: the caller owns the output of a live `Cell<F>`.
    if unsafe { clear_stage(stage::<F>(ptr)) }.is_some() {
        report(Fault::new(
            FaultKind::DropPanicked,
            "a task's unclaimed output panicked while being dropped",
        ));
    }
}

unsafe fn take_output<F: Future>(ptr: NonNull<Header>, dst: *mut ()) {
    // SAFETY: the caller owns the output of a live `Cell<F>`, and `dst` points to a
    // `Poll<Result<F::Output, JoinError>>`.
    let stage = unsafe { stage::<F>(ptr) };
    // SAFETY: as above.
    let taken = unsafe { ptr::replace(stage, Stage::Consumed) };
    let output = match taken {
        Stage::Finished(result) => result,
        _ => panic!("a JoinHandle was polled again after it returned its output"),
    };
    // SAFETY: as above; the old `Poll::Pending` needs no drop.
    unsafe {
        ptr::write(
            dst.cast::<Poll<Result<F::Output, JoinError>>>(),
            Poll::Ready(output),
        )
    };
}

unsafe fn dealloc<F: Future, const RECYCLED: bool>(ptr: NonNull<Header>) {
    let cell = ptr.cast::<Cell<F>>();
    // A future or output still here (a runtime that was leaked) is dropped with the cell; a
    // panicking Drop must not unwind into whoever dropped the last reference.
    // SAFETY: the caller held the last reference to this live `Cell<F>`.
    let dropped = catch_unwind(AssertUnwindSafe(|| unsafe {
        ptr::drop_in_place(cell.as_ptr())
    }));
    if dropped.is_err() {
        report(Fault::new(
            FaultKind::DropPanicked,
            "a task's future or output panicked while being freed",
        ));
    }
    // SAFETY: `spawn` allocated the cell with `recycle::alloc` for this layout, and chose this
    // vtable by whether it is recycled; it is dropped (on unwind `drop_in_place` still drops the
    // remaining fields) and unreachable.
    unsafe { super::recycle::free(cell.cast(), std::alloc::Layout::new::<Cell<F>>(), RECYCLED) };
}
