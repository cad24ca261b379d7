//! A worker without work of its own: stealing from peers and the injector, and what a searcher
//! that found nothing to take does before it parks.
//!
//! A peer's queued tasks are taken only if they would wait for that peer: a searcher watches
//! each peer's poll sequence (`PollSlot`), and once it has watched for at least `LOOK` it takes
//! the tasks of a peer whose poll has not moved meanwhile (a long poll, which they wait behind)
//! or which queues at least as many tasks as it finished polls (its backlog outlasts another
//! look). A peer that works through its queue faster is left to it: a chain of short polls
//! (tasks waking tasks) stays on one core instead of bouncing between two at every hop. While
//! such a peer is busy the searcher dozes (`Park::doze`, `DOZE`), still counted as the
//! searcher so that the peer's pushes wake nobody, and looks again when it wakes: a task
//! waits for a worker at most about one doze, however its owner's next poll turns out.
//!
//! Under loom there is no time: a peer's queued tasks and its stuck LIFO task are taken at once,
//! and nobody dozes.

#[cfg(not(loom))]
use std::time::{Duration, Instant};

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

/// The longest a searcher watches (the injector, or a peer's stuck LIFO task) before it parks
/// or dozes.
#[cfg(not(loom))]
const WATCH: Duration = Duration::from_micros(20);

/// How long a searcher must have watched a peer's polls before it judges whether that peer's
/// queued tasks wait for it (`Progress::judge`). Every steal waits that long first, so it is
/// kept short: `tcp_echo` (independent connections, where stealing buys parallelism) took
/// 1.13× tokio's time at 5 µs, 1.08–1.11× at 2 µs, 1.04–1.07× at 1 µs (1.02–1.04× before
/// this rule), while `ring` (a chain of ~0.2 µs polls) stayed on one core at all three.
#[cfg(not(loom))]
const LOOK: Duration = Duration::from_micros(1);

/// How long a searcher dozes while a peer works through its queue, before it looks again: the
/// longest a task queued there waits for a worker if the peer's next poll blocks.
#[cfg(not(loom))]
pub(super) const DOZE: Duration = Duration::from_micros(50);

/// How long a peer's LIFO task must have been stuck behind the poll that put it there before a
/// watching searcher takes it: a short poll ends sooner, and its owner runs the task itself
/// with its data in cache.
#[cfg(not(loom))]
const LIFO_AGE: Duration = Duration::from_micros(10);

/// `spin_loop` hints between two looks of a watching searcher at the injector and its peers'
/// queues (about 0.7 µs here); the first look comes without them.
#[cfg(not(loom))]
const SPINS_PER_LOOK: usize = 32;

/// Looks between two reads of a stuck LIFO task's owner's poll slot (about 6 µs here, against
/// `LIFO_AGE`'s 10): the owner writes that line at every poll's start and end, and a watcher
/// reading it at every look made the owner miss on it in nearly every poll (`ring`, in one of
/// this VM's slow phases: 78 → 66 ms per run).
#[cfg(not(loom))]
const LOOKS_PER_SLOT_READ: u32 = 8;

/// A searcher's last sight of each peer's poll sequence, to judge whether the tasks queued
/// there wait for that peer (see the module docs). Forgotten whenever the searcher stops
/// searching, and after each doze: an old sight says nothing of the peer's pace now (judged
/// against a sight from before its doze, a peer that began a long poll during it had finished
/// many polls since, and the searcher dozed again: a task waited up to two dozes).
pub(super) struct Progress {
    #[cfg(not(loom))]
    sights: Box<[Option<Sight>]>,
}

#[cfg(not(loom))]
#[derive(Clone, Copy)]
struct Sight {
    seq: u64,
    at: Instant,
    /// A verdict (`Wait`) was reached over a whole `LOOK` before this sight was taken.
    judged: bool,
}

/// Whether a peer's queued tasks should be taken now.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Verdict {
    /// They wait for their owner: take them.
    Take,
    /// Their owner is working through them faster than another look would: leave them.
    Wait,
    /// Not watched long enough to tell.
    #[cfg_attr(loom, allow(dead_code))]
    Unknown,
}

impl Progress {
    pub(super) fn new(workers: usize) -> Progress {
        #[cfg(loom)]
        let _ = workers;
        Progress {
            #[cfg(not(loom))]
            sights: vec![None; workers].into_boxed_slice(),
        }
    }

    pub(super) fn forget(&mut self) {
        #[cfg(not(loom))]
        self.sights.fill(None);
    }

    /// Judges the `queued` tasks (`queued > 0`) of peer `victim`: taken if its poll has not
    /// moved since the last sight at least `LOOK` ago, or if it finished no more polls than
    /// it has tasks queued meanwhile.
    pub(super) fn judge(&mut self, shared: &Shared, victim: usize, queued: usize) -> Verdict {
        #[cfg(loom)]
        {
            let _ = (shared, victim, queued);
            Verdict::Take
        }
        #[cfg(not(loom))]
        {
            let now = Instant::now();
            let sight = &mut self.sights[victim];
            // The peer's poll slot is read only when needed: the peer writes that line at
            // every poll (see `LOOKS_PER_SLOT_READ`).
            let Some(last) = *sight else {
                *sight = Some(Sight {
                    seq: shared.polls[victim].seq(),
                    at: now,
                    judged: false,
                });
                return Verdict::Unknown;
            };
            if now.duration_since(last.at) < LOOK {
                return match last.judged {
                    true => Verdict::Wait,
                    false => Verdict::Unknown,
                };
            }
            let seq = shared.polls[victim].seq();
            // `seq` is bumped at every poll's start and end: odd during one.
            let finished = (seq / 2).wrapping_sub(last.seq / 2);
            if seq == last.seq || queued as u64 >= finished {
                return Verdict::Take;
            }
            *sight = Some(Sight {
                seq,
                at: now,
                judged: true,
            });
            Verdict::Wait
        }
    }
}

/// What a searcher's watch found.
pub(super) enum Watched {
    /// A peer's LIFO task, stuck behind the poll that put it there (taken).
    Task(NodeRef),
    /// Work to look for again: in the injector or a peer's queue.
    #[cfg_attr(loom, allow(dead_code))]
    Work,
    /// Tasks queued at a peer that is working through them: doze, then look again.
    #[cfg_attr(loom, allow(dead_code))]
    Busy,
    /// Nothing: park.
    Nothing,
}

/// A searcher that found nothing to take watches for a few microseconds before it dozes or
/// parks, still counted as the searcher so that pushes wake nobody meanwhile:
///
/// - one that had been taking tasks from the injector watches the injector: a plain thread or a
///   `block_on` body feeding tasks one at a time would otherwise cost a wake-up every task;
/// - any other watches its peers: their queues until it has judged them (`Progress::judge`,
///   at most `LOOK`), and a peer's LIFO task stuck behind the poll that put it there, which it
///   takes once it has waited `LIFO_AGE`. It dozes (`Busy`) if a peer is working through a
///   queue, and parks at once if its first look, made without spinning, finds nothing queued or
///   stuck anywhere. (Watching the peers' queues for longer spared wake-ups in conversations of
///   short polls, but the spinning cost the load generator of hyper under `wrk` on the same two
///   cores 13 % of its throughput at 16 connections.)
pub(super) fn watch(
    shared: &Shared,
    local: &Local,
    fed_from_outside: bool,
    progress: &mut Progress,
) -> Watched {
    #[cfg(loom)]
    {
        let _ = (fed_from_outside, progress);
        // No time under loom: the stuck LIFO task is taken at once.
        match steal_stuck_lifo(shared, local) {
            Some(task) => Watched::Task(task),
            None => Watched::Nothing,
        }
    }
    #[cfg(not(loom))]
    {
        let start = Instant::now();
        // The peer whose LIFO task was seen stuck, its poll, and since when.
        let mut stuck: Option<(usize, u64, Instant)> = None;
        let mut looks: u32 = 0;
        let mut first = true;
        loop {
            // The first look comes at once: most watches find nothing queued or stuck anywhere
            // and end in a park, and a spin before it only took the core from whoever else
            // wanted it (the load generator, for hyper under `wrk`).
            if !std::mem::take(&mut first) {
                for _ in 0..SPINS_PER_LOOK {
                    std::hint::spin_loop();
                }
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
            let mut busy = false;
            let mut unknown = false;
            for v in (0..n).filter(|&v| v != local.index) {
                let queued = shared.stealers[v].len();
                if queued > 0 {
                    match progress.judge(shared, v, queued) {
                        Verdict::Take => return Watched::Work,
                        Verdict::Wait => busy = true,
                        Verdict::Unknown => unknown = true,
                    }
                }
            }
            looks = looks.wrapping_add(1);
            if stuck.is_some() && looks % LOOKS_PER_SLOT_READ != 0 {
                continue;
            }
            let now = Instant::now();
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
                    if stuck.is_none() && !unknown {
                        return match busy {
                            true => Watched::Busy,
                            // Nothing queued or stuck at a peer: park rather than spin.
                            false => Watched::Nothing,
                        };
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

/// Steals half of a random peer's queue, of the peers whose queued tasks wait for them
/// (`Progress::judge`), else from the injector (searching workers only; a peer's LIFO task
/// stuck behind its poll is taken by `watch`).
pub(super) fn steal(
    shared: &Shared,
    local: &Local,
    rng: &mut XorShift,
    progress: &mut Progress,
) -> Option<NodeRef> {
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
            let queued = shared.stealers[victim].len();
            if queued == 0 || progress.judge(shared, victim, queued) != Verdict::Take {
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

/// Dozes while a peer works through its queue (`Watched::Busy`): still the searcher, so pushes
/// wake nobody, but a task injected from outside wakes the dozer (`Shared::inject`).
#[cfg(not(loom))]
pub(super) fn doze(shared: &Shared, local: &Local) {
    use crate::sync::atomic::Ordering::SeqCst;
    let dozing = &shared.dozing[local.index];
    // Pairs with `inject`'s: either it sees this flag, or this sees its task.
    dozing.store(true, SeqCst);
    if shared.injector.is_empty() && !shared.shutdown.load(Acquire) {
        shared.counters[local.index].dozes.add(1);
        shared.park.doze(local.index, DOZE);
    }
    dozing.store(false, SeqCst);
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::Scheduler;

    struct NoPark;

    impl crate::Park for NoPark {
        fn park(&self, _: usize) {}
        fn unpark(&self, _: usize) {}
        fn poll_events(&self, _: usize) {}
    }

    /// Peer 1's progress as worker 0 judges it; peer 1's poll slot is driven by hand (no worker
    /// loop runs).
    fn judged_after_a_look(polls: u32, stuck_in_one: bool, queued: usize) -> Verdict {
        let (scheduler, _runners) = Scheduler::new(2, NoPark);
        let shared = &*scheduler.shared;
        let slot = &shared.polls[1];
        let mut progress = Progress::new(2);
        assert_eq!(progress.judge(shared, 1, queued), Verdict::Unknown);
        for _ in 0..polls {
            slot.begin(1, None);
            slot.end();
        }
        if stuck_in_one {
            slot.begin(2, None);
        }
        std::thread::sleep(LOOK);
        progress.judge(shared, 1, queued)
    }

    #[test]
    fn a_peer_working_through_its_queue_keeps_it() {
        assert_eq!(judged_after_a_look(10, false, 2), Verdict::Wait);
        assert_eq!(judged_after_a_look(10, true, 2), Verdict::Wait);
    }

    #[test]
    fn the_queue_of_a_peer_stuck_in_one_poll_is_taken() {
        assert_eq!(judged_after_a_look(0, true, 1), Verdict::Take);
        // Not polling at all (busy in its reactor, say) is no progress either.
        assert_eq!(judged_after_a_look(0, false, 1), Verdict::Take);
    }

    #[test]
    fn a_backlog_longer_than_the_polls_a_peer_finished_is_taken() {
        assert_eq!(judged_after_a_look(3, false, 3), Verdict::Take);
        assert_eq!(judged_after_a_look(3, false, 2), Verdict::Wait);
    }

    #[test]
    fn a_searcher_that_stopped_searching_watches_anew() {
        let (scheduler, _runners) = Scheduler::new(2, NoPark);
        let shared = &*scheduler.shared;
        let mut progress = Progress::new(2);
        assert_eq!(progress.judge(shared, 1, 1), Verdict::Unknown);
        std::thread::sleep(LOOK);
        progress.forget();
        assert_eq!(progress.judge(shared, 1, 1), Verdict::Unknown);
    }
}
