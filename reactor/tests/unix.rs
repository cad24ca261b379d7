//! Unix domain streams through the reactor.

mod support;

use std::io;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::task::SpawnExt;
use nursery_reactor::net::{UnixListener, UnixStream};
use support::{Driver, SocketPath};

#[test]
fn a_unix_listener_accepts_a_connection_and_echoes_it() {
    let driver = Driver::start();
    let pool = driver.pool(1);
    let path = SocketPath::new("echo");
    let listener = driver
        .block_on(async { UnixListener::bind(&path.0) })
        .unwrap();
    assert_eq!(
        listener.local_addr().unwrap().as_pathname(),
        Some(path.0.as_path())
    );
    let server = pool
        .spawn_with_handle(async move {
            let (stream, _peer) = listener.accept().await?;
            let (mut read, mut write) = stream.into_split();
            futures::io::copy(&mut read, &mut write).await
        })
        .unwrap();

    let data: Vec<u8> = (0..64 * 1024).map(|i| (i % 253) as u8).collect();
    let echoed = driver.block_on(async {
        let stream = UnixStream::connect(&path.0).await?;
        let (mut read, mut write) = stream.into_split();
        let send = async {
            write.write_all(&data).await?;
            write.close().await
        };
        let mut echoed = Vec::new();
        let (sent, received) = futures::join!(send, read.read_to_end(&mut echoed));
        sent?;
        received?;
        Ok::<_, io::Error>(echoed)
    });
    assert!(echoed.unwrap() == data, "echoed bytes differ");
    assert_eq!(driver.block_on(server).unwrap(), data.len() as u64);
}

#[test]
fn a_stream_pair_talks_both_ways_and_close_gives_eof() {
    let driver = Driver::start();
    driver.block_on(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        a.write_all(b"hi b").await.unwrap();
        a.close().await.unwrap();
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hi b");
        b.write_all(b"hi a").await.unwrap();
        let mut buf = [0; 4];
        a.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hi a");
    });
}

#[test]
fn connecting_to_a_missing_socket_file_fails() {
    let driver = Driver::start();
    let path = SocketPath::new("missing");
    let err = driver.block_on(UnixStream::connect(&path.0)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[test]
fn binding_twice_to_one_path_fails_with_addr_in_use() {
    let driver = Driver::start();
    let path = SocketPath::new("twice");
    driver.block_on(async {
        let _first = UnixListener::bind(&path.0).unwrap();
        let err = UnixListener::bind(&path.0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    });
}
