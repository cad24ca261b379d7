//! A waker that unparks a plain thread: how `block_on` and `Runtime::drop` wait.

use std::sync::{Arc, Weak};
use std::task::{Context, Wake, Waker};

use crate::sleeper::Sleeper;
use crate::worker_park::Driver;

pub(crate) struct ThreadWaker {
    inner: Arc<Inner>,
    waker: Waker,
}

#[derive(Default)]
struct Inner {
    notified: Sleeper<Notified>,
    /// For a `block_on` thread: the driver that counts it busy or idle (weak: the waker may
    /// be kept by the driver's own timers).
    driver: Option<Weak<Driver>>,
}

#[derive(Default)]
struct Notified {
    notified: bool,
    /// Parked and counted idle by the driver.
    idle: bool,
    /// The thread is done: no longer counted at all.
    retired: bool,
}

impl Wake for Inner {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let mut state = self.notified.lock();
        state.notified = true;
        if state.idle && !state.retired {
            if let Some(driver) = self.driver.as_ref().and_then(Weak::upgrade) {
                driver.wake_counted(&mut state.idle);
            }
        }
        drop(state);
        self.notified.wake_one();
    }
}

impl ThreadWaker {
    pub(crate) fn new() -> ThreadWaker {
        ThreadWaker::with_inner(Inner::default())
    }

    /// For a `block_on` thread of `driver`'s runtime: counted busy while it runs, so that a
    /// paused clock jumps only when this thread waits too (see `driver`'s module docs).
    pub(crate) fn counted(driver: &Arc<Driver>) -> ThreadWaker {
        driver.enter_busy();
        ThreadWaker::with_inner(Inner {
            driver: Some(Arc::downgrade(driver)),
            ..Inner::default()
        })
    }

    fn with_inner(inner: Inner) -> ThreadWaker {
        let inner = Arc::new(inner);
        let waker = Waker::from(inner.clone());
        ThreadWaker { inner, waker }
    }

    fn driver(&self) -> Option<Arc<Driver>> {
        self.inner.driver.as_ref().and_then(Weak::upgrade)
    }

    pub(crate) fn context(&self) -> Context<'_> {
        Context::from_waker(&self.waker)
    }

    /// Blocks until woken (or returns at once if woken since the last call).
    pub(crate) fn park(&self) {
        let mut state = self.inner.notified.lock();
        if !state.notified {
            if let Some(driver) = self.driver() {
                if driver.go_idle(&mut state.idle) {
                    // Released first: the timers this fires may wake this very thread.
                    drop(state);
                    driver.last_idle_outside_workers();
                    state = self.inner.notified.lock();
                }
            }
        }
        self.inner
            .notified
            .sleep_while(&mut state, None, |state| !state.notified);
        state.notified = false;
    }

    /// Like [`wait_until`](Self::wait_until), giving up at `deadline`; returns whether `ready`
    /// returned true.
    pub(crate) fn wait_until_timeout(
        &self,
        mut ready: impl FnMut(&mut Context<'_>) -> bool,
        deadline: std::time::Instant,
    ) -> bool {
        loop {
            if ready(&mut self.context()) {
                return true;
            }
            let mut state = self.inner.notified.lock();
            if !self
                .inner
                .notified
                .sleep_while(&mut state, Some(deadline), |state| !state.notified)
            {
                return false;
            }
            state.notified = false;
        }
    }

    /// Polls `ready` until it returns true, parking in between.
    pub(crate) fn wait_until(&self, mut ready: impl FnMut(&mut Context<'_>) -> bool) {
        loop {
            if ready(&mut self.context()) {
                return;
            }
            self.park();
        }
    }
}

impl Drop for ThreadWaker {
    /// A counted thread is done: it no longer counts as busy (its waker may outlive it).
    fn drop(&mut self) {
        let Some(driver) = self.driver() else {
            return;
        };
        let mut state = self.inner.notified.lock();
        // Never idle here: a park returns only once woken, which counts it busy again.
        if !state.idle {
            let last = driver.go_idle(&mut state.idle);
            // Retired rather than idle: a wake through a leftover waker counts nothing.
            state.idle = false;
            state.retired = true;
            drop(state);
            if last {
                driver.last_idle_outside_workers();
            }
        }
    }
}
