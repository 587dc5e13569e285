//! # The loop: a cooperative single-threaded event loop
//!
//! This is the asyncio model. One thread runs every task; a task runs until it awaits
//! something that is not ready, and nothing else runs meanwhile. There are no locks on the
//! hot path because there is no second thread on it: the run queue is a `VecDeque` in a
//! `RefCell`, the task table a slab of 8-byte entries, and a wake-up from the loop's own thread is
//! a push onto that queue.
//!
//! ## The parts
//!
//! The loop is built only from `switchyard-runtime`'s public kit, the same parts a custom
//! runtime uses (`docs/custom-runtime.md`): a [`Driver`] (reactor and timers, parked as one),
//! a [`DriverUnparker`] for other threads, a [`BlockOnWaker`] for `block_on`'s own future,
//! a [`TaskSlab`] for shutdown, and the task core.
//!
//! ```text
//!            spawn_local / spawn (loop thread)          LoopHandle::spawn, wakers (other threads)
//!                       |                                           |
//!                       v                                           v
//!   +-------------------------------------+         +------------------------------------+
//!   | Local  (loop thread only)           |         | LoopShared  (Arc, any thread)      |
//!   |   run_queue: VecDeque<Runnable>  <------drain----- remote_queue: Injector          |
//!   |   tasks:     TaskSlab               |         |   remote_tasks: Mutex<Slab<TaskRef>>|
//!   +-------------------------------------+         |   unparker: DriverUnparker          |
//!                       |                           +------------------------------------+
//!                       v
//!   EventLoop::block_on: the tick, with its Driver and its BlockOnWaker
//! ```
//!
//! ## The tick
//!
//! [`EventLoop::block_on`] repeats one tick until the future it was given completes. The
//! order is fixed, so that a reader can predict what runs when:
//!
//! 1. **The main future**, if its waker fired since its last poll.
//! 2. **Remote work**: runnables pushed by other threads (wakes, spawns through a
//!    [`LoopHandle`]) move from the lock-free remote queue to the back of the run queue.
//! 3. **Ready tasks**, front to back, at most [`Builder::polls_per_tick`] of them. A task woken
//!    during this step goes to the back of the queue and waits for a later tick if the budget
//!    is spent. Each poll runs under the per-poll resource budget of
//!    [`switchyard_runtime::coop`] (applied by `Runnable::run`), so a task that always finds
//!    its channel ready still yields.
//!    A queue left empty gives back the buffer of a past burst (it keeps 1,024 slots).
//! 4. **Due timers** fire, which pushes the tasks waiting on them.
//! 5. **I/O**: if anything is runnable, `mio` is polled with a zero timeout (skipped when no I/O
//!    source is registered: nothing could be ready). If nothing is runnable, the loop *parks*:
//!    it blocks in the reactor until the next timer's deadline (to the microsecond, through a
//!    timerfd), an I/O event, or a wake-up from another thread.
//!
//! Steps 4 and 5 are one call, [`Driver::park`] (its steps 1 to 6 are numbered in
//! `switchyard_runtime::driver`); a park that slept until a deadline also fires that timer
//! before it returns.
//!
//! ## Parking without lost wake-ups
//!
//! A waker on another thread pushes to the remote queue (or wakes the main future) and must
//! wake the loop if, and only if, it is parked. That is the driver's unpark rule: push, then
//! [`DriverUnparker::unpark`]; the handshake that makes it lose no wake-up is written once, in
//! `switchyard_runtime::driver` (`driver/park.rs`, steps a to d and x to z), with its loom model
//! (`RUSTFLAGS="--cfg loom" cargo test -p switchyard-runtime --lib loom_driver`). A wake from
//! the loop's own thread never needs it: the loop is running, and checks its queues before it
//! parks (an unpark on the driver's entered thread does nothing).
//!
//! ## Task identity and the task table
//!
//! The table ([`TaskSlab`], from the runtime: a slab with 8-byte entries, half of
//! `slab::Slab<TaskRef>`'s, which matters at a million parked tasks) holds a [`TaskRef`] for
//! every live task, so that dropping the loop can
//! cancel tasks nobody else can reach (a task parked forever on `pending()` is held only by the
//! table). When a task finishes, the task core calls [`Schedule::release`] with its [`TaskId`];
//! to find the slot without a second map, the loop chooses the ids: the low 32 bits are the
//! slab key, bits 32..63 a sequence number that makes ids unique within the loop for 2^31
//! spawns, and bit 63 says which table: tasks spawned on the loop thread live in the
//! `RefCell`'d local slab, tasks spawned from other threads (which cannot touch that slab) in a
//! mutex-guarded remote slab.
//!
//! ## Shutdown
//!
//! Dropping an [`EventLoop`] takes these steps, on the loop's thread:
//!
//! 1. Close the remote table, so that [`LoopHandle::spawn`] returns [`SpawnError::Shutdown`].
//! 2. Drop every queued runnable (local, then remote): the task core cancels each, drops its
//!    future here, and reports `cancelled` at its `JoinHandle`.
//! 3. Shut down every task left in both tables (the idle ones): their futures are dropped here.
//!    Dropping a future may wake another task; steps 2 and 3 repeat until both are empty, and
//!    until every task shut down has finished: a task that another thread's waker had just
//!    scheduled finishes when its runnable, still on its way to the remote queue, arrives and
//!    is dropped here (on the loop's thread, as a `!Send` future must be).
//! 4. Drop the driver (the timers and the reactor), closing their file descriptors.
//!
//! No thread was started, so none needs joining; no fd survives step 4.
//!
//! [`TaskRef`]: switchyard_runtime::task::TaskRef
//! [`TaskSlab`]: switchyard_runtime::task::TaskSlab
//! [`Driver`]: switchyard_runtime::driver::Driver
//! [`Driver::park`]: switchyard_runtime::driver::Driver::park
//! [`DriverUnparker`]: switchyard_runtime::driver::DriverUnparker
//! [`DriverUnparker::unpark`]: switchyard_runtime::driver::DriverUnparker::unpark
//! [`BlockOnWaker`]: switchyard_runtime::driver::BlockOnWaker
//! [`TaskId`]: switchyard_runtime::task::TaskId
//! [`Schedule::release`]: switchyard_runtime::task::Schedule::release

mod builder;
mod context;
mod error;
mod event_loop;
mod handle;
mod metrics;
mod scheduler;

pub use builder::Builder;
pub use error::SpawnError;
pub use event_loop::EventLoop;
pub use handle::LoopHandle;
pub use metrics::LoopMetrics;
pub use switchyard_runtime::coop::{YieldNow, yield_now};

use std::future::Future;
use switchyard_runtime::task::JoinHandle;

/// Spawns a `!Send` future on the event loop running on this thread.
///
/// Must be called from inside [`EventLoop::block_on`] (from the main future or a task);
/// elsewhere it returns [`SpawnError::NoEventLoop`].
pub fn spawn_local<F>(future: F) -> Result<JoinHandle<F::Output>, SpawnError>
where
    F: Future + 'static,
    F::Output: 'static,
{
    context::with_current(|local| match local {
        Some(local) => local.spawn_local(future),
        None => Err(SpawnError::NoEventLoop),
    })
}
