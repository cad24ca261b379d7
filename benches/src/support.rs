//! Small runtime-agnostic helpers shared by the workloads.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use futures::channel::oneshot;

/// Counts down from `n`; the call that reaches zero fires a `futures` oneshot.
///
/// Used to wait until every task of a workload has started (been polled once) before acting on
/// them, with the same mechanism on both runtimes.
#[derive(Debug)]
pub struct Countdown {
    left: AtomicUsize,
    done: Mutex<Option<oneshot::Sender<()>>>,
}

impl Countdown {
    /// A countdown from `n` and the receiver that resolves when it reaches zero.
    pub fn new(n: usize) -> (Countdown, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let countdown = Countdown {
            left: AtomicUsize::new(n),
            done: Mutex::new(Some(tx)),
        };
        (countdown, rx)
    }

    /// Counts one; the last call fires the oneshot.
    pub fn tick(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            let tx = self
                .done
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take();
            if let Some(tx) = tx {
                // The receiver may have been dropped by a workload that gave up; nothing to do.
                let _ = tx.send(());
            }
        }
    }
}

/// Runs `future`, ticking `countdown` right after its first poll (so whatever that poll
/// registers, a timer for instance, is in place when the countdown reaches zero).
pub async fn tick_after_first_poll<F: Future>(future: F, countdown: &Countdown) -> F::Output {
    let mut future = pin!(future);
    let mut ticked = false;
    poll_fn(|cx| {
        let poll = future.as_mut().poll(cx);
        if !ticked {
            ticked = true;
            countdown.tick();
        }
        poll
    })
    .await
}
