//! A minimal capacity-1 channel for executors that have none of their own (the naive
//! baseline): a mutex around one slot and the two wakers. Plain and correct, like the
//! executor it serves; the real channels are `switchyard_runtime::sync::mpsc` and tokio's.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

struct State<T> {
    slot: Option<T>,
    receiver: Option<Waker>,
    sender: Option<Waker>,
}

/// The sending half.
pub struct Sender<T>(Arc<Mutex<State<T>>>);
/// The receiving half.
pub struct Receiver<T>(Arc<Mutex<State<T>>>);

/// A channel that holds at most one value.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let state = Arc::new(Mutex::new(State {
        slot: None,
        receiver: None,
        sender: None,
    }));
    (Sender(Arc::clone(&state)), Receiver(state))
}

impl<T> Sender<T> {
    /// Waits for the slot to be free, then fills it.
    pub fn send(&self, value: T) -> Send<'_, T> {
        Send {
            state: &self.0,
            value: Some(value),
        }
    }
}

impl<T> Receiver<T> {
    /// Waits for a value.
    pub fn recv(&self) -> Recv<'_, T> {
        Recv { state: &self.0 }
    }
}

/// The future of [`Sender::send`].
pub struct Send<'a, T> {
    state: &'a Mutex<State<T>>,
    value: Option<T>,
}

impl<T> Unpin for Send<'_, T> {}

impl<T> Future for Send<'_, T> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let waker = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.slot.is_some() {
                state.sender = Some(cx.waker().clone());
                return Poll::Pending;
            }
            state.slot = self.value.take();
            state.receiver.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Poll::Ready(())
    }
}

/// The future of [`Receiver::recv`].
pub struct Recv<'a, T> {
    state: &'a Mutex<State<T>>,
}

impl<T> Future for Recv<'_, T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let (value, waker) = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            match state.slot.take() {
                Some(value) => (value, state.sender.take()),
                None => {
                    state.receiver = Some(cx.waker().clone());
                    return Poll::Pending;
                }
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Poll::Ready(value)
    }
}
