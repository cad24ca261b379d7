//! A waker that unparks a plain thread: how `block_on` and `Runtime::drop` wait.

use std::sync::Arc;
use std::task::{Context, Wake, Waker};

use parking_lot::{Condvar, Mutex};

pub(crate) struct ThreadWaker {
    inner: Arc<Inner>,
    waker: Waker,
}

#[derive(Default)]
struct Inner {
    notified: Mutex<bool>,
    condvar: Condvar,
}

impl Wake for Inner {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        *self.notified.lock() = true;
        self.condvar.notify_one();
    }
}

impl ThreadWaker {
    pub(crate) fn new() -> ThreadWaker {
        let inner = Arc::new(Inner::default());
        let waker = Waker::from(inner.clone());
        ThreadWaker { inner, waker }
    }

    pub(crate) fn context(&self) -> Context<'_> {
        Context::from_waker(&self.waker)
    }

    /// Blocks until woken (or returns at once if woken since the last call).
    pub(crate) fn park(&self) {
        let mut notified = self.inner.notified.lock();
        while !*notified {
            self.inner.condvar.wait(&mut notified);
        }
        *notified = false;
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
            let mut notified = self.inner.notified.lock();
            while !*notified {
                if self
                    .inner
                    .condvar
                    .wait_until(&mut notified, deadline)
                    .timed_out()
                {
                    return false;
                }
            }
            *notified = false;
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
