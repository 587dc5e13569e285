#![doc = include_str!("README.md")]

mod error;
mod manager;
mod pool;
mod results;
mod worker;

pub use error::{PoolError, TaskError, WaitTimedOut};
pub use manager::MAX_STARTUP_FAILURES;
pub use pool::{
    Builder, Calls, DEFAULT_START_TIMEOUT, IMAP_CHUNKS_PER_WORKER, ProcessPool, Shutdown,
    Terminator, python_chunksize,
};
pub use results::{AsCompleted, AsyncResult, Imap, ImapUnordered, MapResult, as_completed};
pub use worker::{Tasks, task};
