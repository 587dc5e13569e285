//! # switchyard-scheduler: the policies
//!
//! Each module here is a way of deciding when work runs, built from the mechanisms of
//! [`switchyard_runtime`]:
//!
//! | module | model | what it is |
//! |---|---|---|
//! | [`local`] | loop | the cooperative single-threaded event loop (the asyncio model) |
//! | [`pool`] | pool | the work-stealing pool of OS threads, with budget and stall hand-off |
//! | [`procs`] | process | the process pool: Python's `Pool` and `ProcessPoolExecutor` API, worker replacement, task timeouts |
//! | [`naive`] | naive | a deliberately simple `Arc<Mutex<..>>` executor: the lab's baseline |
#![warn(missing_docs)]

pub mod local;
pub mod naive;
pub mod pool;
pub mod procs;
