//! A worker without work of its own: stealing half of a random peer's queue, then the injector,
//! and the short watch a searcher keeps before it parks (it stays counted as a searcher
//! meanwhile, so pushes wake nobody). Under loom there is no time: the watch takes a peer's
//! stuck LIFO task at once or parks.

use super::{Local, Shared};
#[cfg(not(loom))]
use crate::sync::atomic::Ordering::Acquire;
use crate::sync::deque::{Injector, Steal};
use crate::task::NodeRef;

pub(super) fn steal_retrying(injector: &Injector<NodeRef>) -> Steal<NodeRef> {
    loop {
        match injector.steal() {
            Steal::Retry => continue,
            other => return other,
        }
    }
}

/// How long a searcher that found nothing watches for work before it parks.
#[cfg(not(loom))]
const WATCH: std::time::Duration = std::time::Duration::from_micros(20);

/// How long a peer's LIFO task must have been stuck behind the poll that put it there before a
/// watching searcher takes it: a short poll ends sooner, and its owner runs the task itself
/// with its data in cache.
#[cfg(not(loom))]
const LIFO_AGE: std::time::Duration = std::time::Duration::from_micros(10);

/// `spin_loop` hints between two looks of a watching searcher at the injector and its peers'
/// queues (about 0.7 µs here).
#[cfg(not(loom))]
const SPINS_PER_LOOK: usize = 32;

/// Looks between two reads of a stuck LIFO task's owner's poll slot (about 6 µs here, against
/// `LIFO_AGE`'s 10): the owner writes that line at every poll's start and end, and a watcher
/// reading it at every look made the owner miss on it in nearly every poll (`ring`, in one of
/// this VM's slow phases: 78 → 66 ms per run).
#[cfg(not(loom))]
const LOOKS_PER_SLOT_READ: u32 = 8;

/// What a searcher's watch found.
pub(super) enum Watched {
    /// A peer's LIFO task, stuck behind the poll that put it there (taken).
    Task(NodeRef),
    /// Work to look for again: in the injector or a peer's queue.
    #[cfg_attr(loom, allow(dead_code))]
    Work,
    /// Nothing: park.
    Nothing,
}

/// A searcher that found no work may watch for a few microseconds before it parks, still
/// counted as the searcher so that pushes wake nobody meanwhile:
///
/// - one that had been taking tasks from the injector watches the injector: a plain thread or a
///   `block_on` body feeding tasks one at a time would otherwise cost a wake-up every task;
/// - any other watches only while a peer's LIFO task is stuck behind the poll that put it
///   there, and takes it once it has waited `LIFO_AGE`; with nothing stuck it parks at once.
///   (Watching the peers' queues for the whole `WATCH` spared wake-ups in conversations of
///   short polls, but the spinning cost the load generator of hyper under `wrk` on the same
///   two cores 13 % of its throughput at 16 connections.)
pub(super) fn watch(shared: &Shared, local: &Local, fed_from_outside: bool) -> Watched {
    #[cfg(loom)]
    {
        let _ = fed_from_outside;
        // No time under loom: the stuck LIFO task is taken at once.
        match steal_stuck_lifo(shared, local) {
            Some(task) => Watched::Task(task),
            None => Watched::Nothing,
        }
    }
    #[cfg(not(loom))]
    {
        let start = std::time::Instant::now();
        // The peer whose LIFO task was seen stuck, its poll, and since when.
        let mut stuck: Option<(usize, u64, std::time::Instant)> = None;
        let mut looks: u32 = 0;
        loop {
            for _ in 0..SPINS_PER_LOOK {
                std::hint::spin_loop();
            }
            if !shared.injector.is_empty() {
                return Watched::Work;
            }
            if shared.shutdown.load(Acquire) || start.elapsed() >= WATCH {
                return Watched::Nothing;
            }
            if fed_from_outside {
                continue;
            }
            let n = shared.stealers.len();
            if (0..n).any(|v| v != local.index && !shared.stealers[v].is_empty()) {
                return Watched::Work;
            }
            looks = looks.wrapping_add(1);
            if stuck.is_some() && looks % LOOKS_PER_SLOT_READ != 0 {
                continue;
            }
            let now = std::time::Instant::now();
            match stuck {
                Some((victim, seq, since)) if shared.polls[victim].seq() == seq => {
                    if now.duration_since(since) >= LIFO_AGE {
                        if let Some(task) = shared.lifos[victim].steal(|| seq) {
                            return Watched::Task(task);
                        }
                        stuck = None;
                    }
                }
                _ => {
                    stuck = (0..n).filter(|&v| v != local.index).find_map(|v| {
                        let seq = shared.polls[v].seq();
                        shared.lifos[v]
                            .stuck_behind(|| seq)
                            .then_some((v, seq, now))
                    });
                    if stuck.is_none() {
                        // Nothing stuck behind a peer's poll: park rather than spin.
                        return Watched::Nothing;
                    }
                }
            }
        }
    }
}

/// A peer's LIFO task stuck behind the poll that put it there, taken at once (loom models).
#[cfg(loom)]
fn steal_stuck_lifo(shared: &Shared, local: &Local) -> Option<NodeRef> {
    (0..shared.stealers.len())
        .filter(|&v| v != local.index)
        .find_map(|v| shared.lifos[v].steal(|| shared.polls[v].seq()))
}

/// Steals half of a random peer's queue, else from the injector (searching workers only; a
/// peer's LIFO task stuck behind its poll is taken by `watch`).
pub(super) fn steal(shared: &Shared, local: &Local, rng: &mut XorShift) -> Option<NodeRef> {
    let n = shared.stealers.len();
    let start = (rng.next() as usize) % n;
    let counters = &shared.counters[local.index];
    let before = local.queue.len();
    let mut retry = true;
    while retry {
        retry = false;
        for i in 0..n {
            let victim = (start + i) % n;
            if victim == local.index {
                continue;
            }
            match shared.stealers[victim].steal_batch_and_pop(&local.queue) {
                Steal::Success(task) => {
                    let moved = local.queue.len().saturating_sub(before) as u64;
                    counters.steals.add(1 + moved);
                    return Some(task);
                }
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
        }
    }
    // Work may have been injected while we looked at the peers.
    let task = steal_retrying(&shared.injector).success();
    if task.is_some() {
        counters.injector_pulls.add(1);
    }
    task
}

/// A tiny PRNG to pick the first steal victim.
pub(super) struct XorShift(u64);

impl XorShift {
    pub(super) fn new(seed: u64) -> XorShift {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}
