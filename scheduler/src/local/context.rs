//! Which loop, if any, is running on this thread.
//!
//! The pointer is set for the duration of [`EventLoop::block_on`](super::EventLoop::block_on)
//! and of the loop's drop, and restored after. Two things read it: the [`Schedule`] hook, to
//! tell a wake-up on the loop's own thread (push onto the local queue) from one on another
//! thread (go through the remote queue), and [`spawn_local`](super::spawn_local).
//!
//! [`Schedule`]: switchyard_runtime::task::Schedule

use std::cell::Cell;
use std::ptr;

use super::scheduler::Local;

thread_local! {
    static CURRENT: Cell<*const Local> = const { Cell::new(ptr::null()) };
}

/// Runs `f` with the loop running on this thread, if any.
#[inline]
pub(super) fn with_current<R>(f: impl FnOnce(Option<&Local>) -> R) -> R {
    // `try_with`: a waker may fire while this thread's locals are being destroyed; then no
    // loop runs here any more.
    let ptr = CURRENT.try_with(Cell::get).unwrap_or(ptr::null());
    // SAFETY: the pointer is non-null only while an `Entered` guard made from a live `&Local`
    // exists on this thread (set in `Entered::enter`, restored in its drop). The `Local` is
    // boxed inside its `EventLoop`, which the guard's creator borrows for the guard's whole
    // life, so it is alive and not moved. `Local` is only accessed through shared references
    // (its mutable state is in `Cell`/`RefCell`), so handing out `&Local` cannot alias a
    // `&mut`. The reference cannot outlive `f`: `R` cannot name its lifetime.
    let local = unsafe { ptr.as_ref() };
    f(local)
}

/// Marks a loop as running on this thread until dropped.
pub(super) struct Entered {
    previous: *const Local,
}

impl Entered {
    /// Enters `local` for `block_on`. Panics if a loop already runs on this thread: a nested
    /// `block_on` would stall the outer loop's tasks for as long as the inner one runs.
    pub(super) fn for_block_on(local: &Local) -> Entered {
        let previous = CURRENT.with(Cell::get);
        assert!(
            previous.is_null(),
            "EventLoop::block_on called from inside a running event loop: this would block \
             every task of the outer loop; spawn the future instead, or await it"
        );
        Self::enter(local)
    }

    /// Enters `local` for its shutdown, also from inside another loop's task (dropping an
    /// `EventLoop` there is allowed); the outer loop is restored after.
    pub(super) fn for_shutdown(local: &Local) -> Entered {
        Self::enter(local)
    }

    fn enter(local: &Local) -> Entered {
        let previous = CURRENT.with(|cell| cell.replace(local));
        Entered { previous }
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|cell| cell.set(self.previous));
    }
}
