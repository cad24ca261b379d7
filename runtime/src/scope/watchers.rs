//! Watchers: futures a scope's own future polls for as long as the scope lives (the signal
//! watcher of `Scope::shutdown_on`).
//!
//! A watcher is not a task. A child task would keep the scope open (a scope waits for every
//! child), and one cancelled when the body returns would stop watching while the children
//! still drain; a watcher is polled by the scope future itself, with its waker, until the
//! scope completes, and is dropped then. It may act on the scope (shut it down, cancel it);
//! it never delays the scope's end.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Context;

use parking_lot::Mutex;

pub(crate) type Watcher = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

#[derive(Default)]
pub(crate) struct Watchers {
    /// Set by the first `add`: scopes without watchers skip the lock on every poll.
    any: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    list: Vec<Watcher>,
    /// The scope has completed (or its future was dropped): watchers added now are dropped.
    closed: bool,
}

impl Watchers {
    /// Adds a watcher, unless the scope is over (then it is dropped at once: a watcher holds a
    /// `Scope`, which would otherwise keep itself alive).
    pub(crate) fn add(&self, watcher: Watcher) {
        let mut state = self.state.lock();
        if state.closed {
            drop(state);
            drop(watcher);
            return;
        }
        state.list.push(watcher);
        self.any.store(true, Ordering::Release);
    }

    /// Polls every watcher with the scope future's context, dropping those that finished.
    /// The lock is not held while polling: a watcher may call back into the scope.
    pub(crate) fn poll(&self, cx: &mut Context<'_>) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        let mut polled = std::mem::take(&mut self.state.lock().list);
        polled.retain_mut(|w| w.as_mut().poll(cx).is_pending());
        let mut state = self.state.lock();
        if state.closed {
            drop(state);
            drop(polled);
            return;
        }
        // Any added while we polled go after (they are polled next time; `add` woke the owner).
        polled.append(&mut state.list);
        state.list = polled;
    }

    /// The scope is over: drops every watcher (breaking its reference back to the scope).
    pub(crate) fn close(&self) {
        let list = {
            let mut state = self.state.lock();
            state.closed = true;
            std::mem::take(&mut state.list)
        };
        drop(list);
    }
}
