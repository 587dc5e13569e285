//! Where results land: one [`Collector`] per submission, and the handles that read it:
//! [`AsyncResult`] (one task), [`MapResult`] (a whole `map_async`), [`Imap`] (ordered, lazy),
//! [`ImapUnordered`] (as they finish, with indices), and [`AsCompleted`].
//!
//! The manager thread hands each chunk's encoded results to its submission's collector
//! ([`Sink::deliver`]), which decodes them with the submission's output type; a reader blocks
//! on the condition variable or registers its waker. `outstanding` counts results not yet
//! delivered. Every task gets exactly one delivery (a result, or an error: its worker died,
//! it timed out, it was cancelled, the pool was terminated), so a reader never waits forever;
//! and every blocking read also has a `_timeout` form.
//!
//! Cancelling (`cancel`) is decided under the collector's lock against the manager's
//! [`Sink::start`], which takes the same lock when it hands a chunk to a worker: a chunk
//! either started (and runs to its end) or is failed with [`TaskError::Cancelled`], never both.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::iter::Fuse;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_core::Stream;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{TaskError, WaitTimedOut};
use super::manager::ManagerShared;
use super::pool::Calls;
use super::worker::{ItemError, ItemResult};

/// One task's index in its submission, and its result.
pub(crate) type Delivery<O> = (usize, Result<O, TaskError>);

/// What the manager sees of a submission: it starts, fills and fails chunks of it, without
/// knowing its types.
pub(crate) trait Sink: Send + Sync {
    /// The manager is about to send a chunk to a worker: `false` if the submission was
    /// cancelled (the manager then fails the chunk with [`TaskError::Cancelled`]).
    fn start(&self) -> bool;
    /// Whether the submission was cancelled (its chunks still queued can be failed now).
    fn is_cancelled(&self) -> bool;
    /// `count` encoded results of the tasks `first..first + count`, from worker `pid`.
    fn deliver(&self, first: usize, count: usize, results: &[u8], pid: i32);
    /// The tasks `first..first + count` failed with `error`.
    fn fail(&self, first: usize, count: usize, error: &TaskError);
}

type Finisher<O> = Box<dyn FnOnce(Vec<Delivery<O>>) + Send>;
type Listener = Box<dyn FnOnce() + Send>;

/// Results of one submission, as they arrive.
pub(crate) struct Collector<O> {
    state: Mutex<State<O>>,
    arrived: Condvar,
}

struct State<O> {
    done: VecDeque<Delivery<O>>,
    outstanding: usize,
    waker: Option<Waker>,
    started: usize,
    cancelled: bool,
    /// Called once with every result when the last one arrives (callbacks).
    finisher: Option<Finisher<O>>,
    /// Called once when the last result arrives (as_completed).
    listeners: Vec<Listener>,
}

impl<O> Collector<O> {
    /// A collector expecting `outstanding` results (more can be announced with `expect`).
    pub(crate) fn new(outstanding: usize) -> Arc<Self> {
        Arc::new(Collector {
            state: Mutex::new(State {
                done: VecDeque::new(),
                outstanding,
                waker: None,
                started: 0,
                cancelled: false,
                finisher: None,
                listeners: Vec::new(),
            }),
            arrived: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<O>> {
        // Callbacks run outside this lock; recover the data if something panicked anyway.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Announces `n` more results (a streaming submission, before it sends them).
    pub(crate) fn expect(&self, n: usize) {
        self.lock().outstanding += n;
    }

    /// Stores results, wakes readers, and runs the finisher and listeners if these were the
    /// last ones.
    fn push(&self, results: impl IntoIterator<Item = Delivery<O>>) {
        let (waker, finisher, listeners, all) = {
            let mut state = self.lock();
            for d in results {
                state.done.push_back(d);
                state.outstanding = state.outstanding.saturating_sub(1);
            }
            if state.outstanding == 0 && (state.finisher.is_some() || !state.listeners.is_empty()) {
                let finisher = state.finisher.take();
                let all = if finisher.is_some() {
                    state.done.drain(..).collect()
                } else {
                    Vec::new()
                };
                (
                    state.waker.take(),
                    finisher,
                    std::mem::take(&mut state.listeners),
                    all,
                )
            } else {
                (state.waker.take(), None, Vec::new(), Vec::new())
            }
        };
        self.arrived.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
        if let Some(f) = finisher {
            run_callback(|| f(all));
        }
        for l in listeners {
            run_callback(l);
        }
    }

    /// Sets the callback that receives every result once the last arrives (at once, on this
    /// thread, if they all did).
    pub(crate) fn set_finisher(&self, f: Finisher<O>) {
        let all = {
            let mut state = self.lock();
            if state.outstanding > 0 {
                state.finisher = Some(f);
                return;
            }
            state.done.drain(..).collect()
        };
        run_callback(|| f(all));
    }

    /// Calls `l` once every result arrived (at once if they did).
    pub(crate) fn listen(&self, l: Listener) {
        {
            let mut state = self.lock();
            if state.outstanding > 0 {
                state.listeners.push(l);
                return;
            }
        }
        run_callback(l);
    }

    /// Marks the submission cancelled: `true` if no chunk of it had started and some result
    /// was still owed (then none will run).
    pub(crate) fn cancel(&self) -> bool {
        let mut state = self.lock();
        let none_started = state.started == 0 && state.outstanding > 0;
        state.cancelled = true;
        none_started
    }

    /// Whether every result arrived.
    pub(crate) fn is_complete(&self) -> bool {
        self.lock().outstanding == 0
    }

    /// Waits until every result arrived or `deadline` passed; whether they all arrived.
    pub(crate) fn wait_complete(&self, deadline: Option<Instant>) -> bool {
        let mut state = self.lock();
        while state.outstanding > 0 {
            state = match deadline {
                None => self.arrived.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    self.arrived
                        .wait_timeout(state, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
        true
    }

    /// The next result, waiting until `deadline` at most: `Ok(None)` once every result was
    /// taken, `Err` if the deadline passed first.
    pub(crate) fn next_until(
        &self,
        deadline: Option<Instant>,
    ) -> Result<Option<Delivery<O>>, WaitTimedOut> {
        let mut state = self.lock();
        loop {
            if let Some(d) = state.done.pop_front() {
                return Ok(Some(d));
            }
            if state.outstanding == 0 {
                return Ok(None);
            }
            state = match deadline {
                None => self.arrived.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(WaitTimedOut);
                    }
                    self.arrived
                        .wait_timeout(state, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    /// The next result, blocking; `None` once every result was taken.
    pub(crate) fn next_blocking(&self) -> Option<Delivery<O>> {
        self.next_until(None).unwrap_or(None)
    }

    /// Every result still held, in no particular order.
    pub(crate) fn drain(&self) -> Vec<Delivery<O>> {
        self.lock().done.drain(..).collect()
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

    /// Fails `count` tasks from `first` from the caller's side (an item that did not encode,
    /// a closed pool).
    pub(crate) fn fail_now(&self, first: usize, count: usize, error: &TaskError) {
        self.push((first..first + count).map(|i| (i, Err(error.clone()))));
    }
}

/// Runs a user callback; a panic in it is reported and does not take the caller (the
/// manager thread) down with it.
fn run_callback(f: impl FnOnce()) {
    if std::panic::catch_unwind(AssertUnwindSafe(f)).is_err() {
        eprintln!("switchyard procs: a result callback panicked; the pool goes on");
    }
}

impl<O: DeserializeOwned + Send> Sink for Collector<O> {
    fn start(&self) -> bool {
        let mut state = self.lock();
        if state.cancelled {
            return false;
        }
        state.started += 1;
        true
    }

    fn is_cancelled(&self) -> bool {
        self.lock().cancelled
    }

    fn deliver(&self, first: usize, count: usize, mut results: &[u8], pid: i32) {
        let mut out = Vec::with_capacity(count);
        for k in 0..count {
            let r = match postcard::take_from_bytes::<ItemResult<O>>(results) {
                Ok((r, rest)) => {
                    results = rest;
                    r.map_err(|e| match e {
                        ItemError::Panicked(message) => TaskError::Panicked { pid, message },
                        ItemError::BadInput(m) => TaskError::BadInput(m),
                        ItemError::Unencodable(m) => TaskError::BadOutput(m),
                    })
                }
                Err(e) => {
                    // The stream position is lost: this result and the rest fail.
                    let error = TaskError::BadOutput(format!(
                        "{e} (decoding {})",
                        std::any::type_name::<O>()
                    ));
                    out.extend((k..count).map(|j| (first + j, Err(error.clone()))));
                    break;
                }
            };
            out.push((first + k, r));
        }
        self.push(out);
    }

    fn fail(&self, first: usize, count: usize, error: &TaskError) {
        self.fail_now(first, count, error);
    }
}

/// Tells the manager that a submission was cancelled, so it fails its queued chunks now
/// instead of when a worker would have taken them.
fn notify_cancel(shared: &ManagerShared) {
    shared.lock_commands().cancels = true;
    shared.wake();
}

/// The result of one task ([`ProcessPool::apply_async`](super::ProcessPool::apply_async)):
/// Python's `AsyncResult` and `concurrent.futures.Future`. Wait for it, poll it, cancel it,
/// give it a callback, or `.await` it.
pub struct AsyncResult<O> {
    pub(crate) collector: Arc<Collector<O>>,
    pub(crate) shared: Arc<ManagerShared>,
}

impl<O> std::fmt::Debug for AsyncResult<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncResult")
            .field("ready", &self.is_ready())
            .finish()
    }
}

impl<O> AsyncResult<O> {
    /// Blocks until the task finished (it always does: see the module docs).
    pub fn wait(self) -> Result<O, TaskError> {
        match self.collector.next_blocking() {
            Some((_, r)) => r,
            None => Err(TaskError::Terminated),
        }
    }

    /// Waits up to `timeout` for the result; whether it is ready (then [`AsyncResult::wait`]
    /// returns at once). A zero timeout only looks.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.collector.wait_complete(Some(Instant::now() + timeout))
    }

    /// Whether the result is there (Python's `ready()` and `done()`).
    pub fn is_ready(&self) -> bool {
        self.collector.is_complete()
    }

    /// Cancels the task if no worker took it yet: `true` if so (it will not run, and
    /// [`AsyncResult::wait`] gives [`TaskError::Cancelled`]); `false` if it runs or ran.
    pub fn cancel(&self) -> bool {
        let cancelled = self.collector.cancel();
        if cancelled {
            notify_cancel(&self.shared);
        }
        cancelled
    }

    /// Calls `f` with the result when it arrives (on the pool's manager thread, so `f` must
    /// be quick, as Python's callbacks), or now on this thread if it is there already:
    /// Python's `callback` and `error_callback` in one, and `add_done_callback`. `f` must not
    /// wait on the pool (a `wait`, `map` or `terminate` there would wait for the very thread
    /// that runs it); to end the pool from a callback, use a [`Terminator`](super::Terminator).
    pub fn then(self, f: impl FnOnce(Result<O, TaskError>) + Send + 'static) {
        self.collector.set_finisher(Box::new(move |all| {
            f(all
                .into_iter()
                .next()
                .map_or(Err(TaskError::Terminated), |(_, r)| r));
        }));
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

/// The results of [`ProcessPool::map_async`](super::ProcessPool::map_async): Python's
/// `MapResult`.
pub struct MapResult<O> {
    pub(crate) collector: Arc<Collector<O>>,
    pub(crate) shared: Arc<ManagerShared>,
    pub(crate) len: usize,
}

impl<O> std::fmt::Debug for MapResult<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapResult")
            .field("len", &self.len)
            .field("ready", &self.is_ready())
            .finish()
    }
}

/// Puts deliveries in input order, one per task.
fn in_order<O>(len: usize, all: Vec<Delivery<O>>) -> Vec<Result<O, TaskError>> {
    let mut slots: Vec<Option<Result<O, TaskError>>> = (0..len).map(|_| None).collect();
    for (i, r) in all {
        if let Some(slot) = slots.get_mut(i) {
            *slot = Some(r);
        }
    }
    slots
        .into_iter()
        .map(|r| r.unwrap_or(Err(TaskError::Terminated)))
        .collect()
}

impl<O> MapResult<O> {
    /// Blocks until every task finished; one result per item, in input order.
    pub fn wait(self) -> Vec<Result<O, TaskError>> {
        self.collector.wait_complete(None);
        in_order(self.len, self.collector.drain())
    }

    /// Waits up to `timeout` for every result; whether they are all there.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.collector.wait_complete(Some(Instant::now() + timeout))
    }

    /// Whether every result is there.
    pub fn is_ready(&self) -> bool {
        self.collector.is_complete()
    }

    /// Cancels every task no worker took yet (they fail with [`TaskError::Cancelled`]);
    /// `true` if none had started.
    pub fn cancel(&self) -> bool {
        let none_started = self.collector.cancel();
        notify_cancel(&self.shared);
        none_started
    }

    /// Calls `f` with every result, in input order, once the last arrives (on the manager
    /// thread, with the rules of [`AsyncResult::then`]), or now if they are all there.
    pub fn then(self, f: impl FnOnce(Vec<Result<O, TaskError>>) + Send + 'static) {
        let len = self.len;
        self.collector
            .set_finisher(Box::new(move |all| f(in_order(len, all))));
    }
}

/// Pulls items from an input iterator and submits them a chunk at a time, keeping at most
/// `window` items submitted but not yet taken by the reader: the input is streamed, never
/// collected.
struct Feed<It, I, O> {
    calls: Calls<I, O>,
    input: Fuse<It>,
    collector: Arc<Collector<O>>,
    chunksize: usize,
    window: usize,
    submitted: usize,
    taken: usize,
}

impl<It, I, O> Feed<It, I, O>
where
    It: Iterator<Item = I>,
    I: Serialize + 'static,
    O: DeserializeOwned + Send + 'static,
{
    fn new(calls: Calls<I, O>, input: It, chunksize: usize, window: usize) -> Self {
        Feed {
            calls,
            input: input.fuse(),
            collector: Collector::new(0),
            chunksize,
            window,
            submitted: 0,
            taken: 0,
        }
    }

    /// Submits chunks while the window (counted from task `low`, the oldest one the reader
    /// still waits for) has room and the input has items.
    fn fill(&mut self, low: usize) {
        while self.submitted - low < self.window {
            let chunk: Vec<I> = self.input.by_ref().take(self.chunksize).collect();
            if chunk.is_empty() {
                return;
            }
            let first = self.submitted;
            self.submitted += chunk.len();
            self.collector.expect(chunk.len());
            let sink: Arc<dyn Sink> = self.collector.clone();
            self.calls.submit_chunk(&sink, first, chunk);
        }
    }

    /// The next delivery: `Ok(None)` when the input is exhausted and every result was taken.
    fn next_until(
        &mut self,
        deadline: Option<Instant>,
        low: usize,
    ) -> Result<Option<Delivery<O>>, WaitTimedOut> {
        self.fill(low);
        if self.submitted == self.taken {
            return Ok(None);
        }
        let d = self.collector.next_until(deadline)?;
        if d.is_some() {
            self.taken += 1;
        }
        Ok(d)
    }
}

/// The results of [`ProcessPool::imap_unordered`](super::ProcessPool::imap_unordered), as
/// they finish, each with its item's index: an `Iterator` (blocking) and a
/// `futures_core::Stream`. The input is read as results are taken, a window at a time.
pub struct ImapUnordered<It, I, O> {
    feed: Feed<It, I, O>,
}

impl<It, I, O> std::fmt::Debug for ImapUnordered<It, I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapUnordered")
            .field("submitted", &self.feed.submitted)
            .field("taken", &self.feed.taken)
            .finish()
    }
}

impl<It, I, O> ImapUnordered<It, I, O>
where
    It: Iterator<Item = I>,
    I: Serialize + 'static,
    O: DeserializeOwned + Send + 'static,
{
    pub(crate) fn new(calls: Calls<I, O>, input: It, chunksize: usize, window: usize) -> Self {
        ImapUnordered {
            feed: Feed::new(calls, input, chunksize, window),
        }
    }

    /// The next result, waiting up to `timeout`: `Ok(None)` at the end; `Err` if none
    /// arrived in time (call again to keep waiting).
    #[allow(clippy::type_complexity)]
    pub fn next_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<(usize, Result<O, TaskError>)>, WaitTimedOut> {
        let low = self.feed.taken;
        self.feed.next_until(Some(Instant::now() + timeout), low)
    }
}

impl<It, I, O> Iterator for ImapUnordered<It, I, O>
where
    It: Iterator<Item = I>,
    I: Serialize + 'static,
    O: DeserializeOwned + Send + 'static,
{
    type Item = (usize, Result<O, TaskError>);

    fn next(&mut self) -> Option<Self::Item> {
        let low = self.feed.taken;
        self.feed.next_until(None, low).unwrap_or(None)
    }
}

impl<It, I, O> Stream for ImapUnordered<It, I, O>
where
    It: Iterator<Item = I> + Unpin,
    I: Serialize + Unpin + 'static,
    O: DeserializeOwned + Send + 'static,
{
    type Item = (usize, Result<O, TaskError>);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let feed = &mut self.get_mut().feed;
        feed.fill(feed.taken);
        if feed.submitted == feed.taken {
            return Poll::Ready(None);
        }
        let p = feed.collector.poll_next(cx);
        if let Poll::Ready(Some(_)) = &p {
            feed.taken += 1;
        }
        p
    }
}

/// The results of [`ProcessPool::imap`](super::ProcessPool::imap), in input order, lazily:
/// Python's `imap`. The input is read as results are taken, a window at a time, and results
/// that finish early wait (at most a window of them) until their turn.
pub struct Imap<It, I, O> {
    feed: Feed<It, I, O>,
    next_index: usize,
    early: HashMap<usize, Result<O, TaskError>>,
}

impl<It, I, O> std::fmt::Debug for Imap<It, I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imap")
            .field("next_index", &self.next_index)
            .field("early", &self.early.len())
            .finish()
    }
}

impl<It, I, O> Imap<It, I, O>
where
    It: Iterator<Item = I>,
    I: Serialize + 'static,
    O: DeserializeOwned + Send + 'static,
{
    pub(crate) fn new(calls: Calls<I, O>, input: It, chunksize: usize, window: usize) -> Self {
        Imap {
            feed: Feed::new(calls, input, chunksize, window),
            next_index: 0,
            early: HashMap::new(),
        }
    }

    /// The next result in order, waiting up to `timeout`: `Ok(None)` at the end; `Err` if it
    /// did not arrive in time (call again to keep waiting; nothing is lost).
    pub fn next_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<Result<O, TaskError>>, WaitTimedOut> {
        self.next_until(Some(Instant::now() + timeout))
    }

    fn next_until(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<Option<Result<O, TaskError>>, WaitTimedOut> {
        loop {
            if let Some(r) = self.early.remove(&self.next_index) {
                self.next_index += 1;
                return Ok(Some(r));
            }
            // The window counts from the result the reader waits for, so results held early
            // are bounded by it too.
            match self.feed.next_until(deadline, self.next_index)? {
                Some((i, r)) => {
                    self.early.insert(i, r);
                }
                None => return Ok(None),
            }
        }
    }
}

impl<It, I, O> Iterator for Imap<It, I, O>
where
    It: Iterator<Item = I>,
    I: Serialize + 'static,
    O: DeserializeOwned + Send + 'static,
{
    type Item = Result<O, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_until(None).unwrap_or(None)
    }
}

/// Results as they finish, from any set of [`AsyncResult`]s, each with its position in the
/// set: `concurrent.futures.as_completed`.
pub struct AsCompleted<O> {
    results: Vec<Option<AsyncResult<O>>>,
    ready: Arc<(Mutex<VecDeque<usize>>, Condvar)>,
    left: usize,
    _types: PhantomData<O>,
}

impl<O> std::fmt::Debug for AsCompleted<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsCompleted")
            .field("left", &self.left)
            .finish()
    }
}

/// Yields each result with its index in `results`, in the order they finish.
pub fn as_completed<O>(results: impl IntoIterator<Item = AsyncResult<O>>) -> AsCompleted<O> {
    let results: Vec<Option<AsyncResult<O>>> = results.into_iter().map(Some).collect();
    let ready = Arc::new((Mutex::new(VecDeque::new()), Condvar::new()));
    for (i, r) in results.iter().enumerate() {
        let ready = ready.clone();
        if let Some(r) = r {
            r.collector.listen(Box::new(move || {
                let (queue, cv) = &*ready;
                queue.lock().unwrap_or_else(|p| p.into_inner()).push_back(i);
                cv.notify_all();
            }));
        }
    }
    AsCompleted {
        left: results.len(),
        results,
        ready,
        _types: PhantomData,
    }
}

impl<O> AsCompleted<O> {
    /// The next finished result, waiting up to `timeout`: `Ok(None)` at the end.
    #[allow(clippy::type_complexity)]
    pub fn next_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<(usize, Result<O, TaskError>)>, WaitTimedOut> {
        self.next_until(Some(Instant::now() + timeout))
    }

    #[allow(clippy::type_complexity)]
    fn next_until(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<Option<(usize, Result<O, TaskError>)>, WaitTimedOut> {
        if self.left == 0 {
            return Ok(None);
        }
        let (queue, cv) = &*self.ready;
        let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
        let i = loop {
            if let Some(i) = q.pop_front() {
                break i;
            }
            q = match deadline {
                None => cv.wait(q).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(WaitTimedOut);
                    }
                    cv.wait_timeout(q, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        };
        drop(q);
        self.left -= 1;
        let r = self.results[i]
            .take()
            .map_or(Err(TaskError::Terminated), AsyncResult::wait);
        Ok(Some((i, r)))
    }
}

impl<O> Iterator for AsCompleted<O> {
    type Item = (usize, Result<O, TaskError>);

    fn next(&mut self) -> Option<Self::Item> {
        self.next_until(None).unwrap_or(None)
    }
}
