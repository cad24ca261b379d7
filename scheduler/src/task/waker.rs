//! The `Waker` of a task: a counted reference to its header; waking schedules it.

use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

use super::header::Header;
use super::node::NodeRef;

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

/// A waker that borrows the caller's reference: it must never be dropped (wrap it in
/// `ManuallyDrop`); clones of it are counted as usual.
///
/// # Safety
/// `ptr` is a live task header that outlives every use of the returned waker.
pub(crate) unsafe fn borrowed(ptr: NonNull<Header>) -> Waker {
    // SAFETY: the vtable functions uphold the RawWaker contract for task headers.
    unsafe { Waker::from_raw(RawWaker::new(ptr.as_ptr() as *const (), &VTABLE)) }
}

unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is the header of a live task (the waker being cloned holds a reference).
    let header = unsafe { &*(data as *const Header) };
    header.state.ref_inc();
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake(data: *const ()) {
    // SAFETY: the waker owns one reference, which we adopt and drop after scheduling.
    let task = unsafe { NodeRef::from_raw(NonNull::new_unchecked(data as *mut Header)) };
    super::tree::schedule_if_idle(&task);
}

unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: the waker holds a reference for the duration of the call.
    let task = unsafe { NodeRef::from_raw(NonNull::new_unchecked(data as *mut Header)) };
    super::tree::schedule_if_idle(&task);
    // The reference belongs to the waker, not to us.
    task.into_raw();
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: the waker owns one reference; dropping the adopted `NodeRef` releases it.
    drop(unsafe { NodeRef::from_raw(NonNull::new_unchecked(data as *mut Header)) });
}
