//! # The current pool, and the pool's reactor for code outside it
//!
//! Code running on a pool thread (a task, a closure, a scope body) can reach its own pool
//! without being handed a [`PoolHandle`]: [`PoolHandle::current`] and the free function
//! [`spawn`] look it up in a thread-local that every pool thread (worker or spare) sets for
//! its lifetime (`worker.rs`, `thread_main`). Anywhere else they return [`NotInPool`], a
//! typed error, instead of panicking: a library that spawns "on whatever pool runs me" can
//! then fall back or report it.
//!
//! Code outside the pool (`main`, a test, another runtime) needs the pool's reactor to make
//! sockets that the pool's tasks will use: [`PoolHandle::io_handle`] gives it, so
//! `TcpListener::bind_with(&pool.handle().io_handle()?, addr)` works from `main`, and the
//! listener can then be moved into a pool task. A socket stays with the reactor it was
//! registered on (runtime `net` module), so a listener bound on the pool's reactor is driven
//! by the pool's workers wherever it is awaited.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::sync::Arc;

use switchyard_runtime::reactor::IoHandle;
use switchyard_runtime::task::JoinHandle;

use super::PoolHandle;
use super::shared::PoolShared;

/// The reason [`PoolHandle::current`] or [`spawn`] found no pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "not on a pool thread: pool::spawn and PoolHandle::current work only inside a pool's \
     tasks and closures; from elsewhere, spawn through a PoolHandle (Pool::handle)"
)]
pub struct NotInPool;

thread_local! {
    /// The pool this thread belongs to, for the thread's lifetime (set by [`enter`]).
    static CURRENT: RefCell<Option<Arc<PoolShared>>> = const { RefCell::new(None) };
}

/// Makes `shared` the current thread's pool until the guard drops. Called once by every
/// pool thread when it starts.
pub(crate) fn enter(shared: &Arc<PoolShared>) -> CurrentGuard {
    CURRENT.with(|current| *current.borrow_mut() = Some(shared.clone()));
    CurrentGuard
}

/// Clears the current pool when dropped (returned by [`enter`]).
pub(crate) struct CurrentGuard;

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        // `try_with`: at thread exit the thread-local may already be gone; nothing to undo.
        let _ = CURRENT.try_with(|current| current.borrow_mut().take());
    }
}

impl PoolHandle {
    /// The handle of the pool whose thread this is.
    ///
    /// # Errors
    /// [`NotInPool`] outside the pool's threads (note that [`Pool::block_on`](super::Pool::block_on)
    /// runs its future on the calling thread, which is not a pool thread).
    ///
    /// ```
    /// # use switchyard_scheduler::pool::{Pool, PoolHandle};
    /// let pool = Pool::builder().workers(1).build().unwrap();
    /// let inner = pool.spawn(async {
    ///     let handle = PoolHandle::current().expect("inside a pool task");
    ///     handle.spawn(async { 6 * 7 })
    /// });
    /// let answer = pool.block_on(inner).unwrap();
    /// assert_eq!(pool.block_on(answer).unwrap(), 42);
    /// assert!(PoolHandle::current().is_err());
    /// ```
    pub fn current() -> Result<PoolHandle, NotInPool> {
        CURRENT
            .try_with(|current| current.borrow().clone())
            .ok()
            .flatten()
            .map(|shared| PoolHandle { shared })
            .ok_or(NotInPool)
    }

    /// The pool's reactor, for making sockets from outside the pool
    /// (`TcpListener::bind_with(&handle.io_handle()?, addr)`); pool tasks can use the plain
    /// constructors (`bind`, `connect`), which find it through [`IoHandle::current`].
    ///
    /// # Errors
    /// `Unsupported` if the pool was built with [`Builder::io(false)`](super::Builder::io);
    /// `NotConnected` once the pool has shut down (its reactor is closed with it).
    pub fn io_handle(&self) -> io::Result<IoHandle> {
        if let Some(driver) = self.shared.driver() {
            return Ok(driver.io.clone());
        }
        Err(if self.shared.config.io_capacity.is_none() {
            io::Error::new(
                io::ErrorKind::Unsupported,
                "this pool has no reactor: it was built with Builder::io(false)",
            )
        } else {
            io::Error::new(
                io::ErrorKind::NotConnected,
                "this pool has shut down, and its reactor with it",
            )
        })
    }
}

/// Spawns `future` on the pool whose thread this is (see [`Pool::spawn`](super::Pool::spawn)).
///
/// # Errors
/// [`NotInPool`] outside the pool's threads; the future is then dropped unpolled (from there,
/// spawn through a [`PoolHandle`]).
///
/// ```
/// # use switchyard_scheduler::pool::{self, Pool};
/// let pool = Pool::builder().workers(1).build().unwrap();
/// let outer = pool.spawn(async {
///     let inner = pool::spawn(async { 6 * 7 }).expect("inside a pool task");
///     inner.await.unwrap()
/// });
/// assert_eq!(pool.block_on(outer).unwrap(), 42);
/// assert!(pool::spawn(async {}).is_err());
/// ```
pub fn spawn<F>(future: F) -> Result<JoinHandle<F::Output>, NotInPool>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Ok(PoolHandle::current()?.spawn(future))
}
