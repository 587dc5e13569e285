//! [`WaitList`]: a FIFO of parked tasks with O(1) removal, for the slow paths (senders
//! waiting for space in a full channel, tasks waiting on a [`Notify`](super::Notify)).
//!
//! Waiters live in a slab and are linked into a doubly-linked FIFO through slab keys. A
//! waiting future owns its key from [`push_back`](WaitList::push_back) until it calls
//! [`remove`](WaitList::remove) (on completion or drop); the list never frees a key itself,
//! so a key cannot be reused under a future's feet and needs no generation.
//!
//! ```text
//!   push_back ─▶ Linked ── pop_front(kind) ──▶ Notified(kind) ── remove ──▶ (key free)
//!                  │                                                ▲
//!                  └──────────────────── remove ────────────────────┘
//! ```
//!
//! The list is always used under a mutex; it has no atomics of its own.

use std::task::Waker;

use slab::Slab;

/// The "no waiter" value of a link.
const NIL: usize = usize::MAX;

/// Why a waiter was taken off the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Notification {
    /// Picked alone (one freed slot, one `notify_one`): if the waiter goes away without using
    /// it, it must pass it on, or a wake-up is lost.
    One,
    /// Woken with every other waiter (close, `notify_waiters`): nothing to pass on.
    All,
}

#[derive(Debug)]
struct Waiter {
    waker: Option<Waker>,
    prev: usize,
    next: usize,
    /// `None` while linked.
    notified: Option<Notification>,
}

/// A FIFO of wakers with O(1) push, pop and removal by key.
#[derive(Debug, Default)]
pub(crate) struct WaitList {
    waiters: Slab<Waiter>,
    head: usize,
    tail: usize,
    linked: usize,
}

impl WaitList {
    pub(crate) fn new() -> WaitList {
        WaitList {
            waiters: Slab::new(),
            head: NIL,
            tail: NIL,
            linked: 0,
        }
    }

    /// Waiters linked (not yet notified).
    pub(crate) fn linked(&self) -> usize {
        self.linked
    }

    /// Parks `waker` at the back; the returned key belongs to the caller until it `remove`s it.
    pub(crate) fn push_back(&mut self, waker: &Waker) -> usize {
        let key = self.waiters.insert(Waiter {
            waker: Some(waker.clone()),
            prev: self.tail,
            next: NIL,
            notified: None,
        });
        self.link_back(key);
        key
    }

    fn link_back(&mut self, key: usize) {
        let tail = self.tail;
        {
            let waiter = &mut self.waiters[key];
            waiter.prev = tail;
            waiter.next = NIL;
            waiter.notified = None;
        }
        if tail == NIL {
            self.head = key;
        } else {
            self.waiters[tail].next = key;
        }
        self.tail = key;
        self.linked += 1;
    }

    fn unlink(&mut self, key: usize) {
        let (prev, next) = (self.waiters[key].prev, self.waiters[key].next);
        if prev == NIL {
            self.head = next;
        } else {
            self.waiters[prev].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.waiters[next].prev = prev;
        }
        self.linked -= 1;
    }

    /// For a waiter polled again: if it was notified, frees its key and returns why; else
    /// stores `waker` (unless it would wake the same task) and returns `None`.
    pub(crate) fn poll(&mut self, key: usize, waker: &Waker) -> Option<Notification> {
        let waiter = &mut self.waiters[key];
        if let Some(notification) = waiter.notified {
            self.waiters.remove(key);
            return Some(notification);
        }
        match &mut waiter.waker {
            Some(old) if old.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
        None
    }

    /// Takes the oldest linked waiter off the list, marks it notified and returns its waker
    /// (to be woken after the lock is released).
    pub(crate) fn pop_front(&mut self, notification: Notification) -> Option<Waker> {
        let key = self.head;
        if key == NIL {
            return None;
        }
        self.unlink(key);
        let waiter = &mut self.waiters[key];
        waiter.notified = Some(notification);
        waiter.waker.take()
    }

    /// Notifies every linked waiter, calling `wake` on each waker (collect them and wake after
    /// unlocking).
    pub(crate) fn drain(&mut self, mut wake: impl FnMut(Waker)) {
        while let Some(waker) = self.pop_front(Notification::All) {
            wake(waker);
        }
    }

    /// Frees `key`: unlinks it if linked, and returns the notification it had not used.
    pub(crate) fn remove(&mut self, key: usize) -> Option<Notification> {
        let notified = self.waiters[key].notified;
        if notified.is_none() {
            self.unlink(key);
        }
        self.waiters.remove(key);
        notified
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::test_support::counting;

    #[test]
    fn waiters_are_notified_in_fifo_order_and_removal_unlinks() {
        let mut list = WaitList::new();
        let wakers: Vec<_> = (0..4).map(|_| counting()).collect();
        let keys: Vec<_> = wakers.iter().map(|(_, w)| list.push_back(w)).collect();
        assert_eq!(list.remove(keys[1]), None);
        assert_eq!(list.linked(), 3);
        list.pop_front(Notification::One).unwrap().wake();
        assert_eq!(wakers[0].0.count(), 1);
        assert_eq!(list.poll(keys[0], &wakers[0].1), Some(Notification::One));
        list.pop_front(Notification::One).unwrap().wake();
        assert_eq!(wakers[2].0.count(), 1, "the removed waiter was skipped");
        assert_eq!(list.remove(keys[2]), Some(Notification::One));
        assert_eq!(list.linked(), 1);
        let mut woken = 0;
        list.drain(|w| {
            woken += 1;
            w.wake();
        });
        assert_eq!(woken, 1);
        assert_eq!(list.remove(keys[3]), Some(Notification::All));
        assert!(list.pop_front(Notification::One).is_none());
    }
}
