//! # switchyard-runtime: the mechanisms
//!
//! This crate holds everything a scheduler needs and nothing that decides *when* work runs:
//!
//! | module | what it is |
//! |---|---|
//! | [`task`] | the single-allocation raw task, its state word, the waker vtable, [`task::JoinHandle`], and the [`task::Schedule`] hook a scheduler implements |
//! | [`reactor`] | `mio::Poll` with a slab of registrations keyed by `Token` (with a generation), and cross-thread wake-up |
//! | [`time`] | a hierarchical timer wheel, [`time::Sleep`], [`time::Timeout`], [`time::Interval`] |
//! | [`net`] | TCP, UDP and Unix sockets as futures-io `AsyncRead`/`AsyncWrite` |
//! | [`sync`] | `oneshot`, bounded `mpsc`, `Notify` |
//! | [`process`] | start methods, framed IPC, shared memory |
//! | [`driver`] | the reactor and the timers parked as one: [`driver::Driver`], its `Send + Sync` [`driver::DriverUnparker`], and the waker of a `block_on`'s own future |
//! | [`park`] | `Parker` / `Unparker` for a plain thread |
//! | [`coop`] | the per-poll budget that runtime resources spend |
//!
//! Dependencies point one way: `lab -> scheduler -> runtime`. This crate never names a policy:
//! a scheduler is anything that implements [`task::Schedule`] (a closure will do) and polls
//! [`task::Runnable`]s. `docs/custom-runtime.md` builds one, step by step, and `examples/`
//! holds three (FIFO with I/O and timers, two priority levels, a seeded simulation).
#![warn(missing_docs)]

pub mod coop;
pub mod driver;
pub mod loom;
pub mod net;
pub mod park;
pub mod process;
pub mod reactor;
pub mod sync;
pub mod task;
pub mod time;

/// The `AsyncRead` / `AsyncWrite` traits that [`net`]'s sockets implement, re-exported so that
/// a user names the same version this crate does (two versions of the traits do not mix).
pub use futures_io;
