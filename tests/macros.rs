//! `#[nursery::main]` and `#[nursery::test]`: what they expand to runs, and what they refuse is
//! refused with an error that says what to write instead.
//!
//! `tests/ui/pass/*.rs` are programs that must build and run; `tests/ui/fail/*.rs` must not build,
//! and their `.stderr` files hold the errors a user sees (regenerate them with
//! `TRYBUILD=overwrite cargo test --test macros`, then read every one).

use std::num::ParseIntError;
use std::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn the_attributes_accept_what_they_document_and_refuse_the_rest_with_clear_errors() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}

#[nursery::test]
async fn a_test_can_spawn_children_and_await_them() {
    let children: Vec<_> = (0..10u64)
        .map(|i| nursery::spawn(async move { i * i }))
        .collect();
    let mut sum = 0;
    for child in children {
        sum += child.await.unwrap();
    }
    assert_eq!(sum, 285);
}

#[nursery::test(worker_threads = 1)]
async fn worker_threads_sizes_the_test_runtime() {
    assert_eq!(nursery::Handle::current().worker_threads(), 1);
}

#[nursery::test(worker_threads = 2, thread_name = "macro-test-worker")]
async fn thread_name_names_the_test_runtime_workers() {
    let name = nursery::spawn(async { std::thread::current().name().map(str::to_owned) })
        .await
        .unwrap()
        .unwrap();
    assert!(
        name.starts_with("macro-test-worker-"),
        "the child ran on {name:?}"
    );
}

#[nursery::test]
#[should_panic(expected = "the body panicked")]
async fn should_panic_sees_a_panic_in_the_body() {
    nursery::task::yield_now().await;
    panic!("the body panicked");
}

#[nursery::test]
#[should_panic(expected = "the child panicked")]
async fn should_panic_sees_a_panic_in_a_child() {
    let child = nursery::spawn(async {
        nursery::task::yield_now().await;
        panic!("the child panicked");
    });
    let _ = child.await;
}

#[nursery::test]
async fn a_test_may_return_a_result_and_use_question_mark() -> Result<(), ParseIntError> {
    let n: u8 = "7".parse()?;
    let doubled = nursery::spawn(async move { n * 2 }).await.unwrap();
    assert_eq!(doubled, 14);
    Ok(())
}

#[nursery::test]
#[ignore = "shows that #[ignore] composes with #[nursery::test]; passes when run"]
async fn an_ignored_test_still_runs_with_ignored() {
    assert_eq!(nursery::spawn(async { 1 }).await.unwrap(), 1);
}

static FINISHED: AtomicUsize = AtomicUsize::new(0);

/// `#[nursery::main]` on a function that is not `main`, so that a test can call it and look at
/// what it returns and at what its children did.
#[nursery::main(worker_threads = 2)]
async fn run_with_detached_children() -> usize {
    for _ in 0..20 {
        // The handle is dropped at once: the child is detached, not cancelled, and still
        // belongs to the body.
        drop(nursery::spawn(async {
            for _ in 0..20 {
                nursery::task::yield_now().await;
            }
            FINISHED.fetch_add(1, Ordering::SeqCst);
        }));
    }
    FINISHED.load(Ordering::SeqCst)
}

#[nursery::main(worker_threads = 1)]
async fn run_failing() -> Result<(), String> {
    let n = nursery::spawn(async { 3 })
        .await
        .map_err(|e| e.to_string())?;
    Err(format!("gave up after {n}"))
}

#[test]
fn main_returns_only_after_every_child_is_done() {
    let seen_by_the_body = run_with_detached_children();
    assert!(seen_by_the_body <= 20);
    assert_eq!(FINISHED.load(Ordering::SeqCst), 20);
}

#[test]
fn main_hands_back_the_error_of_its_body() {
    assert_eq!(run_failing(), Err("gave up after 3".to_owned()));
}
