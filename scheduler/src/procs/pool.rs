//! [`ProcessPool`], its [`Builder`], and [`Calls`]: the typed, user-facing side of the pool.
//!
//! A `ProcessPool<I, O>` runs its default task (`fn(I) -> O`) with the methods Python users
//! know (`map`, `imap`, `apply_async`, ...); [`ProcessPool::task`] gives the same methods for
//! any other task the workers registered, with its own types; [`Calls::chunksize`] and
//! [`Calls::timeout`] set per-call options. Items are encoded here, on the caller's thread,
//! and results decoded here too (by the handles in `results.rs`), so the manager thread moves
//! bytes only.

use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use switchyard_runtime::process::{Forker, StartMethod};

use super::error::{PoolError, TaskError};
use super::manager::{Chunk, End, Manager, ManagerShared, Starter, WorkerSpec};
use super::results::{AsyncResult, Collector, Imap, ImapUnordered, MapResult, Sink};
use super::worker::{signature, type_names};

/// How long workers may take to start and run their initializer by default. Picked out of
/// thin air: a worker starts in milliseconds; an initializer that takes half a minute is
/// hung, or should say so with [`Builder::start_timeout`].
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(30);

/// Chunks that `imap` and `imap_unordered` keep submitted per worker ahead of the reader (it
/// bounds what is read from the input, and the results held early by `imap`). Enough that a
/// worker does not wait for the reader to ask for more: with 2, `imap_unordered` of 2,000
/// trivial items took 83 ms on the 2-core VM, with 8, 39 ms (`cargo bench --bench procs --
/// imap_unordered`, one run each on a shared machine).
pub const IMAP_CHUNKS_PER_WORKER: usize = 8;

/// Python's default chunksize for `map` (`multiprocessing.Pool._map_async`): `len` split in
/// about four chunks per worker, rounded up, and at least 1. Large enough that a trivial task
/// costs little IPC; small enough that the workers finish together.
pub fn python_chunksize(len: usize, workers: usize) -> usize {
    len.div_ceil(4 * workers.max(1)).max(1)
}

/// Configures a [`ProcessPool`].
#[derive(Debug)]
#[must_use = "call .build()"]
pub struct Builder<I, O> {
    entry: &'static str,
    default_task: &'static str,
    workers: usize,
    hook: Option<String>,
    init: Option<Result<(String, Vec<u8>), String>>,
    chunksize: Option<usize>,
    task_timeout: Option<Duration>,
    start_timeout: Duration,
    max_tasks_per_child: Option<usize>,
    prefetch: bool,
    method: StartMethod,
    spawn_server: bool,
    max_frame_size: Option<usize>,
    _types: PhantomData<fn(I) -> O>,
}

impl<I, O> Builder<I, O>
where
    I: Serialize + 'static,
    O: DeserializeOwned + Send + 'static,
{
    /// Workers to run (default: the number of CPUs this process may use).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// The task the pool's own methods run (default: the one named as the entry, which is
    /// what [`procs::task`](super::task) registers).
    pub fn default_task(mut self, name: &'static str) -> Self {
        self.default_task = name;
        self
    }

    /// A hook registered with [`Entry::hook`](switchyard_runtime::process::Entry::hook) that
    /// each worker calls once before its first task (Python's `initializer`, no arguments).
    pub fn initializer(mut self, hook_name: &str) -> Self {
        self.hook = Some(hook_name.to_owned());
        self
    }

    /// An initializer registered with [`Tasks::initializer`](super::Tasks::initializer),
    /// called once in each worker with `args` (Python's `initializer` and `initargs`).
    pub fn initializer_with<A: Serialize + ?Sized>(mut self, name: &str, args: &A) -> Self {
        self.init = Some(
            postcard::to_stdvec(args)
                .map(|bytes| (name.to_owned(), bytes))
                .map_err(|e| e.to_string()),
        );
        self
    }

    /// Items sent to a worker at once by `map`, `imap` and `imap_unordered` (default: for
    /// `map`, [`python_chunksize`]; for `imap`, 1, as Python). A worker's death fails its
    /// whole chunk. Zero is refused by `build`.
    pub fn chunksize(mut self, n: usize) -> Self {
        self.chunksize = Some(n);
        self
    }

    /// The longest a task may run (default: no limit). A task past it has its worker killed
    /// and replaced, and fails with [`TaskError::TimedOut`]; a chunk of n items gets n times
    /// the timeout. Zero is refused by `build`.
    pub fn task_timeout(mut self, timeout: Duration) -> Self {
        self.task_timeout = Some(timeout);
        self
    }

    /// The longest a worker may take to start and run its initializer (default
    /// [`DEFAULT_START_TIMEOUT`]). Zero is refused by `build`.
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Replace a worker after it ran this many tasks (default: never).
    pub fn max_tasks_per_child(mut self, n: usize) -> Self {
        self.max_tasks_per_child = Some(n.max(1));
        self
    }

    /// Queue the next chunk of a call behind a worker's running one (default `true`; the
    /// manager's step 4), so the worker never waits for the manager thread between chunks.
    /// A queued chunk counts as started for `cancel`. `false` sends each worker one chunk at
    /// a time (for comparison; `benches/procs.rs` measures both).
    pub fn prefetch(mut self, on: bool) -> Self {
        self.prefetch = on;
        self
    }

    /// How workers are started (default [`StartMethod::Spawn`]). With `Fork`, `build` must
    /// run while the process has one thread: it forks a [`Forker`] there, which forks every
    /// worker and every replacement (the pool's own thread makes the process multithreaded,
    /// where a plain `fork` is refused); workers start from the memory of that moment.
    pub fn start_method(mut self, method: StartMethod) -> Self {
        self.method = method;
        self
    }

    /// With [`StartMethod::Spawn`]: spawn one fresh process of the worker entry and fork
    /// every worker from it (`true`, the default), or spawn each worker (`false`). Either way
    /// a worker is a fresh execution of this binary that only ran `init()` (Python's
    /// `forkserver`, with a server of the pool's own); forking it costs a fraction of an
    /// `exec` of a large binary, which matters for replacements and large pools.
    pub fn spawn_server(mut self, on: bool) -> Self {
        self.spawn_server = on;
        self
    }

    /// The maximum frame size on the workers' channels.
    pub fn max_frame_size(mut self, max: usize) -> Self {
        self.max_frame_size = Some(max);
        self
    }

    /// Starts the manager thread, which starts the workers and waits until each ran its
    /// initializer (up to the start timeout).
    pub fn build(self) -> Result<ProcessPool<I, O>, PoolError> {
        if self.workers == 0 {
            return Err(PoolError::NoWorkers);
        }
        if self.chunksize == Some(0) {
            return Err(PoolError::ZeroChunksize);
        }
        if self.task_timeout.is_some_and(|t| t.is_zero()) || self.start_timeout.is_zero() {
            return Err(PoolError::ZeroTimeout);
        }
        let init = self.init.transpose().map_err(PoolError::InitArgs)?;
        let starter = match self.method {
            StartMethod::Fork => Starter::Forker(Forker::new()?),
            StartMethod::Spawn if self.spawn_server => Starter::SpawnServer(None),
            m => Starter::Method(m),
        };
        let poll = mio::Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), mio::Token(0))?;
        let shared = Arc::new(ManagerShared::new(waker));
        let spec = WorkerSpec {
            entry: self.entry,
            workers: self.workers,
            hook: self.hook,
            init,
            max_tasks_per_child: self.max_tasks_per_child,
            prefetch: self.prefetch,
            max_frame_size: self.max_frame_size,
            start_timeout: self.start_timeout,
        };
        let manager = Manager::new(shared.clone(), spec, starter, poll);
        let (started, outcome) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("procs-{}", self.entry))
            .spawn(move || manager.run(started))?;
        match outcome.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(PoolError::Io(std::io::Error::other(
                    "the pool's manager thread ended before the workers were ready",
                )));
            }
        }
        Ok(ProcessPool {
            defaults: Calls::new(
                shared.clone(),
                self.default_task,
                self.chunksize,
                self.task_timeout,
                self.workers,
            ),
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }
}

/// How [`ProcessPool::shutdown_with`] ends the pool: Python's `shutdown(wait, cancel_futures)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shutdown {
    /// Block until every worker is reaped (otherwise the pool ends in the background).
    pub wait: bool,
    /// Fail every task no worker took yet with [`TaskError::Cancelled`] (otherwise they run).
    pub cancel_pending: bool,
}

impl Default for Shutdown {
    /// Wait, and finish every submitted task: what [`ProcessPool::shutdown`] does.
    fn default() -> Self {
        Shutdown {
            wait: true,
            cancel_pending: false,
        }
    }
}

/// A pool of worker processes running registered task functions.
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
/// Every method takes `&self` and the pool is `Sync`: `terminate` from another thread ends
/// a `map` running on this one (its unfinished tasks fail with [`TaskError::Terminated`]).
/// Dropping the pool terminates it (as Python's `with Pool()` does), unless a shutdown
/// without waiting was asked for, which then finishes in the background.
pub struct ProcessPool<I, O> {
    shared: Arc<ManagerShared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    defaults: Calls<I, O>,
}

impl<I, O> std::fmt::Debug for ProcessPool<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessPool")
            .field("workers", &self.worker_pids())
            .field("task", &self.defaults.task)
            .finish()
    }
}

impl<I, O> ProcessPool<I, O>
where
    I: Serialize + 'static,
    O: DeserializeOwned + Send + 'static,
{
    /// A builder for a pool of workers running the entry point `entry` (registered with
    /// [`procs::task`](super::task) or [`Tasks::entry`](super::Tasks::entry)), whose default
    /// task takes `I` and returns `O`.
    pub fn builder(entry: &'static str) -> Builder<I, O> {
        Builder {
            entry,
            default_task: entry,
            workers: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            hook: None,
            init: None,
            chunksize: None,
            task_timeout: None,
            start_timeout: DEFAULT_START_TIMEOUT,
            max_tasks_per_child: None,
            prefetch: true,
            method: StartMethod::Spawn,
            spawn_server: true,
            max_frame_size: None,
            _types: PhantomData,
        }
    }

    /// The calls of another task the workers registered, taking `I2` and returning `O2`
    /// (several task kinds per pool). A name the workers do not know fails each task with
    /// [`TaskError::UnknownTask`]; other types than registered, with
    /// [`TaskError::WrongTypes`].
    pub fn task<I2, O2>(&self, name: &str) -> Calls<I2, O2>
    where
        I2: Serialize + 'static,
        O2: DeserializeOwned + Send + 'static,
    {
        Calls::new(
            self.shared.clone(),
            name,
            self.defaults.chunksize,
            self.defaults.timeout,
            self.defaults.workers,
        )
    }

    /// The calls of the default task, to set per-call options on.
    pub fn calls(&self) -> Calls<I, O> {
        self.defaults.clone()
    }

    /// Python's `map`: the task on every item, results in input order, one per item.
    pub fn map(&self, items: impl IntoIterator<Item = I>) -> Vec<Result<O, TaskError>> {
        self.defaults.map(items)
    }

    /// Python's `map_async`: as `map`, without blocking.
    pub fn map_async(&self, items: impl IntoIterator<Item = I>) -> MapResult<O> {
        self.defaults.map_async(items)
    }

    /// Python's `starmap`: `map` for a task registered with
    /// [`Tasks::star2`](super::Tasks::star2) (its items are argument tuples).
    pub fn starmap(&self, items: impl IntoIterator<Item = I>) -> Vec<Result<O, TaskError>> {
        self.defaults.map(items)
    }

    /// Python's `imap`: results in input order, lazily; the input is streamed.
    pub fn imap<It: IntoIterator<Item = I>>(&self, items: It) -> Imap<It::IntoIter, I, O> {
        self.defaults.imap(items)
    }

    /// Python's `imap_unordered`: `(index, result)` as they finish; the input is streamed.
    pub fn imap_unordered<It: IntoIterator<Item = I>>(
        &self,
        items: It,
    ) -> ImapUnordered<It::IntoIter, I, O> {
        self.defaults.imap_unordered(items)
    }

    /// Python's `apply`: the task on one item, blocking.
    pub fn apply(&self, item: I) -> Result<O, TaskError> {
        self.defaults.apply(item)
    }

    /// Python's `apply_async` and `Executor.submit`: the task on one item; wait for it,
    /// cancel it, give it a callback, or `.await` it.
    pub fn apply_async(&self, item: I) -> AsyncResult<O> {
        self.defaults.apply_async(item)
    }
}

impl<I, O> ProcessPool<I, O> {
    /// The live workers' pids, in slot order. A dead worker is gone from it before its
    /// [`TaskError::WorkerDied`] is delivered.
    pub fn worker_pids(&self) -> Vec<i32> {
        self.shared.pids()
    }

    /// A handle that terminates the pool from anywhere (another thread, a signal watcher);
    /// it does not wait for the workers to be reaped.
    pub fn terminator(&self) -> Terminator {
        Terminator {
            shared: self.shared.clone(),
        }
    }

    /// Python's `close`: takes no new task (submissions fail with [`TaskError::Closed`]);
    /// submitted tasks finish, and the workers stop once they did.
    pub fn close(&self) {
        self.shared.request_end(End::Graceful {
            cancel_pending: false,
        });
    }

    /// Finishes every submitted task, stops the workers (they exit 0) and reaps them (Python's
    /// `close` and `join`, or `shutdown()`).
    pub fn shutdown(&self) {
        self.shutdown_with(Shutdown::default());
    }

    /// Python's `Executor.shutdown(wait, cancel_futures)`.
    pub fn shutdown_with(&self, how: Shutdown) {
        self.shared.request_end(End::Graceful {
            cancel_pending: how.cancel_pending,
        });
        if how.wait {
            self.join();
        }
    }

    /// `shutdown`, bounded: finishes the submitted tasks for up to `timeout`, then terminates
    /// the pool (unfinished tasks fail with [`TaskError::Terminated`]). Whether it ended
    /// without terminating. Either way every worker is reaped when it returns.
    pub fn shutdown_timeout(&self, timeout: Duration) -> bool {
        self.shared.request_end(End::Graceful {
            cancel_pending: false,
        });
        let graceful = self.join_timeout(timeout);
        if !graceful {
            self.terminate();
        }
        graceful
    }

    /// Kills the workers now and reaps them; unfinished tasks fail with
    /// [`TaskError::Terminated`]. Callable from any thread, also while `map` runs.
    pub fn terminate(&self) {
        self.shared.request_end(End::Terminate);
        self.join();
    }

    /// `join`, bounded: waits up to `timeout` for the pool to end (after `close`, a shutdown
    /// or `terminate`); whether it did (then every worker is reaped).
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        let ended = self.shared.wait_ended(timeout);
        if ended {
            self.join();
        }
        ended
    }

    /// Python's `join`: waits until the manager ended and reaped every worker (after
    /// `close`, a shutdown or `terminate`; at once if it already did).
    pub fn join(&self) {
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

impl<I, O> Drop for ProcessPool<I, O> {
    fn drop(&mut self) {
        let graceful = matches!(self.shared.lock_commands().end, Some(End::Graceful { .. }));
        if graceful {
            // A shutdown without waiting: the manager finishes in the background (the
            // thread is detached) and reaps every worker before it ends.
            return;
        }
        self.terminate();
    }
}

/// Terminates a pool from anywhere: see [`ProcessPool::terminator`].
#[derive(Clone)]
pub struct Terminator {
    shared: Arc<ManagerShared>,
}

impl std::fmt::Debug for Terminator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Terminator").finish()
    }
}

impl Terminator {
    /// Asks the pool's manager to kill every worker and fail every unfinished task with
    /// [`TaskError::Terminated`]; returns at once.
    pub fn terminate(&self) {
        self.shared.request_end(End::Terminate);
    }
}

/// The calls of one task of a pool, with per-call options: `pool.task::<I, O>("name")`,
/// `pool.calls().chunksize(64)?.map(items)`.
pub struct Calls<I, O> {
    shared: Arc<ManagerShared>,
    task: Arc<str>,
    types: Arc<str>,
    sig: u64,
    chunksize: Option<usize>,
    timeout: Option<Duration>,
    workers: usize,
    _types: PhantomData<fn(I) -> O>,
}

impl<I, O> Clone for Calls<I, O> {
    fn clone(&self) -> Self {
        Calls {
            shared: self.shared.clone(),
            task: self.task.clone(),
            types: self.types.clone(),
            sig: self.sig,
            chunksize: self.chunksize,
            timeout: self.timeout,
            workers: self.workers,
            _types: PhantomData,
        }
    }
}

impl<I, O> std::fmt::Debug for Calls<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Calls")
            .field("task", &self.task)
            .field("types", &self.types)
            .field("chunksize", &self.chunksize)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl<I, O> Calls<I, O>
where
    I: Serialize + 'static,
    O: DeserializeOwned + Send + 'static,
{
    fn new(
        shared: Arc<ManagerShared>,
        task: &str,
        chunksize: Option<usize>,
        timeout: Option<Duration>,
        workers: usize,
    ) -> Self {
        Calls {
            shared,
            task: task.into(),
            types: type_names::<I, O>().into(),
            sig: signature::<I, O>(),
            chunksize,
            timeout,
            workers,
            _types: PhantomData,
        }
    }

    /// Items per chunk for these calls (Python's `chunksize` argument); zero is
    /// [`PoolError::ZeroChunksize`].
    pub fn chunksize(mut self, n: usize) -> Result<Self, PoolError> {
        if n == 0 {
            return Err(PoolError::ZeroChunksize);
        }
        self.chunksize = Some(n);
        Ok(self)
    }

    /// The task timeout for these calls (see [`Builder::task_timeout`]); zero is
    /// [`PoolError::ZeroTimeout`].
    pub fn timeout(mut self, timeout: Duration) -> Result<Self, PoolError> {
        if timeout.is_zero() {
            return Err(PoolError::ZeroTimeout);
        }
        self.timeout = Some(timeout);
        Ok(self)
    }

    /// See [`ProcessPool::map`].
    pub fn map(&self, items: impl IntoIterator<Item = I>) -> Vec<Result<O, TaskError>> {
        self.map_async(items).wait()
    }

    /// See [`ProcessPool::starmap`].
    pub fn starmap(&self, items: impl IntoIterator<Item = I>) -> Vec<Result<O, TaskError>> {
        self.map(items)
    }

    /// See [`ProcessPool::map_async`].
    pub fn map_async(&self, items: impl IntoIterator<Item = I>) -> MapResult<O> {
        let items: Vec<I> = items.into_iter().collect();
        let len = items.len();
        let chunksize = self
            .chunksize
            .unwrap_or_else(|| python_chunksize(len, self.workers));
        let collector = Collector::new(len);
        let sink: Arc<dyn Sink> = collector.clone();
        let mut jobs = Vec::with_capacity(len.div_ceil(chunksize));
        let mut items = items.into_iter();
        let mut first = 0;
        while first < len {
            let chunk = items.by_ref().take(chunksize);
            let (job, count) = self.job(&sink, first, chunk);
            first += count;
            jobs.extend(job);
        }
        self.shared.submit(jobs);
        MapResult {
            collector,
            shared: self.shared.clone(),
            len,
        }
    }

    /// See [`ProcessPool::imap`].
    pub fn imap<It: IntoIterator<Item = I>>(&self, items: It) -> Imap<It::IntoIter, I, O> {
        let chunksize = self.chunksize.unwrap_or(1);
        Imap::new(
            self.clone(),
            items.into_iter(),
            chunksize,
            self.window(chunksize),
        )
    }

    /// See [`ProcessPool::imap_unordered`].
    pub fn imap_unordered<It: IntoIterator<Item = I>>(
        &self,
        items: It,
    ) -> ImapUnordered<It::IntoIter, I, O> {
        let chunksize = self.chunksize.unwrap_or(1);
        ImapUnordered::new(
            self.clone(),
            items.into_iter(),
            chunksize,
            self.window(chunksize),
        )
    }

    fn window(&self, chunksize: usize) -> usize {
        chunksize * IMAP_CHUNKS_PER_WORKER * self.workers
    }

    /// See [`ProcessPool::apply`].
    pub fn apply(&self, item: I) -> Result<O, TaskError> {
        self.apply_async(item).wait()
    }

    /// See [`ProcessPool::apply_async`].
    pub fn apply_async(&self, item: I) -> AsyncResult<O> {
        let collector = Collector::new(1);
        let sink: Arc<dyn Sink> = collector.clone();
        self.submit_chunk(&sink, 0, vec![item]);
        AsyncResult {
            collector,
            shared: self.shared.clone(),
        }
    }

    /// Encodes and submits one chunk whose first item has index `first`.
    pub(crate) fn submit_chunk(&self, sink: &Arc<dyn Sink>, first: usize, items: Vec<I>) {
        let (job, _) = self.job(sink, first, items);
        self.shared.submit(job);
    }

    /// Encodes items into a job; an item whose `Serialize` fails fails the chunk at once with
    /// [`TaskError::BadInput`] (then there is no job). Returns the item count too.
    fn job(
        &self,
        sink: &Arc<dyn Sink>,
        first: usize,
        items: impl IntoIterator<Item = I>,
    ) -> (Option<Chunk>, usize) {
        let mut bytes = Vec::new();
        let mut count = 0;
        let mut error = None;
        for item in items {
            count += 1;
            if error.is_none() {
                if let Err(e) = postcard::to_io(&item, &mut bytes) {
                    // postcard keeps no message from a custom error: name the type at least.
                    error = Some(format!("{e} (encoding {})", std::any::type_name::<I>()));
                }
            }
        }
        if let Some(e) = error {
            sink.fail(first, count, &TaskError::BadInput(e));
            return (None, count);
        }
        let job = Chunk {
            task: self.task.clone(),
            types: self.types.clone(),
            sig: self.sig,
            count,
            items: bytes,
            first,
            timeout: self.timeout,
            sink: sink.clone(),
        };
        (Some(job), count)
    }
}
