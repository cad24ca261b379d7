//! A tour of nursery on a small realistic program: a TCP echo server whose connections live in
//! a supervised scope (one failing connection does not take the others down), started with
//! `start` (the caller gets the bound address once it is ready), clients as tasks, a deadline on
//! a slow operation, a live task-tree dump, a child panic that is never lost, and a graceful
//! shutdown with a grace period.
//!
//! Run it with `cargo run --release --example tour`.

use std::net::SocketAddr;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use nursery::net::{TcpListener, TcpStream};
use nursery::time::sleep;

/// Echoes until the client closes its half; a line saying "crash" makes this handler panic.
async fn serve(mut stream: TcpStream) -> std::io::Result<usize> {
    let mut buf = [0u8; 1024];
    let mut total = 0;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        if buf[..n].starts_with(b"crash") {
            panic!("handler bug triggered by a client");
        }
        stream.write_all(&buf[..n]).await?;
        total += n;
    }
}

/// The server: binds, reports its address, then accepts until asked to shut down. Connections
/// are children of a supervised scope: a panicking handler is reported and the others go on.
async fn server(ready: nursery::Ready<SocketAddr>, stop: nursery::Scope) -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    ready.ready(listener.local_addr()?);
    nursery::supervised(|connections| async move {
        connections.on_child_failure(|err| println!("   supervisor: {err}"));
        loop {
            let accept = listener.accept();
            let shutdown = stop.shutdown_requested();
            futures::pin_mut!(accept, shutdown);
            match futures::future::select(accept, shutdown).await {
                futures::future::Either::Left((accepted, _)) => {
                    let (stream, peer) = accepted?;
                    nursery::task::Builder::new()
                        .name(format!("conn {peer}"))
                        .spawn_in(&connections, serve(stream));
                }
                // Stop accepting; open connections finish within the grace period.
                futures::future::Either::Right(_) => return Ok(()),
            }
        }
    })
    .await
}

async fn client(addr: SocketAddr, message: String) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(message.as_bytes()).await?;
    let mut echoed = vec![0u8; message.len()];
    stream.read_exact(&mut echoed).await?;
    stream.close().await?;
    Ok(String::from_utf8_lossy(&echoed).into_owned())
}

#[nursery::main(worker_threads = 2)]
async fn main() -> std::io::Result<()> {
    let handle = nursery::Handle::current();
    nursery::scope(|app| async move {
        // 1. start: the server runs as a child of `app`; we continue once it has bound.
        let stop = app.clone();
        let (addr, server_task) = app
            .start(|ready| server(ready, stop))
            .await
            .expect("the server failed before it was ready");
        println!("1. server ready on {addr} (Scope::start waited for the bound address)");

        // 2. Clients are tasks of a scope: it returns only when every one has finished.
        let echoed = nursery::scope(|clients| async move {
            let handles: Vec<_> = (0..8)
                .map(|i| clients.spawn(client(addr, format!("hello {i}"))))
                .collect();
            let mut ok = 0;
            for h in handles {
                ok += h.await.unwrap().is_ok() as usize;
            }
            ok
        })
        .await;
        println!("2. {echoed}/8 clients got their echo (their scope waited for all of them)");

        // 3. A connection whose handler panics: the supervisor reports it, the server lives.
        println!("3. a client triggers a handler panic in a supervised scope:");
        let _ = client(addr, "crash".to_owned()).await;
        let after = client(addr, "still there?".to_owned()).await?;
        println!("   the server still answers: {after:?}");

        // 4. A deadline on a whole scope: body and children are cancelled when it fires.
        let slow = nursery::move_on_after(Duration::from_millis(30), |s| async move {
            for _ in 0..3 {
                s.spawn(sleep(Duration::from_secs(3600)));
            }
            sleep(Duration::from_secs(3600)).await;
        })
        .await;
        println!(
            "4. move_on_after(30 ms) on a slow scope -> deadline fired: {}",
            slow.is_none()
        );

        // 5. The live task tree, with a long-lived connection open.
        let mut idle = TcpStream::connect(addr).await?;
        idle.write_all(b"ping").await?;
        let mut pong = [0u8; 4];
        idle.read_exact(&mut pong).await?;
        println!("5. the live task tree:\n{}", handle.task_tree());

        // 6. A panic in a plain child is never lost: it reaches the parent's handle.
        let parent = handle.spawn(async {
            nursery::spawn(sleep(Duration::from_secs(3600))); // cancelled by the failure
            nursery::task::Builder::new()
                .name("faulty")
                .spawn(async { panic!("something broke") });
            sleep(Duration::from_secs(3600)).await;
        });
        let err = parent
            .await
            .expect_err("the child's panic reaches the parent");
        println!("6. a child panic reached its parent after its sibling was cancelled:\n   {err}");

        // 7. Graceful shutdown: the server stops accepting at once; the connection we keep
        //    open is still being served, so when the 50 ms grace runs out it is cancelled.
        println!(
            "7. graceful shutdown with a 50 ms grace period (one client keeps its connection)"
        );
        app.shutdown(Duration::from_millis(50));
        let started = std::time::Instant::now();
        match server_task.await {
            Ok(result) => println!("   server finished cleanly: {result:?}"),
            Err(e) => println!(
                "   after {:.0?} the grace ran out and the server was {}",
                started.elapsed(),
                if e.is_cancelled() {
                    "hard-cancelled"
                } else {
                    "lost"
                }
            ),
        }
        drop(idle);
        Ok::<(), std::io::Error>(())
    })
    .await?;
    println!("done: main returns only now that every task it started is gone");
    Ok(())
}
