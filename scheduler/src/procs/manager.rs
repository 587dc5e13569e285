//! The manager thread: the one place that starts, feeds, watches and ends the workers.
//!
//! It owns every worker's [`Child`] and channel, and waits on all of them at once with a
//! `mio::Poll`: each worker's channel (its results) and its pidfd (its death), plus a
//! `mio::Waker` for commands from the pool's handles. It starts the workers itself, so that
//! the thread that started them (the one `PR_SET_PDEATHSIG` watches) lives exactly as long as
//! the pool. Start-up, then this loop:
//!
//! 1. **Take commands**: new jobs (encoded chunks) join the pending queue; a close, shutdown or
//!    terminate request is noted.
//! 2. **Terminate** if asked: kill every worker (`SIGKILL`), reap it, fail its chunk and every
//!    pending chunk with [`TaskError::Terminated`]; stop.
//! 3. **Drop cancelled chunks**: if a handle cancelled its submission, its queued chunks fail
//!    with [`TaskError::Cancelled`] now (and so do all queued chunks on a shutdown that
//!    cancels pending work).
//! 4. **Dispatch**: each ready worker without a chunk gets the next pending one (one chunk
//!    running per worker, so a death fails exactly the chunk that worker ran), with a
//!    deadline if the call has a task timeout. A send that finds no room for
//!    [`SEND_TIMEOUT`] kills the worker and fails the chunk. Then the **prefetch**: if the
//!    next pending chunk belongs to the same call as a worker's running one, it is sent
//!    behind it (both small enough to sit in the pipe together, [`PREFETCH_MAX_BYTES`]; not
//!    with `max_tasks_per_child`), so the worker starts it as soon as it answers, without a
//!    round trip through this thread: on a machine whose every CPU runs a worker, this thread
//!    waits for a CPU before it can send, and each such wait was a worker idle. The worker
//!    reads a chunk only after answering for the one before, so a prefetched chunk never ran
//!    when its worker dies or times out: it goes back to the front of the queue. It has
//!    started as far as `cancel` is concerned (as the call queue of Python's
//!    `ProcessPoolExecutor`, which also holds one call more than it has workers).
//! 5. **Graceful end** if asked and nothing is pending or in flight: close every channel (the
//!    workers read end-of-stream and exit 0), reap them; stop.
//! 6. **Wait** for a channel, a pidfd or the waker, until the nearest deadline.
//! 7. **Service**: per readable channel, read every whole frame: `Ready` marks the worker
//!    ready; `Done` delivers its results (and a worker that reached `max_tasks_per_child` is
//!    retired and replaced). A pidfd that became readable, or end-of-stream, means the worker
//!    died: read what it sent before dying, reap it (`waitpid` gives the signal), start a
//!    replacement and publish the new pid list, then fail its chunk with
//!    [`TaskError::WorkerDied`].
//! 8. **Expire deadlines**: a worker past its task deadline is killed, reaped and replaced
//!    (the pid list published); then its chunk fails with [`TaskError::TimedOut`]. A worker not ready by its start deadline
//!    counts as a failed start.
//!
//! Why the pool never hangs: a worker's death always wakes step 6 (its pidfd becomes readable
//! when it exits, whoever else holds its channel); a worker that neither answers nor dies is
//! bounded by the task timeout and the start timeout; every chunk is at any time in the
//! queue, in exactly one worker's slot, or delivered; a slot's chunk is delivered (result or
//! error) before the slot is emptied; and when the loop ends (or unwinds), every chunk it
//! still holds is failed. Replacements of workers that die before `Ready` stop after
//! [`MAX_STARTUP_FAILURES`] in a row, so a broken initializer ends in errors, not a respawn
//! loop; with no worker left, pending chunks fail with [`TaskError::NoWorkers`].

use std::collections::VecDeque;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use switchyard_runtime::process::{
    self, Channel, Child, ExitStatus, Forker, FrameError, StartMethod,
};

use super::error::{PoolError, TaskError};
use super::results::Sink;
use super::worker::{Bytes, ChunkError, FromWorker, ToWorker};

/// The largest chunk (encoded items) step 4 sends behind a running one, and the largest
/// running chunk it sends one behind: two such chunks fit in a pipe's default 64 KiB, so the
/// manager never blocks on a worker busy with its first chunk. Picked by that arithmetic.
const PREFETCH_MAX_BYTES: usize = 16 << 10;

/// Sends a chunk to a worker.
fn send_chunk(
    channel: &mut Channel,
    task: Arc<str>,
    sig: u64,
    count: usize,
    items: Vec<u8>,
) -> Result<(), FrameError> {
    channel.send(&ToWorker::Chunk {
        task: task.to_string(),
        sig,
        count: count as u32,
        items: Bytes(items),
    })
}

/// A send to worker `slot` failed. A dead worker's pidfd (or end-of-stream) will say how, and
/// its chunk fails then. Otherwise it timed out (see [`SEND_TIMEOUT`]) or failed half-way: the
/// stream may be torn, so the worker is of no further use: killed, its running chunk failed;
/// its pidfd brings it to `died`.
fn broken_send(slot: &mut Slot, e: &FrameError) {
    if e.is_peer_gone() {
        return;
    }
    let pid = slot.child.pid();
    slot.deadline = None;
    let _ = slot.child.kill();
    if let Some(f) = slot.in_flight.take() {
        f.fail(&TaskError::Ipc {
            pid,
            message: e.to_string(),
        });
    }
}

/// The waker's token; worker slot `i` uses `Token(2i + 1)` for its channel and
/// `Token(2i + 2)` for its pidfd.
const WAKER: Token = Token(0);

/// Replacements of workers that died before `Ready`, in a row, before the pool gives up
/// replacing. Picked out of thin air: one retry for bad luck, then the initializer is broken.
pub const MAX_STARTUP_FAILURES: usize = 3;

/// How long a worker whose channel ended may take to exit before it is killed. A worker that
/// crashed exits within microseconds of its channel closing; one that closed its channel and
/// runs on is useless. Picked out of thin air.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// The longest one blocking send to a worker may wait for room in its pipe (a worker that
/// stopped reading: stopped, or stuck in the kernel). Past it the worker is killed and its
/// chunk fails, so the manager thread cannot hang on one worker. Picked out of thin air: a
/// live worker drains its pipe in microseconds.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Events taken from the poller per wait; a pool has few workers.
const EVENTS_CAPACITY: usize = 64;

/// A chunk of consecutive items of one submission, encoded.
pub(crate) struct Chunk {
    pub(crate) task: Arc<str>,
    pub(crate) types: Arc<str>,
    pub(crate) sig: u64,
    pub(crate) count: usize,
    pub(crate) items: Vec<u8>,
    pub(crate) first: usize,
    pub(crate) timeout: Option<Duration>,
    pub(crate) sink: Arc<dyn Sink>,
}

impl Chunk {
    fn fail(self, error: &TaskError) {
        self.sink.fail(self.first, self.count, error);
    }
}

/// A chunk that was sent to a worker: what to fill or fail when it answers or dies.
struct InFlight {
    task: Arc<str>,
    types: Arc<str>,
    first: usize,
    count: usize,
    timeout: Option<Duration>,
    sink: Arc<dyn Sink>,
    /// The size of its encoded items (step 4's prefetch bound).
    bytes: usize,
}

impl InFlight {
    fn of(job: &Chunk) -> InFlight {
        InFlight {
            task: job.task.clone(),
            types: job.types.clone(),
            first: job.first,
            count: job.count,
            timeout: job.timeout,
            sink: job.sink.clone(),
            bytes: job.items.len(),
        }
    }

    fn fail(self, error: &TaskError) {
        self.sink.fail(self.first, self.count, error);
    }

    fn finish(self, outcome: Result<Bytes, ChunkError>, pid: i32) {
        match outcome {
            Ok(bytes) => self.sink.deliver(self.first, self.count, &bytes.0, pid),
            Err(ChunkError::UnknownTask { registered }) => {
                let task = self.task.to_string();
                self.fail(&TaskError::UnknownTask { task, registered });
            }
            Err(ChunkError::WrongTypes { registered }) => {
                let (task, called) = (self.task.to_string(), self.types.to_string());
                self.fail(&TaskError::WrongTypes {
                    task,
                    registered,
                    called,
                });
            }
        }
    }
}

/// How the pool is asked to end.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum End {
    /// Finish the submitted tasks (or fail the queued ones with `Cancelled`), then stop the
    /// workers.
    Graceful { cancel_pending: bool },
    /// Kill the workers now; unfinished tasks fail with `Terminated`.
    Terminate,
}

/// What the pool's handles and the manager share.
pub(crate) struct ManagerShared {
    commands: Mutex<Commands>,
    waker: mio::Waker,
    /// The live workers' pids, in slot order.
    pub(crate) pids: Mutex<Vec<i32>>,
    /// Set when the manager has ended (every worker reaped), for waits with a timeout.
    ended: Mutex<bool>,
    ended_changed: Condvar,
}

/// Commands waiting for the manager.
pub(crate) struct Commands {
    pub(crate) jobs: VecDeque<Chunk>,
    pub(crate) end: Option<End>,
    /// Set by `close`, a shutdown, or the manager's end: jobs are refused with `Closed`.
    pub(crate) closed: bool,
    /// Set when a handle cancelled its submission (step 3).
    pub(crate) cancels: bool,
}

impl ManagerShared {
    pub(crate) fn new(waker: mio::Waker) -> ManagerShared {
        ManagerShared {
            commands: Mutex::new(Commands {
                jobs: VecDeque::new(),
                end: None,
                closed: false,
                cancels: false,
            }),
            waker,
            pids: Mutex::new(Vec::new()),
            ended: Mutex::new(false),
            ended_changed: Condvar::new(),
        }
    }

    /// Waits up to `timeout` for the manager to end; whether it did.
    pub(crate) fn wait_ended(&self, timeout: Duration) -> bool {
        let ended = self.ended.lock().unwrap_or_else(|p| p.into_inner());
        let (ended, _) = self
            .ended_changed
            .wait_timeout_while(ended, timeout, |ended| !*ended)
            .unwrap_or_else(|p| p.into_inner());
        *ended
    }

    pub(crate) fn lock_commands(&self) -> MutexGuard<'_, Commands> {
        // Nothing panics while holding this lock; recover the data if something did.
        self.commands.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes the manager. A waker that cannot be written to means the poller is gone with the
    /// manager, which only happens once the pool ended: nothing is left to wake.
    pub(crate) fn wake(&self) {
        let _ = self.waker.wake();
    }

    /// Queues jobs, or fails them with [`TaskError::Closed`] if the pool takes no more.
    pub(crate) fn submit(&self, jobs: impl IntoIterator<Item = Chunk>) {
        let mut commands = self.lock_commands();
        if commands.closed {
            drop(commands);
            for job in jobs {
                job.fail(&TaskError::Closed);
            }
            return;
        }
        commands.jobs.extend(jobs);
        drop(commands);
        self.wake();
    }

    /// Asks the pool to end: refuses new jobs from now on.
    pub(crate) fn request_end(&self, end: End) {
        let mut commands = self.lock_commands();
        commands.closed = true;
        // Terminate overrides a graceful request, never the other way round.
        if commands.end != Some(End::Terminate) {
            commands.end = Some(end);
        }
        drop(commands);
        self.wake();
    }

    /// The live workers' pids.
    pub(crate) fn pids(&self) -> Vec<i32> {
        self.pids.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// How to start a worker.
pub(crate) struct WorkerSpec {
    pub(crate) entry: &'static str,
    pub(crate) workers: usize,
    pub(crate) hook: Option<String>,
    pub(crate) init: Option<(String, Vec<u8>)>,
    pub(crate) max_tasks_per_child: Option<usize>,
    /// Step 4's prefetch ([`Builder::prefetch`](super::Builder::prefetch)).
    pub(crate) prefetch: bool,
    pub(crate) max_frame_size: Option<usize>,
    pub(crate) start_timeout: Duration,
}

/// Starts worker processes with a start method, or from the pool's own [`Forker`].
pub(crate) enum Starter {
    /// `process::start` with this method, for each worker.
    Method(StartMethod),
    /// Forks of the process as it was when the pool was built (what makes
    /// `StartMethod::Fork` replace dead workers: see `Builder::start_method`).
    Forker(Forker),
    /// Forks of one spawned, fresh process of the worker entry, asked to serve forks
    /// (`Builder::spawn_server`); made on first use, and again if it died. If it cannot be
    /// made, workers are spawned one by one.
    SpawnServer(Option<Forker>),
}

impl Starter {
    fn start(&mut self, entry: &str, parent: i32) -> Result<Child, process::ProcessError> {
        match self {
            Starter::Method(m) => process::start(entry, *m),
            Starter::Forker(f) => f.start(entry),
            Starter::SpawnServer(server) => {
                if server.is_none() {
                    *server = spawn_server(entry, parent);
                }
                if let Some(f) = server.as_mut() {
                    match f.start(entry) {
                        Ok(child) => return Ok(child),
                        // Gone (killed?): spawn this worker, and a new server next time.
                        Err(_) => *server = None,
                    }
                }
                process::start(entry, StartMethod::Spawn)
            }
        }
    }
}

/// Spawns a fresh process of the worker entry and asks it to serve forks.
fn spawn_server(entry: &str, parent: i32) -> Option<Forker> {
    let mut child = process::start(entry, StartMethod::Spawn).ok()?;
    child.channel()?.send(&ToWorker::Serve { parent }).ok()?;
    Forker::from_child(child)
}

/// One worker process, as the manager sees it.
struct Slot {
    child: Child,
    channel: Channel,
    ready: bool,
    /// The chunk the worker runs (or is about to).
    in_flight: Option<InFlight>,
    /// The chunk sent behind it (step 4's prefetch), kept whole so that it can go back to
    /// the queue: the worker reads it only after answering for `in_flight`.
    next: Option<Chunk>,
    tasks_done: usize,
    /// The start deadline until `Ready`, then the running chunk's deadline, if any.
    deadline: Option<Instant>,
}

/// What reading a worker's channel found.
enum Read {
    /// Nothing more for now.
    Idle,
    /// End-of-stream or a failed read: the worker is gone.
    Gone,
    /// A frame that does not decode, or is oversized: the stream is lost.
    Broken(String),
    /// The worker refused to start (its initializer).
    Refused(String),
}

/// The manager's state (see the module docs for the loop).
pub(crate) struct Manager {
    shared: Arc<ManagerShared>,
    spec: WorkerSpec,
    starter: Starter,
    poll: Poll,
    slots: Vec<Option<Slot>>,
    pending: VecDeque<Chunk>,
    end: Option<End>,
    startup_failures: usize,
    last_start_error: String,
    parent: i32,
}

impl Manager {
    pub(crate) fn new(
        shared: Arc<ManagerShared>,
        spec: WorkerSpec,
        starter: Starter,
        poll: Poll,
    ) -> Self {
        Manager {
            shared,
            spec,
            starter,
            poll,
            slots: Vec::new(),
            pending: VecDeque::new(),
            end: None,
            startup_failures: 0,
            last_start_error: String::new(),
            parent: std::process::id() as i32,
        }
    }

    /// Starts the workers, reports whether they all came up, and runs the loop.
    pub(crate) fn run(mut self, started: mpsc::Sender<Result<(), PoolError>>) {
        let outcome = self.start_up();
        let ok = outcome.is_ok();
        let _ = started.send(outcome);
        if ok {
            self.run_loop();
        }
    }

    /// Starts every worker and waits until each sent `Ready`, up to the start timeout; on a
    /// failure, kills and reaps the others.
    fn start_up(&mut self) -> Result<(), PoolError> {
        for i in 0..self.spec.workers {
            self.slots.push(None);
            let slot = self.start_worker()?;
            self.install(i, slot)?;
        }
        self.publish_pids();
        let deadline = Instant::now() + self.spec.start_timeout;
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        loop {
            if self.slots.iter().flatten().all(|s| s.ready) {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.terminate();
                return Err(PoolError::StartTimedOut(self.spec.start_timeout));
            }
            if self.poll.poll(&mut events, Some(left)).is_err() {
                continue;
            }
            let tokens: Vec<Token> = events.iter().map(|e| e.token()).collect();
            for token in tokens.into_iter().filter(|&t| t != WAKER) {
                let i = (token.0 - 1) / 2;
                let failure = match self.read(i) {
                    Read::Idle if token.0 % 2 == 1 => None,
                    Read::Refused(message) => Some(Err(PoolError::Initializer {
                        pid: self.pid_of(i),
                        message,
                    })),
                    Read::Broken(message) => Some(Err(PoolError::Initializer {
                        pid: self.pid_of(i),
                        message,
                    })),
                    // End-of-stream, or the pidfd: did it die?
                    _ => self.slots[i].as_mut().and_then(|s| {
                        let pid = s.child.pid();
                        match s.child.wait_timeout(EXIT_GRACE) {
                            Ok(Some(status)) => Some(Err(PoolError::WorkerStartup { pid, status })),
                            _ => None,
                        }
                    }),
                };
                if let Some(e) = failure {
                    self.terminate();
                    return e;
                }
            }
        }
    }

    fn pid_of(&self, i: usize) -> i32 {
        self.slots[i].as_ref().map_or(0, |s| s.child.pid())
    }

    /// Starts a worker and sends it `Hello` (without waiting for `Ready`).
    fn start_worker(&mut self) -> Result<Slot, process::ProcessError> {
        let mut child = self.starter.start(self.spec.entry, self.parent)?;
        let mut channel = child.take_channel().expect("a new child has its channel");
        if let Some(max) = self.spec.max_frame_size {
            channel.set_max_frame_size(max);
        }
        // Without it a send to a worker that stopped reading blocks the manager for ever.
        channel
            .set_write_timeout(Some(SEND_TIMEOUT))
            .map_err(process::ProcessError::Start)?;
        // Step 7 reads until nothing is left (the poller is edge-triggered): one `read` each.
        channel
            .set_nonblocking_reads(true)
            .map_err(process::ProcessError::Start)?;
        // A send failure means the worker is already dead; its pidfd will say so.
        let _ = channel.send(&ToWorker::Hello {
            parent: self.parent,
            hook: self.spec.hook.clone(),
            init: self
                .spec
                .init
                .as_ref()
                .map(|(name, args)| (name.clone(), Bytes(args.clone()))),
        });
        Ok(Slot {
            child,
            channel,
            ready: false,
            in_flight: None,
            next: None,
            tasks_done: 0,
            deadline: Some(Instant::now() + self.spec.start_timeout),
        })
    }

    fn install(&mut self, i: usize, slot: Slot) -> std::io::Result<()> {
        let registry = self.poll.registry();
        let raw = slot.channel.as_fd().as_raw_fd();
        registry.register(&mut SourceFd(&raw), Token(2 * i + 1), Interest::READABLE)?;
        if let Some(pidfd) = slot.child.pidfd() {
            let raw = pidfd.as_raw_fd();
            registry.register(&mut SourceFd(&raw), Token(2 * i + 2), Interest::READABLE)?;
        }
        self.slots[i] = Some(slot);
        Ok(())
    }

    fn take_slot(&mut self, i: usize) -> Option<Slot> {
        let slot = self.slots.get_mut(i)?.take()?;
        let registry = self.poll.registry();
        let raw = slot.channel.as_fd().as_raw_fd();
        let _ = registry.deregister(&mut SourceFd(&raw));
        if let Some(pidfd) = slot.child.pidfd() {
            let _ = registry.deregister(&mut SourceFd(&pidfd.as_raw_fd()));
        }
        Some(slot)
    }

    fn publish_pids(&self) {
        let pids = self.slots.iter().flatten().map(|s| s.child.pid()).collect();
        *self.shared.pids.lock().unwrap_or_else(|p| p.into_inner()) = pids;
    }

    /// The loop of the module docs; returns when the pool has ended and every worker is reaped.
    fn run_loop(&mut self) {
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        loop {
            let cancels = self.take_commands(); // step 1
            if self.end == Some(End::Terminate) {
                self.terminate(); // step 2
                return;
            }
            let cancel_all = matches!(
                self.end,
                Some(End::Graceful {
                    cancel_pending: true
                })
            );
            if cancels || cancel_all {
                self.drop_cancelled(cancel_all); // step 3
            }
            self.dispatch(); // step 4
            if matches!(self.end, Some(End::Graceful { .. }))
                && self.pending.is_empty()
                && self.slots.iter().flatten().all(|s| s.in_flight.is_none())
            {
                self.close_all(); // step 5
                return;
            }
            // Step 6. A failed poll (EINTR) just loops.
            let timeout = self
                .slots
                .iter()
                .flatten()
                .filter_map(|s| s.deadline)
                .min()
                .map(|d| d.saturating_duration_since(Instant::now()));
            if self.poll.poll(&mut events, timeout).is_err() {
                continue;
            }
            // Step 7.
            let tokens: Vec<Token> = events.iter().map(|e| e.token()).collect();
            for token in tokens.into_iter().filter(|&t| t != WAKER) {
                let i = (token.0 - 1) / 2;
                if token.0 % 2 == 1 {
                    self.service(i);
                } else {
                    // A pidfd. The slot may already hold a replacement (the channel's
                    // end-of-stream came first in this batch): act only on a real exit.
                    let exited = self.slots[i]
                        .as_mut()
                        .is_some_and(|s| matches!(s.child.try_wait(), Ok(Some(_))));
                    if exited {
                        self.died(i);
                    }
                }
            }
            self.expire(Instant::now()); // step 8
        }
    }

    /// Step 1; returns whether a handle cancelled something.
    fn take_commands(&mut self) -> bool {
        let mut commands = self.shared.lock_commands();
        self.pending.extend(commands.jobs.drain(..));
        if let Some(end) = commands.end {
            self.end = Some(end);
        }
        std::mem::take(&mut commands.cancels)
    }

    /// Step 3.
    fn drop_cancelled(&mut self, all: bool) {
        let (cancelled, kept): (VecDeque<Chunk>, VecDeque<Chunk>) = self
            .pending
            .drain(..)
            .partition(|job| all || job.sink.is_cancelled());
        self.pending = kept;
        for job in cancelled {
            job.fail(&TaskError::Cancelled);
        }
    }

    /// Step 4.
    fn dispatch(&mut self) {
        for i in 0..self.slots.len() {
            let Some(slot) = self.slots[i].as_mut() else {
                continue;
            };
            if !slot.ready {
                continue;
            }
            if slot.in_flight.is_none() {
                let job = loop {
                    match self.pending.pop_front() {
                        None => break None,
                        Some(job) if !job.sink.start() => job.fail(&TaskError::Cancelled),
                        Some(job) => break Some(job),
                    }
                };
                let Some(job) = job else {
                    break;
                };
                slot.deadline = job
                    .timeout
                    .map(|t| Instant::now() + t.saturating_mul(job.count as u32));
                slot.in_flight = Some(InFlight::of(&job));
                if let Err(e) = send_chunk(
                    &mut slot.channel,
                    job.task.clone(),
                    job.sig,
                    job.count,
                    job.items,
                ) {
                    broken_send(slot, &e);
                    continue;
                }
            }
            // The prefetch: the next chunk of the same call, queued behind the running one.
            let prefetch = self.spec.prefetch
                && self.spec.max_tasks_per_child.is_none()
                && slot.next.is_none()
                && slot.in_flight.as_ref().is_some_and(|f| {
                    f.bytes <= PREFETCH_MAX_BYTES
                        && self.pending.front().is_some_and(|job| {
                            Arc::ptr_eq(&job.sink, &f.sink) && job.items.len() <= PREFETCH_MAX_BYTES
                        })
                });
            if !prefetch {
                continue;
            }
            let Some(job) = self.pending.pop_front() else {
                continue;
            };
            if !job.sink.start() {
                job.fail(&TaskError::Cancelled);
                continue;
            }
            let sent = send_chunk(
                &mut slot.channel,
                job.task.clone(),
                job.sig,
                job.count,
                job.items.clone(),
            );
            if let Err(e) = sent {
                // Back to the queue, for another worker; this one is dead or torn.
                self.pending.push_front(job);
                broken_send(slot, &e);
                continue;
            }
            slot.next = Some(job);
        }
        if self.slots.iter().all(Option::is_none) {
            let error = TaskError::NoWorkers(self.last_start_error.clone());
            for job in self.pending.drain(..) {
                job.fail(&error);
            }
        }
    }

    /// Reads every whole frame from worker `i` (the poller is edge-triggered).
    fn read(&mut self, i: usize) -> Read {
        loop {
            let Some(slot) = self.slots.get_mut(i).and_then(Option::as_mut) else {
                return Read::Idle;
            };
            match slot.channel.try_recv::<FromWorker>() {
                Ok(None) => return Read::Idle,
                Ok(Some(FromWorker::Ready)) => {
                    slot.ready = true;
                    slot.deadline = None;
                    self.startup_failures = 0;
                }
                Ok(Some(FromWorker::Refused { message })) => return Read::Refused(message),
                Ok(Some(FromWorker::Done { outcome })) => {
                    let pid = slot.child.pid();
                    slot.deadline = None;
                    if let Some(f) = slot.in_flight.take() {
                        slot.tasks_done += f.count;
                        f.finish(outcome, pid);
                    }
                    // The prefetched chunk is the one the worker runs now.
                    if let Some(job) = slot.next.take() {
                        slot.deadline = job
                            .timeout
                            .map(|t| Instant::now() + t.saturating_mul(job.count as u32));
                        slot.in_flight = Some(InFlight::of(&job));
                    }
                }
                Err(e) if e.is_peer_gone() || matches!(e, FrameError::Io(_)) => return Read::Gone,
                Err(e) => return Read::Broken(e.to_string()),
            }
        }
    }

    /// Step 7 for a readable channel.
    fn service(&mut self, i: usize) {
        match self.read(i) {
            Read::Idle => {
                let retire = self.slots[i].as_ref().is_some_and(|s| {
                    s.in_flight.is_none()
                        && self
                            .spec
                            .max_tasks_per_child
                            .is_some_and(|max| s.tasks_done >= max)
                });
                if retire {
                    self.retire(i);
                }
            }
            Read::Gone => self.died(i),
            Read::Broken(message) => {
                // The stream is lost: treat the worker as broken, fail its chunk with what
                // happened, kill it.
                if let Some(slot) = self.slots[i].as_mut() {
                    let pid = slot.child.pid();
                    if let Some(f) = slot.in_flight.take() {
                        f.fail(&TaskError::Ipc { pid, message });
                    }
                    let _ = slot.child.kill();
                }
                self.died(i);
            }
            Read::Refused(message) => {
                self.last_start_error = message;
                if let Some(slot) = self.slots[i].as_mut() {
                    let _ = slot.child.kill();
                }
                self.died(i);
            }
        }
    }

    /// Step 8.
    fn expire(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            let Some(slot) = self.slots[i].as_mut() else {
                continue;
            };
            if slot.deadline.is_none_or(|d| d > now) {
                continue;
            }
            let _ = slot.child.kill();
            let pid = slot.child.pid();
            if let Some(f) = slot.in_flight.take() {
                let timeout = f.timeout.unwrap_or_default();
                let mut slot = self.take_slot(i).expect("checked above");
                // Never started: back to the queue.
                if let Some(job) = slot.next.take() {
                    self.pending.push_front(job);
                }
                reap(slot.child);
                // The replacement is listed before the error is out (see `died`).
                self.replace(i);
                f.fail(&TaskError::TimedOut { pid, timeout });
            } else {
                self.last_start_error = format!(
                    "worker {pid} was not ready within {:?}",
                    self.spec.start_timeout
                );
                self.died(i);
            }
        }
    }

    /// Worker `i` reached `max_tasks_per_child`: close, reap, replace.
    fn retire(&mut self, i: usize) {
        if let Some(slot) = self.take_slot(i) {
            close_and_reap(slot);
        }
        // Publishes: a pid gone from `worker_pids` is always reaped already.
        self.replace(i);
    }

    /// Worker `i` died (or is being killed): deliver what it sent before, reap it, replace it
    /// and publish the pid list, then fail its chunk naming it.
    fn died(&mut self, i: usize) {
        // Results it sent before it died are results, not losses.
        let _ = self.read(i);
        let Some(mut slot) = self.take_slot(i) else {
            return;
        };
        let pid = slot.child.pid();
        let in_flight = slot.in_flight.take();
        // The prefetched chunk was never started (the worker reads it only after answering
        // for the one it ran): back to the queue, for the replacement or another worker.
        if let Some(job) = slot.next.take() {
            self.pending.push_front(job);
        }
        let was_ready = slot.ready;
        drop(slot.channel);
        let status = reap(slot.child);
        if !was_ready {
            self.startup_failures += 1;
            if self.last_start_error.is_empty() {
                self.last_start_error = format!("worker {pid} {status} before it was ready");
            }
        }
        // Replace first, publish, then deliver: whoever sees the WorkerDied sees a
        // `worker_pids` without the dead worker and with its replacement.
        self.replace(i);
        if let Some(f) = in_flight {
            f.fail(&TaskError::WorkerDied { pid, status });
        }
    }

    fn replace(&mut self, i: usize) {
        let terminating = self.end == Some(End::Terminate);
        if !terminating && self.startup_failures < MAX_STARTUP_FAILURES {
            match self.start_worker() {
                Ok(slot) => {
                    if let Err(e) = self.install(i, slot) {
                        self.last_start_error = e.to_string();
                    }
                }
                Err(e) => self.last_start_error = e.to_string(),
            }
        }
        self.publish_pids();
    }

    /// Step 2 (and what `Drop` does if the loop unwinds): kill and reap every worker, fail
    /// every chunk held.
    fn terminate(&mut self) {
        for i in 0..self.slots.len() {
            if let Some(mut slot) = self.take_slot(i) {
                let _ = slot.child.kill();
                let in_flight = slot.in_flight.take();
                let next = slot.next.take();
                reap(slot.child);
                if let Some(f) = in_flight {
                    f.fail(&TaskError::Terminated);
                }
                if let Some(job) = next {
                    job.fail(&TaskError::Terminated);
                }
            }
        }
        for job in self.pending.drain(..) {
            job.fail(&TaskError::Terminated);
        }
        self.publish_pids();
    }

    /// Step 5.
    fn close_all(&mut self) {
        for i in 0..self.slots.len() {
            if let Some(slot) = self.take_slot(i) {
                close_and_reap(slot);
            }
        }
        self.publish_pids();
    }
}

/// Reaps a worker that died or was killed: waits up to [`EXIT_GRACE`] for it to end on its
/// own (so the status is its own signal), then kills it.
fn reap(mut child: Child) -> ExitStatus {
    match child.wait_timeout(EXIT_GRACE) {
        Ok(Some(status)) => status,
        _ => {
            let _ = child.kill();
            child
                .wait()
                .unwrap_or(ExitStatus::Signaled(process::Signal::KILL))
        }
    }
}

/// Closes a worker's channel (it reads end-of-stream and exits 0) and reaps it.
fn close_and_reap(slot: Slot) {
    drop(slot.channel);
    reap(slot.child);
}

impl Drop for Manager {
    fn drop(&mut self) {
        // After a normal end nothing is left and this does nothing. If the loop panicked,
        // this is what keeps every wait from hanging: every held chunk fails, every worker is
        // killed and reaped.
        if !self.pending.is_empty() || self.slots.iter().any(Option::is_some) {
            self.terminate();
        }
        let mut commands = self.shared.lock_commands();
        // From now on a submission finds the manager gone and fails at once.
        commands.closed = true;
        let jobs: Vec<Chunk> = commands.jobs.drain(..).collect();
        drop(commands);
        for job in jobs {
            job.fail(&TaskError::Terminated);
        }
        *self.shared.ended.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.shared.ended_changed.notify_all();
    }
}
