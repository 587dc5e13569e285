//! Where results land: one [`Collector`] per submission, and the handles that read it
//! ([`Unordered`] as an `Iterator` and a `Stream`, [`AsyncResult`] as a blocking handle and a
//! `Future`).
//!
//! The manager thread delivers each task's result with [`Collector::deliver`]; a reader
//! blocks on the condition variable or registers its waker. `outstanding` counts results not
//! yet delivered, so a reader knows the end without a sentinel. Every task gets exactly one
//! delivery (a result, or an error if its worker died or the pool was terminated), so a
//! reader never waits forever.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures_core::Stream;

use super::error::TaskError;

/// One task's index in its submission, and its result.
pub(crate) type Delivery<O> = (usize, Result<O, TaskError>);

/// Results of one submission, as they arrive.
pub(crate) struct Collector<O> {
    state: Mutex<State<O>>,
    arrived: Condvar,
}

struct State<O> {
    done: VecDeque<Delivery<O>>,
    outstanding: usize,
    waker: Option<Waker>,
}

impl<O> Collector<O> {
    /// A collector expecting `outstanding` results.
    pub(crate) fn new(outstanding: usize) -> Arc<Self> {
        Arc::new(Collector {
            state: Mutex::new(State {
                done: VecDeque::new(),
                outstanding,
                waker: None,
            }),
            arrived: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<O>> {
        // Nothing panics while holding this lock; recover the data if something did.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Delivers task `index`'s result.
    pub(crate) fn deliver(&self, index: usize, result: Result<O, TaskError>) {
        let waker = {
            let mut state = self.lock();
            state.done.push_back((index, result));
            state.outstanding = state.outstanding.saturating_sub(1);
            state.waker.take()
        };
        self.arrived.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The next result, blocking; `None` once every result was taken.
    pub(crate) fn next_blocking(&self) -> Option<Delivery<O>> {
        let mut state = self.lock();
        loop {
            if let Some(d) = state.done.pop_front() {
                return Some(d);
            }
            if state.outstanding == 0 {
                return None;
            }
            state = self.arrived.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// The next result without blocking: `Ready(None)` once every result was taken.
    pub(crate) fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Delivery<O>>> {
        let mut state = self.lock();
        if let Some(d) = state.done.pop_front() {
            return Poll::Ready(Some(d));
        }
        if state.outstanding == 0 {
            return Poll::Ready(None);
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// The results of [`ProcessPool::imap_unordered`](super::ProcessPool::imap_unordered), in
/// the order they finish: an `Iterator` (blocking) and a `futures_core::Stream`.
pub struct Unordered<O> {
    pub(crate) collector: Arc<Collector<O>>,
}

impl<O> Iterator for Unordered<O> {
    type Item = Result<O, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.collector.next_blocking().map(|(_, r)| r)
    }
}

impl<O> Stream for Unordered<O> {
    type Item = Result<O, TaskError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.collector.poll_next(cx).map(|d| d.map(|(_, r)| r))
    }
}

/// The result of [`ProcessPool::apply_async`](super::ProcessPool::apply_async): wait for it
/// with [`AsyncResult::wait`] or `.await` it.
pub struct AsyncResult<O> {
    pub(crate) collector: Arc<Collector<O>>,
}

impl<O> AsyncResult<O> {
    /// Blocks until the task finished.
    pub fn wait(self) -> Result<O, TaskError> {
        match self.collector.next_blocking() {
            Some((_, r)) => r,
            None => Err(TaskError::Terminated),
        }
    }
}

impl<O> Future for AsyncResult<O> {
    type Output = Result<O, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.collector
            .poll_next(cx)
            .map(|d| d.map_or(Err(TaskError::Terminated), |(_, r)| r))
    }
}
