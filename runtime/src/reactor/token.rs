//! # Tokens: a slab index and a generation in one `mio::Token`
//!
//! epoll hands back, with every event, the 64-bit word we registered the file descriptor
//! with. We put two things in it:
//!
//! ```text
//!   63   62 ........................ 24   23 ................. 0
//! +----+-------------------------------+------------------------+
//! | 0  |  generation (39 bits)         |  slab index (24 bits)  |   a registration
//! +----+-------------------------------+------------------------+
//! | 1  |  all ones: the reactor's own tokens (waker, timer)    |
//! +----+--------------------------------------------------------+
//! ```
//!
//! The slab reuses an index as soon as its registration is dropped, so an index alone could
//! route an event that was already in flight for the *old* registration to the *new* one: a
//! spurious wake at best, a readiness bit set on a socket that never became ready at worst
//! (a read that returns `WouldBlock` is harmless, but a connect that checks `SO_ERROR` on the
//! strength of a stale writable event is not). Every insertion therefore takes the next value
//! of a per-table generation counter, and an event is delivered only when the generation in
//! its token equals the one stored in the slot. A stale token could collide only after 2^39
//! registrations in between, about 17 years at a million registrations a second.

use mio::Token;

/// Bits of the token holding the slab index. 2^24 (16.7 million) registrations is far above
/// any file descriptor limit a Linux system ships with (`fs.nr_open` defaults to 2^20).
const INDEX_BITS: u32 = 24;

/// The largest registration table a [`Reactor`](super::Reactor) can have: every index must
/// fit the index field of a token.
pub const MAX_REGISTRATIONS: usize = 1 << INDEX_BITS;

const INDEX_MASK: usize = MAX_REGISTRATIONS - 1;

/// The top bit is reserved for the reactor's own tokens, so no generation can produce them.
const GENERATION_BITS: u32 = usize::BITS - INDEX_BITS - 1;
const GENERATION_MASK: usize = (1 << GENERATION_BITS) - 1;

/// The token of the `mio::Waker` that [`IoHandle::wake`](super::IoHandle::wake) signals.
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);
/// The token of the timerfd that gives [`Reactor::poll`](super::Reactor::poll) its
/// microsecond timeout.
pub(crate) const TIMER_TOKEN: Token = Token(usize::MAX - 1);

/// How many times a slot index has been handed out before, modulo 2^39.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Generation(usize);

impl Generation {
    /// The generation after this one, wrapping within its field.
    pub(crate) fn next(self) -> Generation {
        Generation((self.0 + 1) & GENERATION_MASK)
    }
}

/// Where a registration lives in the table, and which tenant of that slot it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Key {
    pub(crate) index: usize,
    pub(crate) generation: Generation,
}

impl Key {
    /// Packs the key into the token given to epoll.
    pub(crate) fn token(self) -> Token {
        debug_assert!(
            self.index <= INDEX_MASK,
            "slab index beyond the token's index field"
        );
        Token((self.generation.0 << INDEX_BITS) | self.index)
    }

    /// Unpacks a token that epoll returned; `None` for the reactor's own tokens.
    pub(crate) fn from_token(token: Token) -> Option<Key> {
        if token.0 >> (usize::BITS - 1) == 1 {
            return None;
        }
        Some(Key {
            index: token.0 & INDEX_MASK,
            generation: Generation((token.0 >> INDEX_BITS) & GENERATION_MASK),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_round_trips_through_a_token() {
        let mut generation = Generation::default();
        for _ in 0..5 {
            generation = generation.next();
        }
        for index in [0, 1, 4095, INDEX_MASK] {
            let key = Key { index, generation };
            assert_eq!(Key::from_token(key.token()), Some(key));
        }
    }

    #[test]
    fn internal_tokens_are_never_keys() {
        assert_eq!(Key::from_token(WAKER_TOKEN), None);
        assert_eq!(Key::from_token(TIMER_TOKEN), None);
        let last = Key {
            index: INDEX_MASK,
            generation: Generation(GENERATION_MASK),
        };
        assert_ne!(last.token(), WAKER_TOKEN);
        assert_ne!(last.token(), TIMER_TOKEN);
        assert_eq!(Key::from_token(last.token()), Some(last));
    }

    #[test]
    fn generation_wraps_within_its_field() {
        assert_eq!(Generation(GENERATION_MASK).next(), Generation(0));
    }
}
