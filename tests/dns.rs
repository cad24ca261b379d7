//! Address resolution never blocks a worker: a literal address is parsed on the spot (it never
//! touches the blocking pool), a host name is looked up on the blocking pool, outside the task
//! tree (a dropped lookup holds nobody up), and a name that does not resolve fails with an error
//! naming it.
//!
//! This machine may have no network: only `localhost` and names under the reserved `.invalid`
//! top-level domain (which never resolves) are used.

use std::io;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nursery::net::{lookup_host, TcpListener, TcpStream, UdpSocket};
use nursery::task::spawn_blocking;
use nursery::time::timeout;

/// A name that no resolver resolves (RFC 6761 reserves `.invalid`).
const UNKNOWN: &str = "nursery-dns-test.invalid";

fn runtime(max_blocking_threads: usize) -> nursery::Runtime {
    nursery::Runtime::builder()
        .worker_threads(1)
        .max_blocking_threads(max_blocking_threads)
        .build()
        .expect("runtime")
}

/// Occupies the runtime's only blocking thread until the returned sender sends (or ten
/// seconds pass); the task resolves to whether it was released by the test.
fn occupy_the_blocking_pool(
    rt: &nursery::Runtime,
) -> (mpsc::Sender<()>, nursery::JoinHandle<bool>) {
    let (release, released) = mpsc::channel::<()>();
    let (started, has_started) = mpsc::channel::<()>();
    let blocker = rt.handle().spawn(async move {
        spawn_blocking(move || {
            started.send(()).expect("the test waits for this");
            released.recv_timeout(Duration::from_secs(10)).is_ok()
        })
        .await
        .expect("the blocker does not fail")
    });
    has_started
        .recv_timeout(Duration::from_secs(10))
        .expect("the blocking job started");
    (release, blocker)
}

#[test]
fn literal_addresses_never_go_through_the_blocking_pool() {
    let rt = runtime(4);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let _client = TcpStream::connect(format!("127.0.0.1:{port}")).await?;
        let _client = TcpStream::connect(("127.0.0.1", port)).await?;
        let udp = UdpSocket::bind("127.0.0.1:0").await?;
        udp.connect(("127.0.0.1", udp.local_addr()?.port())).await?;
        udp.send_to(b"x", format!("127.0.0.1:{port}")).await?;
        let v6: Vec<_> = lookup_host("[::1]:80").await?.collect();
        assert_eq!(v6, ["[::1]:80".parse().unwrap()]);
        Ok::<_, io::Error>(())
    })
    .expect("literal addresses work");
    assert_eq!(
        rt.handle().blocking_threads(),
        0,
        "a literal address started a blocking thread: it was sent to the resolver"
    );
}

#[test]
fn a_host_name_is_resolved_on_the_blocking_pool_not_on_the_worker() {
    let rt = runtime(1);
    let (release, blocker) = occupy_the_blocking_pool(&rt);
    rt.block_on(async {
        // The only blocking thread is busy: the lookup waits for it, and the worker (there is
        // one) goes on running tasks meanwhile — the timer here.
        let waiting = timeout(Duration::from_millis(50), lookup_host("localhost:80")).await;
        assert!(
            waiting.is_err(),
            "the lookup finished while the blocking pool was busy: it ran on the worker"
        );
    });
    let _ = release.send(()); // fails only if the blocker gave up waiting, checked next
    assert!(rt.block_on(blocker).expect("the blocker ran"));
    // With the pool free again, the name resolves.
    let addrs: Vec<_> = rt
        .block_on(lookup_host("localhost:80"))
        .expect("localhost resolves")
        .collect();
    assert!(!addrs.is_empty());
    assert!(
        addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80),
        "{addrs:?}"
    );
}

#[test]
fn a_dropped_lookup_does_not_hold_up_its_scope() {
    let rt = runtime(1);
    let (release, blocker) = occupy_the_blocking_pool(&rt);
    let started = Instant::now();
    rt.block_on(nursery::scope(|s| async move {
        // Inside a task of the scope, as a connect with a timeout would be.
        let attempt = s.spawn(timeout(
            Duration::from_millis(20),
            TcpStream::connect("localhost:80"),
        ));
        assert!(attempt.await.expect("no panic").is_err(), "timed out");
    }));
    // The scope returned while its lookup is still queued behind the blocker.
    let returned_after = started.elapsed();
    let _ = release.send(()); // fails only if the blocker gave up waiting, checked next
    assert!(
        rt.block_on(blocker).expect("the blocker ran"),
        "the blocker was released by its own timeout: the scope waited for the abandoned \
         lookup (returned after {returned_after:?})"
    );
    assert!(
        returned_after < Duration::from_secs(5),
        "{returned_after:?}"
    );
}

#[test]
fn connecting_and_binding_by_host_name_reach_the_local_machine() {
    let rt = runtime(4);
    rt.block_on(async {
        let listener = TcpListener::bind(("localhost", 0)).await?;
        assert!(listener.local_addr()?.ip().is_loopback());
        let port = listener.local_addr()?.port();
        let client = TcpStream::connect(format!("localhost:{port}")).await?;
        let (server_side, _) = listener.accept().await?;
        assert_eq!(client.peer_addr()?, server_side.local_addr()?);

        let receiver = UdpSocket::bind("localhost:0").await?;
        let sender = UdpSocket::bind("127.0.0.1:0").await?;
        let to = format!("localhost:{}", receiver.local_addr()?.port());
        sender.send_to(b"hi", to.as_str()).await?;
        let mut buf = [0; 2];
        let (n, from) = receiver.recv_from(&mut buf).await?;
        assert_eq!((&buf[..n], from), (&b"hi"[..], sender.local_addr()?));
        Ok::<_, io::Error>(())
    })
    .expect("localhost resolves to this machine");
    assert!(
        rt.handle().blocking_threads() > 0,
        "names were resolved on the pool"
    );
}

#[test]
fn an_unknown_host_fails_with_an_error_naming_it() {
    let rt = runtime(4);
    rt.block_on(async {
        let target = format!("{UNKNOWN}:80");
        let errors = [
            lookup_host(target.as_str()).await.map(drop).unwrap_err(),
            TcpStream::connect(target.as_str())
                .await
                .map(drop)
                .unwrap_err(),
            TcpListener::bind((UNKNOWN, 0)).await.map(drop).unwrap_err(),
            UdpSocket::bind(target.as_str())
                .await
                .map(drop)
                .unwrap_err(),
        ];
        for e in errors {
            assert!(
                e.to_string().contains(UNKNOWN),
                "the error does not name the host: {e}"
            );
        }
        let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let e = udp.send_to(b"x", target.as_str()).await.unwrap_err();
        assert!(e.to_string().contains(UNKNOWN), "{e}");
        let e = udp.connect(target.as_str()).await.unwrap_err();
        assert!(e.to_string().contains(UNKNOWN), "{e}");
    });
}

#[test]
fn a_malformed_address_fails_at_once_without_a_lookup() {
    let rt = runtime(4);
    rt.block_on(async {
        for bad in ["localhost", "localhost:http", "127.0.0.1:65536"] {
            let e = TcpStream::connect(bad).await.map(drop).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad}: {e}");
            assert!(e.to_string().contains(bad), "{e}");
        }
    });
    assert_eq!(rt.handle().blocking_threads(), 0);
}
