//! A stand-in runtime for the reactor's tests: a thread that turns the reactor,
//! and executors whose threads have entered its handle.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use futures::executor::ThreadPool;
use futures::future::{self, Either};
use nursery_reactor::{Reactor, ReactorHandle};

/// How long any one test may block before it is failed (instead of hanging).
pub const TEST_DEADLINE: Duration = Duration::from_secs(20);

/// A reactor turned by a background thread (`turn(Some(10ms))` in a loop) until dropped.
pub struct Driver {
    handle: ReactorHandle,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Driver {
    /// Starts the reactor thread.
    pub fn start() -> Driver {
        let mut reactor = Reactor::new().expect("create reactor");
        let handle = reactor.handle();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = thread::Builder::new()
            .name("reactor".into())
            .spawn({
                let stop = stop.clone();
                move || {
                    while !stop.load(Ordering::Acquire) {
                        reactor.turn(Some(Duration::from_millis(10)))?;
                    }
                    Ok(())
                }
            })
            .expect("spawn reactor thread");
        Driver {
            handle,
            stop,
            thread: Some(thread),
        }
    }

    /// The reactor's handle.
    pub fn handle(&self) -> &ReactorHandle {
        &self.handle
    }

    /// Runs `future` on this thread with the handle entered; fails the test
    /// after [`TEST_DEADLINE`].
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _guard = self.handle.enter();
        block_on_with_deadline(future)
    }

    /// A thread pool whose threads have entered the handle.
    pub fn pool(&self, threads: usize) -> ThreadPool {
        let handle = self.handle.clone();
        ThreadPool::builder()
            .pool_size(threads)
            .after_start(move |_| std::mem::forget(handle.enter()))
            .create()
            .expect("create thread pool")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.handle.unpark();
        if let Some(thread) = self.thread.take() {
            let result = thread.join();
            if !thread::panicking() {
                result
                    .expect("reactor thread panicked")
                    .expect("reactor turn failed");
            }
        }
    }
}

/// `futures::executor::block_on`, failing the test instead of hanging past [`TEST_DEADLINE`].
pub fn block_on_with_deadline<F: Future>(future: F) -> F::Output {
    let future = pin!(future);
    match futures::executor::block_on(future::select(future, Deadline::after(TEST_DEADLINE))) {
        Either::Left((output, _)) => output,
        Either::Right(((), _)) => panic!("the test did not finish within {TEST_DEADLINE:?}"),
    }
}

/// A future that becomes ready after a duration (a watchdog, never used to synchronise).
pub struct Deadline {
    state: Arc<Mutex<(bool, Option<Waker>)>>,
}

impl Deadline {
    pub fn after(duration: Duration) -> Deadline {
        let state = Arc::new(Mutex::new((false, None::<Waker>)));
        let weak = Arc::downgrade(&state);
        thread::spawn(move || {
            thread::sleep(duration);
            if let Some(state) = weak.upgrade() {
                let mut state = state.lock().unwrap();
                state.0 = true;
                if let Some(waker) = state.1.take() {
                    waker.wake();
                }
            }
        });
        Deadline { state }
    }
}

impl Future for Deadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.state.lock().unwrap();
        if state.0 {
            Poll::Ready(())
        } else {
            state.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// A waker that counts its wakes and lets a thread block until the next one.
#[derive(Default)]
pub struct Flag {
    wakes: Mutex<usize>,
    woken: Condvar,
    drops: AtomicUsize,
}

impl Flag {
    pub fn new() -> Arc<Flag> {
        Arc::new(Flag::default())
    }

    pub fn waker(self: &Arc<Self>) -> Waker {
        Waker::from(self.clone())
    }

    pub fn wakes(&self) -> usize {
        *self.wakes.lock().unwrap()
    }

    /// Blocks until the waker has been woken at least `n` times in all (fails after the deadline).
    pub fn wait_for(&self, n: usize) {
        let wakes = self.wakes.lock().unwrap();
        let (wakes, timeout) = self
            .woken
            .wait_timeout_while(wakes, TEST_DEADLINE, |wakes| *wakes < n)
            .unwrap();
        assert!(
            !timeout.timed_out(),
            "waker woken {} times, expected {n}",
            *wakes
        );
    }
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        *self.wakes.lock().unwrap() += 1;
        self.woken.notify_all();
    }
}

/// Polls `future` once with `waker`.
pub fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(waker))
}

/// Wraps a future so that `pending` receives a message the first time it returns `Pending`
/// (so another thread knows its waker is registered).
pub fn notify_when_pending<F: Future>(
    future: F,
    pending: mpsc::Sender<()>,
) -> impl Future<Output = F::Output> {
    let mut pending = Some(pending);
    let mut future = Box::pin(future);
    future::poll_fn(move |cx| {
        let poll = future.as_mut().poll(cx);
        if poll.is_pending() {
            if let Some(tx) = pending.take() {
                let _ = tx.send(());
            }
        }
        poll
    })
}

/// A connected loopback TCP pair: (the accepted side, the connecting side).
pub async fn tcp_pair() -> io::Result<(
    nursery_reactor::net::TcpStream,
    nursery_reactor::net::TcpStream,
)> {
    use nursery_reactor::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (accepted, connected) = future::join(listener.accept(), TcpStream::connect(addr)).await;
    Ok((accepted?.0, connected?))
}

/// A fresh path for a Unix socket in the temp dir (removed on drop).
pub struct SocketPath(pub std::path::PathBuf);

impl SocketPath {
    pub fn new(name: &str) -> SocketPath {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "nursery-reactor-{}-{name}-{n}.sock",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        SocketPath(path)
    }
}

impl Drop for SocketPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
