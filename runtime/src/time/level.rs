//! One level of the wheel: 64 slot lists and a mask of the non-empty ones.
//!
//! The lists are intrusive: a slot holds only the key of its first entry; entries link to
//! each other through the slab ([`TimerEntry::prev`], [`TimerEntry::next`]). Push and unlink are O(1);
//! finding the next non-empty slot is one rotate and one `trailing_zeros` on `occupied`.

use slab::Slab;

use super::entry::{NIL, TimerEntry};

/// Slots per level: 64, so that one `u64` mask covers a level (tokio and Linux use 64 too).
pub(crate) const SLOTS: usize = 64;

/// `log2(SLOTS)`: the bits of a tick that select the slot at one level.
pub(crate) const LEVEL_BITS: u32 = 6;

/// One level: the first entry of each slot's list, and which slots are non-empty.
#[derive(Debug)]
pub(crate) struct Level {
    heads: [usize; SLOTS],
    /// Bit `s` is set iff slot `s`'s list is non-empty.
    occupied: u64,
}

impl Level {
    pub(crate) const fn new() -> Level {
        Level {
            heads: [NIL; SLOTS],
            occupied: 0,
        }
    }

    /// Links entry `key` at the head of `slot`'s list.
    pub(crate) fn push(&mut self, entries: &mut Slab<TimerEntry>, slot: usize, key: usize) {
        let old_head = self.heads[slot];
        if old_head != NIL {
            entries[old_head].prev = key;
        }
        let entry = &mut entries[key];
        entry.prev = NIL;
        entry.next = old_head;
        entry.slot = slot as u8;
        self.heads[slot] = key;
        self.occupied |= 1 << slot;
    }

    /// Unlinks entry `key` from its slot's list (the entry stays in the slab).
    pub(crate) fn unlink(&mut self, entries: &mut Slab<TimerEntry>, key: usize) {
        let (prev, next, slot) = {
            let entry = &entries[key];
            (entry.prev, entry.next, entry.slot as usize)
        };
        if prev == NIL {
            debug_assert_eq!(self.heads[slot], key, "a list head must be its slot's head");
            self.heads[slot] = next;
        } else {
            entries[prev].next = next;
        }
        if next != NIL {
            entries[next].prev = prev;
        }
        if self.heads[slot] == NIL {
            self.occupied &= !(1 << slot);
        }
    }

    /// Unlinks and returns the first entry of `slot`, if any.
    pub(crate) fn pop(&mut self, entries: &mut Slab<TimerEntry>, slot: usize) -> Option<usize> {
        let key = self.heads[slot];
        if key == NIL {
            return None;
        }
        self.unlink(entries, key);
        Some(key)
    }

    /// The first non-empty slot at or after `from`, going round once.
    pub(crate) fn next_occupied(&self, from: usize) -> Option<usize> {
        if self.occupied == 0 {
            return None;
        }
        let rotated = self.occupied.rotate_right(from as u32);
        Some((rotated.trailing_zeros() as usize + from) % SLOTS)
    }
}
