//! A line echo server and its clients in one program, on the nursery runtime.
//!
//! It shows the shape of a structured server:
//!
//! - the server is a **scope**: an accept loop child, plus one child per connection that it
//!   spawns into the same scope, so no connection can outlive the server;
//! - the clients are tasks too (a scope of their own), each connecting, sending lines and
//!   checking that every echo matches what it sent;
//! - once the clients are done, the server is shut down by **cancelling its scope**: the
//!   accept loop (and any connection still open) is dropped at its next poll point, and the
//!   scope returns only after all of them are gone.
//!
//! ```text
//! cargo run --release --example echo
//! ```
//!
//! It runs to completion by itself and prints a summary such as
//! `echo: 16 clients x 100 lines, 1600 lines (38840 bytes) echoed intact over 16 connections in 30.0 ms`.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use nursery::net::{TcpListener, TcpStream};
use nursery::Scope;

const CLIENTS: usize = 16;
const LINES_PER_CLIENT: usize = 100;

/// What the server counts, read after it has shut down.
#[derive(Default)]
struct Stats {
    connections: AtomicUsize,
    lines: AtomicUsize,
}

#[nursery::main]
async fn main() -> io::Result<()> {
    let started = Instant::now();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stats = Arc::new(Stats::default());

    let server_stats = stats.clone();
    let echoed_bytes = nursery::scope(|server| async move {
        // The accept loop: a child of the server scope, spawning siblings for connections.
        let connections = server.clone();
        server.spawn(accept_loop(listener, connections, server_stats));

        // The scope's body plays the client side, then shuts the server down.
        let result = run_clients(addr).await;
        server.cancel();
        result
    })
    .await?;

    println!(
        "echo: {CLIENTS} clients x {LINES_PER_CLIENT} lines, {} lines ({echoed_bytes} bytes) \
         echoed intact over {} connections in {:.1} ms",
        stats.lines.load(Ordering::Relaxed),
        stats.connections.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64() * 1e3,
    );
    Ok(())
}

/// Accepts connections forever (until cancelled), one child of `connections` per connection.
async fn accept_loop(listener: TcpListener, connections: Scope, stats: Arc<Stats>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                stats.connections.fetch_add(1, Ordering::Relaxed);
                let stats = stats.clone();
                connections.spawn(async move {
                    if let Err(e) = serve(stream, &stats).await {
                        eprintln!("echo: connection from {peer} failed: {e}");
                    }
                });
            }
            Err(e) => {
                // Out of descriptors, say: the listener stays ready, so back off, don't spin.
                eprintln!("echo: accept failed: {e}");
                nursery::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Echoes every line back until the client closes its side.
async fn serve(stream: TcpStream, stats: &Stats) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut line = String::new();
    while reader.read_line(&mut line).await? != 0 {
        writer.write_all(line.as_bytes()).await?;
        stats.lines.fetch_add(1, Ordering::Relaxed);
        line.clear();
    }
    writer.close().await
}

/// Runs every client at once and returns how many bytes came back, each checked.
async fn run_clients(addr: SocketAddr) -> io::Result<usize> {
    nursery::scope(|clients| async move {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|id| clients.spawn(client(addr, id)))
            .collect();
        let mut total = 0;
        for handle in handles {
            // A client's panic would be re-raised by the scope; an error comes back as a value.
            total += handle
                .await
                .map_err(|e| io::Error::other(e.to_string()))??;
        }
        Ok(total)
    })
    .await
}

/// Sends its lines one at a time and checks each echo before sending the next.
async fn client(addr: SocketAddr, id: usize) -> io::Result<usize> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut echo = String::new();
    let mut bytes = 0;
    for n in 0..LINES_PER_CLIENT {
        let line = format!("client {id} says hello #{n}\n");
        writer.write_all(line.as_bytes()).await?;
        echo.clear();
        reader.read_line(&mut echo).await?;
        if echo != line {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("client {id}: sent {line:?}, got back {echo:?}"),
            ));
        }
        bytes += echo.len();
    }
    writer.close().await?;
    // The server closes its side once it has read our EOF: nothing more may arrive.
    echo.clear();
    if reader.read_line(&mut echo).await? != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("client {id}: unexpected data after the last echo: {echo:?}"),
        ));
    }
    Ok(bytes)
}
