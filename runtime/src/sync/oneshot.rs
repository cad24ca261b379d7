//! A one-value channel: what `Scope::start` uses to hear "ready" from its child.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

struct Inner<T> {
    value: Option<T>,
    sender_gone: bool,
    waker: Option<Waker>,
}

pub(crate) struct Sender<T>(Arc<Mutex<Inner<T>>>);
pub(crate) struct Receiver<T>(Arc<Mutex<Inner<T>>>);

pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Mutex::new(Inner {
        value: None,
        sender_gone: false,
        waker: None,
    }));
    (Sender(inner.clone()), Receiver(inner))
}

impl<T> Sender<T> {
    pub(crate) fn send(self, value: T) {
        self.0.lock().value = Some(value);
        // Drop wakes the receiver.
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut inner = self.0.lock();
            inner.sender_gone = true;
            inner.waker.take()
        };
        if let Some(w) = waker {
            nursery_scheduler::current_node::wake_guarded(w);
        }
    }
}

impl<T> Future for Receiver<T> {
    /// `None` if the sender was dropped without sending.
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut inner = self.0.lock();
        if let Some(value) = inner.value.take() {
            return Poll::Ready(Some(value));
        }
        if inner.sender_gone {
            return Poll::Ready(None);
        }
        inner.waker = Some(cx.waker().clone());
        drop(inner);
        nursery_scheduler::current_node::record_wait(nursery_scheduler::Wait::Channel {
            kind: "oneshot",
        });
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use nursery_scheduler::Wait;

    #[test]
    fn a_task_blocked_on_a_oneshot_shows_the_channel_in_the_dump() {
        let rt = crate::Runtime::builder().worker_threads(1).build().unwrap();
        rt.block_on(async {
            let (sender, receiver) = super::channel::<u32>();
            let task = crate::spawn(receiver);
            let give_up = Instant::now() + Duration::from_secs(10);
            loop {
                let tree = crate::Handle::current().task_tree();
                let node = tree
                    .nodes
                    .iter()
                    .map(|(_, n)| n)
                    .find(|n| n.id == task.id());
                if node.is_some_and(|n| n.waiting_on == Some(Wait::Channel { kind: "oneshot" })) {
                    assert!(tree.to_string().contains("— waiting on a oneshot channel"));
                    break;
                }
                assert!(Instant::now() < give_up, "never shown waiting:\n{tree}");
                crate::time::sleep(Duration::from_millis(2)).await;
            }
            sender.send(7);
            assert_eq!(task.await.unwrap(), Some(7));
        });
    }
}
