//! Task-locals that children inherit: [`task_local!`](crate::task_local), [`LocalKey`].
//!
//! The values the running code sees form a persistent list of frames, newest first, each one
//! key (the `static`'s address) and one immutable value behind an `Arc`. This thread's current
//! list is `CURRENT`; it is set only while something polls a [`TaskLocalFuture`], runs a
//! [`LocalKey::sync_scope`] closure, polls a task that inherited values, or runs a blocking
//! closure that did, and restored when that ends (a panic too). Everything else sees `None`.
//!
//! A spawn takes a snapshot: a clone of `CURRENT` (one `Arc` increment). With nothing set it is
//! `None`, the task's future is spawned as it is, and its polls cost nothing more. With values
//! set the future is wrapped in [`Inherit`], which swaps its snapshot into `CURRENT` for each
//! poll and for its drop. A frame is never changed, so later `scope`s in the spawner build new
//! frames the child cannot see.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::mem;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use nursery_scheduler::{JoinHandle, NodeRef, Scheduler, SpawnError, SpawnMeta};
use pin_project_lite::pin_project;

/// Declares task-local keys: values set with [`LocalKey::scope`] that the code inside, and
/// every task it spawns, can read.
///
/// A child task sees the values its spawner saw when it spawned it (a snapshot); a `scope` in
/// the child overrides a value for the child and its descendants only. Values are shared
/// immutably (`Send + Sync`); wrap them in a lock or an atomic for shared mutable state.
///
/// ```
/// nursery_runtime::task_local! {
///     static REQUEST_ID: u64;
/// }
///
/// let rt = nursery_runtime::Runtime::new().unwrap();
/// rt.block_on(REQUEST_ID.scope(7, async {
///     // A helper that spawns: its task carries the request id too.
///     let child = nursery_runtime::spawn(async { REQUEST_ID.get() });
///     assert_eq!(child.await.unwrap(), 7);
/// }));
/// assert!(REQUEST_ID.try_with(|_| ()).is_err()); // not set out here
/// ```
#[macro_export]
macro_rules! task_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty; $($rest:tt)*) => {
        $(#[$attr])*
        $vis static $name: $crate::task::LocalKey<$t> =
            $crate::task::LocalKey::__new(::core::stringify!($name));
        $crate::task_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty) => {
        $crate::task_local!($(#[$attr])* $vis static $name: $t;);
    };
}

/// One set value, and the values set around it.
pub(crate) struct Frame {
    key: usize,
    value: Arc<dyn Any + Send + Sync>,
    next: Locals,
}

/// The values some code sees: `None` when none is set.
pub(crate) type Locals = Option<Arc<Frame>>;

thread_local! {
    static CURRENT: RefCell<Locals> = const { RefCell::new(None) };
    /// Whether `CURRENT` holds values (kept by `swapped_in`, its only writer): a spawn with none
    /// set, the common case, reads this plain flag instead of `CURRENT`, which has a destructor
    /// to register and a borrow flag to check (20 instructions of every spawn).
    static ANY_SET: Cell<bool> = const { Cell::new(false) };
}

/// The values the running code sees, for a task or a blocking job it spawns.
pub(crate) fn snapshot() -> Locals {
    if !ANY_SET.with(Cell::get) {
        return None;
    }
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// Spawns `future` under `parent`, carrying the spawner's values if it has any.
#[inline]
pub(crate) fn spawn<F>(
    scheduler: &Scheduler,
    parent: &NodeRef,
    future: F,
    meta: SpawnMeta,
    what: &'static str,
) -> Result<JoinHandle<F::Output>, SpawnError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match snapshot() {
        None => scheduler.spawn(parent, future, meta, what),
        Some(frame) => scheduler.spawn(parent, Inherit::new(frame, future), meta, what),
    }
}

/// Runs `f` with `locals` as this thread's values (a blocking job's snapshot).
pub(crate) fn run_with<R>(locals: Locals, f: impl FnOnce() -> R) -> R {
    let mut locals = locals;
    swapped_in(&mut locals, f)
}

/// Runs `f` with `*slot` swapped into `CURRENT`, then swaps it back (also on panic): the
/// values change without touching any reference count.
fn swapped_in<R>(slot: &mut Locals, f: impl FnOnce() -> R) -> R {
    struct Restore<'a> {
        slot: &'a mut Locals,
        entered: bool,
    }
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            if self.entered {
                let _ = CURRENT.try_with(|c| swap_current(c, self.slot));
            }
        }
    }
    // Fails only while this thread's locals are being destroyed: `f` then runs without values.
    let entered = CURRENT.try_with(|c| swap_current(c, slot)).is_ok();
    let _restore = Restore { slot, entered };
    f()
}

/// Swaps `*slot` with `CURRENT`'s values (`current`) and keeps `ANY_SET` true to them.
fn swap_current(current: &RefCell<Locals>, slot: &mut Locals) {
    let mut current = current.borrow_mut();
    mem::swap(&mut *current, slot);
    ANY_SET.with(|any| any.set(current.is_some()));
}

pin_project! {
    /// A child task's future with the values its spawner saw.
    pub(crate) struct Inherit<F> {
        locals: Locals,
        // `None` once dropped in place by `drop`.
        #[pin]
        future: Option<F>,
    }

    impl<F> PinnedDrop for Inherit<F> {
        fn drop(this: Pin<&mut Self>) {
            // Destructors (a cancelled child's cleanup) still see the values.
            let this = this.project();
            let mut future = this.future;
            swapped_in(this.locals, || future.set(None));
        }
    }
}

impl<F> Inherit<F> {
    fn new(frame: Arc<Frame>, future: F) -> Inherit<F> {
        Inherit {
            locals: Some(frame),
            future: Some(future),
        }
    }
}

impl<F: Future> Future for Inherit<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let future = this.future.as_pin_mut();
        swapped_in(this.locals, || {
            future
                .expect("Inherit: polled after its future was dropped")
                .poll(cx)
        })
    }
}

/// A task-local key, declared with [`task_local!`](crate::task_local).
///
/// ```
/// use std::time::{Duration, Instant};
///
/// nursery_runtime::task_local! {
///     /// When the request must be answered.
///     pub static DEADLINE: Instant;
/// }
///
/// let rt = nursery_runtime::Runtime::new().unwrap();
/// let deadline = Instant::now() + Duration::from_secs(5);
/// rt.block_on(DEADLINE.scope(deadline, async move {
///     // A child sees the deadline its parent set.
///     let left = nursery_runtime::spawn(async { DEADLINE.get() - Instant::now() });
///     assert!(left.await.unwrap() <= Duration::from_secs(5));
///     // Synchronous code can set a value too.
///     DEADLINE.sync_scope(deadline + Duration::from_secs(1), || {
///         assert_eq!(DEADLINE.get(), deadline + Duration::from_secs(1));
///     });
///     assert_eq!(DEADLINE.get(), deadline);
/// }));
/// ```
pub struct LocalKey<T: 'static> {
    name: &'static str,
    _value: PhantomData<fn() -> T>,
}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn __new(name: &'static str) -> LocalKey<T> {
        LocalKey {
            name,
            _value: PhantomData,
        }
    }

    /// The key's identity: the address of its `static` (never zero-sized, so never shared).
    fn id(&'static self) -> usize {
        std::ptr::from_ref(self).cast::<()>() as usize
    }
}

impl<T: Send + Sync + 'static> LocalKey<T> {
    /// Runs `future` with the key set to `value`; tasks spawned inside inherit it.
    ///
    /// ```
    /// nursery_runtime::task_local! { static USER: String; }
    ///
    /// nursery_runtime::Runtime::new().unwrap().block_on(async {
    ///     let greeting = USER.scope("ada".to_owned(), async { USER.with(|u| format!("hi {u}")) });
    ///     assert_eq!(greeting.await, "hi ada");
    /// });
    /// ```
    pub fn scope<F: Future>(&'static self, value: T, future: F) -> TaskLocalFuture<T, F> {
        TaskLocalFuture {
            key: self,
            value: Arc::new(value),
            locals: None,
            future: Some(future),
        }
    }

    /// Runs `f` with the key set to `value`.
    ///
    /// ```
    /// nursery_runtime::task_local! { static DEPTH: u32; }
    ///
    /// assert_eq!(DEPTH.sync_scope(3, || DEPTH.get() + 1), 4);
    /// ```
    pub fn sync_scope<F: FnOnce() -> R, R>(&'static self, value: T, f: F) -> R {
        let mut locals = Some(Arc::new(Frame {
            key: self.id(),
            value: Arc::new(value),
            next: snapshot(),
        }));
        swapped_in(&mut locals, f)
    }

    /// Calls `f` with the value the running code sees.
    ///
    /// ```
    /// nursery_runtime::task_local! { static TENANT: &'static str; }
    ///
    /// TENANT.sync_scope("acme", || TENANT.with(|t| assert_eq!(*t, "acme")));
    /// ```
    ///
    /// # Panics
    /// If the key is not set here (see [`try_with`](LocalKey::try_with)), with a message naming it.
    #[track_caller]
    pub fn with<F: FnOnce(&T) -> R, R>(&'static self, f: F) -> R {
        self.try_with(f).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Calls `f` with the value the running code sees, or fails if the key is not set here.
    ///
    /// ```
    /// nursery_runtime::task_local! { static TRACE: u128; }
    ///
    /// let err = TRACE.try_with(|t| *t).unwrap_err();
    /// assert!(err.to_string().contains("`TRACE` is not set"));
    /// ```
    pub fn try_with<F: FnOnce(&T) -> R, R>(&'static self, f: F) -> Result<R, AccessError> {
        let id = self.id();
        // The value is cloned out so that `f` may set values or spawn freely.
        let value = CURRENT
            .try_with(|c| {
                let locals = c.borrow();
                let mut frame = locals.as_deref();
                while let Some(f) = frame {
                    if f.key == id {
                        return Some(f.value.clone());
                    }
                    frame = f.next.as_deref();
                }
                None
            })
            .ok()
            .flatten();
        match value.as_deref().and_then(|v| v.downcast_ref::<T>()) {
            Some(value) => Ok(f(value)),
            None => Err(AccessError { name: self.name }),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> LocalKey<T> {
    /// A copy of the value the running code sees.
    ///
    /// ```
    /// nursery_runtime::task_local! { static ATTEMPT: u8; }
    ///
    /// assert_eq!(ATTEMPT.sync_scope(2, || ATTEMPT.get()), 2);
    /// ```
    ///
    /// # Panics
    /// If the key is not set here, like [`with`](LocalKey::with).
    #[track_caller]
    pub fn get(&'static self) -> T {
        self.with(T::clone)
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey")
            .field("name", &self.name)
            .finish()
    }
}

/// A task-local key read where it is not set: outside any [`LocalKey::scope`] or
/// [`LocalKey::sync_scope`] of it, in a task spawned from outside one.
///
/// ```
/// nursery_runtime::task_local! { static REQUEST_ID: u64; }
///
/// let err: nursery_runtime::task::AccessError = REQUEST_ID.try_with(|id| *id).unwrap_err();
/// assert!(err.to_string().starts_with("task-local `REQUEST_ID` is not set"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AccessError {
    name: &'static str,
}

impl fmt::Debug for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name;
        write!(
            f,
            "task-local `{name}` is not set: read it inside `{name}.scope(..)` or \
             `{name}.sync_scope(..)`, or in a task spawned from there"
        )
    }
}

impl std::error::Error for AccessError {}

pin_project! {
    /// The future of [`LocalKey::scope`]: `future` with the key set while it is polled (and
    /// dropped).
    pub struct TaskLocalFuture<T: 'static, F> {
        key: &'static LocalKey<T>,
        value: Arc<dyn Any + Send + Sync>,
        // The frame for the values around it when last polled; rebuilt only if those change.
        locals: Locals,
        #[pin]
        future: Option<F>,
    }

    impl<T: 'static, F> PinnedDrop for TaskLocalFuture<T, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if this.future.is_some() {
                refresh(this.locals, this.key.id(), this.value);
                let mut future = this.future;
                swapped_in(this.locals, || future.set(None));
            }
        }
    }
}

/// Makes `*locals` the frame for `key = value` over the values the running code sees; it
/// allocates only when those have changed since the last call (the first poll, or a future
/// moved to another task).
fn refresh(locals: &mut Locals, key: usize, value: &Arc<dyn Any + Send + Sync>) {
    let _ = CURRENT.try_with(|c| {
        let outer = c.borrow();
        let current = match (locals.as_ref().map(|frame| &frame.next), outer.as_ref()) {
            (Some(None), None) => true,
            (Some(Some(next)), Some(outer)) => Arc::ptr_eq(next, outer),
            _ => false,
        };
        if !current {
            *locals = Some(Arc::new(Frame {
                key,
                value: value.clone(),
                next: outer.clone(),
            }));
        }
    });
}

impl<T: Send + Sync + 'static, F: Future> Future for TaskLocalFuture<T, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        refresh(this.locals, this.key.id(), this.value);
        let future = this.future.as_pin_mut();
        swapped_in(this.locals, || {
            future
                .expect("TaskLocalFuture: polled after its future was dropped")
                .poll(cx)
        })
    }
}

impl<T: 'static, F> fmt::Debug for TaskLocalFuture<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskLocalFuture")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}
