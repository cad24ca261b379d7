//! The worker loop: run tasks until shutdown. The order a worker looks for its next task: the
//! LIFO slot (at most `MAX_LIFO_STREAK` times in a row), its own queue, the injector; every
//! `MAINTENANCE_INTERVAL` tasks it checks the injector first and polls for events (`Park`), so
//! neither outside work nor I/O and timers starve behind a long local queue. With nothing found
//! it searches (`search.rs`), then registers as a sleeper, looks once more, and parks.

#[cfg(not(loom))]
use super::search::doze;
use super::search::{steal, steal_retrying, watch, Progress, Watched, XorShift};
use std::cell::Cell;

use super::{Local, Shared, WorkerRunner, LOCAL, MAINTENANCE_INTERVAL, MAX_LIFO_STREAK};
use crate::current_node;
use crate::sync::atomic::Ordering::*;
use crate::sync::deque::Steal;
use crate::sync::Arc;
use crate::task::{self, NodeRef};

impl WorkerRunner {
    /// This worker's index, `0..workers`.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Runs tasks until the scheduler shuts down.
    pub fn run(self) {
        let shared = self.shared;
        let local = Local {
            index: self.index,
            queue: self.queue,
            in_park: Cell::new(false),
            ids: Cell::new((0, 0)),
            counters: &shared.counters[self.index],
        };
        let counters = &shared.counters[local.index];
        let previous_worker = current_node::set_worker_of(Arc::as_ptr(&shared) as usize);
        let previous_local = LOCAL.with(|l| l.replace(&local as *const Local));
        shared.park.on_worker_start(local.index);

        let mut tick: u32 = 0;
        let mut lifo_streak: u32 = 0;
        let mut searching = false;
        // Whether this worker took work from the injector since it last waited for some.
        let mut fed_from_outside = false;
        let mut rng = XorShift::new(local.index as u64 + 1);
        let mut progress = Progress::new(shared.stealers.len());
        while !shared.shutdown.load(Acquire) {
            tick = tick.wrapping_add(1);
            let maintenance = tick % MAINTENANCE_INTERVAL == 0;
            if maintenance {
                shared.park.poll_events(local.index);
                // A safety net: tasks still waiting here a maintenance interval later (a wake
                // that found every worker awake, which then parked) are shared.
                shared.share_local_backlog(&local);
            }
            let mut task = next_task(
                &shared,
                &local,
                maintenance,
                &mut lifo_streak,
                &mut fed_from_outside,
            );
            if task.is_none() {
                searching = searching || shared.idle.try_start_searching();
                if searching {
                    task = steal(&shared, &local, &mut rng, &mut progress);
                }
            }
            match task {
                Some(task) => {
                    if searching {
                        searching = false;
                        progress.forget();
                        if shared.idle.stop_searching() {
                            // The last searcher found work: more may be waiting, so wake a
                            // peer to look.
                            shared.notify_one();
                        }
                    }
                    // Counted before the poll, so that whoever sees the task's result sees it.
                    counters.polls.add(1);
                    let slot = &shared.polls[local.index];
                    let meta = &task.header().meta;
                    slot.begin(meta.id, meta.location);
                    task::run(task, |t| shared.requeue_yielded(&local, t));
                    slot.end();
                }
                None => {
                    if searching {
                        let fed = std::mem::take(&mut fed_from_outside);
                        match watch(&shared, &local, fed, &mut progress) {
                            Watched::Task(task) => {
                                counters.lifo_steals.add(1);
                                // Found as a searcher: run it on the next turn of the loop.
                                local.queue.push(task);
                                continue;
                            }
                            Watched::Work => continue,
                            Watched::Busy => {
                                #[cfg(not(loom))]
                                doze(&shared, &local);
                                // The polls a peer finished before the doze say nothing of
                                // whether the one it is in now is long: watch it anew.
                                progress.forget();
                                continue;
                            }
                            Watched::Nothing => {}
                        }
                        progress.forget();
                    }
                    shared.idle.park(local.index, searching);
                    if !(shared.work_for_a_parking_worker() || shared.shutdown.load(Acquire)) {
                        local.in_park.set(true);
                        counters.parks.add(1);
                        shared.park.park(local.index);
                        local.in_park.set(false);
                    }
                    searching = shared.idle.unparked(local.index);
                    if searching {
                        counters.unparks.add(1);
                    }
                    // What `park` woke here (I/O, timers) wakes a peer only now (see
                    // `schedule`): this worker no longer counts as asleep.
                    shared.share_local_backlog(&local);
                }
            }
        }

        shared.park.on_worker_stop(local.index);
        drop(shared.lifos[local.index].take());
        while local.queue.pop().is_some() {}
        LOCAL.with(|l| l.set(previous_local));
        current_node::set_worker_of(previous_worker);
    }
}

/// The next task from this worker's own queues or the injector (the injector first at the
/// `maintenance` tick). Inlined: it runs once per task, on the worker loop's hottest path.
#[inline(always)]
fn next_task(
    shared: &Shared,
    local: &Local,
    maintenance: bool,
    lifo_streak: &mut u32,
    from_injector: &mut bool,
) -> Option<NodeRef> {
    let lifo = &shared.lifos[local.index];
    if maintenance {
        if let Steal::Success(task) = steal_retrying(&shared.injector) {
            *from_injector = true;
            shared.counters[local.index].injector_pulls.add(1);
            // The task in the LIFO slot now waits behind this one: where a peer can take it.
            if let Some(waiting) = lifo.take() {
                local.queue.push(waiting);
                shared.notify_for_local_work(true);
            }
            return Some(task);
        }
    }
    if let Some(task) = lifo.take() {
        // The streak ends only for the queue's sake: with the queue empty, moving the task to
        // it would only offer a chain of short polls to a searching peer, one hop at a time
        // (the injector and events get their turn at the maintenance tick anyway).
        if *lifo_streak < MAX_LIFO_STREAK || local.queue.is_empty() {
            *lifo_streak += 1;
            return Some(task);
        }
        local.queue.push(task);
    }
    *lifo_streak = 0;
    if let Some(task) = local.queue.pop() {
        return Some(task);
    }
    loop {
        match shared.injector.steal_batch_and_pop(&local.queue) {
            Steal::Success(task) => {
                *from_injector = true;
                // The queue was empty: all it holds now came with `task`.
                let pulled = 1 + local.queue.len() as u64;
                shared.counters[local.index].injector_pulls.add(pulled);
                return Some(task);
            }
            Steal::Retry => continue,
            Steal::Empty => return None,
        }
    }
}
