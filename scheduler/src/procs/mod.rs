#![doc = include_str!("README.md")]

mod error;
mod manager;
mod pool;
mod results;
mod worker;

pub use error::{PoolError, TaskError};
pub use manager::MAX_STARTUP_FAILURES;
pub use pool::{Builder, DEFAULT_CHUNKSIZE, ProcessPool};
pub use results::{AsyncResult, Unordered};
pub use worker::task;
