//! A soak (design brief §6): random spawn / cancel / detach / join / panic / timer / I/O /
//! blocking-pool churn from a seeded PRNG, inside a supervised scope, for 3 s by default; then
//!
//! * no panic happened other than the intentional ones (a panic hook counts the others, on
//!   every thread, workers included), and every child failure the supervisor saw was one of
//!   them,
//! * the task tree is empty before the runtime is dropped (`Handle::task_tree`),
//! * every future the soak created was dropped exactly once, and the heap is back where it was
//!   before the runtime was built (within crossbeam-epoch's slack, see
//!   `reliability_cancel_every_poll.rs`),
//! * nothing hung (a watchdog aborts the binary past the soak's time plus 60 s).
//!
//! The 60-second variant is `#[ignore]`d:
//! `cargo test --release -p nursery --test reliability_soak -- --ignored`.
//! `SOAK_SEED=<n>` replays a seed (each run prints the one it used); `SOAK_SECS=<n>` sets the
//! length of the default test.

mod reliability_support;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::io::{AsyncReadExt, AsyncWriteExt};
use nursery::net::{TcpListener, TcpStream};
use nursery::task::{spawn_blocking, yield_now};
use nursery::time::{interval, sleep, timeout};
use nursery::{JoinHandle, Scope};

use reliability_support::{live, quiesce, serial, settle_to, watchdog, Counting, Probe, XorShift};

#[global_allocator]
static ALLOC: Counting = Counting;

/// The heap blocks that may move between runtimes with two workers (crossbeam-epoch's global
/// collector frees lazily; see `reliability_cancel_every_poll.rs`).
const EPOCH_SLACK_BLOCKS: isize = 32;

/// The message every intentional panic carries.
const INTENTIONAL: &str = "intentional soak panic";

/// Panics whose message is not an intentional one (any thread).
static UNEXPECTED_PANICS: AtomicUsize = AtomicUsize::new(0);

/// Silences the intentional panics and counts the others (still printed by the default hook).
fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("");
        if message.contains(INTENTIONAL) {
            return;
        }
        UNEXPECTED_PANICS.fetch_add(1, SeqCst);
        default(info);
    }));
}

/// What the churn did, for the report.
#[derive(Default, Debug)]
struct Stats {
    spawned: AtomicUsize,
    cancelled: AtomicUsize,
    detached: AtomicUsize,
    joined: AtomicUsize,
    intentional_panics: AtomicUsize,
    failures_seen: AtomicUsize,
    unexpected_failures: AtomicUsize,
    connections: AtomicUsize,
}

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A random task. `depth` bounds nested scopes.
fn random_task(seed: u64, depth: u32, env: Env) -> BoxFuture {
    let mut rng = XorShift::new(seed);
    let token = env.probe.token();
    let kind = rng.below(if depth == 0 { 9 } else { 4 });
    Box::pin(async move {
        let _token = token;
        match kind {
            0 => {
                for _ in 0..rng.below(20) {
                    yield_now().await;
                }
            }
            1 => sleep(Duration::from_micros(rng.below(5000))).await,
            2 => {
                let long = sleep(Duration::from_micros(rng.below(6000)));
                let _ = timeout(Duration::from_micros(rng.below(3000)), long).await;
            }
            3 => {
                let children = rng.below(5);
                let seeds: Vec<u64> = (0..children).map(|_| rng.next_u64()).collect();
                let env2 = env.clone();
                nursery::scope(|s| async move {
                    for seed in seeds {
                        s.spawn(random_task(seed, depth + 1, env2.clone()));
                    }
                    yield_now().await;
                })
                .await;
            }
            4 => {
                yield_now().await;
                env.stats.intentional_panics.fetch_add(1, SeqCst);
                panic!("{INTENTIONAL} (in a task)");
            }
            5 => {
                // A child's panic, re-raised at its scope, fails this task.
                let stats = env.stats.clone();
                nursery::scope(|s| async move {
                    s.spawn(async move {
                        sleep(Duration::from_micros(500)).await;
                        stats.intentional_panics.fetch_add(1, SeqCst);
                        panic!("{INTENTIONAL} (in a scope)");
                    });
                    sleep(Duration::from_secs(3600)).await;
                })
                .await;
            }
            6 => {
                env.stats.connections.fetch_add(1, SeqCst);
                if let Ok(mut conn) = TcpStream::connect(env.echo).await {
                    let mut buf = [0u8; 16];
                    for _ in 0..rng.below(4) {
                        if conn.write_all(&[7u8; 16]).await.is_err()
                            || conn.read_exact(&mut buf).await.is_err()
                        {
                            break;
                        }
                    }
                }
            }
            7 => {
                let spin = rng.below(200);
                let _ = spawn_blocking(move || (0..spin).fold(0u64, |a, b| a ^ b)).await;
            }
            _ => {
                let mut every = interval(Duration::from_millis(1));
                for _ in 0..rng.below(4) {
                    every.tick().await;
                }
                // Some tasks only ever end by cancellation.
                if rng.chance(30) {
                    std::future::pending::<()>().await;
                }
            }
        }
    })
}

/// What every churn task shares.
#[derive(Clone)]
struct Env {
    probe: Probe,
    stats: Arc<Stats>,
    echo: std::net::SocketAddr,
}

/// Echoes every connection until EOF; each connection is a child task.
async fn echo_server(listener: TcpListener, probe: Probe) {
    let _token = probe.token();
    loop {
        match listener.accept().await {
            Ok((mut conn, _)) => {
                let token = probe.token();
                nursery::spawn(async move {
                    let _token = token;
                    let mut buf = [0u8; 16];
                    while conn.read_exact(&mut buf).await.is_ok() {
                        if conn.write_all(&buf).await.is_err() {
                            break;
                        }
                    }
                });
            }
            Err(_) => sleep(Duration::from_millis(1)).await, // EMFILE and friends
        }
    }
}

/// The churn loop, run as the body of a supervised scope.
async fn churn(s: Scope, env: Env, seed: u64, length: Duration) {
    let stats = env.stats.clone();
    s.on_child_failure(move |e| {
        stats.failures_seen.fetch_add(1, SeqCst);
        if !e.is_panic() || !e.panic_message().is_some_and(|m| m.contains(INTENTIONAL)) {
            stats.unexpected_failures.fetch_add(1, SeqCst);
            eprintln!("soak: unexpected child failure: {e}");
        }
    });
    let mut rng = XorShift::new(seed);
    let mut handles: Vec<JoinHandle<()>> = Vec::new();
    let end = Instant::now() + length;
    while Instant::now() < end {
        match rng.below(100) {
            0..=44 if handles.len() < 300 => {
                handles.push(s.spawn(random_task(rng.next_u64(), 0, env.clone())));
                env.stats.spawned.fetch_add(1, SeqCst);
            }
            45..=59 if !handles.is_empty() => {
                let i = rng.below(handles.len() as u64) as usize;
                handles[i].cancel();
                env.stats.cancelled.fetch_add(1, SeqCst);
            }
            60..=69 if !handles.is_empty() => {
                let i = rng.below(handles.len() as u64) as usize;
                drop(handles.swap_remove(i)); // detached: still a child of the scope
                env.stats.detached.fetch_add(1, SeqCst);
            }
            70..=84 if !handles.is_empty() => {
                let i = rng.below(handles.len() as u64) as usize;
                let handle = handles.swap_remove(i);
                // Joined with a bound; a handle that does not resolve in time is dropped.
                let _ = timeout(Duration::from_millis(2), handle).await;
                env.stats.joined.fetch_add(1, SeqCst);
            }
            _ => {
                if rng.chance(50) {
                    yield_now().await;
                } else {
                    sleep(Duration::from_micros(rng.below(500))).await;
                }
            }
        }
        handles.retain(|h| !h.is_finished());
    }
    drop(handles);
    // Whatever is still running (the server, tasks pending forever) is cancelled; the scope
    // then waits until all of it is gone.
    s.cancel();
}

fn soak(length: Duration, seed: u64) {
    let _serial = serial();
    install_panic_hook();
    eprintln!("soak: seed {seed}, {length:?} (replay with SOAK_SEED={seed})");
    watchdog::arm("soak", 0, length + Duration::from_secs(60));

    // Warm up lazily initialised globals, then take the baseline.
    drop(reliability_support::runtime(2));
    quiesce();
    let before = live();

    let probe = Probe::new();
    let stats = Arc::new(Stats::default());
    let rt = reliability_support::runtime(2);
    rt.block_on({
        let (probe, stats) = (probe.clone(), stats.clone());
        async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let echo = listener.local_addr().unwrap();
            let env = Env { probe, stats, echo };
            nursery::supervised(|s| async move {
                s.spawn(echo_server(listener, env.probe.clone()));
                churn(s, env, seed, length).await;
            })
            .await;
        }
    });
    let tree = rt.handle().task_tree();
    assert_eq!(
        tree.task_count(),
        0,
        "tasks left in the tree after the soak's scope returned:\n{tree}"
    );
    drop(tree);

    watchdog::arm("soak: Runtime::drop", 0, Duration::from_secs(30));
    drop(rt);
    eprintln!("soak: {stats:?}");
    assert_eq!(
        UNEXPECTED_PANICS.load(SeqCst),
        0,
        "panics other than the intentional ones (printed above)"
    );
    assert_eq!(stats.unexpected_failures.load(SeqCst), 0);
    assert!(stats.spawned.load(SeqCst) > 100, "the soak did little");
    probe.assert_all_dropped_once("soak");
    drop(probe);
    drop(stats);
    let leaked = settle_to(before, Duration::from_secs(1));
    assert!(
        leaked.0.abs() <= EPOCH_SLACK_BLOCKS,
        "{leaked:?} (blocks, bytes) left after the runtime was dropped"
    );
    watchdog::disarm();
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn seed() -> u64 {
    env_u64("SOAK_SEED").unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        nanos | 1
    })
}

#[test]
fn a_3_second_soak_of_random_churn_leaves_nothing_behind() {
    let secs = env_u64("SOAK_SECS").unwrap_or(3);
    soak(Duration::from_secs(secs), seed());
}

#[test]
#[ignore = "60 s: cargo test --release -p nursery --test reliability_soak -- --ignored"]
fn a_60_second_soak_of_random_churn_leaves_nothing_behind() {
    soak(Duration::from_secs(60), seed());
}
