//! # Switchyard
//!
//! A from-scratch async runtime with a scheduler lab. This facade re-exports the two
//! library crates under short names:
//!
//! - [`runtime`]: the mechanisms (task core, reactor, timers, net, sync, process);
//! - [`scheduler`]: the policies (the `local` loop, the work-stealing `pool`, the process
//!   pool `procs`, and the `naive` baseline).
//!
//! - `hyper` (feature `hyper`): hyper 1.x on Switchyard's streams, timers, loop and pool.
//!
//! The black-box tests in `tests/` and the benches in `benches/` live in this crate.

pub use switchyard_runtime as runtime;
pub use switchyard_scheduler as scheduler;

#[cfg(feature = "hyper")]
pub mod hyper;

/// The README's examples, compiled and run as doctests so that they cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
