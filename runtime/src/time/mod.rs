//! # Timers: a hierarchical timer wheel with microsecond resolution
//!
//! A runtime needs three things from its timers: registering a deadline must be cheap,
//! cancelling one (a `Sleep` dropped because the other branch of a `select` won, a
//! [`Timeout`] whose future finished first) must be cheap, and the loop must learn when to
//! wake next. A binary heap gives O(log n) insert and O(n) cancel; a *hierarchical wheel*
//! (Varghese and Lauck 1987, the Linux kernel's `timer_list`, tokio's `time::wheel`) gives
//! O(1) for both.
//!
//! ## The levels
//!
//! Time is counted in *ticks* of one microsecond since the wheel's origin (the `Instant` at
//! [`Timers::new`]). The wheel has `NUM_LEVELS` (10) levels of 64 slots; a slot
//! of level `L` spans `64^L` ticks, so a level spans 64 times the one below it:
//!
//! ```text
//!  level   slot width    level span      a deadline lands here when it first differs from
//!  -----   ----------    ----------      `elapsed` in bits ...
//!    0         1 µs          64 µs        0..6
//!    1        64 µs        4.1 ms         6..12
//!    2       4.1 ms        262 ms        12..18
//!    3       262 ms        16.8 s        18..24
//!    4       16.8 s        17.9 min      24..30
//!    5      17.9 min       19.1 h        30..36
//!    6       19.1 h        50.9 days     36..42
//!    7      50.9 days      8.9 years     42..48
//!    8       8.9 years     571 years     48..54
//!    9       571 years   36,559 years    54..60
//!
//!   level 1  [  ][  ][##][  ] ... 64 slots      ## = occupied (bit set in `occupied`)
//!               \
//!   level 0      [..][##][..][##] ... 64 slots   each slot: an intrusive doubly-linked
//!                                                list of entries in the slab
//! ```
//!
//! A deadline `when` (in ticks) is filed at the level given by the highest bit in which it
//! differs from `elapsed` (the wheel's current tick), in the slot given by its own six bits at
//! that level. Ticks are capped at `2^60 - 1` (36,559 years after the origin), so the top level
//! never wraps and no overflow list is needed: a deadline beyond that is, for any program that
//! will ever run, "never".
//!
//! ## Invariants
//!
//! 1. Every entry in the slab is linked in exactly one slot list, the one named by its
//!    `level` and `slot` fields, and the slot's bit in its level's `occupied` mask is set iff
//!    the list is non-empty.
//! 2. An entry at level `L` has `when > elapsed`, the same bits as `elapsed` above bit
//!    `6(L+1)`, and a larger slot index than `elapsed` at level `L`. Hence every entry of
//!    level `L` is due before every entry of level `L+1`, and the next slot to expire is the
//!    first occupied slot (at or after `elapsed`'s) of the lowest non-empty level.
//! 3. A [`TimerKey`] is a slab key plus a generation, unique per insertion:
//!    once its entry fired or was cancelled, the key may be reused by a new timer, but the
//!    generation differs, so a stale handle never touches the new timer.
//! 4. No deadline is rounded: a deadline converts to the first tick at or after it (a timer
//!    never fires early and at most 1 µs late on the wheel's side), `now` converts to the last
//!    tick at or before it.
//!
//! ## Operations and their cost
//!
//! | operation | cost | performed by |
//! |---|---|---|
//! | insert | O(1): a level from one `leading_zeros`, a push on a list | [`Sleep`]'s first poll |
//! | cancel | O(1): unlink from the doubly-linked list, clear the bit if the list empties | dropping a [`Sleep`] |
//! | next deadline | O(levels): one `trailing_zeros` per level until one is non-empty | [`Timers::next_deadline`] |
//! | process | O(fired + cascaded): an entry cascades at most once per level | [`Timers::process`] |
//!
//! ## Processing
//!
//! [`Timers::process`]`(now)` repeats: find the next slot to expire; if it starts after `now`,
//! stop; else set `elapsed` to the slot's start, unlink every entry of the slot, fire those
//! whose deadline is reached (wake their task) and re-file the others (they cascade to a lower
//! level, which is finer). Finally `elapsed = now`. It returns the next deadline: exact when it
//! is at level 0, the start of the slot when it is higher (the caller wakes then, the wheel
//! cascades, and the caller re-arms for the exact deadline). Wakers are called outside the
//! wheel's lock, in batches of `WAKE_BATCH` (32).

//!
//! ## Virtual time
//!
//! A wheel made with [`Timers::new_virtual`] runs on a virtual clock: "now" is the wheel's own
//! clock, which only [`Timers::process`] moves. [`sleep`], [`timeout`] and [`interval`]
//! measure from [`now`] (the current wheel's [`Timers::clock_now`]), so all three follow it;
//! a driver on a virtual clock (`Driver::with_virtual_clock`) moves the clock to the next
//! deadline when it has nothing else to do, instead of sleeping.
//!
//! ## Waking the driver
//!
//! The thread that drives the wheel sleeps until the deadline `process` returned. A timer
//! registered from another thread with an earlier deadline would be noticed late, so a
//! multi-threaded driver installs [`Timers::set_driver_wake`] (e.g. `IoHandle::wake`): the
//! wheel remembers the deadline it last returned and calls the hook, outside its lock, when
//! an insert or reset files an earlier one. Without a hook nothing is tracked.

mod entry;
mod handle;
mod interval;
mod level;
mod sleep;
mod timeout;
mod wheel;

pub use entry::TimerKey;
pub use handle::{Timers, TimersEnterGuard, now};
pub use interval::{Interval, interval, interval_at};
pub use sleep::{Sleep, sleep, sleep_until};
pub use timeout::{Elapsed, Timeout, timeout, timeout_at};

#[cfg(all(test, not(loom)))]
mod tests;
