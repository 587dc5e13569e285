//! What can go wrong with a task or a pool, as values.

use switchyard_runtime::process::{ExitStatus, FrameError, ProcessError};

/// Why one task of a [`ProcessPool`](super::ProcessPool) has no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The worker running the task died (killed, aborted, crashed). The pool replaced it and
    /// went on with the other tasks; this one was not retried (it may be what killed it).
    #[error("worker {pid} {status} while running this task")]
    WorkerDied {
        /// The dead worker's pid.
        pid: i32,
        /// How it ended (for a signal, `killed by signal 9 (SIGKILL)`).
        status: ExitStatus,
    },
    /// The task function panicked in the worker; the worker survived and goes on.
    #[error("task panicked in worker {pid}: {message}")]
    Panicked {
        /// The worker's pid.
        pid: i32,
        /// The panic message (or a note that the payload was not a string).
        message: String,
    },
    /// The pool was terminated (or dropped) before the task finished.
    #[error("the pool was terminated before this task finished")]
    Terminated,
    /// No worker could be started to run the task (the last error is given).
    #[error("no worker left to run this task: {0}")]
    NoWorkers(String),
    /// Talking to the worker failed for a reason other than its death.
    #[error("could not exchange this task with worker {pid}: {message}")]
    Ipc {
        /// The worker's pid.
        pid: i32,
        /// The channel error.
        message: String,
    },
}

/// Why a [`ProcessPool`](super::ProcessPool) could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// A worker could not be started.
    #[error("could not start a pool worker: {0}")]
    Start(#[from] ProcessError),
    /// A worker did not come up (its initializer failed or it died at once).
    #[error("pool worker {pid} {status} before it was ready (does the initializer panic?)")]
    WorkerStartup {
        /// The worker's pid.
        pid: i32,
        /// How it ended.
        status: ExitStatus,
    },
    /// The handshake with a worker failed.
    #[error("could not talk to a new pool worker: {0}")]
    Handshake(#[from] FrameError),
    /// The pool's manager thread could not be started, or its poller created.
    #[error("could not start the pool's manager: {0}")]
    Io(#[from] std::io::Error),
    /// A worker count of zero.
    #[error("a process pool needs at least one worker")]
    NoWorkers,
}
