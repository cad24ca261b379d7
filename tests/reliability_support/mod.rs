//! Helpers shared by the `reliability_*` test binaries: a counting allocator, a watchdog that
//! turns a hang into a failure, drop probes that catch double drops, a seeded PRNG.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Counts live heap blocks and bytes. Install it in a test binary with
/// `#[global_allocator] static ALLOC: Counting = Counting;`.
pub struct Counting;

static LIVE_BLOCKS: AtomicIsize = AtomicIsize::new(0);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is the system allocator's.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE_BLOCKS.fetch_add(1, SeqCst);
            LIVE_BYTES.fetch_add(layout.size() as isize, SeqCst);
        }
        ptr
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            LIVE_BLOCKS.fetch_add(1, SeqCst);
            LIVE_BYTES.fetch_add(layout.size() as isize, SeqCst);
        }
        ptr
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BLOCKS.fetch_sub(1, SeqCst);
        LIVE_BYTES.fetch_sub(layout.size() as isize, SeqCst);
        // SAFETY: `ptr` came from this allocator with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, SeqCst);
        }
        new
    }
}

/// Live heap blocks and bytes right now (every thread of the process).
pub fn live() -> (isize, isize) {
    (LIVE_BLOCKS.load(SeqCst), LIVE_BYTES.load(SeqCst))
}

/// Waits up to `patience` for the live block count to come back to `baseline` (threads that
/// were joined may still be finishing their exit on some platforms). Returns the difference
/// left.
pub fn settle_to(baseline: (isize, isize), patience: Duration) -> (isize, isize) {
    let deadline = Instant::now() + patience;
    loop {
        let now = live();
        if now.0 == baseline.0 || Instant::now() > deadline {
            return (now.0 - baseline.0, now.1 - baseline.1);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits (up to 3 s) until the live block count has not changed for 100 ms: the test harness's
/// own threads (a finished test's thread exiting, results being printed) settle before a
/// baseline is taken.
pub fn quiesce() {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut last = live();
    let mut stable_since = Instant::now();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
        let now = live();
        if now != last {
            last = now;
            stable_since = Instant::now();
        } else if stable_since.elapsed() >= Duration::from_millis(100) {
            return;
        }
    }
}

/// Serialises the tests of one binary: the allocation counts are process-wide.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A watchdog thread that aborts the process (with a message) when the current step has run
/// past its limit, so a hang fails the test binary instead of stalling CI. It allocates
/// nothing after it started, so it does not disturb the allocation counts.
pub mod watchdog {
    use super::*;

    static DEADLINE_MS: AtomicU64 = AtomicU64::new(u64::MAX);
    static STEP: AtomicUsize = AtomicUsize::new(0);
    static LABEL: Mutex<&'static str> = Mutex::new("");

    fn epoch() -> Instant {
        static EPOCH: OnceLock<Instant> = OnceLock::new();
        *EPOCH.get_or_init(Instant::now)
    }

    fn start() {
        static STARTED: OnceLock<()> = OnceLock::new();
        STARTED.get_or_init(|| {
            epoch();
            std::thread::Builder::new()
                .name("watchdog".into())
                .spawn(|| loop {
                    std::thread::sleep(Duration::from_millis(50));
                    let now = epoch().elapsed().as_millis() as u64;
                    if now > DEADLINE_MS.load(SeqCst) {
                        let label = *LABEL.lock().unwrap_or_else(|e| e.into_inner());
                        eprintln!(
                            "watchdog: '{label}' step {} hung (past its time limit); aborting",
                            STEP.load(SeqCst)
                        );
                        std::process::abort();
                    }
                })
                .expect("watchdog thread");
        });
    }

    /// Arms the watchdog: `label` step `step` must finish (call [`disarm`] or arm again)
    /// within `limit`.
    pub fn arm(label: &'static str, step: usize, limit: Duration) {
        start();
        *LABEL.lock().unwrap_or_else(|e| e.into_inner()) = label;
        STEP.store(step, SeqCst);
        let deadline = epoch().elapsed() + limit;
        DEADLINE_MS.store(deadline.as_millis() as u64, SeqCst);
    }

    pub fn disarm() {
        DEADLINE_MS.store(u64::MAX, SeqCst);
    }
}

/// Counts creations and drops of the futures (or values) it is attached to, and catches a
/// double drop: each token carries a canary that its drop checks and poisons.
#[derive(Clone, Default)]
pub struct Probe(Arc<ProbeCounts>);

#[derive(Default)]
pub struct ProbeCounts {
    created: AtomicUsize,
    dropped: AtomicUsize,
    double_drops: AtomicUsize,
}

const ALIVE: u64 = 0xA11C_E5A1_1CE5_A11C;
const DEAD: u64 = 0xDEAD_DEAD_DEAD_DEAD;

/// One counted object.
pub struct Token {
    counts: Arc<ProbeCounts>,
    canary: u64,
}

impl Probe {
    pub fn new() -> Probe {
        Probe::default()
    }
    pub fn token(&self) -> Token {
        self.0.created.fetch_add(1, SeqCst);
        Token {
            counts: self.0.clone(),
            canary: ALIVE,
        }
    }
    pub fn created(&self) -> usize {
        self.0.created.load(SeqCst)
    }
    pub fn dropped(&self) -> usize {
        self.0.dropped.load(SeqCst)
    }
    pub fn live(&self) -> usize {
        self.created() - self.dropped()
    }
    /// Panics unless every token was dropped exactly once.
    pub fn assert_all_dropped_once(&self, what: &str) {
        let double = self.0.double_drops.load(SeqCst);
        assert_eq!(double, 0, "{what}: {double} double drop(s)");
        assert_eq!(
            self.dropped(),
            self.created(),
            "{what}: {} of {} futures dropped",
            self.dropped(),
            self.created()
        );
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        // SAFETY-free canary: a second drop of the same memory would find DEAD here. Read it
        // volatile so the check is not optimised on the assumption it cannot happen.
        let canary = unsafe { std::ptr::read_volatile(&self.canary) };
        if canary != ALIVE {
            self.counts.double_drops.fetch_add(1, SeqCst);
            return;
        }
        unsafe { std::ptr::write_volatile(&mut self.canary, DEAD) };
        self.counts.dropped.fetch_add(1, SeqCst);
    }
}

/// A tiny seeded PRNG (xorshift64*), so a failing soak can be replayed from its seed.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform-ish in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A flag set once, readable from any thread.
#[derive(Default)]
pub struct Flag(AtomicBool);

impl Flag {
    pub fn set(&self) {
        self.0.store(true, SeqCst);
    }
    pub fn is_set(&self) -> bool {
        self.0.load(SeqCst)
    }
}

pub fn runtime(workers: usize) -> nursery::Runtime {
    nursery::Runtime::builder()
        .worker_threads(workers)
        .build()
        .expect("runtime")
}
