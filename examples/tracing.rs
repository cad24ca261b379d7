//! The task tree in `tracing`'s output. With the `tracing` feature every task and every scope is
//! a span, a child of the span it was spawned under, so each line says which task (in which
//! scope, in which task) wrote it; failures and cancellations are events on the task's span.
//!
//! ```text
//! cargo run --example tracing --features tracing
//! ```
//!
//! A line from a connection task (locations cut short), in the server's `move_on` scope, in
//! the server task, in the `supervised` scope of `main`:
//!
//! ```text
//! DEBUG scope{id=3 parent_id=2 kind="supervised" location=..}:task{parent_id=3 kind="task"
//!   name="server" location=.. id=4}:scope{id=6 parent_id=4 kind="move_on" location=..}:
//!   task{parent_id=6 kind="task" name="conn-0" location=examples/tracing.rs:41:26 id=7}: serving n=0
//! ```

use std::io;
use std::time::Duration;

use nursery::task::Builder;

fn main() -> io::Result<()> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_target(false)
        .init();
    // The failure below is reported as a `task failed` event; keep the default hook quiet.
    std::panic::set_hook(Box::new(|_| {}));
    let rt = nursery::Runtime::new()?;
    rt.block_on(nursery::supervised(|top| async move {
        let server = Builder::new().name("server").spawn_in(&top, async {
            // The deadline cancels both connections: a `task cancelled` event each.
            nursery::move_on_after(Duration::from_millis(50), |s| async move {
                for n in 0..2 {
                    Builder::new()
                        .name(format!("conn-{n}"))
                        .spawn_in(&s, async move {
                            tracing::debug!(n, "serving");
                            nursery::time::sleep(Duration::from_secs(60)).await;
                        });
                }
                std::future::pending::<()>().await
            })
            .await
        });
        let crash = Builder::new()
            .name("crash")
            .spawn_in(&top, async { panic!("bad input") });
        server.await.unwrap();
        assert!(crash.await.unwrap_err().is_panic());
    }));
    Ok(())
}
