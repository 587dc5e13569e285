//! # The registration table: `Token` -> [`ScheduledIo`]
//!
//! A `slab` of slots behind one mutex. Every slot remembers the [`Generation`] it was
//! handed out with, so that an event carrying an older generation (the token of a
//! registration dropped while its event was in flight) finds no match and is ignored.
//!
//! The lock is held for O(1) work per operation: an insert, a remove, or, on the reactor
//! thread, the lookups for one batch of events (setting readiness bits and taking wakers;
//! the wakers are woken after the lock is released, since waking runs scheduler code).
//! Lock order: table, then a `ScheduledIo`'s waiter mutex; nothing takes them the other way.

use std::sync::Arc;
use std::task::Waker;

use slab::Slab;

use super::error::ReactorError;
use super::scheduled_io::ScheduledIo;
use super::token::{Generation, Key, MAX_REGISTRATIONS};

struct Slot {
    generation: Generation,
    io: Arc<ScheduledIo>,
}

/// The slab of live registrations; see the module doc.
pub(crate) struct RegistrationTable {
    slots: Slab<Slot>,
    capacity: usize,
    next_generation: Generation,
    shut_down: bool,
}

impl RegistrationTable {
    /// An empty table that will hold at most `capacity` registrations. The slab grows on
    /// demand, so a large capacity costs nothing until it is used.
    pub(crate) fn new(capacity: usize) -> Result<RegistrationTable, ReactorError> {
        if capacity > MAX_REGISTRATIONS {
            return Err(ReactorError::CapacityTooLarge {
                requested: capacity,
                max: MAX_REGISTRATIONS,
            });
        }
        Ok(RegistrationTable {
            slots: Slab::new(),
            capacity,
            next_generation: Generation::default(),
            shut_down: false,
        })
    }

    /// Takes a free slot for a new registration.
    pub(crate) fn insert(&mut self) -> Result<(Key, Arc<ScheduledIo>), ReactorError> {
        if self.shut_down {
            return Err(ReactorError::Shutdown);
        }
        if self.slots.len() >= self.capacity {
            return Err(ReactorError::TableFull {
                capacity: self.capacity,
            });
        }
        let generation = self.next_generation;
        self.next_generation = generation.next();
        let io = Arc::new(ScheduledIo::default());
        let index = self.slots.insert(Slot {
            generation,
            io: Arc::clone(&io),
        });
        Ok((Key { index, generation }, io))
    }

    /// Frees the slot of `key`, if it is still that registration's.
    pub(crate) fn remove(&mut self, key: Key) {
        if self
            .slots
            .get(key.index)
            .is_some_and(|slot| slot.generation == key.generation)
        {
            self.slots.remove(key.index);
        }
    }

    /// Delivers the readiness `ready` to the registration `key` names, if it is still
    /// live; returns whether it was. Wakers to wake are pushed onto `wake`.
    pub(crate) fn dispatch(&self, key: Key, ready: usize, wake: &mut Vec<Waker>) -> bool {
        match self.slots.get(key.index) {
            Some(slot) if slot.generation == key.generation => {
                slot.io.set_readiness(ready, wake);
                true
            }
            _ => false,
        }
    }

    /// Refuses new registrations and marks every live one dead, collecting their waiters.
    pub(crate) fn shutdown(&mut self, wake: &mut Vec<Waker>) {
        self.shut_down = true;
        for (_, slot) in self.slots.iter() {
            slot.io.shutdown(wake);
        }
    }

    /// How many registrations are live.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }
}
