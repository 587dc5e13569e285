//! The manager thread: the one place that talks to the workers.
//!
//! It owns every worker's channel and `Child`, waits on all their sockets at once with a
//! `mio::Poll` (plus a `mio::Waker` for new submissions), and runs this loop:
//!
//! 1. **Take commands**: new jobs (chunks of items) join the pending queue; a shutdown request
//!    is noted.
//! 2. **Terminate** if asked: kill every worker (`SIGKILL`), reap it, fail its chunk and every
//!    pending chunk with [`TaskError::Terminated`]; stop.
//! 3. **Dispatch**: each ready worker without a chunk gets the next pending one (one chunk in
//!    flight per worker, so a death fails exactly the chunk that worker held).
//! 4. **Graceful end** if asked and nothing is pending or in flight: close every channel (the
//!    workers read end-of-stream and exit 0), reap them; stop.
//! 5. **Wait** for a socket to become readable or for the waker; then, per readable worker,
//!    read every whole frame: `Ready` marks it ready; `Done` delivers its results, and a worker
//!    that reached `max_tasks_per_child` is retired (channel closed, reaped) and replaced.
//!    End-of-stream means the worker died: reap it (`waitpid` gives the signal), fail its chunk
//!    with [`TaskError::WorkerDied`] naming the pid and the status, start a replacement.
//!
//! Why the pool never hangs: a worker's death always closes its socket (the kernel does it),
//! which wakes step 5; every chunk is either in the queue, in one worker's slot, or delivered;
//! and a slot's chunk is delivered (result or error) before the slot is emptied. A worker
//! that dies before `Ready` does not get replaced more than [`MAX_STARTUP_FAILURES`] times
//! in a row, so a broken initializer ends in errors, not a respawn loop.

use std::collections::VecDeque;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Arc, Mutex};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use serde::Serialize;
use serde::de::DeserializeOwned;
use switchyard_runtime::process::{self, Channel, Child, FrameError, StartMethod};

use super::error::TaskError;
use super::results::Collector;
use super::worker::{FromWorker, ToWorker};

/// The waker's token; worker slot `i` uses `Token(i + 1)`.
const WAKER: Token = Token(0);

/// Replacements of workers that died before `Ready`, in a row, before the pool gives up
/// replacing. Picked out of thin air: one retry for bad luck, then the initializer is broken.
pub const MAX_STARTUP_FAILURES: usize = 3;

/// Events taken from the poller per wait; a pool has few workers.
const EVENTS_CAPACITY: usize = 64;

/// A chunk of consecutive items of one submission.
pub(crate) struct Job<I, O> {
    pub(crate) items: Vec<I>,
    pub(crate) first: usize,
    pub(crate) sink: Arc<Collector<O>>,
}

/// A chunk that was sent to a worker: what to fail if the worker dies.
struct InFlight<O> {
    first: usize,
    len: usize,
    sink: Arc<Collector<O>>,
}

impl<O> InFlight<O> {
    fn fail(self, error: TaskError) {
        for index in self.first..self.first + self.len {
            self.sink.deliver(index, Err(error.clone()));
        }
    }
}

/// How the pool is asked to end.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Shutdown {
    /// Finish every submitted task, then stop the workers.
    Graceful,
    /// Kill the workers now; unfinished tasks fail with `Terminated`.
    Terminate,
}

/// What the pool handle and the manager share.
pub(crate) struct Shared<I, O> {
    pub(crate) commands: Mutex<Commands<I, O>>,
    pub(crate) waker: mio::Waker,
    /// The live workers' pids (for tests and diagnostics).
    pub(crate) pids: Mutex<Vec<i32>>,
}

/// Commands waiting for the manager.
pub(crate) struct Commands<I, O> {
    pub(crate) jobs: VecDeque<Job<I, O>>,
    pub(crate) shutdown: Option<Shutdown>,
    /// Set when the manager has ended: jobs can no longer be taken.
    pub(crate) closed: bool,
}

/// How to start a worker.
#[derive(Clone, Debug)]
pub(crate) struct WorkerSpec {
    pub(crate) entry: &'static str,
    pub(crate) method: StartMethod,
    pub(crate) initializer: Option<String>,
    pub(crate) max_tasks_per_child: Option<usize>,
    pub(crate) max_frame_size: Option<usize>,
}

/// One worker process, as the manager sees it.
pub(crate) struct Slot<O> {
    child: Child,
    channel: Channel,
    ready: bool,
    in_flight: Option<InFlight<O>>,
    tasks_done: usize,
}

impl<O> Slot<O> {
    fn pid(&self) -> i32 {
        self.child.pid()
    }

    /// The worker's pid.
    pub(crate) fn child_pid(&self) -> i32 {
        self.child.pid()
    }
}

/// Starts a worker and sends it `Hello` (without waiting for `Ready`).
pub(crate) fn start_worker<I: Serialize, O>(
    spec: &WorkerSpec,
) -> Result<Slot<O>, process::ProcessError> {
    let mut child = process::start(spec.entry, spec.method)?;
    let mut channel = child.take_channel().expect("a new child has its channel");
    if let Some(max) = spec.max_frame_size {
        channel.set_max_frame_size(max);
    }
    // A send failure means the worker is already dead; step 5 will see it and report it.
    let _ = channel.send(&ToWorker::<I>::Hello {
        initializer: spec.initializer.clone(),
    });
    Ok(Slot {
        child,
        channel,
        ready: false,
        in_flight: None,
        tasks_done: 0,
    })
}

/// Waits for a new worker's `Ready` (used by the pool's builder, before the manager runs).
pub(crate) fn await_ready<O: DeserializeOwned>(slot: &mut Slot<O>) -> Result<(), FrameError> {
    match slot.channel.recv::<FromWorker<O>>()? {
        FromWorker::Ready => {
            slot.ready = true;
            Ok(())
        }
        FromWorker::Done { .. } => Err(FrameError::PeerClosed),
    }
}

/// Reaps a worker whose startup failed and returns its status.
pub(crate) fn reap(mut slot: Slot<impl Sized>) -> (i32, process::ExitStatus) {
    let pid = slot.pid();
    drop(slot.channel);
    let status = slot
        .child
        .wait()
        .unwrap_or(process::ExitStatus::Signaled(process::Signal::KILL));
    (pid, status)
}

impl<I, O> Manager<I, O> {
    fn publish_pids(&self) {
        let pids = self.slots.iter().flatten().map(Slot::pid).collect();
        *self.shared.pids.lock().unwrap_or_else(|p| p.into_inner()) = pids;
    }

    fn take_slot(&mut self, i: usize) -> Option<Slot<O>> {
        let slot = self.slots[i].take()?;
        let raw = slot.channel.as_fd().as_raw_fd();
        let _ = self.poll.registry().deregister(&mut SourceFd(&raw));
        Some(slot)
    }

    fn terminate(&mut self) {
        for i in 0..self.slots.len() {
            if let Some(mut slot) = self.take_slot(i) {
                let _ = slot.child.kill();
                if let Some(f) = slot.in_flight.take() {
                    f.fail(TaskError::Terminated);
                }
                let _ = reap(slot);
            }
        }
        for job in self.pending.drain(..) {
            InFlight {
                first: job.first,
                len: job.items.len(),
                sink: job.sink,
            }
            .fail(TaskError::Terminated);
        }
        self.publish_pids();
    }

    /// Fails every chunk still held (pending or in flight) and kills and reaps every worker:
    /// what `Drop` does if the loop ever unwinds, so no reader waits forever.
    fn abandon(&mut self) {
        self.terminate();
    }
}

impl<I, O> Drop for Manager<I, O> {
    fn drop(&mut self) {
        // After a normal end nothing is left and this does nothing. If the loop panicked,
        // this is what keeps `map` and `wait` from hanging: every held chunk fails, every
        // worker is killed and reaped.
        if !self.pending.is_empty() || self.slots.iter().any(Option::is_some) {
            self.abandon();
        }
        let mut commands = self
            .shared
            .commands
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for job in commands.jobs.drain(..) {
            InFlight {
                first: job.first,
                len: job.items.len(),
                sink: job.sink,
            }
            .fail(TaskError::Terminated);
        }
        // From now on a submission finds the manager gone and fails at once.
        commands.closed = true;
    }
}

/// The manager's state (see the module docs for the loop).
pub(crate) struct Manager<I, O> {
    shared: Arc<Shared<I, O>>,
    spec: WorkerSpec,
    poll: Poll,
    slots: Vec<Option<Slot<O>>>,
    pending: VecDeque<Job<I, O>>,
    shutdown: Option<Shutdown>,
    startup_failures: usize,
    last_start_error: String,
}

impl<I, O> Manager<I, O>
where
    I: Serialize + Send + 'static,
    O: DeserializeOwned + Send + 'static,
{
    pub(crate) fn new(
        shared: Arc<Shared<I, O>>,
        spec: WorkerSpec,
        poll: Poll,
        workers: Vec<Slot<O>>,
    ) -> std::io::Result<Self> {
        let mut manager = Manager {
            shared,
            spec,
            poll,
            slots: Vec::new(),
            pending: VecDeque::new(),
            shutdown: None,
            startup_failures: 0,
            last_start_error: String::new(),
        };
        for (i, slot) in workers.into_iter().enumerate() {
            manager.slots.push(None);
            manager.install(i, slot)?;
        }
        manager.publish_pids();
        Ok(manager)
    }

    fn install(&mut self, i: usize, slot: Slot<O>) -> std::io::Result<()> {
        let raw = slot.channel.as_fd().as_raw_fd();
        self.poll
            .registry()
            .register(&mut SourceFd(&raw), Token(i + 1), Interest::READABLE)?;
        self.slots[i] = Some(slot);
        Ok(())
    }

    /// The loop of the module docs; returns when the pool has ended and every worker is reaped.
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        loop {
            self.take_commands(); // step 1
            if self.shutdown == Some(Shutdown::Terminate) {
                self.terminate(); // step 2
                return;
            }
            self.dispatch(); // step 3
            if self.shutdown == Some(Shutdown::Graceful)
                && self.pending.is_empty()
                && self.slots.iter().flatten().all(|s| s.in_flight.is_none())
            {
                self.close_all(); // step 4
                return;
            }
            // Step 5. A failed poll (EINTR) just loops.
            if self.poll.poll(&mut events, None).is_err() {
                continue;
            }
            let ready: Vec<usize> = events
                .iter()
                .map(|e| e.token())
                .filter(|&t| t != WAKER)
                .map(|t| t.0 - 1)
                .collect();
            for i in ready {
                self.service(i);
            }
        }
    }

    fn take_commands(&mut self) {
        let mut commands = self
            .shared
            .commands
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        self.pending.extend(commands.jobs.drain(..));
        if let Some(s) = commands.shutdown {
            // Terminate overrides a graceful request, never the other way round.
            if self.shutdown != Some(Shutdown::Terminate) {
                self.shutdown = Some(s);
            }
        }
    }

    fn dispatch(&mut self) {
        for i in 0..self.slots.len() {
            if self.pending.is_empty() {
                break;
            }
            let Some(slot) = self.slots[i].as_mut() else {
                continue;
            };
            if !slot.ready || slot.in_flight.is_some() {
                continue;
            }
            let job = self.pending.pop_front().expect("checked non-empty");
            slot.in_flight = Some(InFlight {
                first: job.first,
                len: job.items.len(),
                sink: job.sink,
            });
            let message = ToWorker::Chunk { items: job.items };
            if let Err(e) = slot.channel.send(&message) {
                if e.is_peer_gone() {
                    // The worker died; its socket is readable (end-of-stream) and step 5
                    // will reap it and fail this chunk with the signal.
                    continue;
                }
                let pid = slot.pid();
                if let Some(f) = slot.in_flight.take() {
                    f.fail(TaskError::Ipc {
                        pid,
                        message: e.to_string(),
                    });
                }
            }
        }
        if self.slots.iter().all(Option::is_none) {
            let error = TaskError::NoWorkers(self.last_start_error.clone());
            for job in self.pending.drain(..) {
                let len = job.items.len();
                InFlight {
                    first: job.first,
                    len,
                    sink: job.sink,
                }
                .fail(error.clone());
            }
        }
    }

    /// Reads every whole frame from worker `i` (the poller is edge-triggered).
    fn service(&mut self, i: usize) {
        loop {
            let Some(slot) = self.slots.get_mut(i).and_then(Option::as_mut) else {
                return;
            };
            match slot.channel.try_recv::<FromWorker<O>>() {
                Ok(None) => return,
                Ok(Some(FromWorker::Ready)) => {
                    slot.ready = true;
                    self.startup_failures = 0;
                }
                Ok(Some(FromWorker::Done { results })) => {
                    let pid = slot.pid();
                    if let Some(f) = slot.in_flight.take() {
                        slot.tasks_done += f.len;
                        for (k, r) in results.into_iter().enumerate() {
                            let r = r.map_err(|message| TaskError::Panicked { pid, message });
                            f.sink.deliver(f.first + k, r);
                        }
                    }
                    let retire = self
                        .spec
                        .max_tasks_per_child
                        .is_some_and(|max| slot.tasks_done >= max);
                    if retire {
                        self.retire(i);
                        return;
                    }
                }
                Err(e) if e.is_peer_gone() || matches!(e, FrameError::Io(_)) => {
                    self.died(i);
                    return;
                }
                Err(e) => {
                    // A malformed or oversized frame: the stream is lost; treat the worker as
                    // broken, kill it, and fail its chunk with what happened.
                    let pid = slot.pid();
                    if let Some(f) = slot.in_flight.take() {
                        f.fail(TaskError::Ipc {
                            pid,
                            message: e.to_string(),
                        });
                    }
                    let _ = slot.child.kill();
                    self.died(i);
                    return;
                }
            }
        }
    }

    /// Worker `i` reached `max_tasks_per_child`: close, reap, replace.
    fn retire(&mut self, i: usize) {
        if let Some(slot) = self.take_slot(i) {
            let _ = reap(slot);
        }
        self.replace(i);
    }

    /// Worker `i`'s socket ended: reap it, fail its chunk naming it, replace it.
    fn died(&mut self, i: usize) {
        let Some(mut slot) = self.take_slot(i) else {
            return;
        };
        let in_flight = slot.in_flight.take();
        let was_ready = slot.ready;
        let (pid, status) = reap(slot);
        if let Some(f) = in_flight {
            f.fail(TaskError::WorkerDied { pid, status });
        }
        if !was_ready {
            self.startup_failures += 1;
            self.last_start_error = format!("worker {pid} {status} before it was ready");
        }
        self.replace(i);
    }

    fn replace(&mut self, i: usize) {
        let terminating = self.shutdown == Some(Shutdown::Terminate);
        if !terminating && self.startup_failures < MAX_STARTUP_FAILURES {
            match start_worker::<I, O>(&self.spec) {
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

    fn close_all(&mut self) {
        for i in 0..self.slots.len() {
            if let Some(slot) = self.take_slot(i) {
                let _ = reap(slot);
            }
        }
        self.publish_pids();
    }
}
