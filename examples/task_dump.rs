//! Where is it stuck? A small service whose tasks all wait on something, and the task-tree dump
//! that says, for each, what: the listener's accept, a connection's read from its peer, a
//! timer with its deadline, a join handle, a future from outside nursery.
//!
//! Run it with `cargo run --example task_dump`.

use std::time::Duration;

use futures::io::AsyncReadExt;
use nursery::net::{TcpListener, TcpStream};
use nursery::task::Builder;

#[nursery::main]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let client = TcpStream::connect(addr).await?;
    let (mut conn, _) = listener.accept().await?;

    nursery::scope(|s| async move {
        Builder::new().name("server").spawn_in(&s, async move {
            let _ = listener.accept().await; // nobody else connects
        });
        Builder::new().name("conn").spawn_in(&s, async move {
            let mut buf = [0u8; 64];
            let _ = conn.read(&mut buf).await; // the client never writes
        });
        let ticker = Builder::new().name("ticker").spawn_in(&s, async {
            nursery::time::sleep(Duration::from_secs(3600)).await;
        });
        Builder::new().name("watchdog").spawn_in(&s, ticker);
        Builder::new()
            .name("legacy")
            .spawn_in(&s, std::future::pending::<()>());

        nursery::time::sleep(Duration::from_millis(100)).await; // let them all wait
        println!("{}", nursery::Handle::current().task_tree());
        s.cancel(); // end the demo
    })
    .await;
    drop(client);
    Ok(())
}
