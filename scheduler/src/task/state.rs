//! The state word of a tree node (a task or a group), written down once.
//!
//! ```text
//!   spawn ──► NOTIFIED ──run──► RUNNING ──Pending──► idle ──wake──► NOTIFIED ...
//!                                  │  └─woken while running─► NOTIFIED|RUNNING ─► requeued
//!                                  └─Ready / panic / cancelled─► BODY_DONE
//!   BODY_DONE ──(pending count reaches 0: every child complete)──► COMPLETE
//! ```
//!
//! * `NOTIFIED`: the task sits in a run queue (or will be put back there by the worker that is
//!   running it). The queue owns one reference while the bit is set.
//! * `RUNNING`: a worker holds the right to touch the future.
//! * `BODY_DONE`: the future is gone (finished, panicked or dropped by cancellation); its outcome
//!   is stored. Wakes are ignored from here on.
//! * `COMPLETE`: the whole subtree is gone; the join side may take the output.
//! * `CANCELLED`: cancellation was requested; delivered at the next poll point.
//! * `JOIN_INTEREST`: a `JoinHandle` (or scope future) still wants the output.
//! * `FORCED`: cancellation that goes through shields (runtime shutdown).
//! * `HAS_GROUPS`, `FAILED`, `JOIN_WAKER`: set once, never cleared: a group child was linked
//!   under this node; a failure is stored in its `tree`; a waiter is stored in its `tree`. They
//!   let the hot paths skip taking the node's lock when there is nothing to find.
//! * `LISTED`: the node is in its parent's child list. Groups and named tasks are listed when
//!   created; any other task joins the list only when it first has to wait (returns `Pending`,
//!   or finishes its body with children still running), set then by the holder of RUNNING. A
//!   task that runs to completion in its first poll, the common case for short tasks, never
//!   touches its parent's lock.
//! * `GROUP`, `SUPERVISED`, `ROOT`, `SHIELDED`: fixed at creation; what kind of node this is.
//!
//! The upper bits count references. Nothing outside this file touches the word directly.

use std::fmt;

use crate::sync::atomic::{AtomicUsize, Ordering::*};

const NOTIFIED: usize = 1 << 0;
const RUNNING: usize = 1 << 1;
const BODY_DONE: usize = 1 << 2;
const COMPLETE: usize = 1 << 3;
const CANCELLED: usize = 1 << 4;
const JOIN_INTEREST: usize = 1 << 5;
/// A group node: a scope, a `block_on` body or the root; it has no future of its own.
const GROUP: usize = 1 << 6;
/// A child failure is kept at the child instead of cancelling this node.
const SUPERVISED: usize = 1 << 7;
/// The runtime's root group.
const ROOT: usize = 1 << 8;
/// Not cancelled with its parent (only by its own handle, or at runtime shutdown).
const SHIELDED: usize = 1 << 9;
/// Cancelled by a cancellation that ignores shields.
const FORCED: usize = 1 << 10;
/// A group child was linked under this node (its body's end must look for leaked scopes).
const HAS_GROUPS: usize = 1 << 11;
/// A failure is stored in the node's `tree`.
const FAILED: usize = 1 << 12;
/// A waiter (join handle's or owner's waker) is stored in the node's `tree`.
const JOIN_WAKER: usize = 1 << 13;
/// The node is in its parent's child list (see the module docs).
const LISTED: usize = 1 << 14;

const REF_SHIFT: usize = 16;
const REF_ONE: usize = 1 << REF_SHIFT;
const FLAGS_MASK: usize = REF_ONE - 1;

/// A snapshot of the state word.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

impl Snapshot {
    pub(crate) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(crate) fn is_body_done(self) -> bool {
        self.0 & BODY_DONE != 0
    }
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    pub(crate) fn has_join_interest(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(crate) fn is_group(self) -> bool {
        self.0 & GROUP != 0
    }
    pub(crate) fn is_supervised(self) -> bool {
        self.0 & SUPERVISED != 0
    }
    pub(crate) fn is_root(self) -> bool {
        self.0 & ROOT != 0
    }
    pub(crate) fn is_shielded(self) -> bool {
        self.0 & SHIELDED != 0
    }
    pub(crate) fn is_forced(self) -> bool {
        self.0 & FORCED != 0
    }
    pub(crate) fn has_groups(self) -> bool {
        self.0 & HAS_GROUPS != 0
    }
    pub(crate) fn has_failed(self) -> bool {
        self.0 & FAILED != 0
    }
    pub(crate) fn has_join_waker(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    pub(crate) fn is_listed(self) -> bool {
        self.0 & LISTED != 0
    }
    pub(crate) fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("notified", &self.is_notified())
            .field("running", &self.is_running())
            .field("body_done", &self.is_body_done())
            .field("complete", &self.is_complete())
            .field("cancelled", &self.is_cancelled())
            .field("join_interest", &self.has_join_interest())
            .field("refs", &self.ref_count())
            .finish()
    }
}

/// What the node is, fixed when it is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Task,
    Group { supervised: bool },
    Root,
}

/// The outcome of [`State::transition_to_running`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToRunning {
    /// Poll the future.
    Poll,
    /// Cancellation was requested: drop the future instead of polling it.
    Cancel,
    /// The body is already done (a stale queue entry); just drop the queue's reference.
    Stale,
}

/// The outcome of [`State::transition_to_idle`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToIdle {
    /// Nobody woke the task: the queue's reference must be dropped.
    Idle,
    /// It was woken during the poll: put it back in a queue, keeping the reference.
    Requeue,
    /// Cancellation arrived during the poll: drop the future now (we still hold RUNNING).
    Cancel,
}

/// The outcome of [`State::transition_to_notified`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToNotified {
    /// The caller must push the task into a run queue; a reference was added for the queue.
    Submit,
    /// Nothing to do (already queued, running, or finished).
    Nothing,
}

pub(crate) struct State {
    word: AtomicUsize,
}

impl State {
    /// A new task: notified (it is about to be queued), with references for the queue, the
    /// join handle and its parent's child list (held in reserve until it joins the list); or a
    /// group with references for its owner and its parent's child list; or a root, with one for
    /// its owner.
    pub(crate) fn new(kind: Kind, shielded: bool) -> State {
        let mut word = match kind {
            Kind::Task => NOTIFIED | JOIN_INTEREST | (3 * REF_ONE),
            Kind::Group { supervised } => {
                GROUP | JOIN_INTEREST | (2 * REF_ONE) | if supervised { SUPERVISED } else { 0 }
            }
            Kind::Root => GROUP | ROOT | SUPERVISED | JOIN_INTEREST | REF_ONE,
        };
        if shielded {
            word |= SHIELDED;
        }
        State {
            word: AtomicUsize::new(word),
        }
    }

    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.word.load(Acquire))
    }

    /// A worker took the task out of a queue: NOTIFIED -> RUNNING.
    pub(crate) fn transition_to_running(&self) -> ToRunning {
        let mut cur = self.word.load(Acquire);
        loop {
            debug_assert!(cur & NOTIFIED != 0, "a queued task must be notified");
            if cur & BODY_DONE != 0 {
                return ToRunning::Stale;
            }
            let next = (cur & !NOTIFIED) | RUNNING;
            match self.word.compare_exchange_weak(cur, next, AcqRel, Acquire) {
                Ok(_) if cur & CANCELLED != 0 => return ToRunning::Cancel,
                Ok(_) => return ToRunning::Poll,
                Err(actual) => cur = actual,
            }
        }
    }

    /// The poll returned `Pending`.
    pub(crate) fn transition_to_idle(&self) -> ToIdle {
        let mut cur = self.word.load(Acquire);
        loop {
            debug_assert!(cur & RUNNING != 0);
            if cur & CANCELLED != 0 {
                return ToIdle::Cancel;
            }
            let next = cur & !RUNNING;
            match self.word.compare_exchange_weak(cur, next, AcqRel, Acquire) {
                Ok(_) if cur & NOTIFIED != 0 => return ToIdle::Requeue,
                Ok(_) => return ToIdle::Idle,
                Err(actual) => cur = actual,
            }
        }
    }

    /// The future is gone (returned, panicked or was dropped): RUNNING -> BODY_DONE.
    /// A NOTIFIED bit left by a wake during the poll is cleared too; such a wake added no
    /// reference, and the task will never be queued again.
    pub(crate) fn transition_to_body_done(&self) {
        let prev = self.word.fetch_or(BODY_DONE, AcqRel);
        debug_assert!(prev & RUNNING != 0);
        self.word.fetch_and(!(RUNNING | NOTIFIED), AcqRel);
    }

    /// Marks a group's body as finished (the scope future returned or was dropped).
    pub(crate) fn mark_group_body_done(&self) -> bool {
        let prev = self.word.fetch_or(BODY_DONE, AcqRel);
        prev & BODY_DONE == 0
    }

    /// A wake: schedule the task unless it is queued, running or done.
    pub(crate) fn transition_to_notified(&self) -> ToNotified {
        let mut cur = self.word.load(Acquire);
        loop {
            if cur & (NOTIFIED | BODY_DONE) != 0 {
                return ToNotified::Nothing;
            }
            let (next, outcome) = if cur & RUNNING != 0 {
                (cur | NOTIFIED, ToNotified::Nothing)
            } else {
                ((cur | NOTIFIED) + REF_ONE, ToNotified::Submit)
            };
            match self.word.compare_exchange_weak(cur, next, AcqRel, Acquire) {
                Ok(_) => return outcome,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Requests cancellation. Returns true for the first request.
    pub(crate) fn set_cancelled(&self) -> bool {
        self.word.fetch_or(CANCELLED, AcqRel) & CANCELLED == 0
    }

    /// Requests cancellation through shields. Returns true for the first forced request.
    pub(crate) fn set_forced(&self) -> bool {
        self.word.fetch_or(CANCELLED | FORCED, AcqRel) & FORCED == 0
    }

    /// The subtree is gone. Returns the state before: whether a join side still wants the
    /// output, and whether it left a waiter to wake.
    pub(crate) fn transition_to_complete(&self) -> Snapshot {
        let prev = self.word.fetch_or(COMPLETE, AcqRel);
        debug_assert!(prev & COMPLETE == 0);
        Snapshot(prev)
    }

    /// Marks that a waiter is stored (call with the node's lock held, after storing it). Returns
    /// the state before: if it was already COMPLETE, the completer may have missed the waiter,
    /// so the caller must not wait.
    pub(crate) fn set_join_waker(&self) -> Snapshot {
        Snapshot(self.word.fetch_or(JOIN_WAKER, AcqRel))
    }

    pub(crate) fn set_has_groups(&self) {
        self.word.fetch_or(HAS_GROUPS, Release);
    }

    /// The node joined its parent's child list (call with the parent's lock held).
    pub(crate) fn set_listed(&self) {
        self.word.fetch_or(LISTED, Release);
    }

    pub(crate) fn set_failed(&self) {
        self.word.fetch_or(FAILED, Release);
    }

    /// The join side goes away. Returns true if the node was already complete, in which case the
    /// caller owns the output and must drop it.
    pub(crate) fn drop_join_interest(&self) -> bool {
        self.word.fetch_and(!JOIN_INTEREST, AcqRel) & COMPLETE != 0
    }

    pub(crate) fn ref_inc(&self) {
        let prev = self.word.fetch_add(REF_ONE, Relaxed);
        // Overflowing the count would be a use-after-free waiting to happen.
        if prev > usize::MAX / 2 {
            std::process::abort();
        }
    }

    /// Returns true if this was the last reference.
    pub(crate) fn ref_dec(&self) -> bool {
        let prev = self.word.fetch_sub(REF_ONE, AcqRel);
        debug_assert!(prev >> REF_SHIFT >= 1, "reference count underflow");
        prev & !FLAGS_MASK == REF_ONE
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_new_task_is_notified_with_three_references() {
        let s = State::new(Kind::Task, false);
        let snap = s.load();
        assert!(snap.is_notified() && snap.has_join_interest() && !snap.is_running());
        assert_eq!(snap.ref_count(), 3, "queue, join handle, parent's list");
    }

    #[test]
    fn a_wake_while_running_requeues_after_the_poll() {
        let s = State::new(Kind::Task, false);
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        assert_eq!(s.transition_to_notified(), ToNotified::Nothing);
        assert_eq!(s.transition_to_idle(), ToIdle::Requeue);
        assert_eq!(s.load().ref_count(), 3);
    }

    #[test]
    fn a_wake_of_an_idle_task_adds_a_queue_reference() {
        let s = State::new(Kind::Task, false);
        s.transition_to_running();
        assert_eq!(s.transition_to_idle(), ToIdle::Idle);
        assert_eq!(s.transition_to_notified(), ToNotified::Submit);
        assert_eq!(s.transition_to_notified(), ToNotified::Nothing);
        assert_eq!(s.load().ref_count(), 4);
    }

    #[test]
    fn cancellation_is_seen_at_the_next_poll_point() {
        let s = State::new(Kind::Task, false);
        assert!(s.set_cancelled());
        assert!(!s.set_cancelled(), "cancelling twice does nothing");
        assert_eq!(s.transition_to_running(), ToRunning::Cancel);
    }

    #[test]
    fn cancellation_during_a_poll_is_delivered_when_it_returns() {
        let s = State::new(Kind::Task, false);
        s.transition_to_running();
        s.set_cancelled();
        assert_eq!(s.transition_to_idle(), ToIdle::Cancel);
    }

    #[test]
    fn wakes_after_the_body_is_done_are_ignored() {
        let s = State::new(Kind::Task, false);
        s.transition_to_running();
        s.transition_to_body_done();
        assert_eq!(s.transition_to_notified(), ToNotified::Nothing);
    }

    #[test]
    fn join_interest_decides_who_drops_the_output() {
        let s = State::new(Kind::Task, false);
        assert!(
            !s.drop_join_interest(),
            "not complete yet: the completer drops the output"
        );
        assert!(!s.transition_to_complete().has_join_interest());
        let s = State::new(Kind::Task, false);
        assert!(s.transition_to_complete().has_join_interest());
        assert!(
            s.drop_join_interest(),
            "complete: the join side drops the output"
        );
    }

    #[test]
    fn a_join_waker_set_after_completion_is_seen_by_the_waiter() {
        let s = State::new(Kind::Task, false);
        let before = s.transition_to_complete();
        assert!(
            !before.has_join_waker(),
            "the completer finds no waiter to wake"
        );
        assert!(
            s.set_join_waker().is_complete(),
            "so the waiter must not wait"
        );
    }

    #[test]
    fn the_last_reference_is_reported() {
        let s = State::new(Kind::Root, false);
        s.ref_inc();
        assert!(!s.ref_dec());
        assert!(s.ref_dec());
    }
}
