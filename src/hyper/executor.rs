//! hyper's [`rt::Executor`] on the pool ([`PoolExecutor`]) and on the loop
//! ([`LoopExecutor`]).
//!
//! hyper spawns background futures through its executor: the connection task of an HTTP/2
//! client, one task per stream of an HTTP/2 server. Its `Executor::execute` returns nothing,
//! so a spawn that the runtime refuses cannot be reported to hyper. What each executor does
//! then:
//!
//! - **Pool**: a pool spawn never fails while the pool runs; after it has begun shutting down,
//!   the future is dropped unrun, as every spawn on a pool that is shutting down is (the
//!   stream or connection it served is then closed).
//! - **Loop**: `spawn_local` fails when the task table is full
//!   ([`Builder::task_capacity`](switchyard_scheduler::local::Builder::task_capacity)), when
//!   the loop is gone, or off the loop's thread; and `SpawnError` does not give the future
//!   back. [`LoopExecutor`] then **panics** with the error's message. Dropping the future would
//!   lose an HTTP/2 stream with no trace; running it inline would need a second scheduler. A
//!   panic is loud, and contained: hyper calls `execute` from inside the connection future,
//!   so when that future runs as a loop task, the loop catches the panic, that one
//!   connection ends (its `JoinHandle` says `panicked`), and every other task goes on. To keep
//!   serving under load, size the table for the connections times their concurrent streams
//!   (`max_concurrent_streams`), or refuse connections at accept while
//!   [`LoopHandle::live_tasks`](switchyard_scheduler::local::LoopHandle::live_tasks) is near
//!   the capacity.

use std::future::Future;

use ::hyper::rt;
use switchyard_scheduler::local::spawn_local;
use switchyard_scheduler::pool::{NotInPool, PoolHandle};

/// hyper's [`rt::Executor`] on a pool: each future becomes a detached pool task. `Send`
/// futures only (a pool task may move between workers). A pool spawn never fails while the pool
/// runs; once it has begun shutting down, the future is dropped unrun, as every spawn on it is
/// (the stream or connection it served is closed).
#[derive(Clone, Debug)]
pub struct PoolExecutor {
    handle: PoolHandle,
}

impl PoolExecutor {
    /// An executor spawning on `handle`'s pool.
    pub fn new(handle: PoolHandle) -> PoolExecutor {
        PoolExecutor { handle }
    }

    /// An executor on the pool whose thread this is.
    ///
    /// # Errors
    /// [`NotInPool`] outside the pool's threads.
    pub fn current() -> Result<PoolExecutor, NotInPool> {
        PoolHandle::current().map(PoolExecutor::new)
    }
}

impl From<PoolHandle> for PoolExecutor {
    fn from(handle: PoolHandle) -> PoolExecutor {
        PoolExecutor::new(handle)
    }
}

impl<F> rt::Executor<F> for PoolExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        // Detached: hyper keeps its own channels to the future, not its output.
        drop(self.handle.spawn(future));
    }
}

/// hyper's [`rt::Executor`] on the event loop running on this thread: each future becomes a
/// detached [`spawn_local`] task, so `!Send` futures (and `!Send` services) work.
///
/// # Panics
/// When `spawn_local` refuses the future: the loop's task table is full
/// ([`Builder::task_capacity`](switchyard_scheduler::local::Builder::task_capacity)), or this
/// thread runs no loop. hyper's `execute` cannot be told of a refusal, and the loop's
/// `SpawnError` does not give the future back, so the choice is between dropping it (an
/// HTTP/2 stream lost without a trace) and a panic; this is the panic, with the loop's message.
/// It is contained: hyper calls `execute` from inside the connection future, so when that
/// future runs as a loop task, the loop catches the panic and only that connection ends (its
/// `JoinHandle` says `panicked`). To keep serving under load, size the table for the
/// connections times their concurrent streams, or refuse connections at accept while
/// [`LoopHandle::live_tasks`](switchyard_scheduler::local::LoopHandle::live_tasks) nears the
/// capacity.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoopExecutor;

impl<F> rt::Executor<F> for LoopExecutor
where
    F: Future + 'static,
    F::Output: 'static,
{
    fn execute(&self, future: F) {
        if let Err(error) = spawn_local(future) {
            panic!("switchyard::hyper::LoopExecutor: hyper's task was not spawned: {error}");
        }
    }
}
