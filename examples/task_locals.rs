//! Task-locals flow down the task tree: each request gets an id, and every task the handler
//! spawns — through helpers that know nothing of it — logs with that id.
//!
//! Run it with `cargo run --example task_locals`.

use std::time::Duration;

nursery::task_local! {
    static REQUEST_ID: u64;
}

/// A log line tagged with the current request, if any.
fn log(message: &str) {
    match REQUEST_ID.try_with(|id| *id) {
        Ok(id) => println!("[request {id}] {message}"),
        Err(_) => println!("[no request] {message}"),
    }
}

/// Library code: spawns its own work and logs, with no request id in its signature.
async fn fetch_user(user: &'static str) -> String {
    let lookup = nursery::spawn(async move {
        nursery::time::sleep(Duration::from_millis(5)).await;
        log(&format!("looked up {user}"));
        user.to_uppercase()
    });
    lookup.await.expect("the lookup task failed")
}

async fn handle(user: &'static str) {
    log("start");
    let name = fetch_user(user).await;
    let audit = nursery::task::spawn_blocking(move || log(&format!("audit: served {name}")));
    audit.await.expect("the audit job failed");
}

#[nursery::main]
async fn main() {
    log("server up");
    nursery::scope(|s| async move {
        for (id, user) in [(1, "ada"), (2, "grace"), (3, "linus")] {
            s.spawn(REQUEST_ID.scope(id, handle(user)));
        }
    })
    .await;
    log("all requests done");
}
