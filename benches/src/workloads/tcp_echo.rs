//! `tcp_echo`: an echo server on a loopback listener and 20 client connections, each doing
//! 1,000 round trips of 64 bytes (write all, read exactly 64 back), `TCP_NODELAY` on both
//! ends. Connection setup and teardown are part of the run, a small share of it. nursery's
//! streams are driven through `futures::io`, tokio's through `tokio::io`.

/// Client connections per run.
pub const CONNECTIONS: usize = 20;
/// Round trips per connection.
pub const ROUND_TRIPS: usize = 1_000;
/// Bytes per message.
pub const MESSAGE: usize = 64;

/// One run on nursery.
pub fn nursery(rt: &nursery::Runtime) {
    use futures::io::{AsyncReadExt, AsyncWriteExt};
    use nursery::net::{TcpListener, TcpStream};

    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let server = nursery::spawn(async move {
            let mut echoes = Vec::with_capacity(CONNECTIONS);
            for _ in 0..CONNECTIONS {
                let (mut stream, _) = listener.accept().await.expect("accept");
                stream.set_nodelay(true).expect("nodelay");
                echoes.push(nursery::spawn(async move {
                    let mut buf = [0u8; MESSAGE];
                    for _ in 0..ROUND_TRIPS {
                        stream.read_exact(&mut buf).await.expect("server read");
                        stream.write_all(&buf).await.expect("server write");
                    }
                }));
            }
            for echo in echoes {
                echo.await.expect("echo task");
            }
        });
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|c| {
                nursery::spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.expect("connect");
                    stream.set_nodelay(true).expect("nodelay");
                    let message = [c as u8; MESSAGE];
                    let mut buf = [0u8; MESSAGE];
                    for _ in 0..ROUND_TRIPS {
                        stream.write_all(&message).await.expect("client write");
                        stream.read_exact(&mut buf).await.expect("client read");
                    }
                    assert_eq!(buf, message, "the echo must return what was sent");
                })
            })
            .collect();
        for client in clients {
            client.await.expect("client task");
        }
        server.await.expect("server task");
    });
}

/// One run on tokio.
pub fn tokio(rt: &tokio::runtime::Runtime) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            let mut echoes = Vec::with_capacity(CONNECTIONS);
            for _ in 0..CONNECTIONS {
                let (mut stream, _) = listener.accept().await.expect("accept");
                stream.set_nodelay(true).expect("nodelay");
                echoes.push(tokio::spawn(async move {
                    let mut buf = [0u8; MESSAGE];
                    for _ in 0..ROUND_TRIPS {
                        stream.read_exact(&mut buf).await.expect("server read");
                        stream.write_all(&buf).await.expect("server write");
                    }
                }));
            }
            for echo in echoes {
                echo.await.expect("echo task");
            }
        });
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|c| {
                tokio::spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.expect("connect");
                    stream.set_nodelay(true).expect("nodelay");
                    let message = [c as u8; MESSAGE];
                    let mut buf = [0u8; MESSAGE];
                    for _ in 0..ROUND_TRIPS {
                        stream.write_all(&message).await.expect("client write");
                        stream.read_exact(&mut buf).await.expect("client read");
                    }
                    assert_eq!(buf, message, "the echo must return what was sent");
                })
            })
            .collect();
        for client in clients {
            client.await.expect("client task");
        }
        server.await.expect("server task");
    });
}
