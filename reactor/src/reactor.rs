//! The reactor: one `mio::Poll`, turned by one thread at a time, and the
//! shared `ReactorHandle` through which registrations are added and the turn is woken.

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use mio::event::Source;
use mio::{Events, Interest, Poll, Registry, Token};
use parking_lot::Mutex;
use slab::Slab;

use crate::config::Config;
use crate::error;
use crate::ready::Ready;
use crate::scheduled_io::ScheduledIo;
use crate::token;

/// How many events one `turn` takes from the OS at most (the rest wait for the next turn).
const EVENTS_CAPACITY: usize = 1024;

/// How many registrations' events [`ReactorHandle::wake_one_ready`] takes at most looking for a
/// waiting task.
const MAX_EVENTS_PER_WAKE_ONE: usize = 4;

/// The I/O driver: owns the `mio::Poll` and dispatches readiness to wakers.
///
/// A `Reactor` is driven by one thread at a time (it is `Send` but not
/// `Sync`): a runtime keeps it behind a lock that an idle worker try-locks
/// before calling [`turn`](Reactor::turn). Everything other threads need —
/// registering sources, interrupting a blocked turn, shutting down — goes
/// through the cloneable [`ReactorHandle`].
///
/// Dropping the `Reactor` shuts it down (see [`ReactorHandle::shutdown`]): I/O types
/// still alive fail with an error instead of waiting for events that can no
/// longer come.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use nursery_reactor::Reactor;
///
/// let mut reactor = Reactor::new()?;
/// let handle = reactor.handle();
/// handle.unpark();
/// // The pending unpark ends this turn at once instead of after an hour.
/// assert_eq!(reactor.turn(Some(Duration::from_secs(3600)))?, 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Reactor {
    poll: Poll,
    events: Events,
    handle: ReactorHandle,
    /// Wakers collected under the registration lock, woken after it is released.
    wake_buf: Vec<Waker>,
    /// `Send` but not `Sync`: one thread turns at a time.
    _not_sync: PhantomData<Cell<()>>,
}

/// A cheap, cloneable, thread-safe reference to a [`Reactor`].
///
/// I/O types keep the `ReactorHandle` they were created with; [`ReactorHandle::current`]
/// finds the one the current thread has [entered](ReactorHandle::enter).
///
/// # Examples
///
/// ```
/// use nursery_reactor::{ReactorHandle, Reactor};
///
/// let reactor = Reactor::new()?;
/// let handle = reactor.handle();
/// let _guard = handle.enter();
/// assert!(ReactorHandle::try_current().is_some());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct ReactorHandle {
    pub(crate) inner: Arc<Inner>,
}

/// The part of the reactor shared by every `ReactorHandle`.
pub(crate) struct Inner {
    /// A clone of the poll's registry (its own epoll/kqueue descriptor).
    registry: Registry,
    /// Interrupts a blocked `turn`.
    waker: mio::Waker,
    /// Set by `unpark` when it wakes the `mio::Waker`, cleared by the turn that
    /// sees the waker's event: unparks in between share that one wake-up.
    unpark_pending: AtomicBool,
    /// Every live registration.
    registrations: Mutex<Registrations>,
    /// What a write to one of our own sockets does.
    config: Config,
    /// Where blocking work goes (`offload.rs`); set once by the reactor's owner.
    pub(crate) offload: std::sync::OnceLock<crate::offload::Offload>,
    /// Where internal faults go (`fault.rs`); set once by the reactor's owner.
    pub(crate) fault_hook: std::sync::OnceLock<crate::fault::FaultHook>,
}

struct Registrations {
    slab: Slab<Arc<ScheduledIo>>,
    /// The generation the next registration gets (wrapping).
    next_generation: usize,
    /// After `shutdown`, no new registration is accepted.
    is_shutdown: bool,
}

impl Reactor {
    /// Creates a reactor with its own `mio::Poll`.
    ///
    /// # Errors
    ///
    /// Whatever the OS returns when creating the poll instance or its waker
    /// (for example `EMFILE` when the process is out of file descriptors).
    ///
    /// # Examples
    ///
    /// ```
    /// let reactor = nursery_reactor::Reactor::new()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> io::Result<Reactor> {
        Reactor::with_config(Config::new())
    }

    /// Creates a reactor with its own `mio::Poll`, configured by `config`.
    ///
    /// # Errors
    ///
    /// As [`Reactor::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use nursery_reactor::{Config, Reactor};
    ///
    /// let reactor = Reactor::with_config(Config::new().wake_local_peers(true))?;
    /// assert!(reactor.handle().wakes_local_peers());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_config(config: Config) -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), token::WAKER)?;
        let registry = poll.registry().try_clone()?;
        let inner = Inner {
            registry,
            waker,
            unpark_pending: AtomicBool::new(false),
            registrations: Mutex::new(Registrations {
                slab: Slab::new(),
                next_generation: 0,
                is_shutdown: false,
            }),
            config,
            offload: std::sync::OnceLock::new(),
            fault_hook: std::sync::OnceLock::new(),
        };
        Ok(Reactor {
            poll,
            events: Events::with_capacity(EVENTS_CAPACITY),
            handle: ReactorHandle {
                inner: Arc::new(inner),
            },
            wake_buf: Vec::new(),
            _not_sync: PhantomData,
        })
    }

    /// A handle to this reactor.
    ///
    /// # Examples
    ///
    /// ```
    /// let reactor = nursery_reactor::Reactor::new()?;
    /// let handle = reactor.handle();
    /// std::thread::spawn(move || handle.unpark()).join().unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn handle(&self) -> ReactorHandle {
        self.handle.clone()
    }

    /// Blocks up to `timeout` for I/O events and wakes the tasks they concern.
    ///
    /// `None` blocks until an event or an [`unpark`](ReactorHandle::unpark);
    /// `Some(Duration::ZERO)` only collects what is already there. An unpark
    /// made while no turn was blocked ends the next turn at once.
    ///
    /// Wakers are woken after the internal lock is released. Should a waker
    /// panic, every other waker of this turn is still woken, and then the first
    /// panic is resumed; the reactor stays usable.
    ///
    /// Returns how many registrations had at least one waiting task woken.
    /// Events for registrations that have since been dropped (or whose slot
    /// was reused) are ignored. A signal interrupting the wait (`EINTR`) is a
    /// turn that returns `Ok(0)`.
    ///
    /// # Errors
    ///
    /// Whatever the OS returns from the wait itself (other than `EINTR`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut reactor = nursery_reactor::Reactor::new()?;
    /// assert_eq!(reactor.turn(Some(Duration::ZERO))?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn turn(&mut self, timeout: Option<Duration>) -> io::Result<usize> {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(0),
            Err(e) => return Err(e),
        }
        let inner = &self.handle.inner;
        let mut woken = 0;
        {
            let registrations = inner.registrations.lock();
            for event in self.events.iter() {
                if event.token() == token::WAKER {
                    // AcqRel: synchronise with the unparks whose wake-up this was.
                    inner.unpark_pending.swap(false, Ordering::AcqRel);
                    continue;
                }
                let ready = Ready::from_mio(event);
                if registrations.apply(event.token(), ready, &mut self.wake_buf) {
                    woken += 1;
                }
            }
        }
        wake_all(&mut self.wake_buf);
        Ok(woken)
    }
}

impl Registrations {
    /// Applies an event to the registration `token` names; true if it woke a waiting task.
    /// Events for a slot since freed or reused, and readiness we do not track, are ignored.
    fn apply(&self, token: Token, ready: Ready, wakers: &mut Vec<Waker>) -> bool {
        let (index, generation) = token::unpack(token);
        let Some(io) = self.slab.get(index) else {
            return false;
        };
        if io.generation() != generation || ready.is_empty() {
            return false; // the slot's previous occupant, or e.g. priority data not asked for
        }
        io.set_readiness(ready, wakers) > 0
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        let result = panic::catch_unwind(AssertUnwindSafe(|| self.handle.shutdown()));
        if let Err(payload) = result {
            if !std::thread::panicking() {
                panic::resume_unwind(payload);
            }
        }
    }
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

impl ReactorHandle {
    /// Interrupts a blocked [`Reactor::turn`] (from any thread).
    ///
    /// If no turn is blocked, the next one returns at once. Unparks that come
    /// before the turn has consumed the previous one share its wake-up (one
    /// syscall, not one per call).
    ///
    /// # Panics
    ///
    /// If the OS refuses the wake-up write (only possible if the reactor's
    /// eventfd/pipe were broken, a bug), since nothing could wake the reactor then.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut reactor = nursery_reactor::Reactor::new()?;
    /// let handle = reactor.handle();
    /// let unparker = std::thread::spawn(move || handle.unpark());
    /// reactor.turn(None)?; // returns once the other thread unparks
    /// unparker.join().unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn unpark(&self) {
        if !self.inner.unpark_pending.swap(true, Ordering::AcqRel) {
            // An eventfd (or pipe) write; it only fails if the descriptor is
            // broken, in which case nothing can wake the reactor any more.
            if let Err(e) = self.inner.waker.wake() {
                self.inner.unpark_pending.store(false, Ordering::Release);
                panic!("the nursery reactor could not be woken: {e}");
            }
        }
    }

    /// Collects ready I/O events, oldest first, until one wakes a waiting task (at most
    /// four), from any thread, without waiting for the thread that turns the [`Reactor`]
    /// (which may be blocked in it at the same time). Returns whether a task was woken.
    ///
    /// The net types call it right after a write to a peer that is one of this process's
    /// sockets (see [`Config::wake_local_peers`]): the peer's reader is woken on the writer's
    /// thread (for a runtime worker, onto that worker, where the bytes are). The event of that
    /// write is among the oldest not yet taken, behind at most a few
    /// that wake nobody (a new socket's first "writable"); a younger one, from another
    /// thread's write a moment later, stays for that thread (see `sys/linux/epoll.rs`).
    ///
    /// Like [`Reactor::turn`], it resumes a panic of the waker it woke.
    ///
    /// On Linux (and Android) each event is a zero-timeout `epoll_wait` for one event on the
    /// reactor's epoll instance, which the kernel lets several threads wait on at once.
    /// Elsewhere it does nothing and returns `false`: events wait for the reactor's next turn,
    /// as they would anyway.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use std::task::{Context, Poll, Wake, Waker};
    /// use mio::Interest;
    /// use nursery_reactor::{Reactor, Registration};
    ///
    /// struct CountWakes(AtomicUsize);
    /// impl Wake for CountWakes {
    ///     fn wake(self: Arc<Self>) {
    ///         self.0.fetch_add(1, Ordering::SeqCst);
    ///     }
    /// }
    ///
    /// let reactor = Reactor::new()?;
    /// let (mut a, mut b) = mio::net::UnixStream::pair()?;
    /// let reg = Registration::new(&mut a, Interest::READABLE, &reactor.handle())?;
    /// let wakes = Arc::new(CountWakes(AtomicUsize::new(0)));
    /// let waker = Waker::from(wakes.clone());
    /// let mut cx = Context::from_waker(&waker);
    /// // A new registration counts as ready until a read says otherwise.
    /// assert!(reg.poll_read_ready(&mut cx).is_ready());
    /// assert!(std::io::Read::read(&mut a, &mut [0; 8]).is_err()); // WouldBlock
    /// reg.clear_read_ready();
    /// assert!(reg.poll_read_ready(&mut cx).is_pending()); // waits for readable
    ///
    /// b.write_all(b"hi")?;
    /// let handle = reactor.handle();
    /// let woke = std::thread::spawn(move || handle.wake_one_ready()).join().unwrap();
    /// if cfg!(any(target_os = "linux", target_os = "android")) {
    ///     assert!(woke); // collected on another thread, no turn needed
    ///     assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
    ///     assert!(matches!(reg.poll_read_ready(&mut cx), Poll::Ready(Ok(()))));
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wake_one_ready(&self) -> bool {
        self.wake_oldest_ready().is_some()
    }

    /// [`wake_one_ready`](ReactorHandle::wake_one_ready), returning the token of the registration
    /// whose event woke a task.
    pub(crate) fn wake_oldest_ready(&self) -> Option<Token> {
        use std::os::fd::AsRawFd;
        let inner = &*self.inner;
        let mut took_unpark = false;
        let mut woke = None;
        let mut wakers = Vec::new();
        let mut events = 0;
        while events < MAX_EVENTS_PER_WAKE_ONE {
            let (token, ready) = match crate::sys::oldest_ready(inner.registry.as_raw_fd()) {
                Ok(Some((token, ready))) => (Token(token), ready),
                Ok(None) => break,
                Err(e) => {
                    // Only EBADF/EINVAL are possible (a bug, not a condition): say so,
                    // and leave the events to the turn, which reports the same error.
                    crate::fault::report(Some(self), crate::fault::IoFault::CollectFailed(e));
                    break;
                }
            };
            if token == token::WAKER {
                took_unpark = true; // at most once: it is re-armed only below
                continue;
            }
            events += 1;
            if inner.registrations.lock().apply(token, ready, &mut wakers) {
                woke = Some(token);
                break;
            }
        }
        if took_unpark {
            // That wake-up was meant for the turn (perhaps blocked right now, or the next
            // one): give it a new one, now that this look will not take it again.
            // `unpark_pending` stays set: the turn that sees the event clears it.
            if let Err(e) = inner.waker.wake() {
                panic!("the nursery reactor could not be woken: {e}");
            }
        }
        // Woken last, after the re-arm: a waker's panic, passed on from here, must not
        // cost the turn its wake-up.
        if !wakers.is_empty() {
            wake_all(&mut wakers);
        }
        woke
    }

    /// Whether writes to streams whose peer is one of this process's sockets wake that peer's
    /// reader at once (see [`Config::wake_local_peers`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let reactor = nursery_reactor::Reactor::new()?;
    /// assert!(!reactor.handle().wakes_local_peers()); // the default
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wakes_local_peers(&self) -> bool {
        self.inner.config.wake_local_peers
    }

    /// An address that tells this reactor apart from every other one alive.
    pub(crate) fn reactor_id(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// Shuts the reactor down: every registration's pending and future polls
    /// fail with "the nursery runtime has shut down", and so does every later
    /// registration.
    ///
    /// The runtime calls this once when it shuts down (dropping the
    /// [`Reactor`] does it too), so that I/O futures still alive observe an
    /// error instead of waiting forever. Calling it again does nothing new.
    ///
    /// # Examples
    ///
    /// ```
    /// let reactor = nursery_reactor::Reactor::new()?;
    /// let handle = reactor.handle();
    /// handle.shutdown();
    /// let _guard = handle.enter();
    /// let err = nursery_reactor::net::UnixStream::pair().unwrap_err();
    /// assert_eq!(err.to_string(), "the nursery runtime has shut down");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self) {
        let mut wakers = Vec::new();
        {
            let mut registrations = self.inner.registrations.lock();
            registrations.is_shutdown = true;
            for (_, io) in registrations.slab.iter() {
                io.shutdown(&mut wakers);
            }
        }
        self.unpark();
        wake_all(&mut wakers);
    }

    /// Whether [`shutdown`](ReactorHandle::shutdown) has been called (or the reactor dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// let reactor = nursery_reactor::Reactor::new()?;
    /// let handle = reactor.handle();
    /// drop(reactor);
    /// assert!(handle.is_shutdown());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_shutdown(&self) -> bool {
        self.inner.registrations.lock().is_shutdown
    }

    /// Adds a slot for `source` and registers it with mio under that slot's token.
    pub(crate) fn add_source<S: Source + ?Sized>(
        &self,
        source: &mut S,
        interest: Interest,
    ) -> io::Result<(Token, Arc<ScheduledIo>)> {
        let (token, io) = {
            let mut registrations = self.inner.registrations.lock();
            if registrations.is_shutdown {
                return Err(error::shut_down());
            }
            let index = registrations.slab.vacant_key();
            if index >= token::MAX_REGISTRATIONS {
                return Err(error::too_many_registrations());
            }
            let generation = registrations.next_generation;
            registrations.next_generation = (generation + 1) & token::GENERATION_MASK;
            let io = Arc::new(ScheduledIo::new(generation));
            registrations.slab.insert(io.clone());
            (token::pack(index, generation), io)
        };
        if let Err(e) = self.inner.registry.register(source, token, interest) {
            self.remove_slot(token, &io);
            return Err(e);
        }
        Ok((token, io))
    }

    /// Removes `source` from mio.
    pub(crate) fn deregister_source<S: Source + ?Sized>(&self, source: &mut S) -> io::Result<()> {
        self.inner.registry.deregister(source)
    }

    /// Frees the slot of `token` if it still holds `io`.
    pub(crate) fn remove_slot(&self, token: Token, io: &Arc<ScheduledIo>) {
        let (index, _) = token::unpack(token);
        let mut registrations = self.inner.registrations.lock();
        if registrations
            .slab
            .get(index)
            .is_some_and(|slot| Arc::ptr_eq(slot, io))
        {
            let removed = registrations.slab.remove(index);
            drop(registrations);
            drop(removed);
        }
    }

    /// How many registrations are live (for tests and diagnostics).
    ///
    /// # Examples
    ///
    /// ```
    /// let reactor = nursery_reactor::Reactor::new()?;
    /// assert_eq!(reactor.handle().registrations(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn registrations(&self) -> usize {
        self.inner.registrations.lock().slab.len()
    }
}

impl fmt::Debug for ReactorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReactorHandle")
            .field("registrations", &self.registrations())
            .field(
                "unpark_pending",
                &self.inner.unpark_pending.load(Ordering::Relaxed),
            )
            .finish_non_exhaustive()
    }
}

/// Wakes every waker in `wakers`, even if some panic; then resumes the first panic.
pub(crate) fn wake_all(wakers: &mut Vec<Waker>) {
    let mut first_panic: Option<Box<dyn Any + Send>> = None;
    for waker in wakers.drain(..) {
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| waker.wake())) {
            first_panic.get_or_insert(payload);
        }
    }
    if let Some(payload) = first_panic {
        panic::resume_unwind(payload);
    }
}
