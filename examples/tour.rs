//! A tour of nursery on a small realistic program: a TCP server whose connections are children
//! of a scope, clients as tasks, a deadline, cancellation, a panic that is not lost, and a
//! printed task tree.
//!
//! Run it with `cargo run --release --example tour`.

use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use nursery::net::{TcpListener, TcpStream};
use nursery::time::{sleep, timeout};

/// Echoes lines back until the client closes its half.
async fn serve(mut stream: TcpStream) -> std::io::Result<usize> {
    let mut buf = [0u8; 1024];
    let mut total = 0;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        stream.write_all(&buf[..n]).await?;
        total += n;
    }
}

async fn client(addr: std::net::SocketAddr, id: usize) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    let message = format!("hello from client {id}");
    stream.write_all(message.as_bytes()).await?;
    let mut echoed = vec![0u8; message.len()];
    stream.read_exact(&mut echoed).await?;
    assert_eq!(echoed, message.as_bytes());
    stream.close().await?;
    Ok(())
}

#[nursery::main(worker_threads = 2)]
async fn main() -> std::io::Result<()> {
    let handle = nursery::Handle::current();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("1. a server on {addr}; each connection is a child of the server's scope");

    // The server: a task that owns a scope; every accepted connection is a child of it.
    let server = nursery::task::Builder::new().name("server").spawn(async move {
        nursery::scope(|connections| async move {
            loop {
                let (stream, peer) = listener.accept().await?;
                nursery::task::Builder::new()
                    .name(format!("conn {peer}"))
                    .spawn_in(&connections, serve(stream));
            }
            #[allow(unreachable_code)]
            Ok::<(), std::io::Error>(())
        })
        .await
    });

    // Clients: children of main's task; main cannot return before they are done.
    println!("2. ten clients, as tasks; main waits for all of them (structured concurrency)");
    nursery::scope(|clients| async move {
        for id in 0..10 {
            clients.spawn(client(addr, id));
        }
    })
    .await;

    // A deadline: a slow operation inside timeout() is dropped, with everything it spawned.
    println!("3. a deadline: timeout() drops a slow scope and cancels its children");
    let slow = timeout(
        Duration::from_millis(20),
        nursery::scope(|s| async move {
            for _ in 0..3 {
                s.spawn(sleep(Duration::from_secs(3600)));
            }
            sleep(Duration::from_secs(3600)).await;
        }),
    )
    .await;
    println!("   -> {}", if slow.is_err() { "timed out, children cancelled" } else { "finished?!" });

    // The live task tree, while a few long-lived tasks exist.
    let _idle = nursery::task::Builder::new()
        .name("idle worker")
        .spawn(sleep(Duration::from_millis(200)));
    println!("4. the live task tree:\n{}", handle.task_tree());

    // A panic in a child cancels its siblings and is re-raised where the parent waits.
    println!("5. a child panic is never lost: it reaches the parent's join handle");
    let parent = handle.spawn(async {
        nursery::spawn(sleep(Duration::from_secs(3600))); // cancelled by the failure
        nursery::task::Builder::new()
            .name("faulty")
            .spawn(async { panic!("something broke") });
        sleep(Duration::from_secs(3600)).await;
    });
    let err = parent.await.expect_err("the child's panic reaches the parent");
    println!("   -> {err}");

    // Cancellation reaches every task of a subtree at its next poll point.
    println!("6. cancelling the server cancels every connection task under it");
    server.cancel();
    let cancelled = server.await.expect_err("cancelled");
    println!("   -> server: {cancelled}");
    println!("done: main returns only now that every task it started is gone");
    Ok(())
}
