//! A bounded multi-producer, single-consumer channel.
//!
//! ## Shape
//!
//! ```text
//!   Sender ─┐                                      ┌──────────────────────────┐
//!   Sender ─┼─ push ─▶ BoundedQueue (lock-free) ─▶ │ Receiver (one consumer)  │
//!   Sender ─┘      │                               └──────────┬───────────────┘
//!                  └─ wake ─▶ AtomicWaker (receiver parks here)│
//!   senders waiting for space ◀── pop_front ── Mutex<WaitList> ◀┘ after each pop, if any
//! ```
//!
//! The fast path (a slot is free, or a value is there) takes no lock. A send is one CAS on
//! `tail`, a write, a `Release` store of the slot's stamp, and a wake of the receiver's
//! `AtomicWaker` (one `fetch_or`, plus a `fetch_and` when the receiver was parked). A receive
//! is an `Acquire` load, a read, two `Release` stores, a `SeqCst` fence and a load of
//! `waiting`; parking the receiver again is one `swap` (its waker stays in the slot,
//! so there is no waker clone per message). A ping-pong send + receive pair thus costs four
//! atomic read-modify-writes and one fence. Only a sender that finds the queue full takes the mutex, to
//! park in the `WaitList`.
//!
//! ## No lost wake-up between "full" and "registered"
//!
//! A sender that found the queue full:
//! 1. parks in the wait list and stores the new `waiting` count, under the mutex;
//! 2. issues a `SeqCst` fence (`SendFuture::poll`);
//! 3. tries to push again, which reads `head`.
//!
//! The receiver, after taking a value:
//! 1. advances `head` (`BoundedQueue::pop`);
//! 2. issues a `SeqCst` fence (`Chan::notify_one_sender`);
//! 3. reads `waiting`; if non-zero, pops the oldest waiter and wakes it.
//!
//! The two fences are ordered one way or the other in the single total order of `SeqCst`
//! fences: if the receiver's comes first, the sender's read of `head` sees the freed slot;
//! otherwise the receiver's read of `waiting` sees the waiter. (A `SeqCst` swap and load
//! would do on paper, but loom models only fences at full strength, and this protocol is
//! checked by the loom models in `loom_tests.rs`.) A waiter that was picked (notified) but
//! goes away without sending passes the notification on to the next waiter.
//!
//! ## Closing
//!
//! The channel is closed for senders when the receiver calls [`Receiver::close`] or is
//! dropped (waiting senders are woken and get their value back in a [`SendError`]), and for
//! the receiver when every [`Sender`] is dropped ([`Receiver::recv`] yields the buffered
//! values, then `None`). Every value is dropped exactly once: by the receiver, or with the
//! channel's buffer when the last handle goes.
//!
//! A capacity of zero is refused with a panic, as tokio does: this channel stores values, and
//! a rendezvous channel (send completes only when received) is a different protocol.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

use crate::coop;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
use crate::loom::sync::{Arc, Mutex, MutexGuard};

use super::atomic_waker::AtomicWaker;
use super::queue::{BoundedQueue, Full};
use super::wait_list::{Notification, WaitList};

/// Creates a bounded channel that buffers up to `capacity` values.
///
/// # Panics
/// If `capacity` is zero.
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        capacity > 0,
        "mpsc::channel: capacity must be at least 1 (a zero-capacity rendezvous channel is \
         not supported)"
    );
    let chan = Arc::new(Chan {
        queue: BoundedQueue::new(capacity),
        rx_waker: AtomicWaker::new(),
        senders: AtomicUsize::new(1),
        rx_closed: AtomicBool::new(false),
        waiting: AtomicUsize::new(0),
        waiters: Mutex::new(WaitList::new()),
    });
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// The state both halves share.
struct Chan<T> {
    queue: BoundedQueue<T>,
    /// Where the receiver parks when the queue is empty.
    rx_waker: AtomicWaker,
    /// Live `Sender`s; the channel is disconnected for the receiver at 0.
    senders: AtomicUsize,
    /// Set by `Receiver::close` or its drop; never cleared.
    rx_closed: AtomicBool,
    /// `waiters.linked()`, readable without the lock (the Dekker pair of the module doc).
    waiting: AtomicUsize,
    /// Senders waiting for space.
    waiters: Mutex<WaitList>,
}

impl<T> Chan<T> {
    fn lock_waiters(&self) -> MutexGuard<'_, WaitList> {
        // The wait list is updated under the lock by plain slab operations that cannot panic
        // half-way (a waker's clone runs before any link changes), so a poisoned lock still
        // guards consistent data.
        self.waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Publishes the linked count for the receiver (step 1 of the sender's side). Relaxed:
    /// the handshake's ordering comes from the fences (module doc).
    fn publish_waiting(&self, waiters: &WaitList) {
        self.waiting.store(waiters.linked(), Ordering::Relaxed);
    }

    /// A slot was freed: wake the oldest waiting sender, if any (the receiver's steps 2, 3).
    fn notify_one_sender(&self) {
        // The receiver's fence of the handshake: orders our `head` store before the read of
        // `waiting` against the sender's fence (module doc, "No lost wake-up").
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Relaxed) == 0 {
            return;
        }
        let waker = {
            let mut waiters = self.lock_waiters();
            let waker = waiters.pop_front(Notification::One);
            self.publish_waiting(&waiters);
            waker
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Closes the channel for senders and wakes every waiting one.
    fn close(&self) {
        // Under the same mutex that senders register with: a sender that registers after this
        // sees `rx_closed` on its re-check; one that registered before is drained here.
        self.rx_closed.store(true, Ordering::SeqCst);
        let mut wakers = Vec::new();
        {
            let mut waiters = self.lock_waiters();
            waiters.drain(|waker| wakers.push(waker));
            self.publish_waiting(&waiters);
        }
        wakers.into_iter().for_each(Waker::wake);
    }

    fn is_rx_closed(&self) -> bool {
        // Acquire: pairs with the SeqCst store in `close`.
        self.rx_closed.load(Ordering::Acquire)
    }
}

/// The sending half; clone it for more producers. The channel is disconnected for the
/// receiver when the last clone is dropped.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving half; at most one exists. Also a [`futures_core::Stream`] of values.
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

/// The error of [`Sender::send`]: the channel is closed. Carries the value back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

/// The error of [`Sender::try_send`]. Carries the value back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// The channel holds `capacity` values; try again after the receiver takes one, or use
    /// [`Sender::send`] to wait.
    Full(T),
    /// The receiver was closed or dropped: no value will ever be received.
    Closed(T),
}

/// The error of [`Receiver::try_recv`].
#[derive(Debug, PartialEq, Eq, Clone, Copy, thiserror::Error)]
pub enum TryRecvError {
    /// No value now; senders are still connected.
    #[error("channel empty: no value is available yet, senders are still connected")]
    Empty,
    /// No value now and none will come: every sender was dropped (or the receiver closed).
    #[error("channel disconnected: every sender was dropped and the buffer is empty")]
    Disconnected,
}

impl<T> SendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("channel closed: the receiver was dropped or closed; the value is returned")
    }
}

impl<T> std::error::Error for SendError<T> {}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(value) | TrySendError::Closed(value) => value,
        }
    }

    /// Whether the channel was full.
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// Whether the channel was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str(
                "channel full: it holds its capacity of values; retry after the receiver \
                 takes one, or await `send`",
            ),
            TrySendError::Closed(_) => {
                f.write_str("channel closed: the receiver was dropped or closed")
            }
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(error: SendError<T>) -> Self {
        TrySendError::Closed(error.0)
    }
}

impl<T> Sender<T> {
    /// Sends `value` now if there is room.
    ///
    /// # Errors
    /// [`TrySendError::Full`] at capacity, [`TrySendError::Closed`] if the receiver is gone;
    /// both give the value back.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        if self.chan.is_rx_closed() {
            return Err(TrySendError::Closed(value));
        }
        match self.chan.queue.push(value) {
            Ok(()) => {
                self.chan.rx_waker.wake();
                Ok(())
            }
            Err(Full(value)) => Err(TrySendError::Full(value)),
        }
    }

    /// Sends `value`, waiting for room if the channel is full. Waiting senders are woken in
    /// the order they started waiting; a send that arrives meanwhile may still take a freed
    /// slot first (the woken sender then waits again: no strict fairness). Cancel-safe:
    /// dropping the future drops the value unsent.
    ///
    /// # Errors
    /// [`SendError`] with the value if the receiver is closed or dropped.
    pub fn send(&self, value: T) -> SendFuture<'_, T> {
        SendFuture {
            chan: &self.chan,
            value: Some(value),
            waiter: None,
        }
    }

    /// Whether the receiver was closed or dropped.
    pub fn is_closed(&self) -> bool {
        self.chan.is_rx_closed()
    }

    /// The channel's capacity.
    pub fn capacity(&self) -> usize {
        self.chan.queue.capacity()
    }

    /// Whether two senders feed the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        // Relaxed: a new sender is created from a live one, so the count cannot be 0 here and
        // nothing is published by the increment.
        self.chan.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // AcqRel: this sender's pushes happen before the receiver's Acquire load sees 0.
        if self.chan.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.rx_waker.wake();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.capacity())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The future of [`Sender::send`].
#[must_use = "futures do nothing unless polled"]
pub struct SendFuture<'a, T> {
    chan: &'a Chan<T>,
    /// `None` once sent or failed.
    value: Option<T>,
    /// Our key in the wait list while parked (or notified and not yet polled).
    waiter: Option<usize>,
}

// The value is moved in and out, never pinned.
impl<T> Unpin for SendFuture<'_, T> {}

impl<T> SendFuture<'_, T> {
    /// Leaves the wait list, passing on a notification we did not use.
    fn unregister(&mut self) {
        let Some(key) = self.waiter.take() else {
            return;
        };
        let waker = {
            let mut waiters = self.chan.lock_waiters();
            let forwarded = match waiters.remove(key) {
                Some(Notification::One) => waiters.pop_front(Notification::One),
                _ => None,
            };
            self.chan.publish_waiting(&waiters);
            forwarded
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut registered = false;
        loop {
            let value = this
                .value
                .take()
                .expect("SendFuture polled after it completed");
            if this.chan.is_rx_closed() {
                this.unregister();
                return Poll::Ready(Err(SendError(value)));
            }
            match this.chan.queue.push(value) {
                Ok(()) => {
                    this.unregister();
                    this.chan.rx_waker.wake();
                    return Poll::Ready(Ok(()));
                }
                Err(Full(value)) => this.value = Some(value),
            }
            if registered {
                // Registered and re-checked: the receiver will wake us (module doc).
                return Poll::Pending;
            }
            let mut waiters = this.chan.lock_waiters();
            registered = match this.waiter {
                None => {
                    this.waiter = Some(waiters.push_back(cx.waker()));
                    true
                }
                Some(key) => match waiters.poll(key, cx.waker()) {
                    // Picked for a freed slot: retry, and park again if someone took it.
                    Some(_) => {
                        this.waiter = None;
                        false
                    }
                    None => true,
                },
            };
            this.chan.publish_waiting(&waiters);
            drop(waiters);
            // The sender's fence of the handshake: orders our `waiting` store before the
            // retry's read of `head` against the receiver's fence (module doc).
            fence(Ordering::SeqCst);
        }
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        self.unregister();
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture")
            .field("waiting", &self.waiter.is_some())
            .finish_non_exhaustive()
    }
}

impl<T> Receiver<T> {
    /// Takes a value and, if senders wait for space, wakes the oldest.
    fn pop(&mut self) -> Option<T> {
        let value = self.chan.queue.pop()?;
        self.chan.notify_one_sender();
        Some(value)
    }

    /// No more values will be pushed: every sender is gone, or we closed.
    fn is_disconnected(&self) -> bool {
        // Acquire: pairs with the senders' AcqRel decrement, so their pushes are visible.
        self.chan.senders.load(Ordering::Acquire) == 0 || self.chan.is_rx_closed()
    }

    /// Receives the next value; `None` once the channel is closed and empty.
    pub fn recv(&mut self) -> Recv<'_, T> {
        Recv { receiver: self }
    }

    /// Polls for the next value (spends one unit of the [`coop`] budget when it completes).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let grant = ready!(coop::poll_proceed(cx));
        let mut registered = false;
        loop {
            if let Some(value) = self.pop() {
                grant.made_progress();
                return Poll::Ready(Some(value));
            }
            if self.is_disconnected() {
                // A push that completed before the disconnect is visible now.
                let value = self.pop();
                grant.made_progress();
                return Poll::Ready(value);
            }
            if registered {
                return Poll::Pending;
            }
            // Register, then look again: a send between our check and the registration
            // either shows in the re-check or wakes the registered waker.
            // SAFETY: `&mut self`: this is the one receiver, so no concurrent register.
            unsafe { self.chan.rx_waker.register(cx.waker()) };
            registered = true;
        }
    }

    /// Takes a value if one is there now.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] if none is there but senders remain,
    /// [`TryRecvError::Disconnected`] if none is there and none will come.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        if let Some(value) = self.pop() {
            return Ok(value);
        }
        if self.is_disconnected() {
            return self.pop().ok_or(TryRecvError::Disconnected);
        }
        Err(TryRecvError::Empty)
    }

    /// Closes the channel for senders (they get their values back in errors) while the values
    /// already buffered can still be received.
    pub fn close(&mut self) {
        self.chan.close();
    }

    /// Values buffered now.
    pub fn len(&self) -> usize {
        self.chan.queue.len()
    }

    /// Whether no value is buffered now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The channel's capacity.
    pub fn capacity(&self) -> usize {
        self.chan.queue.capacity()
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.close();
        // Drop what is buffered now rather than when the last sender goes.
        while self.chan.queue.pop().is_some() {}
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish()
    }
}

impl<T> futures_core::Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }
}

/// The future of [`Receiver::recv`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Recv<'a, T> {
    receiver: &'a mut Receiver<T>,
}

impl<T> Future for Recv<'_, T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().receiver.poll_recv(cx)
    }
}
