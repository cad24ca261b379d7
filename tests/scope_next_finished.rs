//! `Scope::task_set` / `TaskSet::join_next`: a scope's children joined in completion order
//! (tokio's `JoinSet::join_next`), without cancellation noise, under the scope's failure rules.

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use futures::channel::oneshot;
use nursery::time::timeout;
use nursery::{JoinError, TaskSet};
use support::{panic_message, pending_forever, runtime, DropCounter};

/// `join_next`, failing the test instead of hanging if nothing arrives.
async fn next<T>(set: &mut TaskSet<T>) -> Option<Result<T, JoinError>> {
    timeout(Duration::from_secs(10), set.join_next())
        .await
        .expect("join_next did not return within 10 s")
}

#[test]
fn results_come_back_in_the_order_the_members_finish() {
    let rt = runtime(2);
    let order = rt.block_on(nursery::scope(|s| async move {
        let mut set = s.task_set();
        let mut releases = Vec::new();
        for name in ["30ms", "10ms", "20ms"] {
            let (tx, rx) = oneshot::channel::<()>();
            releases.push(tx);
            set.spawn(async move {
                rx.await.expect("released");
                name
            });
        }
        let [slow, fast, mid] = <[_; 3]>::try_from(releases).expect("three");
        let mut order = Vec::new();
        // Released (so finished) in the order fast, mid, slow: not the spawn order.
        fast.send(()).unwrap();
        order.push(next(&mut set).await.unwrap().unwrap());
        mid.send(()).unwrap();
        order.push(next(&mut set).await.unwrap().unwrap());
        slow.send(()).unwrap();
        order.push(next(&mut set).await.unwrap().unwrap());
        assert!(next(&mut set).await.is_none());
        order
    }));
    assert_eq!(order, ["10ms", "20ms", "30ms"]);
}

#[test]
fn already_finished_members_are_all_returned_then_none() {
    let rt = runtime(2);
    rt.block_on(nursery::scope(|s| async move {
        let mut set = s.task_set::<u32>();
        assert!(set.is_empty());
        assert!(next(&mut set).await.is_none(), "an empty set returns None");
        for i in 0..5 {
            set.spawn(async move { i });
        }
        assert_eq!(set.len(), 5);
        let mut got = Vec::new();
        while let Some(res) = next(&mut set).await {
            got.push(res.unwrap());
        }
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2, 3, 4]);
        assert!(set.is_empty());
        assert!(next(&mut set).await.is_none(), "still None once drained");
    }));
}

#[test]
fn a_timed_out_join_next_loses_no_result() {
    let rt = runtime(2);
    rt.block_on(nursery::scope(|s| async move {
        let mut set = s.task_set();
        let (tx, rx) = oneshot::channel::<()>();
        set.spawn(async move {
            rx.await.expect("released");
            "late"
        });
        // A select/timeout loop that gives up and polls again later.
        assert!(timeout(Duration::from_millis(5), set.join_next())
            .await
            .is_err());
        tx.send(()).unwrap();
        assert_eq!(next(&mut set).await.unwrap().unwrap(), "late");
    }));
}

#[test]
fn members_cancelled_with_the_scope_are_not_reported() {
    let rt = runtime(2);
    let drops = DropCounter::new();
    let d = drops.clone();
    rt.block_on(nursery::scope(|s| async move {
        let mut set = s.task_set::<&str>();
        set.spawn(async { "done before the cancel" });
        assert_eq!(
            next(&mut set).await.unwrap().unwrap(),
            "done before the cancel"
        );
        let finished = set.spawn(async { "finished, not yet taken" });
        // It finishes before the cancel.
        timeout(Duration::from_secs(10), async {
            while !finished.is_complete() {
                nursery::task::yield_now().await;
            }
        })
        .await
        .expect("the member finishes");
        for _ in 0..100 {
            let token = d.token();
            set.spawn(async move {
                pending_forever(token).await;
                "never"
            });
        }
        s.cancel();
        let mut reported = Vec::new();
        while let Some(res) = next(&mut set).await {
            reported.push(res.map_err(|e| e.to_string()));
        }
        // The 100 cancelled members are gone without a result each: no noise.
        assert_eq!(reported, [Ok("finished, not yet taken")]);
    }));
    assert_eq!(drops.count(), 100);
}

#[test]
fn cancel_all_is_silent_but_a_member_cancelled_on_its_own_is_reported() {
    let rt = runtime(2);
    rt.block_on(nursery::scope(|s| async move {
        let mut set = s.task_set::<()>();
        for _ in 0..10 {
            set.spawn(std::future::pending());
        }
        set.cancel_all();
        assert!(next(&mut set).await.is_none(), "cancel_all reports nothing");

        let node = set.spawn(std::future::pending());
        node.cancel();
        let err = next(&mut set).await.unwrap().unwrap_err();
        assert!(err.is_cancelled(), "{err}");
        assert!(next(&mut set).await.is_none());
    }));
}

#[test]
fn a_member_panic_in_a_plain_scope_cancels_the_rest_and_is_reraised_at_the_scope() {
    let rt = runtime(2);
    let drops = DropCounter::new();
    let d = drops.clone();
    let result = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(nursery::scope(|s| async move {
            let mut set = s.task_set::<()>();
            for _ in 0..10 {
                set.spawn(pending_forever(d.token()));
            }
            set.spawn(async { panic!("member boom") });
            // The body keeps draining; the scope must stop it and re-raise the panic.
            while let Some(res) = set.join_next().await {
                let _ = res;
            }
            std::future::pending::<()>().await;
        }))
    }));
    let payload = result.expect_err("the panic must be re-raised at the scope");
    assert!(
        panic_message(&*payload).contains("member boom"),
        "{}",
        panic_message(&*payload)
    );
    assert_eq!(drops.count(), 10, "the siblings were cancelled");
}

#[test]
fn a_member_panic_in_a_supervised_scope_comes_back_as_an_error() {
    let rt = runtime(2);
    let (errors, ok) = rt.block_on(nursery::supervised(|s| async move {
        let mut set = s.task_set::<u32>();
        set.spawn(async { panic!("member boom") });
        set.spawn(async { 1 });
        let (mut errors, mut ok) = (Vec::new(), 0);
        while let Some(res) = next(&mut set).await {
            match res {
                Ok(v) => ok += v,
                Err(e) => errors.push(e),
            }
        }
        (errors, ok)
    }));
    assert_eq!(ok, 1, "the sibling ran on");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].is_panic(), "{}", errors[0]);
    assert_eq!(errors[0].panic_message(), Some("member boom"));
}

#[test]
fn ten_thousand_members_drain() {
    let rt = runtime(2);
    let (count, sum) = rt.block_on(nursery::scope(|s| async move {
        let mut set = s.task_set::<u64>();
        for i in 0..10_000u64 {
            set.spawn(async move {
                nursery::task::yield_now().await;
                i
            });
        }
        let (mut count, mut sum) = (0, 0);
        while let Some(res) = next(&mut set).await {
            count += 1;
            sum += res.unwrap();
        }
        (count, sum)
    }));
    assert_eq!(count, 10_000);
    assert_eq!(sum, (0..10_000u64).sum::<u64>());
}

#[test]
fn dropping_the_set_cancels_its_members_and_the_scope_waits_for_them() {
    let rt = runtime(2);
    let drops = DropCounter::new();
    let d = drops.clone();
    let seen_at_return = rt.block_on(async move {
        let inner = drops.clone();
        let scope = nursery::scope(|s| async move {
            let mut set = s.task_set::<()>();
            for _ in 0..20 {
                set.spawn(pending_forever(d.token()));
            }
            drop(set);
            "body returned"
        });
        let out = timeout(Duration::from_secs(10), scope)
            .await
            .expect("the scope still waits for members the dropped set did not cancel");
        assert_eq!(out, "body returned");
        inner.count()
    });
    // The scope returned only after every member was cancelled and gone.
    assert_eq!(seen_at_return, 20);
}
