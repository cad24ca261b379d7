//! Why a task produced no value: it was cancelled, or it (or a child it could not outlive) panicked.

use std::any::Any;
use std::fmt;
use std::panic::Location;

/// A failure travelling up the tree: the panic payload and who raised it.
pub(crate) struct Failure {
    pub(crate) payload: Box<dyn Any + Send>,
    pub(crate) message: String,
    /// `'name'` or `task#id` of the task that panicked first.
    pub(crate) task: String,
    pub(crate) location: Option<&'static Location<'static>>,
}

impl Failure {
    pub(crate) fn new(
        payload: Box<dyn Any + Send>,
        task: String,
        location: Option<&'static Location<'static>>,
    ) -> Failure {
        let message = panic_message(&*payload);
        Failure {
            payload,
            message,
            task,
            location,
        }
    }

    /// A copy without the payload, for the handles the failure passed through.
    pub(crate) fn summary(&self) -> Failure {
        Failure {
            payload: Box::new(self.describe()),
            message: self.message.clone(),
            task: self.task.clone(),
            location: self.location,
        }
    }

    fn describe(&self) -> String {
        match self.location {
            Some(at) => format!(
                "task {} (spawned at {at}) panicked: {}",
                self.task, self.message
            ),
            None => format!("task {} panicked: {}", self.task, self.message),
        }
    }

    /// The payload to re-raise at the parent's await point: for string panics a `String` naming
    /// the task, otherwise the original payload so that `downcast` keeps working.
    pub(crate) fn into_resume_payload(self) -> Box<dyn Any + Send> {
        if self.payload.is::<&'static str>() || self.payload.is::<String>() {
            Box::new(self.describe())
        } else {
            self.payload
        }
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

/// The error a [`JoinHandle`](crate::JoinHandle) resolves to when its task produced no value.
///
/// A task either was cancelled or panicked. (A panic is seen here only where it stays with
/// the task: under the runtime's root or in a supervised scope. Elsewhere it cancels the
/// siblings and is re-raised where the parent waits.)
///
/// ```
/// use nursery_runtime::JoinError;
///
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// let (cancelled, panicked): (JoinError, JoinError) =
///     rt.block_on(nursery_runtime::supervised(|s| async move {
///         let forever = s.spawn(std::future::pending::<()>());
///         forever.cancel();
///         let crash = s.spawn(async { panic!("bad input") });
///         (forever.await.unwrap_err(), crash.await.unwrap_err())
///     }));
/// assert!(cancelled.is_cancelled());
/// assert_eq!(cancelled.to_string(), "task was cancelled");
/// assert!(panicked.is_panic());
/// assert!(panicked.to_string().ends_with("panicked: bad input"), "{panicked}");
/// ```
pub struct JoinError {
    repr: Repr,
}

enum Repr {
    Cancelled,
    Panic(Failure),
}

impl JoinError {
    pub(crate) fn cancelled() -> JoinError {
        JoinError {
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(failure: Failure) -> JoinError {
        JoinError {
            repr: Repr::Panic(failure),
        }
    }

    /// The task was cancelled before it finished.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     let forever = nursery_runtime::spawn(std::future::pending::<()>());
    ///     forever.cancel();
    ///     let err = forever.await.unwrap_err();
    ///     assert!(err.is_cancelled());
    ///     assert!(!err.is_panic());
    /// });
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The task, or a child whose failure it inherited, panicked.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let err = rt.block_on(nursery_runtime::supervised(|s| async move {
    ///     s.spawn(async { panic!("bad input") }).await.unwrap_err()
    /// }));
    /// assert!(err.is_panic());
    /// assert!(!err.is_cancelled());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic payload, for `std::panic::resume_unwind`.
    ///
    /// A string panic comes back as a `String` naming the task that panicked; any other payload
    /// comes back unchanged.
    ///
    /// # Panics
    /// If the error is a cancellation (check [`is_panic`](Self::is_panic) first).
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let err = rt.block_on(nursery_runtime::supervised(|s| async move {
    ///     s.spawn(async { std::panic::panic_any(42u32) }).await.unwrap_err()
    /// }));
    /// let payload = err.into_panic();
    /// assert_eq!(payload.downcast_ref::<u32>(), Some(&42)); // a non-string payload, unchanged
    /// // To propagate it instead: std::panic::resume_unwind(payload)
    /// ```
    pub fn into_panic(self) -> Box<dyn Any + Send> {
        match self.try_into_panic() {
            Ok(p) => p,
            Err(_) => panic!("JoinError::into_panic called on a cancellation, not a panic"),
        }
    }

    /// The panic payload, or the error back if it was a cancellation.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let (cancelled, panicked) = rt.block_on(nursery_runtime::supervised(|s| async move {
    ///     let forever = s.spawn(std::future::pending::<()>());
    ///     forever.cancel();
    ///     let crash = s.spawn(async { panic!("bad input") });
    ///     (forever.await.unwrap_err(), crash.await.unwrap_err())
    /// }));
    /// assert!(cancelled.try_into_panic().unwrap_err().is_cancelled());
    /// let payload = panicked.try_into_panic().unwrap();
    /// // A string panic comes back as a `String` naming the task.
    /// let message = payload.downcast_ref::<String>().unwrap();
    /// assert!(message.starts_with("task task#") && message.ends_with("panicked: bad input"));
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self.repr {
            Repr::Panic(f) => Ok(f.into_resume_payload()),
            Repr::Cancelled => Err(self),
        }
    }

    /// The panic message, if this is a panic with a string payload.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let err = rt.block_on(nursery_runtime::supervised(|s| async move {
    ///     s.spawn(async { panic!("bad input") }).await.unwrap_err()
    /// }));
    /// assert_eq!(err.panic_message(), Some("bad input"));
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match &self.repr {
            Repr::Panic(f) => Some(&f.message),
            Repr::Cancelled => None,
        }
    }

    /// The name (or `task#id`) of the task that panicked first.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let err = rt.block_on(nursery_runtime::supervised(|s| async move {
    ///     let parser = nursery_runtime::task::Builder::new()
    ///         .name("parser")
    ///         .spawn_in(&s, async { panic!("bad input") });
    ///     parser.await.unwrap_err()
    /// }));
    /// assert_eq!(err.task_name(), Some("'parser'"));
    /// ```
    pub fn task_name(&self) -> Option<&str> {
        match &self.repr {
            Repr::Panic(f) => Some(&f.task),
            Repr::Cancelled => None,
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("task was cancelled"),
            Repr::Panic(failure) => f.write_str(&failure.describe()),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("JoinError::Cancelled"),
            Repr::Panic(failure) => write!(f, "JoinError::Panic({failure:?})"),
        }
    }
}

impl std::error::Error for JoinError {}

/// Spawning failed: the parent has completed, or a scope's concurrency limit is reached.
///
/// ```
/// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
/// let handle = rt.handle().clone();
/// drop(rt);
/// let err: nursery_runtime::SpawnError = handle.try_spawn(async {}).unwrap_err();
/// assert!(err.is_closed());
/// assert!(err.to_string().starts_with("cannot spawn into a closed runtime"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpawnError {
    kind: SpawnErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SpawnErrorKind {
    Closed(&'static str),
    Full(usize),
    OtherRuntime,
}

impl SpawnError {
    pub(crate) fn closed(what: &'static str) -> SpawnError {
        SpawnError {
            kind: SpawnErrorKind::Closed(what),
        }
    }

    pub(crate) fn other_runtime() -> SpawnError {
        SpawnError {
            kind: SpawnErrorKind::OtherRuntime,
        }
    }

    // Runtime plumbing (the runtime crate needs it); not part of the user-facing API.
    #[doc(hidden)]
    /// The scope already runs `limit` children (see `Scope::set_limit`); its message names the
    /// limit ("limit of 4 children").
    pub fn full(limit: usize) -> SpawnError {
        SpawnError {
            kind: SpawnErrorKind::Full(limit),
        }
    }

    /// The parent (scope, task or runtime) has completed: nothing can be spawned into it.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let escaped = rt.block_on(nursery_runtime::scope(|s| async move { s })); // returned: closed
    /// let err = escaped.try_spawn(async {}).unwrap_err();
    /// assert!(err.is_closed());
    /// assert!(!err.is_full());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self.kind, SpawnErrorKind::Closed(_))
    }

    /// The scope's concurrency limit is reached.
    ///
    /// ```
    /// let rt = nursery_runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// rt.block_on(nursery_runtime::scope(|s| async move {
    ///     s.set_limit(1);
    ///     let busy = s.spawn(std::future::pending::<()>());
    ///     let err = s.try_spawn(async {}).unwrap_err();
    ///     assert!(err.is_full());
    ///     assert!(!err.is_closed());
    ///     busy.cancel();
    /// }));
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self.kind, SpawnErrorKind::Full(_))
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            SpawnErrorKind::Closed("runtime") => f.write_str(
                "cannot spawn into a closed runtime: it has been shut down (dropped); \
                 keep the Runtime alive while you spawn onto its Handle",
            ),
            SpawnErrorKind::Closed(what) => write!(
                f,
                "cannot spawn into a closed {what}: it has already completed and every child \
                 is gone; spawn while it is still open (from its body or its children)"
            ),
            SpawnErrorKind::Full(limit) => write!(
                f,
                "the scope already runs its limit of {limit} children: wait for a free slot \
                 with `spawn_wait(..).await`, or use `try_spawn` and handle the error"
            ),
            SpawnErrorKind::OtherRuntime => f.write_str(
                "cannot spawn under a task or scope of another runtime: a task runs on the \
                 workers of the runtime whose tree it is in; spawn through that runtime's \
                 Handle or Scope instead",
            ),
        }
    }
}

impl std::error::Error for SpawnError {}
