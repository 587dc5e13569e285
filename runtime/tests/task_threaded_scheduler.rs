//! The task core under a real multi-threaded scheduler: worker threads sharing one queue run
//! tasks that yield, await each other's `JoinHandle`s, and get aborted from another thread.
//! Every output must arrive, every task must be released exactly once, and every task must be
//! freed (the scheduler's `Arc` count returns to one) once the workers are gone.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

use switchyard_runtime::task::{self, JoinHandle, Runnable, Schedule, ScheduleInfo, TaskId};

/// Worker threads; two, as many as the development machine has cores.
const WORKERS: usize = 2;
/// Tasks that yield `YIELDS` times each.
const YIELDERS: usize = if cfg!(miri) { 4 } else { 400 };
const YIELDS: usize = if cfg!(miri) { 3 } else { 20 };
/// Length of the chain of tasks awaiting each other.
const CHAIN: usize = if cfg!(miri) { 4 } else { 200 };

/// A shared FIFO run queue with a condition variable, and counters.
#[derive(Default)]
struct QueueShared {
    queue: Mutex<Queue>,
    work: Condvar,
    released: AtomicUsize,
}

#[derive(Default)]
struct Queue {
    runnables: VecDeque<Runnable>,
    closed: bool,
}

#[derive(Clone)]
struct Scheduler(Arc<QueueShared>);

impl Schedule for Scheduler {
    fn schedule(&self, runnable: Runnable, _: ScheduleInfo) {
        let mut queue = self.0.queue.lock().unwrap();
        if queue.closed {
            // Dropped outside the lock: dropping a Runnable cancels its task, which runs code.
            drop(queue);
            drop(runnable);
            return;
        }
        queue.runnables.push_back(runnable);
        drop(queue);
        self.0.work.notify_one();
    }

    fn release(&self, _: TaskId) {
        self.0.released.fetch_add(1, Ordering::SeqCst);
    }
}

fn worker(shared: Arc<QueueShared>) {
    loop {
        let mut queue = shared.queue.lock().unwrap();
        let runnable = loop {
            if let Some(runnable) = queue.runnables.pop_front() {
                break runnable;
            }
            if queue.closed {
                return;
            }
            queue = shared.work.wait(queue).unwrap();
        };
        drop(queue);
        runnable.run();
    }
}

/// Yields `left` times, then returns `n`.
struct Yield {
    left: usize,
    n: usize,
}

impl Future for Yield {
    type Output = usize;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        if self.left == 0 {
            return Poll::Ready(self.n);
        }
        self.left -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Blocks the calling thread on a future (parks until woken).
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        thread::park();
    }
}

#[test]
fn tasks_on_worker_threads_deliver_every_output_and_are_all_freed() {
    let shared = Arc::new(QueueShared::default());
    let scheduler = Scheduler(shared.clone());
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let shared = shared.clone();
            thread::spawn(move || worker(shared))
        })
        .collect();

    let mut spawned = 0;
    let mut spawn = |future: Pin<Box<dyn Future<Output = usize> + Send>>| -> JoinHandle<usize> {
        let (runnable, join) = task::spawn(future, scheduler.clone(), TaskId::next());
        runnable.schedule();
        spawned += 1;
        join
    };

    let yielders: Vec<_> = (0..YIELDERS)
        .map(|i| spawn(Box::pin(Yield { left: YIELDS, n: i })))
        .collect();
    let mut previous = spawn(Box::pin(async { 0 }));
    for _ in 0..CHAIN {
        let prev = previous;
        previous = spawn(Box::pin(async move { prev.await.unwrap() + 1 }));
    }
    // Abort every seventh yielder while the workers run them.
    for join in yielders.iter().step_by(7) {
        join.abort();
    }

    let mut cancelled = 0;
    for (i, join) in yielders.into_iter().enumerate() {
        match block_on(join) {
            Ok(n) => assert_eq!(n, i),
            Err(err) => {
                assert!(err.is_cancelled(), "{err}");
                assert_eq!(i % 7, 0, "only aborted tasks are cancelled");
                cancelled += 1;
            }
        }
    }
    assert!(cancelled <= YIELDERS.div_ceil(7));
    assert_eq!(block_on(previous).unwrap(), CHAIN);

    shared.queue.lock().unwrap().closed = true;
    shared.work.notify_all();
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(shared.released.load(Ordering::SeqCst), spawned);
    drop(scheduler);
    assert_eq!(Arc::strong_count(&shared), 1, "every task was freed");
}
