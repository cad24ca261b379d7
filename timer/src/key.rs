//! The handle a caller keeps for one timer entry.

/// Names one entry of a [`Wheel`](crate::Wheel): a slab index plus the generation of that slot.
///
/// A slot's generation changes every time its entry leaves the wheel (fired or removed), so a key
/// that outlived its entry never reaches the entry that later reuses the slot: [`remove`],
/// [`get_mut`] and [`deadline`] answer `None` for it.
///
/// Generations are 32 bits wide: a stale key could only alias a new entry after the very same
/// slot has been reused 2^32 times while the key was kept.
///
/// [`remove`]: crate::Wheel::remove
/// [`get_mut`]: crate::Wheel::get_mut
/// [`deadline`]: crate::Wheel::deadline
///
/// ```
/// use nursery_timer::Wheel;
///
/// let mut wheel = Wheel::new();
/// let key = wheel.insert(10, "a");
/// assert_eq!(wheel.remove(key), Some("a"));
/// let reused = wheel.insert(10, "b"); // takes the freed slot
/// assert_ne!(key, reused);
/// assert_eq!(wheel.remove(key), None); // the stale key does not touch "b"
/// assert_eq!(wheel.len(), 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerKey {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}
