//! One timer in the wheel's slab, and the key that names it.
//!
//! An entry is a node of an intrusive doubly-linked list (its slot's list): `prev` and `next`
//! are slab keys, [`NIL`] marks the ends. Linking through keys instead of pointers keeps the
//! wheel free of `unsafe` while insert and cancel stay O(1).

use std::task::Waker;

/// The "no entry" value of a link.
pub(crate) const NIL: usize = usize::MAX;

/// Names one registered timer: its slab key and the generation it was inserted with.
///
/// Once the timer fired or was cancelled, its slab key may be reused by another timer, but
/// with a different generation, so this key then names nothing (a *stale* key): cancelling or
/// polling through it never touches the new timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerKey {
    pub(crate) index: usize,
    pub(crate) generation: u64,
}

/// A registered timer.
#[derive(Debug)]
pub(crate) struct TimerEntry {
    /// The deadline in ticks (microseconds since the wheel's origin), rounded up.
    pub(crate) when: u64,
    /// Unique per insertion; see [`TimerKey`].
    pub(crate) generation: u64,
    /// The task to wake when the deadline is reached.
    pub(crate) waker: Waker,
    /// Where the entry is linked (invariant 1 of the module doc).
    pub(crate) level: u8,
    pub(crate) slot: u8,
    /// Neighbours in the slot's list, or [`NIL`].
    pub(crate) prev: usize,
    pub(crate) next: usize,
}
