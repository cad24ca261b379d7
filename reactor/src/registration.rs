//! One mio source's place in the reactor: its token, readiness and waiters, and the
//! [`Waiter`] that a future of the net types holds to wait there in a place of its own.

use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use mio::event::Source;
use mio::{Interest, Token};

use crate::reactor::{self, ReactorHandle};
use crate::ready::{Direction, ReadyEvent};
use crate::scheduled_io::ScheduledIo;
use crate::waiters::WaiterKey;

/// No readiness observed yet: matches no tick, so a clear does nothing.
const NO_TICK: usize = usize::MAX;

/// A mio source registered with a [`Reactor`](crate::Reactor).
///
/// It tracks readiness per direction (read: readable, read-closed, error;
/// write: writable, write-closed, error) and the tasks waiting on each: any
/// number of tasks may poll the same direction, and its readiness wakes them
/// all (a task that polls again is listed once; one that stops polling is
/// forgotten by the time its direction is next ready, or sooner).
///
/// The `Registration` does not own the source. Dropping it frees its slot (so
/// events still queued for it are ignored), but only
/// [`deregister`](Registration::deregister) or closing the source removes the
/// source from the OS poller.
///
/// # Examples
///
/// ```
/// use std::future::poll_fn;
/// use std::io::Write;
/// use nursery_reactor::{Reactor, Registration};
///
/// let mut reactor = Reactor::new()?;
/// let (mut a, mut b) = mio::net::UnixStream::pair()?;
/// let mut reg = Registration::new(&mut a, mio::Interest::READABLE, &reactor.handle())?;
/// b.write_all(b"hi")?;
/// reactor.turn(Some(std::time::Duration::from_secs(5)))?;
/// futures::executor::block_on(poll_fn(|cx| reg.poll_read_ready(cx)))?;
/// reg.deregister(&mut a)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Registration {
    handle: ReactorHandle,
    token: Token,
    io: Arc<ScheduledIo>,
    /// The tick seen by the last successful `poll_read_ready`, for `clear_read_ready`.
    read_tick: AtomicUsize,
    /// The tick seen by the last successful `poll_write_ready`, for `clear_write_ready`.
    write_tick: AtomicUsize,
    /// Whether the slot is still ours (false after `deregister`).
    in_slab: bool,
    /// The source's file descriptor, for the wait hook (`-1`: not known).
    fd: RawFd,
}

impl Registration {
    /// Registers `source` with `handle`'s reactor for `interest`.
    ///
    /// The net types register with `READABLE | WRITABLE` (edge-triggered).
    ///
    /// # Errors
    ///
    /// "the nursery runtime has shut down" after [`ReactorHandle::shutdown`];
    /// otherwise whatever the OS returns from registering the source.
    ///
    /// # Examples
    ///
    /// ```
    /// use mio::Interest;
    /// use nursery_reactor::{Reactor, Registration};
    ///
    /// let reactor = Reactor::new()?;
    /// let handle = reactor.handle();
    /// let (mut a, mut b) = mio::net::UnixStream::pair()?;
    /// let mut reg = Registration::new(&mut a, Interest::READABLE | Interest::WRITABLE, &handle)?;
    /// assert_eq!(handle.registrations(), 1);
    /// reg.deregister(&mut a)?;
    ///
    /// handle.shutdown();
    /// assert!(Registration::new(&mut b, Interest::READABLE, &handle).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new<S: Source + ?Sized>(
        source: &mut S,
        interest: Interest,
        handle: &ReactorHandle,
    ) -> io::Result<Registration> {
        let (token, io) = handle.add_source(source, interest)?;
        Ok(Registration {
            handle: handle.clone(),
            token,
            io,
            read_tick: AtomicUsize::new(NO_TICK),
            write_tick: AtomicUsize::new(NO_TICK),
            in_slab: true,
            fd: -1,
        })
    }

    /// The handle of the reactor this source is registered with.
    ///
    /// # Examples
    ///
    /// ```
    /// use mio::Interest;
    /// use nursery_reactor::{Reactor, Registration};
    ///
    /// let reactor = Reactor::new()?;
    /// let (mut a, _b) = mio::net::UnixStream::pair()?;
    /// let reg = Registration::new(&mut a, Interest::READABLE, &reactor.handle())?;
    /// assert_eq!(reg.handle().registrations(), 1); // `reactor`'s: this one
    /// assert!(!reg.handle().is_shutdown());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn handle(&self) -> &ReactorHandle {
        &self.handle
    }

    /// The mio token of this registration (slab index and generation).
    ///
    /// # Examples
    ///
    /// ```
    /// use mio::Interest;
    /// use nursery_reactor::{Reactor, Registration};
    ///
    /// let reactor = Reactor::new()?;
    /// let (mut a, mut b) = mio::net::UnixStream::pair()?;
    /// let reg_a = Registration::new(&mut a, Interest::READABLE, &reactor.handle())?;
    /// let reg_b = Registration::new(&mut b, Interest::READABLE, &reactor.handle())?;
    /// assert_ne!(reg_a.token(), reg_b.token()); // events find their registration by it
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn token(&self) -> Token {
        self.token
    }

    /// The slab slot of this registration; a later registration may reuse it
    /// after this one is dropped (with another generation in its token).
    ///
    /// # Examples
    ///
    /// ```
    /// use mio::Interest;
    /// use nursery_reactor::{Reactor, Registration};
    ///
    /// let reactor = Reactor::new()?;
    /// let (mut a, _b) = mio::net::UnixStream::pair()?;
    /// let mut first = Registration::new(&mut a, Interest::READABLE, &reactor.handle())?;
    /// let (slot, token) = (first.slot(), first.token());
    /// first.deregister(&mut a)?;
    ///
    /// let second = Registration::new(&mut a, Interest::READABLE, &reactor.handle())?;
    /// assert_eq!(second.slot(), slot); // the slot is reused...
    /// assert_ne!(second.token(), token); // ...under a new generation
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn slot(&self) -> usize {
        crate::token::unpack(self.token).0
    }

    /// Ready when the source is readable, read-closed or has an error; otherwise
    /// adds the waker to the readers (once per task) and returns `Pending`.
    ///
    /// # Errors
    ///
    /// After shutdown or deregistration, the corresponding error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read, Write};
    /// use std::task::Context;
    /// use std::time::Duration;
    /// use mio::Interest;
    /// use nursery_reactor::{Reactor, Registration};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let (mut a, mut b) = mio::net::UnixStream::pair()?;
    /// let reg = Registration::new(&mut a, Interest::READABLE, &reactor.handle())?;
    /// let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    ///
    /// // A new registration starts ready: its first read is simply tried.
    /// assert!(reg.poll_read_ready(&mut cx).is_ready());
    /// assert_eq!(a.read(&mut [0; 8]).unwrap_err().kind(), ErrorKind::WouldBlock);
    /// reg.clear_read_ready();
    /// assert!(reg.poll_read_ready(&mut cx).is_pending()); // the waker is stored
    ///
    /// b.write_all(b"hi")?;
    /// reactor.turn(Some(Duration::from_secs(5)))?; // applies the event, wakes the waker
    /// assert!(reg.poll_read_ready(&mut cx).is_ready());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready_recorded(cx, Direction::Read)
    }

    /// Ready when the source is writable, write-closed or has an error; otherwise
    /// adds the waker to the writers (once per task) and returns `Pending`.
    ///
    /// # Errors
    ///
    /// After shutdown or deregistration, the corresponding error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use std::task::Context;
    /// use mio::Interest;
    /// use nursery_reactor::{Reactor, Registration};
    ///
    /// let reactor = Reactor::new()?;
    /// let (mut a, _b) = mio::net::UnixStream::pair()?;
    /// let reg = Registration::new(&mut a, Interest::WRITABLE, &reactor.handle())?;
    /// let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    /// assert!(reg.poll_write_ready(&mut cx).is_ready()); // new registrations start ready
    /// assert_eq!(a.write(b"hi")?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready_recorded(cx, Direction::Write)
    }

    /// Clears read readiness after an operation returned `WouldBlock`.
    ///
    /// It clears only what the last successful [`poll_read_ready`] saw: if an
    /// event arrived since, the readiness stays and the next poll is ready at
    /// once, so the data of that event is not lost.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read, Write};
    /// use std::task::Context;
    /// use std::time::Duration;
    /// use mio::Interest;
    /// use nursery_reactor::{Reactor, Registration};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let (mut a, mut b) = mio::net::UnixStream::pair()?;
    /// let reg = Registration::new(&mut a, Interest::READABLE, &reactor.handle())?;
    /// let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    /// let mut buf = [0; 8];
    ///
    /// assert!(reg.poll_read_ready(&mut cx).is_ready());
    /// assert_eq!(a.read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    /// // Data arrives, and its event is applied, between the failed read and the clear:
    /// b.write_all(b"hi")?;
    /// reactor.turn(Some(Duration::from_secs(5)))?;
    /// reg.clear_read_ready(); // keeps the readiness: an event came after the poll
    /// assert!(reg.poll_read_ready(&mut cx).is_ready());
    /// assert_eq!(a.read(&mut buf)?, 2); // the data is not missed
    ///
    /// assert_eq!(a.read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    /// reg.clear_read_ready(); // nothing came since: cleared
    /// assert!(reg.poll_read_ready(&mut cx).is_pending());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// [`poll_read_ready`]: Registration::poll_read_ready
    pub fn clear_read_ready(&self) {
        self.clear_recorded(Direction::Read);
    }

    /// Clears write readiness after an operation returned `WouldBlock`; see
    /// [`clear_read_ready`](Registration::clear_read_ready).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read, Write};
    /// use std::task::Context;
    /// use std::time::Duration;
    /// use mio::Interest;
    /// use nursery_reactor::{Reactor, Registration};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let (mut a, mut b) = mio::net::UnixStream::pair()?;
    /// let reg = Registration::new(&mut a, Interest::WRITABLE, &reactor.handle())?;
    /// let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    ///
    /// // Fill the socket buffer until the write would block, then clear.
    /// let chunk = [0; 64 * 1024];
    /// let mut sent = 0;
    /// while reg.poll_write_ready(&mut cx).is_ready() {
    ///     match a.write(&chunk) {
    ///         Ok(n) => sent += n,
    ///         Err(e) if e.kind() == ErrorKind::WouldBlock => reg.clear_write_ready(),
    ///         Err(e) => return Err(e),
    ///     }
    ///     reactor.turn(Some(Duration::ZERO))?; // events of the writes so far
    /// }
    ///
    /// // Pending now; draining the peer makes room, and its event makes it ready.
    /// let mut received = 0;
    /// while received < sent {
    ///     received += b.read(&mut [0; 64 * 1024])?;
    /// }
    /// reactor.turn(Some(Duration::from_secs(5)))?;
    /// assert!(reg.poll_write_ready(&mut cx).is_ready());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn clear_write_ready(&self) {
        self.clear_recorded(Direction::Write);
    }

    /// Runs `op` while the source is read-ready until it does not return `WouldBlock`.
    ///
    /// On `WouldBlock` the readiness `op` acted on is cleared (unless an event
    /// arrived meanwhile, in which case `op` runs again) and, once nothing is
    /// ready, `Pending` is returned with the waker stored. `Interrupted` is
    /// retried. Any other result, error included, is returned as is and leaves
    /// the readiness set, so the next call runs `op` again at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::task::{Context, Poll};
    /// use std::time::Duration;
    /// use mio::Interest;
    /// use nursery_reactor::{Reactor, Registration};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let (mut a, mut b) = mio::net::UnixStream::pair()?;
    /// let reg = Registration::new(&mut a, Interest::READABLE, &reactor.handle())?;
    /// let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    /// let mut buf = [0; 8];
    ///
    /// // Nothing to read: the `WouldBlock` clears the readiness, and the call waits.
    /// assert!(reg.poll_read_io(&mut cx, || a.read(&mut buf)).is_pending());
    ///
    /// b.write_all(b"hi")?;
    /// reactor.turn(Some(Duration::from_secs(5)))?;
    /// let read = reg.poll_read_io(&mut cx, || a.read(&mut buf));
    /// assert!(matches!(read, Poll::Ready(Ok(2))));
    /// assert_eq!(&buf[..2], b"hi");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_read_io<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io(cx, Direction::Read, None, op, |_| false)
    }

    /// Runs `op` while the source is write-ready; see
    /// [`poll_read_io`](Registration::poll_read_io).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::task::{Context, Poll};
    /// use mio::Interest;
    /// use nursery_reactor::{Reactor, Registration};
    ///
    /// let reactor = Reactor::new()?;
    /// let (mut a, mut b) = mio::net::UnixStream::pair()?;
    /// let reg = Registration::new(&mut a, Interest::WRITABLE, &reactor.handle())?;
    /// let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    ///
    /// let written = reg.poll_write_io(&mut cx, || a.write(b"hi"));
    /// assert!(matches!(written, Poll::Ready(Ok(2))));
    /// let mut buf = [0; 2];
    /// b.read_exact(&mut buf)?;
    /// assert_eq!(&buf, b"hi");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_write_io<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io(cx, Direction::Write, None, op, |_| false)
    }

    /// Removes `source` (the one this registration was made for) from the
    /// reactor and frees the slot. Later polls fail; tasks waiting are woken
    /// and see that error.
    ///
    /// # Errors
    ///
    /// Whatever the OS returns from deregistering the source; the slot is freed
    /// either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::{Context, Poll};
    /// use mio::Interest;
    /// use nursery_reactor::{Reactor, Registration};
    ///
    /// let reactor = Reactor::new()?;
    /// let (mut a, _b) = mio::net::UnixStream::pair()?;
    /// let mut reg = Registration::new(&mut a, Interest::READABLE, &reactor.handle())?;
    /// reg.deregister(&mut a)?;
    /// assert_eq!(reactor.handle().registrations(), 0);
    /// let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    /// assert!(matches!(reg.poll_read_ready(&mut cx), Poll::Ready(Err(_)))); // polls fail now
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn deregister<S: Source + ?Sized>(&mut self, source: &mut S) -> io::Result<()> {
        let result = self.handle.deregister_source(source);
        self.free_slot();
        let mut wakers = Vec::new();
        self.io.deregistered(&mut wakers);
        reactor::wake_all(&mut wakers);
        result
    }

    /// Polls `direction` (waiting as an anonymous waiter), returning the exact snapshot for a
    /// later `clear_readiness`.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        self.wait(cx, direction, None)
    }

    /// Says which file descriptor this registration watches, so that a task waiting on it can
    /// be shown with it in the runtime's task-tree dump (see [`set_wait_hook`](crate::set_wait_hook)).
    /// The net types set it; a registration without one is not reported.
    pub fn set_fd(&mut self, fd: RawFd) {
        self.fd = fd;
    }

    /// Polls `direction` through `ScheduledIo::poll_ready`, telling the wait hook when it waits.
    fn wait(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        key: Option<&mut WaiterKey>,
    ) -> Poll<io::Result<ReadyEvent>> {
        let polled = self.io.poll_ready(cx, direction, key);
        if polled.is_pending() {
            let interest = match direction {
                Direction::Read => Interest::READABLE,
                Direction::Write => Interest::WRITABLE,
            };
            crate::wait_hook::waiting(self.fd, interest);
        }
        polled
    }

    /// Clears what `event` saw, unless an event arrived since.
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        let _cleared = self.io.clear_readiness(event);
    }

    fn poll_ready_recorded(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<()>> {
        let event = ready!(self.wait(cx, direction, None))?;
        self.recorded_tick(direction)
            .store(event.tick, Ordering::Release);
        Poll::Ready(Ok(()))
    }

    fn clear_recorded(&self, direction: Direction) {
        let tick = self.recorded_tick(direction).load(Ordering::Acquire);
        if tick == NO_TICK {
            return;
        }
        self.io.clear_readiness(ReadyEvent {
            tick,
            ready: direction.mask(),
            direction,
        });
    }

    fn recorded_tick(&self, direction: Direction) -> &AtomicUsize {
        match direction {
            Direction::Read => &self.read_tick,
            Direction::Write => &self.write_tick,
        }
    }

    /// Runs `op` while `direction` is ready. A `WouldBlock` clears the readiness it saw (unless
    /// an event came since) and waits, in the slot of `key` or as an anonymous waiter; so does
    /// a success that `emptied` says left the source with nothing more to give, after
    /// returning it.
    fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut key: Option<&mut WaiterKey>,
        mut op: impl FnMut() -> io::Result<R>,
        emptied: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        loop {
            let event = ready!(self.wait(cx, direction, key.as_deref_mut()))?;
            match op() {
                Ok(done) => {
                    if emptied(&done) {
                        self.io.clear_readiness(event);
                    }
                    return Poll::Ready(Ok(done));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.io.clear_readiness(event);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// [`poll_read_io`](Registration::poll_read_io) for an `op` that also says
    /// whether it emptied the source: then the readiness it saw is cleared at
    /// once (unless an event came since), as a `WouldBlock` would have.
    pub(crate) fn poll_read_io_until_drained(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut() -> io::Result<(usize, bool)>,
    ) -> Poll<io::Result<usize>> {
        self.poll_io(cx, Direction::Read, None, op, |&(n, drained)| {
            drained && n > 0
        })
        .map_ok(|(n, _)| n)
    }

    /// How many tasks wait on `direction`.
    #[cfg(test)]
    pub(crate) fn waiters(&self, direction: Direction) -> usize {
        self.io.waiters(direction)
    }

    fn free_slot(&mut self) {
        if std::mem::replace(&mut self.in_slab, false) {
            self.handle.remove_slot(self.token, &self.io);
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.free_slot();
    }
}

/// A future's own place among the tasks waiting on one direction of a [`Registration`].
///
/// The net types' futures (`accept`, `recv_from`, `send_to`, `Incoming`, ...) hold one and
/// wait through [`poll_io`](Waiter::poll_io): however often the future is polled, it is one
/// waiter (a new waker replaces the stored one in place), and dropping it, finished or given
/// up, frees the place. The `poll_*` methods, which own nothing that could be dropped, wait
/// as anonymous waiters instead (see `waiters.rs`).
pub(crate) struct Waiter<'a> {
    registration: &'a Registration,
    direction: Direction,
    key: WaiterKey,
}

impl<'a> Waiter<'a> {
    /// A place among the waiters of `direction`, taken when the future first waits.
    pub(crate) fn new(registration: &'a Registration, direction: Direction) -> Waiter<'a> {
        Waiter {
            registration,
            direction,
            key: WaiterKey::default(),
        }
    }

    /// [`Registration::poll_read_io`] or [`poll_write_io`](Registration::poll_write_io),
    /// as the direction says, waiting in this place.
    pub(crate) fn poll_io<R>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.registration
            .poll_io(cx, self.direction, Some(&mut self.key), op, |_| false)
    }

    /// Waits in this place until the direction is ready; the snapshot is for a later
    /// [`Registration::clear_readiness`].
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ReadyEvent>> {
        self.registration
            .wait(cx, self.direction, Some(&mut self.key))
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.registration
            .io
            .remove_waiter(self.direction, &mut self.key);
    }
}

impl fmt::Debug for Waiter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter")
            .field("direction", &self.direction)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}
