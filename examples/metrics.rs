//! Runtime metrics while a small workload runs: a line echo server, a few clients talking to it
//! without pause, and a reporter printing `Handle::metrics()` once a second.
//!
//! ```text
//! cargo run --release --example metrics -- --seconds 5
//! ```
//!
//! It stops by itself after `--seconds S` (default 3): everything runs inside a
//! `move_on_after` scope, whose deadline cancels the server, the clients and the reporter.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use nursery::net::{TcpListener, TcpStream};

const CLIENTS: usize = 4;

#[nursery::main]
async fn main() -> io::Result<()> {
    let seconds = parse_seconds()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    nursery::move_on_after(Duration::from_secs_f64(seconds), |s| async move {
        let connections = s.clone();
        s.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Err(e) = echo(stream).await {
                        eprintln!("metrics: connection failed: {e}");
                    }
                });
            }
        });
        for id in 0..CLIENTS {
            s.spawn(async move {
                if let Err(e) = client(addr, id).await {
                    eprintln!("metrics: client {id} failed: {e}");
                }
            });
        }
        let handle = nursery::Handle::current();
        let mut ticks = nursery::time::interval(Duration::from_secs(1));
        ticks.tick().await; // the first tick is immediate
        loop {
            ticks.tick().await;
            println!("{}\n", handle.metrics());
        }
    })
    .await;
    Ok(())
}

/// `--seconds S`, or 3.
fn parse_seconds() -> io::Result<f64> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (None, _) => Ok(3.0),
        (Some("--seconds"), Some(s)) => s
            .parse()
            .ok()
            .filter(|s: &f64| s.is_finite() && *s >= 0.0)
            .ok_or_else(|| io::Error::other(format!("--seconds: not a duration: {s:?}"))),
        _ => Err(io::Error::other("usage: metrics [--seconds S]")),
    }
}

/// Echoes every line back until the client closes its side.
async fn echo(stream: TcpStream) -> io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut line = String::new();
    while reader.read_line(&mut line).await? != 0 {
        writer.write_all(line.as_bytes()).await?;
        line.clear();
    }
    Ok(())
}

/// Sends a line and waits for its echo, over and over (until cancelled).
async fn client(addr: SocketAddr, id: usize) -> io::Result<()> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut echo = String::new();
    for n in 0u64.. {
        let line = format!("client {id} line {n}\n");
        writer.write_all(line.as_bytes()).await?;
        echo.clear();
        reader.read_line(&mut echo).await?;
        if echo != line {
            return Err(io::Error::other(format!("sent {line:?}, got {echo:?}")));
        }
    }
    Ok(())
}
