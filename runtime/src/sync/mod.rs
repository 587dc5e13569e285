//! # Channels and notification
//!
//! | module / type | what it is | fast path |
//! |---|---|---|
//! | [`oneshot`] | one value, once | one RMW on a state word, one wake |
//! | [`mpsc`] | bounded multi-producer single-consumer channel, a [`futures_core::Stream`] | lock-free slots with per-slot stamps, an atomic waker slot for the receiver; a mutex only for senders waiting for space |
//! | [`Notify`] | wake one (with a stored permit) or all waiters | a mutex (a slow-path primitive) |
//!
//! `atomic_waker.rs` holds the receivers' parking slot: a wake leaves the waker in place, so
//! a receiver re-polled by the same task re-arms with one `swap` and no waker clone.
//!
//! Every type is `Send + Sync` when its `T: Send`. Atomics, `Arc`, `Mutex` and `UnsafeCell`
//! come from [`crate::loom`], so the protocols can be model-checked under `--cfg loom`.
//! Receiving spends one unit of the task's [`coop`](crate::coop) budget per completed
//! receive, so a task that always finds messages still yields.
//!
//! Files: `queue.rs` (the lock-free bounded queue), `wait_list.rs` (the FIFO of parked
//! tasks), `atomic_waker.rs`, `mpsc.rs`, `oneshot.rs`, `notify.rs`.

mod atomic_waker;
pub mod mpsc;
mod notify;
pub mod oneshot;
mod queue;
mod wait_list;

pub use notify::{Notified, Notify};

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod test_support;
#[cfg(all(test, not(loom)))]
mod tests;
