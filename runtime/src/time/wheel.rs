//! The wheel itself: levels, the slab of entries, and the clock (`elapsed`).
//!
//! This is a plain data structure: no lock, no thread-local, no waking. [`Timers`] wraps
//! it in a mutex and calls the wakers that [`Wheel::process`] collects, after unlocking.
//! The module doc of [`crate::time`] draws the levels and states the invariants this file
//! keeps; the comments below refer to them by number.
//!
//! [`Timers`]: super::Timers

use std::task::Waker;
use std::time::{Duration, Instant};

use slab::Slab;

use super::entry::{NIL, TimerEntry, TimerKey};
use super::handle::WakeBatch;
use super::level::{LEVEL_BITS, Level, SLOTS};

/// Levels of 64 slots: 10 levels of 6 bits cover 2^60 µs, 36,559 years (module doc table).
pub(crate) const NUM_LEVELS: usize = 10;

/// The largest tick: deadlines further away are clamped here (invariant: the top level never
/// wraps, so no overflow list is needed).
pub(crate) const MAX_TICK: u64 = (1 << (LEVEL_BITS as usize * NUM_LEVELS)) - 1;

/// Nanoseconds per tick: the wheel's resolution is one microsecond.
const NANOS_PER_TICK: u128 = 1_000;

/// The next slot to expire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Expiration {
    level: usize,
    slot: usize,
    /// The tick at which the slot starts.
    pub(crate) deadline: u64,
}

/// What [`Wheel::insert`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Inserted {
    /// Filed; the key names it.
    Registered(TimerKey),
    /// The deadline is not after `elapsed`: nothing was filed, the timer counts as fired.
    AlreadyDue,
}

/// What polling a key found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum EntryState {
    /// Still filed (its waker now is the one passed in).
    Pending,
    /// Fired or cancelled: the key is stale.
    Gone,
}

/// What [`Wheel::process`] stopped at.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Processed {
    /// Everything due at `now` fired; the next deadline (exact at level 0, else a slot start).
    Done(Option<u64>),
    /// The wake batch is full: wake it and call again with the same `now`.
    BatchFull,
}

/// A hierarchical timer wheel (see the module doc of [`crate::time`]).
pub(crate) struct Wheel {
    /// Tick 0.
    origin: Instant,
    /// Every timer due at or before this tick has fired (invariant 2 is relative to it).
    elapsed: u64,
    levels: [Level; NUM_LEVELS],
    entries: Slab<TimerEntry>,
    /// The generation the next inserted timer gets (invariant 3).
    next_generation: u64,
    /// Called when a timer is filed earlier than the deadline the driver sleeps until (set by
    /// [`Timers::set_driver_wake`](super::Timers::set_driver_wake); `None`: never).
    driver_wake: Option<DriverWake>,
    /// The deadline the driver sleeps until: the last one `process` returned (`u64::MAX` for
    /// none, or when no driver wake is installed).
    armed: u64,
    /// A timer was filed before `armed` since the last `take_driver_wake`.
    earlier_than_armed: bool,
}

/// A callback that wakes the thread driving the wheel (for a loop: `IoHandle::wake`).
pub(crate) type DriverWake = std::sync::Arc<dyn Fn() + Send + Sync>;

impl std::fmt::Debug for Wheel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wheel")
            .field("elapsed", &self.elapsed)
            .field("len", &self.entries.len())
            .field("driver_wake", &self.driver_wake.is_some())
            .finish_non_exhaustive()
    }
}

/// The level at which a deadline `when > elapsed` is filed: the highest 6-bit group in which
/// the two differ. Or-ing in the level-0 mask makes "differs only in bits 0..6" level 0.
fn level_for(elapsed: u64, when: u64) -> usize {
    let masked = (elapsed ^ when) | (SLOTS as u64 - 1);
    let significant = u64::BITS - 1 - masked.leading_zeros();
    (significant / LEVEL_BITS) as usize
}

/// The slot of tick `when` at `level`.
fn slot_for(when: u64, level: usize) -> usize {
    ((when >> (level as u32 * LEVEL_BITS)) & (SLOTS as u64 - 1)) as usize
}

/// Ticks spanned by one slot of `level`.
fn slot_width(level: usize) -> u64 {
    1 << (level as u32 * LEVEL_BITS)
}

impl Wheel {
    /// An empty wheel whose tick 0 is `origin`.
    pub(crate) fn new(origin: Instant) -> Wheel {
        Wheel {
            origin,
            elapsed: 0,
            levels: std::array::from_fn(|_| Level::new()),
            entries: Slab::new(),
            next_generation: 0,
            driver_wake: None,
            armed: u64::MAX,
            earlier_than_armed: false,
        }
    }

    /// The first tick at or after `deadline` (a timer never fires early), clamped to
    /// [`MAX_TICK`].
    pub(crate) fn deadline_to_tick(&self, deadline: Instant) -> u64 {
        let nanos = deadline.saturating_duration_since(self.origin).as_nanos();
        let ticks = nanos.div_ceil(NANOS_PER_TICK);
        ticks.min(u128::from(MAX_TICK)) as u64
    }

    /// The last tick at or before `now`.
    pub(crate) fn now_to_tick(&self, now: Instant) -> u64 {
        let nanos = now.saturating_duration_since(self.origin).as_nanos();
        (nanos / NANOS_PER_TICK).min(u128::from(MAX_TICK)) as u64
    }

    /// The instant of `tick`; saturates to a far (but representable) instant.
    pub(crate) fn tick_to_instant(&self, tick: u64) -> Instant {
        let mut offset = Duration::from_micros(tick);
        loop {
            if let Some(instant) = self.origin.checked_add(offset) {
                return instant;
            }
            // Only for ticks thousands of years away on a platform whose Instant is narrower.
            offset /= 2;
        }
    }

    /// The wheel's clock: the last `now` it processed, as an instant.
    pub(crate) fn elapsed_instant(&self) -> Instant {
        self.tick_to_instant(self.elapsed)
    }

    /// Registered timers.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Files a timer for `deadline` that wakes `waker`. O(1).
    pub(crate) fn insert(&mut self, deadline: Instant, waker: &Waker) -> Inserted {
        let when = self.deadline_to_tick(deadline);
        if when <= self.elapsed {
            return Inserted::AlreadyDue;
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        let index = self.entries.insert(TimerEntry {
            when,
            generation,
            waker: waker.clone(),
            level: 0,
            slot: 0,
            prev: NIL,
            next: NIL,
        });
        self.link(index);
        Inserted::Registered(TimerKey { index, generation })
    }

    /// Installs (or removes) the driver wake.
    pub(crate) fn set_driver_wake(&mut self, wake: Option<DriverWake>) {
        self.driver_wake = wake;
        self.armed = u64::MAX;
    }

    /// The driver wake, if a timer was filed before the armed deadline since the last call
    /// (to be called after unlocking).
    pub(crate) fn take_driver_wake(&mut self) -> Option<DriverWake> {
        if !std::mem::take(&mut self.earlier_than_armed) {
            return None;
        }
        self.driver_wake.clone()
    }

    /// Links entry `index` (with `when > elapsed`) where invariant 2 wants it.
    fn link(&mut self, index: usize) {
        let when = self.entries[index].when;
        if self.driver_wake.is_some() && when < self.armed {
            // The driver sleeps past this deadline: it must be woken to re-arm earlier.
            self.armed = when;
            self.earlier_than_armed = true;
        }
        debug_assert!(when > self.elapsed, "only future deadlines are filed");
        let level = level_for(self.elapsed, when);
        let slot = slot_for(when, level);
        self.entries[index].level = level as u8;
        self.levels[level].push(&mut self.entries, slot, index);
    }

    /// Whether `key` names a filed timer (not stale).
    fn is_live(&self, key: TimerKey) -> bool {
        self.entries
            .get(key.index)
            .is_some_and(|entry| entry.generation == key.generation)
    }

    /// If `key` is live, makes `waker` the one it wakes (cloning only if it would not wake the
    /// same task) and answers `Pending`; else `Gone`.
    pub(crate) fn poll_key(&mut self, key: TimerKey, waker: &Waker) -> EntryState {
        if !self.is_live(key) {
            return EntryState::Gone;
        }
        let entry = &mut self.entries[key.index];
        if !entry.waker.will_wake(waker) {
            entry.waker.clone_from(waker);
        }
        EntryState::Pending
    }

    /// Cancels the timer `key` names; false if the key is stale. O(1).
    pub(crate) fn cancel(&mut self, key: TimerKey) -> bool {
        if !self.is_live(key) {
            return false;
        }
        let level = self.entries[key.index].level as usize;
        self.levels[level].unlink(&mut self.entries, key.index);
        self.entries.remove(key.index);
        true
    }

    /// Moves live timer `key` to `deadline` (keeping its waker). Returns the waker instead if
    /// the new deadline is already due (the timer is then gone), `Err(())` if `key` is stale.
    pub(crate) fn reset(&mut self, key: TimerKey, deadline: Instant) -> Result<Option<Waker>, ()> {
        if !self.is_live(key) {
            return Err(());
        }
        let level = self.entries[key.index].level as usize;
        self.levels[level].unlink(&mut self.entries, key.index);
        let when = self.deadline_to_tick(deadline);
        if when <= self.elapsed {
            return Ok(Some(self.entries.remove(key.index).waker));
        }
        self.entries[key.index].when = when;
        self.link(key.index);
        Ok(None)
    }

    /// The slot that expires next (invariant 2: the lowest non-empty level holds it).
    pub(crate) fn next_expiration(&self) -> Option<Expiration> {
        for (level, slots) in self.levels.iter().enumerate() {
            let current = slot_for(self.elapsed, level);
            let Some(slot) = slots.next_occupied(current) else {
                continue;
            };
            // Equal only for a slot being processed when a wake batch filled up.
            debug_assert!(
                slot >= current,
                "invariant 2: filed slots lie ahead of elapsed"
            );
            let width = slot_width(level);
            // The start of the level-(L+1) slot `elapsed` is in (for the top level, 0).
            let level_start = self.elapsed & !(width * SLOTS as u64 - 1);
            return Some(Expiration {
                level,
                slot,
                deadline: level_start + slot as u64 * width,
            });
        }
        None
    }

    /// The next deadline as an instant (exact at level 0, a slot start above).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.next_expiration()
            .map(|expiration| self.tick_to_instant(expiration.deadline))
    }

    /// Fires every timer due at `now`, pushing its waker into `batch`; cascades the slots
    /// that come due. Stops early when the batch is full (call again with the same `now`).
    pub(crate) fn process(&mut self, now: Instant, batch: &mut WakeBatch) -> Processed {
        let now = self.now_to_tick(now);
        while let Some(expiration) = self.next_expiration() {
            if expiration.deadline > now {
                break;
            }
            // Entering the slot: by invariant 2 nothing is due before its start.
            self.elapsed = self.elapsed.max(expiration.deadline);
            loop {
                if batch.is_full() {
                    // The rest of the slot stays linked; the next call finds it again.
                    return Processed::BatchFull;
                }
                let level = &mut self.levels[expiration.level];
                let Some(index) = level.pop(&mut self.entries, expiration.slot) else {
                    break;
                };
                if self.entries[index].when <= self.elapsed {
                    batch.push(self.entries.remove(index).waker);
                } else {
                    // Cascade: same bits as `elapsed` down to this level, so it lands lower.
                    self.link(index);
                }
            }
        }
        self.elapsed = self.elapsed.max(now);
        let next = self.next_expiration().map(|expiration| expiration.deadline);
        if self.driver_wake.is_some() {
            // The caller sleeps until `next` now; cascades during this call re-linked entries,
            // but the caller learns of them through `next` itself.
            self.armed = next.unwrap_or(u64::MAX);
            self.earlier_than_armed = false;
        }
        Processed::Done(next)
    }

    /// Test access: the level a live key is filed at.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn level_of(&self, key: TimerKey) -> Option<usize> {
        self.is_live(key)
            .then(|| self.entries[key.index].level as usize)
    }
}
