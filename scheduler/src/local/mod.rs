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
//! ```text
//!            spawn_local / spawn (loop thread)          LoopHandle::spawn, wakers (other threads)
//!                       |                                           |
//!                       v                                           v
//!   +-------------------------------------+         +----------------------------------+
//!   | Local  (loop thread only)           |         | Shared  (Arc, any thread)        |
//!   |   run_queue: VecDeque<Runnable>  <------drain----- remote_queue: Injector        |
//!   |   tasks:     TaskSlab               |         |   remote_tasks: Mutex<Slab<Task>>|
//!   +-------------------------------------+         |   park: ParkFlag (park.rs)       |
//!                       |                           |   main_woken: AtomicBool         |
//!                       |                           |   io: IoHandle (mio::Waker)      |
//!                       v                           +----------------------------------+
//!              EventLoop::block_on: the tick
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
//!    [`switchyard_runtime::coop`], so a task that always finds its channel ready still yields.
//!    A queue left empty gives back the buffer of a past burst (it keeps 1,024 slots).
//! 4. **Due timers** fire ([`Timers::process`](switchyard_runtime::time::Timers::process)),
//!    which pushes the tasks waiting on them.
//! 5. **I/O**: if anything is runnable, `mio` is polled with a zero timeout (skipped when no I/O
//!    source is registered: nothing could be ready). If nothing is runnable, the loop *parks*:
//!    it blocks in the reactor until the next timer's deadline (to the microsecond, through a
//!    timerfd), an I/O event, or a wake-up from another thread.
//!
//! ## Parking without lost wake-ups
//!
//! A waker on another thread pushes to the remote queue (or sets `main_woken`) and must wake the
//! loop if, and only if, it is parked. The two sides are a Dekker pair:
//!
//! ```text
//!   loop thread (park)                       waking thread (Shared::unpark)
//!   a. parked.store(true)                    x. push runnable / main_woken = true
//!   b. fence(SeqCst)                         y. fence(SeqCst)
//!   c. if remote work or main_woken:         z. if parked.load(): io.wake()
//!        parked = false; don't block
//!   d. reactor.poll(timeout)  (returns at once if io.wake() ran)
//! ```
//!
//! The two SeqCst fences order (a) before (c) and (x) before (z) in one total order, so at least
//! one side sees the other's write: either the loop sees the work at (c), or the waker sees
//! `parked` at (z) and the eventfd write makes (d) return. A wake from the loop's own thread
//! never needs this: the loop is running, and it checks its queues before it parks.
//!
//! Both sides are written once, in `park.rs` (`ParkFlag`), which the loop and `Shared::unpark`
//! call, and which a loom model drives against remote wakes, remote spawns and the main
//! future's waker (`RUSTFLAGS="--cfg loom" cargo test -p switchyard-scheduler --lib loom_loop`).
//!
//! ## Task identity and the task table
//!
//! The table (`TaskSlab`, in `task_slab.rs`: a slab with 8-byte entries, half of
//! `slab::Slab<Task>`'s, which matters at a million parked tasks) holds a [`Task`] reference for every live task, so that dropping the loop can
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
//! 4. Drop the timers and the reactor, closing their file descriptors.
//!
//! No thread was started, so none needs joining; no fd survives step 4.
//!
//! [`Task`]: switchyard_runtime::task::Task
//! [`TaskId`]: switchyard_runtime::task::TaskId
//! [`Schedule::release`]: switchyard_runtime::task::Schedule::release

mod builder;
mod context;
mod error;
mod event_loop;
mod handle;
mod metrics;
mod park;
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
