use super::*;

/// Advances to `now` and returns what fired, as (deadline, value) pairs.
fn fire_until(wheel: &mut Wheel<u64>, now: u64) -> Vec<u64> {
    let mut fired = Vec::new();
    wheel.advance(now, |_, value| fired.push(value));
    fired
}

/// Inserts `deadline` with itself as value, then checks it fires at exactly that tick.
fn fires_exactly_at(now: u64, deadline: u64) {
    let mut wheel = Wheel::new();
    wheel.advance(now, |_, _| {});
    wheel.insert(deadline, deadline);
    assert_eq!(
        wheel.next_expiration(),
        Some(deadline),
        "deadline {deadline}"
    );
    assert!(
        fire_until(&mut wheel, deadline - 1).is_empty(),
        "deadline {deadline} early"
    );
    assert_eq!(fire_until(&mut wheel, deadline), [deadline]);
    assert!(wheel.is_empty());
    assert_eq!(wheel.next_expiration(), None);
}

#[test]
fn deadlines_on_each_side_of_every_level_boundary_fire_on_their_tick() {
    for level in 1..LEVELS as u32 {
        let boundary = 1u64 << (6 * level);
        for deadline in [boundary - 1, boundary, boundary + 1] {
            fires_exactly_at(0, deadline);
        }
    }
    for deadline in [
        1, 63, 64, 65, 4095, 4096, 262_143, 262_144, 16_777_215, 16_777_216,
    ] {
        fires_exactly_at(0, deadline);
    }
}

#[test]
fn boundaries_relative_to_a_later_now_fire_on_their_tick() {
    for now in [1, 63, 64, 100, 4095, 4096, 1_000_000_007] {
        for delta in [1, 62, 63, 64, 65, 4095, 4096, 4097, 262_144] {
            fires_exactly_at(now, now + delta);
        }
    }
}

#[test]
fn deadlines_hours_away_fire_on_their_tick() {
    let hour = 3_600_000;
    for deadline in [
        hour,
        hour + 1,
        24 * hour,
        365 * 24 * hour,
        3 * 365 * 24 * hour,
    ] {
        fires_exactly_at(0, deadline);
    }
}

#[test]
fn u64_large_deadlines_fire_on_their_tick() {
    for deadline in [1 << 36, 1 << 60, (1 << 62) + 12345, u64::MAX - 1, u64::MAX] {
        fires_exactly_at(0, deadline);
        fires_exactly_at(deadline - 1, deadline);
        fires_exactly_at(deadline / 2, deadline);
    }
}

#[test]
fn a_deadline_already_passed_fires_at_the_next_advance_and_not_inside_insert() {
    let mut wheel = Wheel::new();
    wheel.advance(1000, |_, _| {});
    let key = wheel.insert(10, 10);
    let at_now = wheel.insert(1000, 1000);
    assert_eq!(wheel.len(), 2);
    assert_eq!(wheel.deadline(key), Some(10));
    assert_eq!(wheel.deadline(at_now), Some(1000));
    assert_eq!(wheel.next_expiration(), Some(1000));
    // Advancing to the same tick (or an earlier one) fires them, without moving time back.
    assert_eq!(fire_until(&mut wheel, 5), [10, 1000]);
    assert_eq!(wheel.now(), 1000);
    assert!(wheel.is_empty());
}

#[test]
fn time_never_moves_back() {
    let mut wheel = Wheel::new();
    wheel.advance(500, |_, _| {});
    wheel.advance(100, |_, _| {});
    assert_eq!(wheel.now(), 500);
    wheel.insert(501, 501);
    assert!(fire_until(&mut wheel, 0).is_empty());
    assert_eq!(fire_until(&mut wheel, 501), [501]);
}

#[test]
fn removing_a_fired_removed_or_stale_key_returns_none() {
    let mut wheel = Wheel::new();
    let fired = wheel.insert(5, 5);
    let removed = wheel.insert(6, 6);
    assert_eq!(wheel.remove(removed), Some(6));
    assert_eq!(wheel.remove(removed), None);
    assert_eq!(fire_until(&mut wheel, 10), [5]);
    assert_eq!(wheel.remove(fired), None);
    // Both slots are reused now; the old keys still find nothing.
    let a = wheel.insert(20, 20);
    let b = wheel.insert(21, 21);
    assert_eq!(wheel.remove(fired), None);
    assert_eq!(wheel.remove(removed), None);
    assert_eq!(wheel.get_mut(fired), None);
    assert_eq!(wheel.deadline(removed), None);
    assert_eq!(wheel.len(), 2);
    assert_eq!(wheel.remove(b), Some(21));
    assert_eq!(wheel.remove(a), Some(20));
    assert!(wheel.is_empty());
}

#[test]
fn a_key_from_a_bigger_wheel_finds_nothing() {
    let mut big = Wheel::new();
    let keys: Vec<_> = (0..10).map(|i| big.insert(i, i)).collect();
    let mut small = Wheel::<u64>::new();
    assert_eq!(small.remove(keys[9]), None);
    assert_eq!(small.get_mut(keys[9]), None);
    assert_eq!(small.deadline(keys[9]), None);
}

#[test]
fn get_mut_changes_the_value_that_fires() {
    let mut wheel = Wheel::new();
    let key = wheel.insert(100, 1);
    *wheel.get_mut(key).unwrap() = 7;
    assert_eq!(fire_until(&mut wheel, 100), [7]);
    assert_eq!(wheel.get_mut(key), None);
}

#[test]
fn removing_the_only_entry_of_a_slot_empties_it() {
    let mut wheel = Wheel::new();
    let key = wheel.insert(5000, 5000);
    assert_eq!(wheel.next_expiration(), Some(5000));
    wheel.remove(key);
    assert_eq!(wheel.next_expiration(), None);
    assert_eq!(wheel.occupied_levels, 0);
    assert!(fire_until(&mut wheel, u64::MAX).is_empty());
}

#[test]
fn removing_from_the_middle_and_ends_of_a_slot_keeps_the_rest() {
    let mut wheel = Wheel::new();
    // Same level-1 slot (64..128): five entries, remove first, middle and last.
    let keys: Vec<_> = (64..69).map(|d| wheel.insert(d, d)).collect();
    assert_eq!(wheel.remove(keys[0]), Some(64));
    assert_eq!(wheel.remove(keys[2]), Some(66));
    assert_eq!(wheel.remove(keys[4]), Some(68));
    assert_eq!(fire_until(&mut wheel, 127), [65, 67]);
}

#[test]
fn next_expiration_is_exact_without_removals() {
    let mut wheel = Wheel::new();
    for deadline in [90_000, 7_000, 300, 4_000_000, 301] {
        wheel.insert(deadline, deadline);
    }
    for expected in [300, 301, 7_000, 90_000, 4_000_000] {
        assert_eq!(wheel.next_expiration(), Some(expected));
        assert_eq!(fire_until(&mut wheel, expected), [expected]);
    }
    assert_eq!(wheel.next_expiration(), None);
}

#[test]
fn next_expiration_stays_a_lower_bound_after_a_removal() {
    let mut wheel = Wheel::new();
    let early = wheel.insert(4_100, 4_100);
    wheel.insert(4_200, 4_200); // same slot: level 2, ticks 4096..8192
    wheel.remove(early);
    let next = wheel.next_expiration().unwrap();
    assert!(next > wheel.now() && next <= 4_200, "{next}");
    // Advancing to the bound fires nothing early, and the bound becomes exact.
    assert!(fire_until(&mut wheel, next).is_empty());
    assert_eq!(wheel.next_expiration(), Some(4_200));
    assert_eq!(fire_until(&mut wheel, 4_200), [4_200]);
}

#[test]
fn next_expiration_is_now_while_something_is_due() {
    let mut wheel = Wheel::new();
    wheel.advance(50, |_, _| {});
    wheel.insert(60, 60);
    wheel.insert(20, 20);
    assert_eq!(wheel.next_expiration(), Some(50));
}

#[test]
fn a_huge_idle_gap_is_crossed_without_ticking() {
    let mut wheel = Wheel::new();
    wheel.insert(10, 10);
    wheel.insert(1_000_000_000, 1_000_000_000);
    wheel.insert(u64::MAX, u64::MAX);
    assert_eq!(fire_until(&mut wheel, 999_999_999), [10]);
    assert_eq!(fire_until(&mut wheel, 1_000_000_000), [1_000_000_000]);
    assert_eq!(wheel.next_expiration(), Some(u64::MAX));
    assert_eq!(fire_until(&mut wheel, u64::MAX), [u64::MAX]);
    assert_eq!(wheel.now(), u64::MAX);
}

#[test]
fn entries_fire_in_deadline_order_after_those_already_due() {
    let mut wheel = Wheel::new();
    wheel.advance(100, |_, _| {});
    for deadline in [9_000, 150, 99, 4_200, 101, 50, 700] {
        wheel.insert(deadline, deadline);
    }
    assert_eq!(
        fire_until(&mut wheel, 10_000),
        [99, 50, 101, 150, 700, 4_200, 9_000]
    );
}

#[test]
fn a_hundred_thousand_entries_fire_exactly_once_each_on_time() {
    const N: u64 = 100_000;
    let mut wheel = Wheel::with_capacity(N as usize);
    // Deadlines spread over all of 0..N*37 with a stride coprime to N, plus a removed tenth.
    let mut keys = Vec::with_capacity(N as usize);
    for i in 0..N {
        let deadline = (i * 7_919) % (N * 37) + 1;
        keys.push(wheel.insert(deadline, deadline));
    }
    let mut removed = 0;
    for key in keys.iter().step_by(10) {
        assert!(wheel.remove(*key).is_some());
        removed += 1;
    }
    assert_eq!(wheel.len() as u64, N - removed);
    let mut fired = 0u64;
    let mut now = 0;
    while let Some(next) = wheel.next_expiration() {
        assert!(next > now);
        now = next + 13; // skip ahead a bit past each expiration
        wheel.advance(now, |_, deadline| {
            assert!(deadline <= now);
            fired += 1;
        });
    }
    assert_eq!(fired, N - removed);
    assert!(wheel.is_empty());
    for key in keys {
        assert_eq!(wheel.remove(key), None);
    }
}

#[test]
fn a_panicking_fire_leaves_the_rest_due_for_the_next_advance() {
    let mut wheel = Wheel::new();
    for deadline in 1..=3 {
        wheel.insert(deadline, deadline);
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wheel.advance(10, |_, value| {
            if value == 2 {
                panic!("waker panicked");
            }
        })
    }));
    assert!(result.is_err());
    assert_eq!(wheel.now(), 10);
    assert_eq!(wheel.len(), 1);
    assert_eq!(fire_until(&mut wheel, 10), [3]);
}

#[test]
fn pop_expired_hands_back_due_entries_one_at_a_time() {
    let mut wheel = Wheel::new();
    let a = wheel.insert(1, 1);
    wheel.insert(2_000, 2_000);
    assert_eq!(wheel.pop_expired(1_999), Some((a, 1)));
    assert_eq!(wheel.pop_expired(1_999), None);
    assert_eq!(wheel.pop_expired(2_000).map(|(_, v)| v), Some(2_000));
}

#[test]
fn debug_shows_time_and_size() {
    let mut wheel = Wheel::new();
    wheel.insert(3, ());
    let text = format!("{wheel:?}");
    assert!(text.contains("now: 0") && text.contains("len: 1"), "{text}");
}
