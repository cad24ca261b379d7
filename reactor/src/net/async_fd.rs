//! `AsyncFd`: readiness of any file descriptor the OS poller accepts (pipes,
//! eventfd, inotify, ...), for users to drive their own non-blocking I/O.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

use mio::unix::SourceFd;
use mio::Interest;

use crate::reactor::ReactorHandle;
use crate::ready::{Direction, ReadyEvent};
use crate::registration::{Registration, Waiter};

/// A file descriptor registered with the reactor, owning the value `T` it belongs to.
///
/// The descriptor must be in non-blocking mode (for example `O_NONBLOCK`): the
/// reactor only says *when* to try an operation; the operation itself is yours.
/// [`readable`](AsyncFd::readable) and [`writable`](AsyncFd::writable) wait until
/// the reactor saw the descriptor ready and hand back a guard; once an operation
/// returns `WouldBlock`, clear the readiness through the guard
/// ([`clear_ready`](AsyncFdReadyGuard::clear_ready), or
/// [`try_io`](AsyncFdReadyGuard::try_io), which does it for you) so that the next
/// wait blocks until the descriptor is ready again. Readiness may be spurious
/// (a new `AsyncFd` starts ready), so always be ready for `WouldBlock`.
///
/// Any number of tasks may wait on one `AsyncFd` (share it in an `Arc`): readiness
/// wakes every one. Dropping the `AsyncFd` removes the descriptor from the reactor
/// and drops `T` (closing the descriptor if `T` owns it); [`into_inner`](AsyncFd::into_inner)
/// removes it and gives `T` back.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// use nursery::net::AsyncFd;
///
/// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
/// rt.block_on(async {
///     let (reader, mut writer) = UnixStream::pair()?; // std, blocking types
///     reader.set_nonblocking(true)?;
///     let reader = AsyncFd::new(reader)?;
///     std::thread::spawn(move || writer.write_all(b"hello"));
///
///     let mut buf = [0; 5];
///     let mut filled = 0;
///     while filled < buf.len() {
///         let mut guard = reader.readable().await?;
///         match guard.try_io(|fd| fd.get_ref().read(&mut buf[filled..])) {
///             Ok(result) => filled += result?,
///             Err(_would_block) => continue, // readiness cleared: wait again
///         }
///     }
///     assert_eq!(&buf, b"hello");
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct AsyncFd<T: AsRawFd> {
    /// `Some` until `into_inner` takes it.
    inner: Option<T>,
    registration: Registration,
}

impl<T: AsRawFd> AsyncFd<T> {
    /// Registers the descriptor of `inner` (readable and writable, edge-triggered)
    /// with the current reactor.
    ///
    /// # Panics
    ///
    /// When no nursery reactor is entered on this thread.
    ///
    /// # Errors
    ///
    /// The error of registering, with a message naming `AsyncFd::new`: for
    /// example `PermissionDenied` for a regular file or a directory, which epoll
    /// refuses (they are always ready; read them on the blocking pool instead).
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::AsyncFd;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let file = std::fs::File::open("Cargo.toml")?;
    ///     let error = AsyncFd::new(file).unwrap_err(); // epoll refuses regular files
    ///     assert_eq!(error.kind(), std::io::ErrorKind::PermissionDenied);
    ///     assert!(error.to_string().contains("AsyncFd::new"));
    ///
    ///     let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     let fd = AsyncFd::new(a)?;
    ///     assert!(fd.get_ref().peer_addr().is_ok());
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn new(inner: T) -> io::Result<AsyncFd<T>> {
        AsyncFd::with_handle(inner, &ReactorHandle::current())
    }

    fn with_handle(inner: T, handle: &ReactorHandle) -> io::Result<AsyncFd<T>> {
        let fd = inner.as_raw_fd();
        let mut registration = Registration::new(
            &mut SourceFd(&fd),
            Interest::READABLE | Interest::WRITABLE,
            handle,
        )
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "AsyncFd::new: the reactor cannot watch file descriptor {fd}: {e} \
                     (epoll refuses regular files and directories)"
                ),
            )
        })?;
        registration.set_fd(fd);
        Ok(AsyncFd {
            inner: Some(inner),
            registration,
        })
    }

    /// The value the descriptor belongs to.
    ///
    /// # Examples
    ///
    /// See [`AsyncFd`].
    pub fn get_ref(&self) -> &T {
        self.inner_ref()
    }

    /// The value the descriptor belongs to, mutably.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read};
    /// use nursery::net::AsyncFd;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     let mut fd = AsyncFd::new(a)?;
    ///     let error = fd.get_mut().read(&mut [0; 4]).unwrap_err();
    ///     assert_eq!(error.kind(), ErrorKind::WouldBlock); // nothing sent yet
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        match &mut self.inner {
            Some(inner) => inner,
            None => unreachable!("AsyncFd: the inner value is only taken by into_inner"),
        }
    }

    /// Removes the descriptor from the reactor and gives back the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::AsyncFd;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     let fd = AsyncFd::new(a)?;
    ///     let a = fd.into_inner(); // the std socket again, still open
    ///     assert!(a.peer_addr().is_ok());
    ///     let _again = AsyncFd::new(a)?; // and registrable again
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_inner(mut self) -> T {
        self.deregister();
        match self.inner.take() {
            Some(inner) => inner,
            None => unreachable!("AsyncFd: the inner value is only taken by into_inner"),
        }
    }

    /// Waits until the descriptor is readable (or read-closed, or has an error).
    ///
    /// Cancel-safe: a dropped future leaves no trace.
    ///
    /// # Errors
    ///
    /// The shutdown error once the runtime has shut down.
    ///
    /// # Examples
    ///
    /// See [`AsyncFd`] and [`AsyncFdReadyGuard::clear_ready`].
    pub async fn readable(&self) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        self.ready(Direction::Read).await
    }

    /// Waits until the descriptor is writable (or write-closed, or has an error).
    ///
    /// Cancel-safe: a dropped future leaves no trace.
    ///
    /// # Errors
    ///
    /// The shutdown error once the runtime has shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use nursery::net::AsyncFd;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     let fd = AsyncFd::new(a)?;
    ///     let mut guard = fd.writable().await?;
    ///     let written = guard.try_io(|fd| fd.get_ref().write(b"hi"));
    ///     assert_eq!(written.ok().transpose()?, Some(2));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn writable(&self) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        self.ready(Direction::Write).await
    }

    async fn ready(&self, direction: Direction) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        let mut waiter = Waiter::new(&self.registration, direction);
        let event = poll_fn(|cx| waiter.poll_ready(cx)).await?;
        Ok(AsyncFdReadyGuard {
            async_fd: self,
            event: Some(event),
        })
    }

    fn inner_ref(&self) -> &T {
        match &self.inner {
            Some(inner) => inner,
            None => unreachable!("AsyncFd: the inner value is only taken by into_inner"),
        }
    }

    fn deregister(&mut self) {
        if let Some(inner) = &self.inner {
            let fd = inner.as_raw_fd();
            // An error here (the reactor's poller is gone) leaves nothing to clean up.
            let _ = self.registration.deregister(&mut SourceFd(&fd));
        }
    }
}

impl<T: AsRawFd> AsRawFd for AsyncFd<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.inner_ref().as_raw_fd()
    }
}

impl<T: AsRawFd> Drop for AsyncFd<T> {
    fn drop(&mut self) {
        // Leave the poller before `inner` (and perhaps its descriptor) goes.
        self.deregister();
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFd")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// The readiness an [`AsyncFd::readable`] or [`AsyncFd::writable`] saw.
///
/// Dropping it keeps the readiness (the next wait returns at once); clear it
/// once an operation returned `WouldBlock`.
pub struct AsyncFdReadyGuard<'a, T: AsRawFd> {
    async_fd: &'a AsyncFd<T>,
    /// `None` once cleared.
    event: Option<ReadyEvent>,
}

/// [`AsyncFdReadyGuard::try_io`]'s answer when the operation would block: the
/// readiness is cleared, wait again.
#[derive(Debug)]
pub struct TryIoError(());

impl<'a, T: AsRawFd> AsyncFdReadyGuard<'a, T> {
    /// Clears the readiness this guard saw, so that the next wait blocks until
    /// the reactor sees the descriptor ready again (unless an event already
    /// arrived since the wait returned: then it stays, and nothing is missed).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read, Write};
    /// use nursery::net::AsyncFd;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     let fd = AsyncFd::new(a)?;
    ///     let mut guard = fd.readable().await?; // a new AsyncFd starts ready
    ///     let error = fd.get_ref().read(&mut [0; 4]).unwrap_err();
    ///     assert_eq!(error.kind(), ErrorKind::WouldBlock);
    ///     guard.clear_ready(); // the next wait waits for the reactor to see more
    ///     b.write_all(b"ping")?;
    ///     let _guard = fd.readable().await?;
    ///     assert_eq!(fd.get_ref().read(&mut [0; 4])?, 4);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn clear_ready(&mut self) {
        if let Some(event) = self.event.take() {
            self.async_fd.registration.clear_readiness(event);
        }
    }

    /// Runs `f`; if it returns `WouldBlock`, clears the readiness and returns
    /// `Err(TryIoError)` (wait again), otherwise returns its result.
    ///
    /// # Errors
    ///
    /// `Err(TryIoError)` when `f` would block.
    ///
    /// # Examples
    ///
    /// See [`AsyncFd`].
    pub fn try_io<R>(
        &mut self,
        f: impl FnOnce(&'a AsyncFd<T>) -> io::Result<R>,
    ) -> Result<io::Result<R>, TryIoError> {
        match f(self.async_fd) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.clear_ready();
                Err(TryIoError(()))
            }
            result => Ok(result),
        }
    }

    /// The `AsyncFd` this guard belongs to.
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery::net::AsyncFd;
    ///
    /// let rt = nursery::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {
    ///     let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     let fd = AsyncFd::new(a)?;
    ///     let guard = fd.writable().await?;
    ///     assert!(std::ptr::eq(guard.get_ref(), &fd));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn get_ref(&self) -> &'a AsyncFd<T> {
        self.async_fd
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFdReadyGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFdReadyGuard")
            .field("async_fd", &self.async_fd)
            .field("cleared", &self.event.is_none())
            .finish()
    }
}
