//! `nursery-timer` owns one thing: a hierarchical timing wheel, as a plain data structure.
//!
//! A [`Wheel<T>`] holds values with deadlines counted in integer ticks and hands them back once
//! it is [advanced](Wheel::advance) past their deadline. Insert and remove are O(1) and allocate
//! nothing once warm, and advancing over any gap costs only the occupied slots on the way.
//!
//! It deliberately knows nothing of threads, clocks, wakers or tasks: it never reads the time
//! (the caller says what tick it is, and what a tick means: the runtime uses one millisecond),
//! spawns nothing, takes no lock and wakes nobody. The runtime keeps one wheel per worker behind
//! its own lock, stores a `Waker` as the value, sleeps until [`Wheel::next_expiration`] and wakes
//! what [`Wheel::advance`] fires.
//!
//! ```
//! use nursery_timer::Wheel;
//!
//! let mut wheel = Wheel::new();
//! let a = wheel.insert(30, "a");
//! let b = wheel.insert(10, "b");
//! let c = wheel.insert(20, "c");
//! assert_eq!(wheel.remove(c), Some("c")); // cancelled: never fires
//!
//! // A caller parks until the next expiration, then advances to the tick it woke at.
//! assert_eq!(wheel.next_expiration(), Some(10));
//! let mut fired = Vec::new();
//! wheel.advance(25, |key, value| fired.push((key, value)));
//! assert_eq!(fired, [(b, "b")]);
//! wheel.advance(30, |key, value| fired.push((key, value)));
//! assert_eq!(fired, [(b, "b"), (a, "a")]);
//! assert!(wheel.is_empty());
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod entry;
mod key;
mod level;
mod list;
mod wheel;

pub use key::TimerKey;
pub use wheel::Wheel;
