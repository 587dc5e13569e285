//! The naive executor's join handle: a mutex around "output or waiting waker".
//!
//! [`Spawned`] wraps the user's future; when it completes (or panics) it stores the
//! outcome in the shared [`JoinState`] and wakes whoever awaits the [`JoinHandle`].

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use super::Task;

/// Why a naive task produced no output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The task's future panicked; the message is the panic payload if it was a string.
    #[error("task panicked: {0}")]
    Panicked(String),
}

/// The slot a finished task writes and its [`JoinHandle`] reads.
pub(super) struct JoinState<T> {
    inner: Mutex<Slot<T>>,
}

struct Slot<T> {
    output: Option<Result<T, JoinError>>,
    waiter: Option<Waker>,
}

impl<T> JoinState<T> {
    pub(super) fn new() -> Self {
        JoinState {
            inner: Mutex::new(Slot {
                output: None,
                waiter: None,
            }),
        }
    }

    fn complete(&self, output: Result<T, JoinError>) {
        let waiter = {
            let mut slot = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            slot.output = Some(output);
            slot.waiter.take()
        };
        // Wake outside the lock: the waiter may be polled on another thread at once.
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }
}

/// The user's future, plus where its output goes.
pub(super) struct Spawned<F: Future> {
    future: Pin<Box<F>>,
    state: Arc<JoinState<F::Output>>,
}

impl<F: Future> Spawned<F> {
    pub(super) fn new(future: F, state: Arc<JoinState<F::Output>>) -> Self {
        Spawned {
            future: Box::pin(future),
            state,
        }
    }
}

impl<F: Future> Future for Spawned<F> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // A panicking future is never polled again (the task drops it), so observing
        // its state after the unwind is not a concern: AssertUnwindSafe is honest here.
        let polled = catch_unwind(AssertUnwindSafe(|| self.future.as_mut().poll(cx)));
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                self.state.complete(Ok(output));
                Poll::Ready(())
            }
            Err(payload) => {
                self.state
                    .complete(Err(JoinError::Panicked(panic_message(&*payload))));
                Poll::Ready(())
            }
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "(a non-string panic payload)".to_owned()
    }
}

/// Awaits the output of a task spawned on a [`NaiveExecutor`](super::NaiveExecutor).
///
/// The handle holds a strong reference to its task, so a task whose future waits forever
/// stays allocated as long as its handle exists; dropping the handle detaches the task.
pub struct JoinHandle<T> {
    state: Arc<JoinState<T>>,
    /// Keeps the task alive (see the type docs); never read.
    _task: Arc<Task>,
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> JoinHandle<T> {
    pub(super) fn new(state: Arc<JoinState<T>>, task: Arc<Task>) -> Self {
        JoinHandle { state, _task: task }
    }

    /// Whether the task has completed (with an output or a panic).
    pub fn is_finished(&self) -> bool {
        let slot = self
            .state
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        slot.output.is_some()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self
            .state
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match slot.output.take() {
            Some(output) => Poll::Ready(output),
            None => {
                // Checked and stored under one lock, so a completion cannot slip between.
                slot.waiter = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
