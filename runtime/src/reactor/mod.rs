//! # The reactor: from epoll to a task's waker
//!
//! A reactor turns "the kernel says this socket is readable" into "the task waiting to read
//! it is woken". It is three pieces: the [`Reactor`] (owns the `mio::Poll`; one thread at a
//! time drives it), the [`IoHandle`] (an `Arc` any thread may use to register sources and
//! to wake the driver), and one [`Registration`] per source (the task-facing side).
//!
//! ## How readiness flows
//!
//! 1. `IoHandle::register` takes a slot in the registration table (a `slab`, capacity
//!    bounded) and registers the source with epoll, edge-triggered, under a `Token` that
//!    packs the slot index and the slot's generation (`token.rs`).
//! 2. A task calls, say, `TcpStream::poll_read`, which asks `poll_read_ready`. If the read
//!    bit is clear, the task's waker is stored in the registration's read slot and the
//!    task returns `Pending`. Reads and writes have separate slots: one task may read while
//!    another writes.
//! 3. The driver's `Reactor::poll` returns from `epoll_wait` with events. Under one short
//!    lock of the table it looks up each token, drops it if the generation does not match
//!    (a stale token, see below), sets the readiness bits and advances the registration's
//!    tick, and takes the wakers of the directions that became ready.
//! 4. After releasing the lock it wakes them. The scheduler polls the task again; the bit
//!    is set, so the task tries the syscall.
//! 5. The syscall succeeds (done), or says `WouldBlock`: the readiness was used up, so the
//!    task clears the bit (`clear_read_ready`) and goes back to step 2.
//!
//! ## Generations: a stale token never wakes a new registration
//!
//! The slab hands a freed index to the next registration at once. An event for the old
//! registration may still be on its way (collected by `epoll_wait` on the driver thread
//! while another thread dropped the socket). Each slot therefore stores the generation it
//! was handed out with, the token carries it too, and step 3 delivers only on a match.
//!
//! ## Clearing readiness without losing an event
//!
//! Edge-triggered epoll reports each transition once. Consider: the task reads, gets
//! `WouldBlock`; *before it clears the bit* new data arrives and the driver sets the bit
//! again; then the task clears it. The new edge is lost and the task sleeps forever on a
//! socket with data. As in tokio, the readiness word carries a *tick* that every event
//! advances; `poll_*_ready` remembers the tick it reported, and the clear is a
//! compare-exchange that succeeds only if the tick has not moved. If it has, the bit stays
//! set and the task's next poll retries the syscall: one spurious attempt instead of a hang.
//! (Model-checked with loom in `scheduled_io.rs`, with the lost-wake-up race of step 2.)
//!
//! ## Waking the driver from another thread
//!
//! A thread that makes work for the driver (spawns a task onto the loop, for instance)
//! calls [`IoHandle::wake`], which writes to a `mio::Waker` (an eventfd registered in the
//! same epoll set under a reserved token): `epoll_wait` returns and the driver goes round
//! its loop. The waker's event is not counted as I/O.
//!
//! ## Timeouts to the microsecond
//!
//! epoll's timeout is in milliseconds. For a finite non-zero timeout the driver arms a
//! timerfd in the epoll set instead and waits without a timeout; see `timer.rs` (which also
//! says what Miri, lacking timerfd, gets instead).
//!
//! ## Driving it by hand
//!
//! A scheduler's whole contract with the reactor is: register through an [`IoHandle`],
//! park on a [`Registration`], and call [`Reactor::poll`] when it has nothing else to do.
//!
//! ```
//! use std::io::Write;
//! use std::task::Context;
//! use switchyard_runtime::reactor::Reactor;
//!
//! # fn main() -> std::io::Result<()> {
//! let mut reactor = Reactor::new()?;
//! let (mut ours, mut theirs) = mio::net::UnixStream::pair()?;
//! let registration = reactor.handle().register(&mut ours, mio::Interest::READABLE)?;
//! let waker = futures_task::noop_waker();
//! let mut cx = Context::from_waker(&waker);
//! assert!(registration.poll_read_ready(&mut cx).is_pending()); // waker stored
//! theirs.write_all(b"hello")?;
//! while registration.poll_read_ready(&mut cx).is_pending() {
//!     reactor.poll(None)?; // returns once the event has been routed (and the waker woken)
//! }
//! registration.deregister(&mut ours)?;
//! # Ok(()) }
//! ```
//!
//! ## Who may touch which field, when
//!
//! | state | who | how |
//! |---|---|---|
//! | `Poll`, events buffer, timerfd | the thread in `Reactor::poll` | `&mut Reactor` |
//! | registration table (slab) | any thread | its mutex, O(1) work per hold; wakers woken after release |
//! | readiness word of a registration | driver sets, tasks read and clear | atomics (see `scheduled_io`) |
//! | read / write waker slots | driver takes, tasks store | the registration's waiter mutex, taken inside the table lock (never the other way) |
//! | epoll interest set | any thread | `mio::Registry` (epoll_ctl is thread-safe) |
//!
//! When the `Reactor` is dropped, the table refuses new registrations and every live one is
//! marked shut down and its waiters woken: their next poll answers
//! [`ReactorError::Shutdown`] instead of waiting forever.

mod driver;
mod error;
mod handle;
mod registration;
mod scheduled_io;
mod table;
mod timer;
mod token;

pub use driver::{DEFAULT_MAX_REGISTRATIONS, Reactor};
pub use error::ReactorError;
pub use handle::{IoEnterGuard, IoHandle};
pub use registration::Registration;
pub use token::MAX_REGISTRATIONS;

pub(crate) use scheduled_io::Direction;

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;
