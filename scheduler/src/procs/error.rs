//! What can go wrong with a task, a wait or a pool, as values.

use std::time::Duration;

use switchyard_runtime::process::{ExitStatus, FrameError, ProcessError};

/// Why one task of a [`ProcessPool`](super::ProcessPool) has no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The worker running the task died (killed, aborted, crashed). The pool replaced it and
    /// went on with the other tasks; this one was not retried (it may be what killed it).
    /// Every task of the same chunk fails with it.
    #[error("worker {pid} {status} while running this task")]
    WorkerDied {
        /// The dead worker's pid.
        pid: i32,
        /// How it ended (for a signal, `killed by signal 9 (SIGKILL)`).
        status: ExitStatus,
    },
    /// The task ran past its timeout: its worker was killed and replaced.
    #[error("worker {pid} ran past the task timeout of {timeout:?}; it was killed and replaced")]
    TimedOut {
        /// The killed worker's pid.
        pid: i32,
        /// The timeout (per task; a chunk of n tasks gets n times it).
        timeout: Duration,
    },
    /// The task function panicked in the worker; the worker survived and goes on.
    #[error("task panicked in worker {pid}: {message}")]
    Panicked {
        /// The worker's pid.
        pid: i32,
        /// The panic message (or a note that the payload was not a string).
        message: String,
    },
    /// The task was cancelled before a worker took it.
    #[error("the task was cancelled before it started")]
    Cancelled,
    /// The pool was terminated (or dropped) before the task finished.
    #[error("the pool was terminated before this task finished")]
    Terminated,
    /// The pool was shut down (or closed) before the task was submitted.
    #[error("the pool was shut down; it takes no new task")]
    Closed,
    /// No worker could be started to run the task (the last error is given).
    #[error("no worker left to run this task: {0}")]
    NoWorkers(String),
    /// The pool's workers have no task function of this name.
    #[error("the pool's workers have no task named {task:?} (registered: {registered:?})")]
    UnknownTask {
        /// The name asked for.
        task: String,
        /// The names the worker's entry registered.
        registered: Vec<String>,
    },
    /// The task is registered with other input or output types than the call used.
    #[error("task {task:?} is registered as {registered}, but was called as {called}")]
    WrongTypes {
        /// The task's name.
        task: String,
        /// `input -> output` as registered.
        registered: String,
        /// `input -> output` as called.
        called: String,
    },
    /// The item could not be encoded (its `Serialize` failed) or decoded by the worker.
    #[error("the task's input could not be sent: {0}")]
    BadInput(String),
    /// The worker's result does not deserialize as the output type.
    #[error("the task's result does not deserialize as the output type: {0}")]
    BadOutput(String),
    /// Talking to the worker failed for a reason other than its death.
    #[error("could not exchange this task with worker {pid}: {message}")]
    Ipc {
        /// The worker's pid.
        pid: i32,
        /// The channel error.
        message: String,
    },
}

/// A wait that ended before a result arrived (the result may still come later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no result arrived within the timeout")]
pub struct WaitTimedOut;

/// Why a [`ProcessPool`](super::ProcessPool) could not be built, or an option was refused.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// A worker could not be started (an unknown entry name lands here).
    #[error("could not start a pool worker: {0}")]
    Start(#[from] ProcessError),
    /// A worker did not come up (its initializer panicked or it died at once).
    #[error("pool worker {pid} {status} before it was ready (does the initializer panic?)")]
    WorkerStartup {
        /// The worker's pid.
        pid: i32,
        /// How it ended.
        status: ExitStatus,
    },
    /// A worker refused to start: its initializer is unknown or its arguments do not decode.
    #[error("pool worker {pid} refused to start: {message}")]
    Initializer {
        /// The worker's pid.
        pid: i32,
        /// What it said.
        message: String,
    },
    /// The workers were not all ready within the start timeout (they were killed).
    #[error("the pool's workers were not ready within {0:?} (a hung initializer?)")]
    StartTimedOut(Duration),
    /// The handshake with a worker failed.
    #[error("could not talk to a new pool worker: {0}")]
    Handshake(#[from] FrameError),
    /// The pool's manager thread could not be started, or its poller created.
    #[error("could not start the pool's manager: {0}")]
    Io(#[from] std::io::Error),
    /// A worker count of zero.
    #[error("a process pool needs at least one worker")]
    NoWorkers,
    /// A chunksize of zero.
    #[error("a chunksize must be at least 1")]
    ZeroChunksize,
    /// A timeout of zero (no task could ever finish).
    #[error("a timeout must be longer than zero")]
    ZeroTimeout,
    /// The initializer's arguments could not be encoded.
    #[error("the initializer's arguments could not be encoded: {0}")]
    InitArgs(String),
}
