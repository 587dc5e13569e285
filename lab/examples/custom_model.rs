//! Bring your own runtime (docs/lab.md, "Bring your own runtime"): a small executor of its
//! own, measured by the whole lab beside the built-in models.
//!
//! `fifo` is a single-threaded FIFO executor in about a hundred lines on switchyard_runtime's
//! kit: the task core (`task::spawn`, a [`Schedule`] that pushes on a queue), the timer wheel
//! (`time::Timers`, entered on the executor's thread and processed between polls) and the
//! runtime's `sync::mpsc` channel. It needs no reactor: the adapter trait has no sockets.
//!
//! ```text
//! cargo run --release -p switchyard-lab --example custom_model -- run --quick --only switch,spawn
//! ```
//!
//! measures `fifo` in every task experiment beside the loop, the pool and the others; every
//! other subcommand of the lab (`list`, `table`, `compare`, `report`) works the same.

use std::collections::VecDeque;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use futures_util::FutureExt;
use switchyard_lab::{Lab, Outcome, Runtime, Skip};
use switchyard_runtime::sync::mpsc;
use switchyard_runtime::task::{self, JoinHandle, Runnable, Schedule, ScheduleInfo, TaskId};
use switchyard_runtime::time::{Timers, sleep_until};

/// Polls between two looks at the timer wheel while tasks are ready (tokio's and the loop's
/// figure), so tasks that keep yielding do not starve the timers.
const POLLS_PER_TICK: u32 = 61;

/// The run queue, shared by every task's waker; a wake from another thread signals the
/// condition variable the executor sleeps on.
#[derive(Clone, Default)]
struct Queue(Arc<(Mutex<VecDeque<Runnable>>, Condvar)>);

impl Schedule for Queue {
    fn schedule(&self, runnable: Runnable, _: ScheduleInfo) {
        self.0
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(runnable);
        self.0.1.notify_one();
    }
}

impl Queue {
    fn pop(&self) -> Option<Runnable> {
        self.0
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
    }

    /// Sleeps until a task is scheduled or `deadline` passes.
    fn wait(&self, deadline: Option<Instant>) {
        let queue = self.0.0.lock().unwrap_or_else(PoisonError::into_inner);
        if !queue.is_empty() {
            return;
        }
        match deadline {
            Some(deadline) => {
                let timeout = deadline.saturating_duration_since(Instant::now());
                drop(self.0.1.wait_timeout(queue, timeout));
            }
            None => drop(self.0.1.wait(queue)),
        }
    }
}

/// Yields once: wakes itself and returns `Pending`, so the task goes to the back of the queue.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            return Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The executor, as the lab's adapter trait sees it.
struct Fifo;

impl Runtime for Fifo {
    type Spawner = Queue;
    type Join<T: Send + 'static> = JoinHandle<T>;
    type Sender<T: Send + 'static> = mpsc::Sender<T>;
    type Receiver<T: Send + 'static> = mpsc::Receiver<T>;

    fn run<T, F>(_threads: usize, _tasks: u64, root: impl FnOnce(Queue) -> F) -> Outcome<T>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let queue = Queue::default();
        let timers = Timers::new();
        let _timers = timers.enter();
        let root = Fifo::spawn(&queue, root(queue.clone()))?;
        let mut polls = 0u32;
        while !root.is_finished() {
            match queue.pop() {
                Some(runnable) => {
                    runnable.run();
                    polls += 1;
                    if polls == POLLS_PER_TICK {
                        polls = 0;
                        timers.process(Instant::now());
                    }
                }
                None => {
                    let next = timers.process(Instant::now());
                    queue.wait(next);
                }
            }
        }
        match root.now_or_never() {
            Some(Ok(output)) => Ok(output),
            Some(Err(e)) => Err(Skip(format!("the root task failed: {e}"))),
            None => Err(Skip("the root task finished without its output".to_owned())),
        }
    }

    fn spawn<F>(queue: &Queue, future: F) -> Outcome<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (runnable, join) = task::spawn(future, queue.clone(), TaskId::next());
        runnable.schedule();
        Ok(join)
    }

    async fn join<T: Send + 'static>(handle: JoinHandle<T>) -> Option<T> {
        handle.await.ok()
    }

    fn detach<T: Send + 'static>(handle: JoinHandle<T>) {
        // The task's waker and runnable keep it; the handle is not needed.
        drop(handle);
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        YieldNow(false)
    }

    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send {
        sleep_until(deadline)
    }

    fn channel<T: Send + 'static>(capacity: usize) -> (mpsc::Sender<T>, mpsc::Receiver<T>) {
        mpsc::channel(capacity)
    }

    async fn send<T: Send + 'static>(tx: &mpsc::Sender<T>, value: T) -> bool {
        tx.send(value).await.is_ok()
    }

    async fn recv<T: Send + 'static>(rx: &mut mpsc::Receiver<T>) -> Option<T> {
        rx.recv().await
    }
}

fn main() -> ExitCode {
    Lab::new()
        .with_runtime::<Fifo>(
            "fifo",
            "a single-threaded FIFO executor (lab/examples/custom_model.rs)",
        )
        .main()
}
