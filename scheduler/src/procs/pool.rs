//! [`ProcessPool`] and its [`Builder`]: the user-facing side of the process pool.

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde::Serialize;
use serde::de::DeserializeOwned;
use switchyard_runtime::process::StartMethod;

use super::error::{PoolError, TaskError};
use super::manager::{self, Commands, Job, Manager, Shared, Shutdown, WorkerSpec};
use super::results::{AsyncResult, Collector, Unordered};

/// The default number of items per chunk: one, so a worker's death fails exactly the task it
/// was running and nothing else (Python computes a larger default for throughput; raise it
/// with [`Builder::chunksize`] when tasks are tiny).
pub const DEFAULT_CHUNKSIZE: usize = 1;

/// Configures a [`ProcessPool`].
#[derive(Debug)]
#[must_use = "call .build()"]
pub struct Builder<I, O> {
    entry: &'static str,
    workers: usize,
    initializer: Option<String>,
    chunksize: usize,
    max_tasks_per_child: Option<usize>,
    method: StartMethod,
    max_frame_size: Option<usize>,
    _types: PhantomData<fn(I) -> O>,
}

impl<I, O> Builder<I, O>
where
    I: Serialize + Send + 'static,
    O: DeserializeOwned + Send + 'static,
{
    /// Workers to run (default: the number of CPUs this process may use).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// A hook registered with [`Entry::hook`](switchyard_runtime::process::Entry::hook) that
    /// each worker calls once before its first task.
    pub fn initializer(mut self, hook_name: &str) -> Self {
        self.initializer = Some(hook_name.to_owned());
        self
    }

    /// Items sent to a worker at once by [`ProcessPool::map`] and
    /// [`ProcessPool::imap_unordered`] (default [`DEFAULT_CHUNKSIZE`]). A worker's death fails
    /// its whole chunk.
    pub fn chunksize(mut self, n: usize) -> Self {
        self.chunksize = n.max(1);
        self
    }

    /// Replace a worker after it ran this many tasks (default: never).
    pub fn max_tasks_per_child(mut self, n: usize) -> Self {
        self.max_tasks_per_child = Some(n.max(1));
        self
    }

    /// How workers are started (default [`StartMethod::Spawn`]). `Fork` works only for the
    /// first workers (the pool's manager thread makes the process multithreaded, so
    /// replacements would be refused); use `Spawn` or `ForkServer`.
    pub fn start_method(mut self, method: StartMethod) -> Self {
        self.method = method;
        self
    }

    /// The maximum frame size on the workers' channels.
    pub fn max_frame_size(mut self, max: usize) -> Self {
        self.max_frame_size = Some(max);
        self
    }

    /// Starts the workers, waits until each ran its initializer, and starts the manager.
    pub fn build(self) -> Result<ProcessPool<I, O>, PoolError> {
        if self.workers == 0 {
            return Err(PoolError::NoWorkers);
        }
        let spec = WorkerSpec {
            entry: self.entry,
            method: self.method,
            initializer: self.initializer,
            max_tasks_per_child: self.max_tasks_per_child,
            max_frame_size: self.max_frame_size,
        };
        // Start them all first, then collect every Ready: the start-ups overlap.
        let mut slots = Vec::with_capacity(self.workers);
        for _ in 0..self.workers {
            slots.push(manager::start_worker::<I, O>(&spec)?);
        }
        let mut failure = None;
        for slot in &mut slots {
            if manager::await_ready(slot).is_err() && failure.is_none() {
                failure = Some(slot.child_pid());
            }
        }
        if let Some(pid) = failure {
            let mut result = Err(PoolError::NoWorkers);
            for slot in slots {
                let is_failed = slot.child_pid() == pid;
                let (pid, status) = manager::reap(slot);
                if is_failed {
                    result = Err(PoolError::WorkerStartup { pid, status });
                }
            }
            return result;
        }
        let poll = mio::Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), mio::Token(0))?;
        let shared = Arc::new(Shared {
            commands: Mutex::new(Commands {
                jobs: VecDeque::new(),
                shutdown: None,
                closed: false,
            }),
            waker,
            pids: Mutex::new(Vec::new()),
        });
        let manager = Manager::new(shared.clone(), spec, poll, slots)?;
        let thread = std::thread::Builder::new()
            .name(format!("procs-{}", self.entry))
            .spawn(move || manager.run())?;
        Ok(ProcessPool {
            shared,
            thread: Some(thread),
            chunksize: self.chunksize,
        })
    }
}

/// A pool of worker processes running one registered task function.
///
/// ```no_run
/// use switchyard_runtime::process;
/// use switchyard_scheduler::procs::{self, ProcessPool};
///
/// fn square(x: u64) -> u64 { x * x }
///
/// fn main() {
///     process::init([procs::task("square", square)]).expect("init");
///     let pool = ProcessPool::<u64, u64>::builder("square").workers(2).build().unwrap();
///     let squares: Vec<u64> = pool.map(0..10).into_iter().map(Result::unwrap).collect();
///     assert_eq!(squares[3], 9);
///     pool.shutdown();
/// }
/// ```
///
/// Dropping the pool terminates it (as Python's `with Pool()` does): workers are killed and
/// reaped, unfinished tasks fail with [`TaskError::Terminated`]. [`ProcessPool::shutdown`]
/// finishes every submitted task first.
pub struct ProcessPool<I, O> {
    shared: Arc<Shared<I, O>>,
    thread: Option<JoinHandle<()>>,
    chunksize: usize,
}

impl<I, O> std::fmt::Debug for ProcessPool<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessPool")
            .field("workers", &self.worker_pids())
            .field("chunksize", &self.chunksize)
            .finish()
    }
}

impl<I, O> ProcessPool<I, O>
where
    I: Serialize + Send + 'static,
    O: DeserializeOwned + Send + 'static,
{
    /// A builder for a pool running the task registered as `entry` with
    /// [`procs::task`](super::task) (with the same `I` and `O`).
    pub fn builder(entry: &'static str) -> Builder<I, O> {
        Builder {
            entry,
            workers: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            initializer: None,
            chunksize: DEFAULT_CHUNKSIZE,
            max_tasks_per_child: None,
            method: StartMethod::Spawn,
            max_frame_size: None,
            _types: PhantomData,
        }
    }

    /// Runs the task on every item and returns the results in input order, one per item: a
    /// task whose worker died or that panicked is an `Err`, the others are unaffected.
    pub fn map(&self, items: impl IntoIterator<Item = I>) -> Vec<Result<O, TaskError>> {
        let (collector, n) = self.submit(items);
        let mut slots: Vec<Option<Result<O, TaskError>>> = (0..n).map(|_| None).collect();
        while let Some((index, result)) = collector.next_blocking() {
            slots[index] = Some(result);
        }
        slots
            .into_iter()
            .map(|r| r.unwrap_or(Err(TaskError::Terminated)))
            .collect()
    }

    /// Runs the task on every item (the input is collected now) and yields the results as
    /// they finish, through an `Iterator` or a `Stream`.
    pub fn imap_unordered(&self, items: impl IntoIterator<Item = I>) -> Unordered<O> {
        Unordered {
            collector: self.submit(items).0,
        }
    }

    /// Runs the task on one item; wait for it or `.await` it.
    pub fn apply_async(&self, item: I) -> AsyncResult<O> {
        AsyncResult {
            collector: self.submit([item]).0,
        }
    }

    /// Finishes every submitted task, stops the workers (they exit 0) and reaps them.
    pub fn shutdown(mut self) {
        self.end(Shutdown::Graceful);
    }

    /// Kills the workers now and reaps them; unfinished tasks fail with
    /// [`TaskError::Terminated`].
    pub fn terminate(mut self) {
        self.end(Shutdown::Terminate);
    }

    fn submit(&self, items: impl IntoIterator<Item = I>) -> (Arc<Collector<O>>, usize) {
        let items: Vec<I> = items.into_iter().collect();
        let n = items.len();
        let collector = Collector::new(n);
        let mut jobs = Vec::with_capacity(n.div_ceil(self.chunksize));
        let mut items = items.into_iter();
        let mut first = 0;
        while first < n {
            let chunk: Vec<I> = items.by_ref().take(self.chunksize).collect();
            let len = chunk.len();
            jobs.push(Job {
                items: chunk,
                first,
                sink: collector.clone(),
            });
            first += len;
        }
        let mut commands = self
            .shared
            .commands
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if commands.closed {
            // The manager is gone (it can only have panicked, since ending the pool takes
            // it by value): fail now rather than wait for nobody.
            drop(commands);
            for index in 0..n {
                collector.deliver(index, Err(TaskError::Terminated));
            }
            return (collector, n);
        }
        commands.jobs.extend(jobs);
        drop(commands);
        self.wake();
        (collector, n)
    }

    fn wake(&self) {
        // A waker that cannot be written to means the poller is gone with the manager, which
        // only happens once the pool ended; nothing is left to wake.
        let _ = self.shared.waker.wake();
    }
}

impl<I, O> ProcessPool<I, O> {
    /// The live workers' pids, in slot order.
    pub fn worker_pids(&self) -> Vec<i32> {
        self.shared
            .pids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn end(&mut self, how: Shutdown) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        {
            let mut commands = self
                .shared
                .commands
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            commands.shutdown = Some(how);
        }
        let _ = self.shared.waker.wake();
        let _ = thread.join();
    }
}

impl<I, O> Drop for ProcessPool<I, O> {
    fn drop(&mut self) {
        self.end(Shutdown::Terminate);
    }
}
