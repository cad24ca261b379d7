//! Readiness bits, the direction they belong to, and the snapshot a task acts on.

use std::fmt;

/// A set of readiness bits, as reported by mio for one registration.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Ready(usize);

impl Ready {
    /// Nothing is ready.
    pub(crate) const EMPTY: Ready = Ready(0);
    /// Reading will not block (or will report an error / EOF).
    pub(crate) const READABLE: Ready = Ready(1 << 0);
    /// Writing will not block (or will report an error).
    pub(crate) const WRITABLE: Ready = Ready(1 << 1);
    /// The peer closed its write side: reads reach EOF. Final: never cleared.
    pub(crate) const READ_CLOSED: Ready = Ready(1 << 2);
    /// Our write side is closed (peer gone, reset). Final: never cleared.
    pub(crate) const WRITE_CLOSED: Ready = Ready(1 << 3);
    /// The socket has a pending error (`SO_ERROR`); wakes both directions.
    pub(crate) const ERROR: Ready = Ready(1 << 4);
    /// Every readiness bit.
    pub(crate) const ALL: Ready = Ready(0b1_1111);

    /// The readiness carried by one mio event.
    pub(crate) fn from_mio(event: &mio::event::Event) -> Ready {
        let mut ready = Ready::EMPTY;
        if event.is_readable() {
            ready = ready | Ready::READABLE;
        }
        if event.is_writable() {
            ready = ready | Ready::WRITABLE;
        }
        if event.is_read_closed() {
            ready = ready | Ready::READ_CLOSED;
        }
        if event.is_write_closed() {
            ready = ready | Ready::WRITE_CLOSED;
        }
        if event.is_error() {
            ready = ready | Ready::ERROR;
        }
        ready
    }

    /// Rebuilds a set from the low bits of a state word (other bits are dropped).
    pub(crate) const fn from_bits(bits: usize) -> Ready {
        Ready(bits & Ready::ALL.0)
    }

    /// The raw bits.
    pub(crate) const fn bits(self) -> usize {
        self.0
    }

    /// True when no bit is set.
    pub(crate) const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The bits set in both `self` and `other`.
    pub(crate) const fn intersection(self, other: Ready) -> Ready {
        Ready(self.0 & other.0)
    }
}

impl std::ops::BitOr for Ready {
    type Output = Ready;

    fn bitor(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Ready::READABLE, "READABLE"),
            (Ready::WRITABLE, "WRITABLE"),
            (Ready::READ_CLOSED, "READ_CLOSED"),
            (Ready::WRITE_CLOSED, "WRITE_CLOSED"),
            (Ready::ERROR, "ERROR"),
        ];
        let mut set = f.debug_set();
        for (bit, name) in names {
            if !self.intersection(bit).is_empty() {
                set.entry(&format_args!("{name}"));
            }
        }
        set.finish()
    }
}

/// Which half of a registration a task waits on: each has its own waiters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Reads, accepts, `recv`.
    Read,
    /// Writes, connects, `send`.
    Write,
}

impl Direction {
    /// The bits that make this direction ready.
    pub(crate) const fn mask(self) -> Ready {
        match self {
            Direction::Read => Ready(Ready::READABLE.0 | Ready::READ_CLOSED.0 | Ready::ERROR.0),
            Direction::Write => Ready(Ready::WRITABLE.0 | Ready::WRITE_CLOSED.0 | Ready::ERROR.0),
        }
    }

    /// The bits an operation that returned `WouldBlock` in this direction clears.
    ///
    /// The closed bits are final (the OS reports EOF / EPIPE from then on, never
    /// `WouldBlock`), so they stay. `ERROR` is cleared: the failing operation has
    /// consumed the pending error, and keeping it would make the next poll spin.
    pub(crate) const fn clearable(self) -> Ready {
        match self {
            Direction::Read => Ready(Ready::READABLE.0 | Ready::ERROR.0),
            Direction::Write => Ready(Ready::WRITABLE.0 | Ready::ERROR.0),
        }
    }
}

/// What a task saw when it found a direction ready: the bits and the event tick.
///
/// Handing it back to `ScheduledIo::clear_readiness` after a `WouldBlock` clears
/// the readiness only if no event arrived since this snapshot was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReadyEvent {
    /// The registration's event tick when the readiness was observed.
    pub(crate) tick: usize,
    /// The ready bits of the direction that was polled.
    pub(crate) ready: Ready,
    /// The direction that was polled.
    pub(crate) direction: Direction,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_wakes_both_directions_and_closed_bits_are_never_cleared() {
        assert!(!Direction::Read.mask().intersection(Ready::ERROR).is_empty());
        assert!(!Direction::Write
            .mask()
            .intersection(Ready::ERROR)
            .is_empty());
        for dir in [Direction::Read, Direction::Write] {
            let closed = Ready::READ_CLOSED | Ready::WRITE_CLOSED;
            assert!(dir.clearable().intersection(closed).is_empty());
        }
        assert_eq!(
            format!("{:?}", Ready::READABLE | Ready::ERROR),
            "{READABLE, ERROR}"
        );
    }
}
