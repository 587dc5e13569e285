//! A one-shot channel: one value, sent once, received once.
//!
//! ## The state word
//!
//! | bit | set by | meaning |
//! |---|---|---|
//! | `VALUE_SENT` | [`Sender::send`] | the value is in the cell; from then on only the receiver touches it |
//! | `TX_DROPPED` | dropping a [`Sender`] that did not send | no value will come |
//! | `RX_CLOSED` | [`Receiver::close`] or dropping the [`Receiver`] | the value will not be taken |
//!
//! ```text
//!                  (1) send: write cell, fetch_or(VALUE_SENT), wake rx
//!   EMPTY ─────────────────────────────────────────────────────────────▶ SENT ──(3) recv takes it
//!     │ (2) Sender dropped unsent: fetch_or(TX_DROPPED), wake rx
//!     ├────────────────────────────────────────────▶ TX_DROPPED ──▶ recv: Err(RecvError)
//!     │ (4) Receiver::close / drop: fetch_or(RX_CLOSED), wake tx
//!     └────────────────────────────────────────────▶ RX_CLOSED ──▶ send: Err(value)
//! ```
//!
//! `send` and `close` race through one RMW each on the state word; whichever comes first
//! wins: if `send`'s `fetch_or` sees `RX_CLOSED`, the sender takes its value back out of the
//! cell (the receiver, whose `close` saw no `VALUE_SENT`, will never read it); if `close` sees
//! `VALUE_SENT`, the value is the receiver's and a later `recv` still returns it.
//!
//! The cell is written by the sender only before it sets `VALUE_SENT` (`AcqRel`), and read by
//! the receiver only after it observed `VALUE_SENT` with `Acquire`. Each side parks in its own
//! `AtomicWaker` and re-checks the state after registering.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use crate::coop;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};

use super::atomic_waker::AtomicWaker;

/// The value is in the cell.
const VALUE_SENT: usize = 0b001;
/// The sender was dropped without sending.
const TX_DROPPED: usize = 0b010;
/// The receiver closed or was dropped.
const RX_CLOSED: usize = 0b100;

/// Creates a one-shot channel.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: AtomicUsize::new(0),
        value: UnsafeCell::new(None),
        rx_waker: AtomicWaker::new(),
        tx_waker: AtomicWaker::new(),
    });
    (
        Sender {
            inner: Some(inner.clone()),
        },
        Receiver {
            inner: Some(inner),
            closed_without_value: false,
        },
    )
}

struct Inner<T> {
    state: AtomicUsize,
    value: UnsafeCell<Option<T>>,
    rx_waker: AtomicWaker,
    tx_waker: AtomicWaker,
}

// SAFETY: the value crosses threads (so `T: Send`); the cell is accessed by one side at a
// time as the module doc proves (sender before VALUE_SENT, receiver after it; the sender
// again only if it set VALUE_SENT after RX_CLOSED, in which case the receiver never reads).
unsafe impl<T: Send> Send for Inner<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Inner<T> {}

/// Sends the value. Dropping it unsent makes the receiver fail with [`RecvError`].
pub struct Sender<T> {
    inner: Option<Arc<Inner<T>>>,
}

/// Receives the value: a future of `Result<T, RecvError>`.
pub struct Receiver<T> {
    /// `None` once the value was received.
    inner: Option<Arc<Inner<T>>>,
    /// `close` ran before any value was sent: no value will ever be read.
    closed_without_value: bool,
}

/// The sender was dropped without sending (or the receiver closed before a value came).
#[derive(Debug, PartialEq, Eq, Clone, Copy, thiserror::Error)]
#[error("oneshot sender dropped without sending a value (or the receiver closed first)")]
pub struct RecvError(());

/// The error of [`Receiver::try_recv`].
#[derive(Debug, PartialEq, Eq, Clone, Copy, thiserror::Error)]
pub enum TryRecvError {
    /// No value yet; the sender may still send.
    #[error("no value yet: the oneshot sender has not sent")]
    Empty,
    /// No value, and none will come.
    #[error("oneshot sender dropped without sending a value (or the receiver closed first)")]
    Closed,
}

impl<T> Sender<T> {
    /// Sends `value`.
    ///
    /// # Errors
    /// Gives `value` back if the receiver was closed or dropped first.
    pub fn send(mut self, value: T) -> Result<(), T> {
        let inner = self
            .inner
            .take()
            .expect("a Sender always holds the channel");
        if inner.state.load(Ordering::Acquire) & RX_CLOSED != 0 {
            return Err(value);
        }
        // SAFETY: VALUE_SENT is not set (only this sender sets it, and it is consumed by
        // `send`), so the receiver does not read the cell (module doc).
        inner.value.with_mut(|cell| unsafe { *cell = Some(value) });
        // AcqRel: Release publishes the value to the receiver's Acquire; Acquire orders the
        // take-back below after the receiver's close.
        let previous = inner.state.fetch_or(VALUE_SENT, Ordering::AcqRel);
        if previous & RX_CLOSED != 0 {
            // SAFETY: the receiver closed before VALUE_SENT was set, so it never reads the
            // cell: the value is still ours.
            let value = inner.value.with_mut(|cell| unsafe { (*cell).take() });
            return Err(value.expect("written just above"));
        }
        inner.rx_waker.wake();
        Ok(())
    }

    /// Whether the receiver was closed or dropped (a send would fail).
    pub fn is_closed(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|inner| inner.state.load(Ordering::Acquire) & RX_CLOSED != 0)
    }

    /// Polls until the receiver is closed or dropped.
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let inner = self
            .inner
            .as_ref()
            .expect("a Sender always holds the channel");
        if inner.state.load(Ordering::Acquire) & RX_CLOSED != 0 {
            return Poll::Ready(());
        }
        // SAFETY: `&mut self` of the one sender: no concurrent register of `tx_waker`.
        unsafe { inner.tx_waker.register(cx.waker()) };
        if inner.state.load(Ordering::Acquire) & RX_CLOSED != 0 {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Waits until the receiver is closed or dropped (to stop computing a value no one wants).
    pub async fn closed(&mut self) {
        std::future::poll_fn(|cx| self.poll_closed(cx)).await;
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            // AcqRel: ordered with the receiver's Acquire loads like VALUE_SENT.
            inner.state.fetch_or(TX_DROPPED, Ordering::AcqRel);
            inner.rx_waker.wake();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> Receiver<T> {
    /// Closes the channel: a later `send` fails and gives its value back. A value sent before
    /// the close can still be received.
    pub fn close(&mut self) {
        let Some(inner) = &self.inner else { return };
        let previous = inner.state.fetch_or(RX_CLOSED, Ordering::AcqRel);
        if previous & VALUE_SENT == 0 {
            self.closed_without_value = true;
        }
        inner.tx_waker.wake();
    }

    /// Takes the value if it is there now.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] if the sender may still send, [`TryRecvError::Closed`] if it
    /// will not (or the value was already received).
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let Some(inner) = &self.inner else {
            return Err(TryRecvError::Closed);
        };
        // Acquire: pairs with the sender's AcqRel fetch_or, so the cell's value is visible.
        let state = inner.state.load(Ordering::Acquire);
        if state & VALUE_SENT != 0 && !self.closed_without_value {
            // SAFETY: VALUE_SENT was set while RX_CLOSED was not (else `closed_without_value`
            // would be true), so the cell holds the value and the sender never touches it again.
            let value = inner.value.with_mut(|cell| unsafe { (*cell).take() });
            self.inner = None;
            return value.ok_or(TryRecvError::Closed);
        }
        if state & TX_DROPPED != 0 || self.closed_without_value {
            return Err(TryRecvError::Closed);
        }
        Err(TryRecvError::Empty)
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let grant = ready!(coop::poll_proceed(cx));
        for attempt in 0..2 {
            match this.try_recv() {
                Ok(value) => {
                    grant.made_progress();
                    return Poll::Ready(Ok(value));
                }
                Err(TryRecvError::Closed) => {
                    grant.made_progress();
                    return Poll::Ready(Err(RecvError(())));
                }
                Err(TryRecvError::Empty) if attempt == 0 => {
                    // Register, then check again: a send in between is seen or wakes us.
                    let inner = this.inner.as_ref().expect("Empty implies a live channel");
                    // SAFETY: `Pin<&mut Self>` of the one receiver: no concurrent register
                    // of `rx_waker`.
                    unsafe { inner.rx_waker.register(cx.waker()) };
                }
                Err(TryRecvError::Empty) => {}
            }
        }
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // The value, if sent and not taken, is dropped with `Inner` (exactly once).
        self.close();
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Receiver")
            .field("done", &self.inner.is_none())
            .finish()
    }
}
