//! [`BoundedQueue`]: a lock-free array queue of exact capacity for many producers and one
//! consumer: the message store of [`mpsc`](super::mpsc).
//!
//! The scheme is Dmitry Vyukov's bounded queue with per-slot sequence numbers ("stamps"), with
//! positions encoded as crossbeam's `ArrayQueue` does so that the capacity is exact rather
//! than a power of two: a position is `lap | index`, where `index < capacity` and `lap` is a
//! multiple of `one_lap`, the smallest power of two greater than the capacity.
//!
//! ```text
//!   slot stamp == pos          the slot is free for the producer at position `pos`
//!   slot stamp == pos + 1      the slot holds the value written at `pos`, for the consumer
//!   consumer frees it:         stamp = pos + one_lap (free for the same index, next lap)
//! ```
//!
//! 1. `push`: read `tail`; if the slot's stamp equals it, claim the position with a CAS on
//!    `tail`, write the value, then publish it with `stamp = tail + 1` (`Release`). If the
//!    stamp is one lap behind, the slot still holds an unread value: the queue is full if
//!    `head` is a lap behind `tail`.
//! 2. `pop` (one consumer, so `head` needs no CAS): if the head slot's stamp is `head + 1`
//!    (`Acquire`: the value is written), read the value, free the slot (`Release`), advance
//!    `head`. Otherwise the queue is empty, or a producer claimed the slot and has not yet
//!    written it: that producer wakes the consumer after publishing, so "empty" is a safe
//!    answer.
//! 3. `head` is advanced with a `Release` store and read with `Acquire` loads; the channel
//!    puts a `SeqCst` fence on each side of its "senders are waiting" handshake (see `mpsc`),
//!    so that a sender that registers after seeing "full" and a consumer that frees a slot
//!    cannot both miss each other.

use std::mem::MaybeUninit;

use crossbeam_utils::CachePadded;

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};

struct Slot<T> {
    stamp: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// Why a push failed; the value comes back.
pub(crate) struct Full<T>(pub(crate) T);

/// A bounded MPSC queue of exact capacity (see the module doc).
pub(crate) struct BoundedQueue<T> {
    /// Next position to pop; written by the consumer only.
    head: CachePadded<AtomicUsize>,
    /// Next position to push; claimed by producers with a CAS.
    tail: CachePadded<AtomicUsize>,
    slots: Box<[Slot<T>]>,
    one_lap: usize,
}

// SAFETY: values move between threads through the queue (so `T: Send`), and each slot's value
// is accessed by exactly one thread at a time: the producer that claimed its position until it
// publishes the stamp, then the consumer until it frees it (module doc, steps 1 and 2).
unsafe impl<T: Send> Send for BoundedQueue<T> {}
// SAFETY: as above; `&BoundedQueue` only offers `push` (any thread) and `pop` (which the
// channel calls from its single `Receiver`, enforced by `&mut Receiver`).
unsafe impl<T: Send> Sync for BoundedQueue<T> {}

impl<T> BoundedQueue<T> {
    /// A queue of exactly `capacity` (> 0) slots.
    pub(crate) fn new(capacity: usize) -> BoundedQueue<T> {
        assert!(capacity > 0, "checked by the channel constructor");
        let slots = (0..capacity)
            .map(|index| Slot {
                stamp: AtomicUsize::new(index),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        BoundedQueue {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            slots,
            one_lap: (capacity + 1).next_power_of_two(),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The position after `pos`: the next index, or index 0 of the next lap.
    fn advance(&self, pos: usize) -> usize {
        let index = pos & (self.one_lap - 1);
        if index + 1 < self.slots.len() {
            pos + 1
        } else {
            (pos & !(self.one_lap - 1)).wrapping_add(self.one_lap)
        }
    }

    /// Appends `value`, or gives it back if the queue is full. Any thread.
    pub(crate) fn push(&self, value: T) -> Result<(), Full<T>> {
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            let index = tail & (self.one_lap - 1);
            let slot = &self.slots[index];
            // Acquire: pairs with the consumer's Release when it freed the slot, so its read
            // of the old value happens before our write.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == tail {
                let next = self.advance(tail);
                match self.tail.compare_exchange_weak(
                    tail,
                    next,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: the CAS gave us position `tail`, whose slot the consumer
                        // freed (stamp == tail, read with Acquire); no one else touches the
                        // value until we publish the stamp below.
                        slot.value.with_mut(|cell| unsafe { (*cell).write(value) });
                        // Release: the consumer's Acquire load of the stamp sees the value.
                        slot.stamp.store(tail.wrapping_add(1), Ordering::Release);
                        return Ok(());
                    }
                    Err(current) => tail = current,
                }
            } else if stamp.wrapping_add(self.one_lap) == tail.wrapping_add(1) {
                // The slot holds last lap's value. Full iff the consumer is a lap behind.
                // Acquire: pairs with `pop`'s Release store of `head`, so a retry then sees
                // the slot's freed stamp.
                let head = self.head.load(Ordering::Acquire);
                if head.wrapping_add(self.one_lap) == tail {
                    return Err(Full(value));
                }
                tail = self.tail.load(Ordering::Relaxed);
            } else {
                // Another producer moved `tail` on; retry from the new one.
                crate::loom::thread::yield_now();
                tail = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Takes the oldest published value, if any.
    ///
    /// Called by one consumer at a time (the channel's `Receiver`, through `&mut`; or `Drop`).
    pub(crate) fn pop(&self) -> Option<T> {
        let head = self.head.load(Ordering::Relaxed);
        let slot = &self.slots[head & (self.one_lap - 1)];
        // Acquire: pairs with the producer's Release publish, so the value is written.
        if slot.stamp.load(Ordering::Acquire) != head.wrapping_add(1) {
            return None;
        }
        // SAFETY: the stamp says position `head` holds a published value, and we are the only
        // consumer; producers do not touch the slot until we free it below.
        let value = slot
            .value
            .with(|cell| unsafe { (*cell).assume_init_read() });
        // Release: the next lap's producer sees our read done before it overwrites.
        slot.stamp
            .store(head.wrapping_add(self.one_lap), Ordering::Release);
        // Release: a producer that reads the new head (Acquire) sees the slot freed above.
        self.head.store(self.advance(head), Ordering::Release);
        Some(value)
    }

    /// Values in the queue now (a snapshot, exact when no one is pushing).
    pub(crate) fn len(&self) -> usize {
        loop {
            // SeqCst: a consistent snapshot of the two counters (a diagnostic, off the fast
            // path).
            let tail = self.tail.load(Ordering::SeqCst);
            let head = self.head.load(Ordering::SeqCst);
            if self.tail.load(Ordering::SeqCst) != tail {
                continue;
            }
            let lap_index = |pos: usize| pos & (self.one_lap - 1);
            let (hi, ti) = (lap_index(head), lap_index(tail));
            return if hi < ti {
                ti - hi
            } else if hi > ti {
                self.capacity() - hi + ti
            } else if tail == head {
                0
            } else {
                self.capacity()
            };
        }
    }
}

impl<T> Drop for BoundedQueue<T> {
    fn drop(&mut self) {
        // `&mut self`: every push has completed, so each published value is dropped once.
        while self.pop().is_some() {}
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn capacity_is_exact_and_order_is_fifo_across_laps() {
        for capacity in [1, 2, 3, 5, 8] {
            let queue = BoundedQueue::new(capacity);
            for round in 0..10 {
                for i in 0..capacity {
                    assert!(queue.push(round * 100 + i).is_ok());
                }
                assert_eq!(queue.len(), capacity);
                assert!(queue.push(999).is_err(), "capacity {capacity} exceeded");
                for i in 0..capacity {
                    assert_eq!(queue.pop(), Some(round * 100 + i));
                }
                assert_eq!(queue.pop(), None);
                assert_eq!(queue.len(), 0);
            }
        }
    }
}
