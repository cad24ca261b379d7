//! Packing a slab index and a generation into a mio `Token`.
//!
//! ```text
//!  usize::BITS-1        INDEX_BITS  INDEX_BITS-1        0
//! ┌─────────────────────────────┬──────────────────────┐
//! │ generation (wrapping)       │ slab index           │
//! └─────────────────────────────┴──────────────────────┘
//! ```
//!
//! A slot freed by one registration and reused by the next gets a new
//! generation, so an event still queued for the old occupant carries a token
//! that no longer matches and is ignored. `usize::MAX` (all index bits set) is
//! reserved for the reactor's own `mio::Waker`; no registration gets that index.

use mio::Token;

/// How many low bits hold the slab index: half the word.
const INDEX_BITS: u32 = usize::BITS / 2;
/// Selects the index bits.
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// Generations wrap within the high half of the word.
pub(crate) const GENERATION_MASK: usize = usize::MAX >> INDEX_BITS;
/// The largest number of live registrations (the all-ones index is reserved).
pub(crate) const MAX_REGISTRATIONS: usize = INDEX_MASK;
/// The token of the reactor's `mio::Waker`.
pub(crate) const WAKER: Token = Token(usize::MAX);

/// The token for slot `index` holding generation `generation`.
pub(crate) fn pack(index: usize, generation: usize) -> Token {
    debug_assert!(index < MAX_REGISTRATIONS);
    Token(((generation & GENERATION_MASK) << INDEX_BITS) | index)
}

/// The slot index and generation of a registration token.
pub(crate) fn unpack(token: Token) -> (usize, usize) {
    (token.0 & INDEX_MASK, token.0 >> INDEX_BITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_and_never_collides_with_the_waker() {
        let token = pack(MAX_REGISTRATIONS - 1, GENERATION_MASK);
        assert_ne!(token, WAKER);
        assert_eq!(unpack(token), (MAX_REGISTRATIONS - 1, GENERATION_MASK));
        assert_eq!(unpack(pack(7, GENERATION_MASK + 3)), (7, 2));
    }
}
