//! # The naive executor: the lab's baseline
//!
//! This is the executor from the first chapter of every async book, kept deliberately
//! simple so that the lab can show what the real task core ([`switchyard_runtime::task`])
//! and the loop ([`crate::local`]) buy. Nothing here is clever, and that is the point:
//!
//! * a task is an [`Arc`] holding a [`Mutex`]`<Option<Pin<Box<dyn Future + Send>>>>`
//!   (three allocations per spawn: the `Arc`ed task, the boxed future, the join state);
//! * its waker comes from futures-task's [`ArcWake`]: waking clones the `Arc` and sends it
//!   down a [`std::sync::mpsc`] channel, the run queue;
//! * [`NaiveExecutor::block_on`] drives the main future and receives tasks from the
//!   channel, blocking in `recv` when there is nothing to do.
//!
//! ## The life of a task
//!
//! ```text
//!   spawn ──(1)──> queued ──(2)──> running ──(3)──> idle ──(4)──> queued ...
//!                                     │
//!                                     └──(5)──> done (slot = None, join state filled)
//! ```
//!
//! 1. [`NaiveExecutor::spawn`] boxes the future and sends the task down the channel.
//! 2. [`NaiveExecutor::block_on`] receives it and calls `Task::run`, which locks the slot
//!    and polls the future with a waker made from the task's `Arc`.
//! 3. The future returned `Pending`; it keeps its waker somewhere.
//! 4. `ArcWake::wake_by_ref` sends a clone of the `Arc` down the channel. Waking twice
//!    queues the task twice: there is no "already queued" flag (a real task core has one).
//! 5. The future returned `Ready`: the slot is emptied, so a stale queue entry finds
//!    `None` and does nothing; the output goes to the [`JoinHandle`].
//!
//! ## What it does not do (on purpose)
//!
//! No task table: a task is kept alive only by its wakers, the run queue and its
//! [`JoinHandle`]. A task whose future is pending, whose wakers are all gone and whose
//! handle was dropped is simply freed; awaiting the handle of a task whose executor was
//! dropped waits forever. No budget, no fairness
//! beyond the channel's FIFO order, no timers of its own except [`sleep`], which starts
//! one OS thread per sleep (the async book's `TimerFuture`).

mod join;
mod timer;

pub use join::{JoinError, JoinHandle};
pub use timer::{Sleep, sleep, sleep_until};

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures_task::{ArcWake, waker_ref};

use join::{JoinState, Spawned};

/// A boxed, type-erased future whose output has already been delivered elsewhere.
type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// What travels down the run queue.
enum Message {
    /// A spawned task to poll.
    Run(Arc<Task>),
    /// The main future of [`NaiveExecutor::block_on`] was woken.
    MainWoken,
}

/// A spawned task: the future behind a mutex, and the way back into the run queue.
struct Task {
    /// `None` once the future has completed (stale queue entries then do nothing).
    future: Mutex<Option<BoxFuture>>,
    /// The run queue, for waking.
    queue: Sender<Message>,
}

impl ArcWake for Task {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        // A send only fails when the executor (the receiver) is gone; the task is then
        // dropped with the message, which is all a dead executor can do.
        let _ = arc_self.queue.send(Message::Run(Arc::clone(arc_self)));
    }
}

impl Task {
    /// Polls the future once, if it has not completed yet.
    fn run(self: &Arc<Self>) {
        let mut slot = self.future.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(future) = slot.as_mut() {
            let waker = waker_ref(self);
            let mut cx = Context::from_waker(&waker);
            // `Spawned` catches panics, so this poll never unwinds.
            if future.as_mut().poll(&mut cx).is_ready() {
                *slot = None;
            }
        }
    }
}

/// The waker of the main future in [`NaiveExecutor::block_on`].
struct MainWaker {
    queue: Sender<Message>,
}

impl ArcWake for MainWaker {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        let _ = arc_self.queue.send(Message::MainWoken);
    }
}

/// The deliberately simple executor: an `Arc<Mutex<..>>` task, [`ArcWake`], and a
/// [`std::sync::mpsc`] channel as the run queue. See the [module docs](self).
///
/// ```
/// use switchyard_scheduler::naive::NaiveExecutor;
///
/// let exec = NaiveExecutor::new();
/// let answer = exec.block_on(async {
///     let handle = exec.spawn(async { 6 * 7 });
///     handle.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
pub struct NaiveExecutor {
    sender: Sender<Message>,
    receiver: Receiver<Message>,
}

impl Default for NaiveExecutor {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for NaiveExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NaiveExecutor").finish_non_exhaustive()
    }
}

impl NaiveExecutor {
    /// Creates an executor with an empty run queue.
    pub fn new() -> NaiveExecutor {
        let (sender, receiver) = channel();
        NaiveExecutor { sender, receiver }
    }

    /// A handle that spawns onto this executor from anywhere (it is `Send + Sync + Clone`).
    pub fn spawner(&self) -> Spawner {
        Spawner {
            queue: self.sender.clone(),
        }
    }

    /// Spawns `future`; it runs while some thread is inside [`NaiveExecutor::block_on`].
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_on(&self.sender, future)
    }

    /// Runs `future` to completion on this thread, running spawned tasks meanwhile.
    ///
    /// The main future is polled first, then whenever its waker fires; between those,
    /// the thread takes tasks from the run queue one by one, sleeping in `recv` when it
    /// is empty. A task that panics does not stop the executor: the panic reaches its
    /// [`JoinHandle`] as [`JoinError::Panicked`].
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let main_waker = Arc::new(MainWaker {
            queue: self.sender.clone(),
        });
        let waker = waker_ref(&main_waker);
        let mut cx = Context::from_waker(&waker);
        let mut main_ready = true;
        loop {
            if main_ready {
                main_ready = false;
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return output;
                }
            }
            // The executor holds a sender itself, so `recv` never reports disconnection.
            match self.receiver.recv() {
                Ok(Message::Run(task)) => task.run(),
                Ok(Message::MainWoken) | Err(_) => main_ready = true,
            }
        }
    }
}

/// A `Send + Sync` handle that spawns onto a [`NaiveExecutor`].
#[derive(Clone, Debug)]
pub struct Spawner {
    queue: Sender<Message>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::Run(_) => f.write_str("Run"),
            Message::MainWoken => f.write_str("MainWoken"),
        }
    }
}

impl Spawner {
    /// Spawns `future` onto the executor this handle came from.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_on(&self.queue, future)
    }
}

fn spawn_on<F>(queue: &Sender<Message>, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let state = Arc::new(JoinState::new());
    let task = Arc::new(Task {
        future: Mutex::new(Some(Box::pin(Spawned::new(future, Arc::clone(&state))))),
        queue: queue.clone(),
    });
    let _ = queue.send(Message::Run(Arc::clone(&task)));
    JoinHandle::new(state, task)
}

/// Yields once: wakes itself and returns `Pending` the first time it is polled.
///
/// On the naive executor this sends the task to the back of the run queue.
pub async fn yield_now() {
    struct YieldNow(bool);
    impl Future for YieldNow {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    YieldNow(false).await
}

#[cfg(test)]
mod tests;
