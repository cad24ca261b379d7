//! The wheel fires exactly what a sorted reference model fires, at every advance, never early.

use std::collections::BTreeMap;

use nursery_timer::{TimerKey, Wheel};
use proptest::prelude::*;

/// Where a new deadline lands relative to the current `now`.
#[derive(Clone, Debug)]
enum When {
    /// `now - back` (saturating): already due.
    Past(u64),
    /// `now + ahead` (saturating).
    Ahead(u64),
    /// An absolute tick, whatever `now` is.
    At(u64),
}

#[derive(Clone, Debug)]
enum Op {
    Insert(When),
    /// Remove the n-th key ever issued (modulo their number): live, fired or removed.
    Remove(usize),
    /// Check `get_mut` and `deadline` of the n-th key ever issued.
    Peek(usize),
    /// `advance(now + step)`, saturating.
    Advance(u64),
    /// `advance(now - step)`: must not move time back.
    AdvanceBack(u64),
}

/// Reference: every live entry, sorted by (deadline, insertion number).
struct Model {
    now: u64,
    live: BTreeMap<(u64, u64), ()>,
    /// For each insertion number: its key and deadline.
    issued: Vec<(TimerKey, u64)>,
}

impl Model {
    fn earliest(&self) -> Option<u64> {
        self.live.keys().next().map(|&(deadline, _)| deadline)
    }
}

fn when(max_ahead: u64) -> impl Strategy<Value = When> {
    prop_oneof![
        2 => (0..100u64).prop_map(When::Past),
        6 => (0..130u64).prop_map(When::Ahead),
        4 => (0..max_ahead.min(300_000)).prop_map(When::Ahead),
        2 => (0..max_ahead).prop_map(When::Ahead),
        1 => prop_oneof![any::<u64>(), (u64::MAX - 1_000..=u64::MAX)].prop_map(When::At),
    ]
}

fn step(max_step: u64) -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0..3u64,
        4 => 0..70u64,
        3 => 0..5_000u64,
        2 => 0..max_step.min(10_000_000),
        1 => 0..max_step,
    ]
}

fn ops(max_ahead: u64, max_step: u64, len: usize) -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        10 => when(max_ahead).prop_map(Op::Insert),
        4 => any::<usize>().prop_map(Op::Remove),
        1 => any::<usize>().prop_map(Op::Peek),
        4 => step(max_step).prop_map(Op::Advance),
        1 => (0..1_000u64).prop_map(Op::AdvanceBack),
    ];
    prop::collection::vec(op, 1..len)
}

/// Runs `ops` on a wheel and the model side by side, checking every promise after each step.
fn check(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut wheel = Wheel::new();
    let mut model = Model {
        now: 0,
        live: BTreeMap::new(),
        issued: Vec::new(),
    };
    for op in ops {
        match op {
            Op::Insert(when) => {
                let deadline = match when {
                    When::Past(back) => model.now.saturating_sub(back),
                    When::Ahead(ahead) => model.now.saturating_add(ahead),
                    When::At(tick) => tick,
                };
                let seq = model.issued.len() as u64;
                let key = wheel.insert(deadline, seq);
                model.issued.push((key, deadline));
                model.live.insert((deadline, seq), ());
            }
            Op::Remove(n) if !model.issued.is_empty() => {
                let seq = n % model.issued.len();
                let (key, deadline) = model.issued[seq];
                let expected = model
                    .live
                    .remove(&(deadline, seq as u64))
                    .map(|()| seq as u64);
                prop_assert_eq!(wheel.remove(key), expected);
            }
            Op::Peek(n) if !model.issued.is_empty() => {
                let seq = n % model.issued.len();
                let (key, deadline) = model.issued[seq];
                let live = model.live.contains_key(&(deadline, seq as u64));
                prop_assert_eq!(wheel.deadline(key), live.then_some(deadline));
                prop_assert_eq!(wheel.get_mut(key).copied(), live.then_some(seq as u64));
            }
            Op::Remove(_) | Op::Peek(_) => {}
            Op::Advance(step) => {
                let to = model.now.saturating_add(step);
                advance(&mut wheel, &mut model, to)?;
            }
            Op::AdvanceBack(step) => {
                let to = model.now.saturating_sub(step);
                advance(&mut wheel, &mut model, to)?;
            }
        }
        prop_assert_eq!(wheel.len(), model.live.len());
        prop_assert_eq!(wheel.is_empty(), model.live.is_empty());
        prop_assert_eq!(wheel.now(), model.now);
    }
    // Finally everything left fires, each entry exactly once.
    advance(&mut wheel, &mut model, u64::MAX)?;
    prop_assert!(wheel.is_empty());
    Ok(())
}

/// Advances both to `to` and compares what fired.
fn advance(wheel: &mut Wheel<u64>, model: &mut Model, to: u64) -> Result<(), TestCaseError> {
    let before = model.now;
    // next_expiration: never later than the earliest deadline, never before now, and strictly
    // after now while nothing is due.
    match model.earliest() {
        None => prop_assert_eq!(wheel.next_expiration(), None),
        Some(earliest) => {
            let next = wheel.next_expiration();
            prop_assert!(next.is_some());
            let next = next.unwrap_or_default();
            prop_assert!(next >= before, "next {} before now {}", next, before);
            prop_assert!(
                next <= earliest.max(before),
                "next {} after {}",
                next,
                earliest
            );
            if earliest > before {
                prop_assert!(next > before, "next {} not after now {}", next, before);
            }
        }
    }

    model.now = to.max(before);
    let due = model.now;
    let still_live = model.live.split_off(&(due.saturating_add(1), 0));
    let mut expected: Vec<(u64, u64)> = std::mem::replace(&mut model.live, still_live)
        .into_keys()
        .collect();
    if due == u64::MAX {
        // split_off(MAX + 1) saturated: deadline MAX is due too.
        expected.extend(std::mem::take(&mut model.live).into_keys());
    }

    let mut fired = Vec::new();
    wheel.advance(to, |key, seq| fired.push((key, seq)));

    // Nothing early: each fired entry's deadline is due, and its key is the one issued.
    let mut order = Vec::with_capacity(fired.len());
    for &(key, seq) in &fired {
        let (issued_key, deadline) = model.issued[seq as usize];
        prop_assert_eq!(key, issued_key);
        prop_assert!(deadline <= due, "{} fired at {}", deadline, due);
        order.push(deadline);
    }
    // Already-due entries first, then the rest in deadline order.
    let newly_due = order
        .iter()
        .position(|&d| d > before)
        .unwrap_or(order.len());
    prop_assert!(order[newly_due..].iter().all(|&d| d > before));
    prop_assert!(
        order[newly_due..].windows(2).all(|w| w[0] <= w[1]),
        "{:?}",
        order
    );

    let mut got: Vec<(u64, u64)> = order.into_iter().zip(fired.iter().map(|f| f.1)).collect();
    got.sort_unstable();
    expected.sort_unstable();
    prop_assert_eq!(got, expected);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn fires_what_the_model_fires_across_all_scales(ops in ops(1 << 45, 1 << 40, 300)) {
        check(ops)?;
    }

    #[test]
    fn fires_what_the_model_fires_under_dense_churn(ops in ops(5_000, 200, 400)) {
        check(ops)?;
    }

    #[test]
    fn fires_what_the_model_fires_near_the_end_of_time(
        start in (u64::MAX - (1 << 20))..u64::MAX,
        ops in ops(1 << 20, 1 << 16, 200),
    ) {
        let mut all = vec![Op::Advance(start)];
        all.extend(ops);
        check(all)?;
    }
}
