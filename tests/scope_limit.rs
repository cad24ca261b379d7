//! A scope's concurrency limit: `spawn_wait` waiters are served oldest first, a waiter that
//! gives up never takes a freed slot with it (R9), and once the scope is cancelled nothing waits
//! or fails for a slot (its children are cancelled on arrival), however long shielded children
//! hold theirs.

mod support;

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::time::Duration;

use futures::poll;
use nursery::time::timeout;
use nursery::{JoinHandle, Scope, SpawnError};
use support::runtime;

type Waiter<'a> = Pin<Box<dyn Future<Output = Result<JoinHandle<u32>, SpawnError>> + Send + 'a>>;

/// Starts `spawn_wait`s of children returning 1, 2, 3, ... and polls each once, so that they
/// queue in that order.
async fn queue_waiters(s: &Scope, n: u32) -> Vec<Waiter<'_>> {
    let mut waiters = Vec::new();
    for i in 1..=n {
        let mut waiter: Waiter<'_> = Box::pin(s.spawn_wait::<Ready<u32>>(ready(i)));
        assert!(poll!(&mut waiter).is_pending(), "the slot is taken");
        waiters.push(waiter);
    }
    waiters
}

/// Polls every waiter, newest first (a newcomer would take the slot here if it could), and
/// returns the child of the one that got the slot.
async fn poll_newest_first(waiters: &mut Vec<Waiter<'_>>) -> Option<JoinHandle<u32>> {
    for i in (0..waiters.len()).rev() {
        if let std::task::Poll::Ready(spawned) = poll!(&mut waiters[i]) {
            drop(waiters.remove(i));
            return Some(spawned.expect("spawned into the open scope"));
        }
    }
    None
}

#[test]
fn a_waiter_that_gave_up_does_not_swallow_the_slot_of_the_next() {
    let rt = runtime(2);
    rt.block_on(nursery::scope(|s| async move {
        s.set_limit(1);
        let (release, released) = futures::channel::oneshot::channel::<()>();
        let holder = s.spawn(async move {
            let _ = released.await;
        });
        // A waits in a task of its own and gives up.
        let a = s.clone();
        let gave_up = nursery::spawn(async move {
            timeout(Duration::from_millis(10), a.spawn_wait(async {}))
                .await
                .is_err()
        });
        assert!(gave_up.await.unwrap(), "the slot is held, A must time out");
        // B waits in a task of its own; the holder finishes: the slot is B's.
        let (queued, b_queued) = futures::channel::oneshot::channel::<()>();
        let b = s.clone();
        let b = nursery::spawn(async move {
            let mut wait = Box::pin(b.spawn_wait(async {}));
            assert!(poll!(&mut wait).is_pending(), "the slot is still held");
            queued.send(()).unwrap();
            wait.await
        });
        b_queued.await.unwrap();
        release.send(()).unwrap();
        let child = timeout(Duration::from_secs(1), b)
            .await
            .expect("B was not woken for the slot the holder freed")
            .unwrap()
            .unwrap();
        child.await.unwrap();
        holder.await.unwrap();
    }));
}

#[test]
fn waiters_get_freed_slots_first_come_first_served() {
    let rt = runtime(2);
    rt.block_on(nursery::scope(|s| async move {
        s.set_limit(1);
        let (release, released) = futures::channel::oneshot::channel::<()>();
        let holder = s.spawn(async move {
            let _ = released.await;
        });
        let mut waiters = queue_waiters(&s, 3).await;
        release.send(()).unwrap();
        holder.await.unwrap();
        let mut order = Vec::new();
        while !waiters.is_empty() {
            let child = poll_newest_first(&mut waiters)
                .await
                .expect("the freed slot reached no waiter");
            // Its slot is freed when it finishes, before its handle resolves.
            order.push(child.await.unwrap());
        }
        assert_eq!(order, [1, 2, 3]);
    }));
}

#[test]
fn a_waiter_dropped_after_being_handed_the_slot_passes_it_to_the_next() {
    let rt = runtime(2);
    rt.block_on(nursery::scope(|s| async move {
        s.set_limit(1);
        let (release, released) = futures::channel::oneshot::channel::<()>();
        let holder = s.spawn(async move {
            let _ = released.await;
        });
        let mut waiters = queue_waiters(&s, 3).await;
        release.send(()).unwrap();
        holder.await.unwrap();
        // The slot went to the first waiter, which gives up before claiming it.
        drop(waiters.remove(0));
        let child = poll_newest_first(&mut waiters)
            .await
            .expect("the slot the first waiter gave up reached no waiter");
        assert_eq!(child.await.unwrap(), 2, "the slot goes to the next in line");
        let child = poll_newest_first(&mut waiters)
            .await
            .expect("then the last");
        assert_eq!(child.await.unwrap(), 3);
        assert!(s.try_spawn(async { 0 }).is_ok(), "no slot was lost");
    }));
}

/// A shielded child holds the only slot until `release` is sent.
fn hold_the_slot(s: &Scope) -> (futures::channel::oneshot::Sender<()>, JoinHandle<()>) {
    let (release, released) = futures::channel::oneshot::channel::<()>();
    let holder = s.spawn_shielded(async move {
        let _ = released.await;
    });
    (release, holder)
}

#[test]
fn spawn_wait_in_a_cancelled_scope_does_not_wait_for_a_shielded_childs_slot() {
    runtime(2).block_on(nursery::scope(|s| async move {
        s.set_limit(1);
        let (release, holder) = hold_the_slot(&s);
        s.cancel();
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        let child = timeout(
            Duration::from_secs(5),
            s.spawn_wait(async move { flag.store(true, std::sync::atomic::Ordering::SeqCst) }),
        )
        .await
        .expect("spawn_wait waited for the slot the shielded child holds")
        .expect("a cancelled scope still takes children (cancelled)");
        assert!(child.await.unwrap_err().is_cancelled());
        assert!(
            !ran.load(std::sync::atomic::Ordering::SeqCst),
            "the child ran"
        );
        release.send(()).unwrap();
        holder.await.unwrap();
    }));
}

/// With the scope's two slots taken (a holder's, and a shielded producer's that feeds the scope
/// through `spawn_wait`), the producer queues a `spawn_wait`; then `cancel` runs, and the queued
/// wait must return (a shielded child is not cancelled: only the wake-up ends its wait) with a
/// child that is cancelled on arrival.
fn a_queued_spawn_wait_returns_after(cancel: impl FnOnce(&Scope), what: &'static str) {
    runtime(2).block_on(nursery::scope(|s| async move {
        s.set_limit(2);
        let (release, holder) = hold_the_slot(&s);
        let producer = s.clone();
        let (queued, producer_queued) = futures::channel::oneshot::channel::<()>();
        let producer = s.spawn_shielded(async move {
            let mut wait = Box::pin(producer.spawn_wait(async {}));
            assert!(poll!(&mut wait).is_pending(), "the slot is held");
            queued.send(()).unwrap();
            wait.await
        });
        producer_queued.await.unwrap();
        cancel(&s);
        let child = timeout(Duration::from_secs(5), producer)
            .await
            .unwrap_or_else(|_| panic!("the waiting spawn_wait was not woken by {what}"))
            .unwrap()
            .expect("a cancelled scope still takes children (cancelled)");
        assert!(child.await.unwrap_err().is_cancelled());
        release.send(()).unwrap();
        holder.await.unwrap();
    }));
}

#[test]
fn a_spawn_wait_already_waiting_returns_when_the_scope_is_cancelled() {
    a_queued_spawn_wait_returns_after(Scope::cancel, "the cancel");
}

#[test]
fn a_spawn_wait_waiting_when_the_grace_period_runs_out_returns() {
    // The grace period's end cancels the scope's children (not the shielded ones).
    a_queued_spawn_wait_returns_after(
        |s| s.shutdown(Duration::from_millis(10)),
        "the end of the grace period",
    );
}

#[test]
fn a_full_cancelled_scope_still_takes_children_and_cancels_them() {
    runtime(1).block_on(nursery::scope(|s| async move {
        s.set_limit(1);
        let (release, holder) = hold_the_slot(&s);
        assert!(s.try_spawn(async {}).unwrap_err().is_full());
        s.cancel();
        let child = s
            .try_spawn(async {})
            .expect("cancelled children take no slot");
        assert!(child.await.unwrap_err().is_cancelled());
        assert!(s.spawn(async {}).await.unwrap_err().is_cancelled());
        // A shielded child would run: it still needs a slot.
        let shielded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            s.spawn_shielded(async {});
        }));
        assert!(
            shielded.is_err(),
            "a shielded child took a slot the holder has"
        );
        release.send(()).unwrap();
        holder.await.unwrap();
    }));
}

#[test]
fn a_spawn_wait_from_outside_returns_when_the_scopes_own_task_is_cancelled() {
    runtime(2).block_on(nursery::scope(|outer| async move {
        // A scope inside a task of its own, its handle given to a producer outside it.
        let (give, given) = futures::channel::oneshot::channel::<(Scope, _)>();
        let owner = outer.spawn(nursery::scope(|s| async move {
            s.set_limit(1);
            let held = hold_the_slot(&s);
            give.send((s.clone(), held)).ok().unwrap();
            std::future::pending::<()>().await
        }));
        let (s, (release, holder)) = given.await.unwrap();
        let (queued, producer_queued) = futures::channel::oneshot::channel::<()>();
        let producer = outer.spawn(async move {
            let mut wait = Box::pin(s.spawn_wait(async {}));
            assert!(poll!(&mut wait).is_pending(), "the slot is held");
            queued.send(()).unwrap();
            wait.await.map(drop)
        });
        producer_queued.await.unwrap();
        owner.cancel();
        let spawned = timeout(Duration::from_secs(5), producer)
            .await
            .expect("the waiting spawn_wait was not woken when the scope's task was cancelled")
            .unwrap();
        // The scope was cancelled (its child cancelled on arrival), or closed by then.
        if let Err(e) = spawned {
            assert!(e.is_closed(), "{e}");
        }
        release.send(()).unwrap();
        holder.await.unwrap();
        assert!(owner.await.unwrap_err().is_cancelled());
    }));
}
