//! A minimal bounded channel for executors that have none of their own (the naive
//! baseline): a mutex around a queue of `capacity` values, the receiver's waker and the
//! waiting senders' wakers (all woken when a slot frees: plain, not fast). Plain and correct,
//! like the executor it serves; the real channels are `switchyard_runtime::sync::mpsc` and
//! tokio's.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

struct State<T> {
    queue: VecDeque<T>,
    capacity: usize,
    receiver: Option<Waker>,
    senders: Vec<Waker>,
}

/// The sending half.
pub struct Sender<T>(Arc<Mutex<State<T>>>);
/// The receiving half.
pub struct Receiver<T>(Arc<Mutex<State<T>>>);

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        Sender(Arc::clone(&self.0))
    }
}

/// A channel that holds at most `capacity` values (at least one).
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let state = Arc::new(Mutex::new(State {
        queue: VecDeque::new(),
        capacity: capacity.max(1),
        receiver: None,
        senders: Vec::new(),
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
            if state.queue.len() >= state.capacity {
                state.senders.push(cx.waker().clone());
                return Poll::Pending;
            }
            if let Some(value) = self.value.take() {
                state.queue.push_back(value);
            }
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
        let (value, senders) = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            match state.queue.pop_front() {
                Some(value) => (value, std::mem::take(&mut state.senders)),
                None => {
                    state.receiver = Some(cx.waker().clone());
                    return Poll::Pending;
                }
            }
        };
        for waker in senders {
            waker.wake();
        }
        Poll::Ready(value)
    }
}
