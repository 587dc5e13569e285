//! # `IoHandle`: the shareable side of a reactor
//!
//! A [`Reactor`](super::Reactor) is driven by one thread; everything else (registering a
//! socket, polling its readiness, dropping it, waking the driver) goes through an
//! [`IoHandle`], an `Arc` around [`ReactorShared`] that any thread may clone and use. A thread can
//! make one handle its *current* one with [`IoHandle::enter`]; the net types' plain
//! constructors use it, their `_with` twins take a handle explicitly.

use std::cell::RefCell;
use std::io;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use mio::event::Source;
use mio::{Interest, Registry};

use super::error::ReactorError;
use super::registration::Registration;
use super::table::RegistrationTable;

/// What the driver thread and every handle share. Who touches what:
/// - `registry`: any thread (mio's `Registry` is `Sync`; epoll_ctl is thread-safe);
/// - `waker`: any thread, to interrupt the driver's `epoll_wait`;
/// - `table`: any thread, under its mutex, for O(1) work at a time;
/// - `live`: written under the table's mutex, read by the driver without it.
pub(crate) struct ReactorShared {
    pub(crate) registry: Registry,
    pub(crate) waker: mio::Waker,
    pub(crate) table: Mutex<RegistrationTable>,
    /// The table's length, readable without the lock: lets a driver with ready work skip a
    /// zero-timeout `epoll_wait` that could not report anything.
    pub(crate) live: AtomicUsize,
}

impl ReactorShared {
    pub(crate) fn lock_table(&self) -> MutexGuard<'_, RegistrationTable> {
        // The table's methods do not call user code while it is locked, so a poisoned lock
        // can only come from an allocation failure mid-insert; the slab is still consistent.
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A handle to a reactor: `Send + Sync + Clone`, one `Arc` inside.
#[derive(Clone)]
pub struct IoHandle {
    pub(crate) shared: Arc<ReactorShared>,
}

thread_local! {
    static CURRENT: RefCell<Option<IoHandle>> = const { RefCell::new(None) };
}

impl IoHandle {
    /// The handle this thread entered with [`IoHandle::enter`] (the event loop enters its
    /// own while it runs). Errors with [`ReactorError::NoReactor`] outside any.
    pub fn current() -> io::Result<IoHandle> {
        CURRENT
            .try_with(|current| current.borrow().clone())
            .ok()
            .flatten()
            .ok_or_else(|| ReactorError::NoReactor.into())
    }

    /// Makes this handle the thread's current one until the guard is dropped, which
    /// restores the previous one (so entering nests; drop nested guards innermost first).
    pub fn enter(&self) -> IoEnterGuard {
        let previous = CURRENT.with(|current| current.replace(Some(self.clone())));
        IoEnterGuard {
            previous,
            _not_send: PhantomData,
        }
    }

    /// Wakes the thread blocked in [`Reactor::poll`](super::Reactor::poll), or makes its
    /// next call return at once. Callable from any thread.
    pub fn wake(&self) -> io::Result<()> {
        self.shared.waker.wake()
    }

    /// Registers `source` for `interest` and returns its [`Registration`], through which
    /// tasks wait for readiness. Fails with [`ReactorError::TableFull`] when the table is at
    /// capacity and [`ReactorError::Shutdown`] when the reactor is gone.
    ///
    /// Deregister the source with [`Registration::deregister`] before closing it (the net
    /// types do so on drop); dropping the `Registration` frees its slot.
    pub fn register(
        &self,
        source: &mut impl Source,
        interest: Interest,
    ) -> io::Result<Registration> {
        let (key, io) = {
            let mut table = self.shared.lock_table();
            let inserted = table.insert()?;
            // Relaxed: a hint for the driver (see `Reactor::has_registrations`); it publishes
            // no memory.
            self.shared.live.store(table.len(), Ordering::Relaxed);
            inserted
        };
        // Built before the syscall: if it fails, dropping it frees the slot.
        let registration = Registration::new(self.clone(), key, io);
        self.shared
            .registry
            .register(source, key.token(), interest)?;
        Ok(registration)
    }

    /// How many registrations are live (for tests, metrics and leak checks).
    pub fn registrations(&self) -> usize {
        self.shared.lock_table().len()
    }
}

impl std::fmt::Debug for IoHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoHandle")
            .field("registrations", &self.registrations())
            .finish()
    }
}

/// Restores the previously current [`IoHandle`] when dropped. Returned by
/// [`IoHandle::enter`]; not `Send`, since it restores a thread-local.
#[must_use = "the handle is current only until the guard is dropped"]
pub struct IoEnterGuard {
    previous: Option<IoHandle>,
    _not_send: PhantomData<*const ()>,
}

impl Drop for IoEnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // try_with: the guard may be dropped during thread-local destruction.
        let _ = CURRENT.try_with(|current| current.replace(previous));
    }
}

impl std::fmt::Debug for IoEnterGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoEnterGuard").finish_non_exhaustive()
    }
}
