//! # The cooperative budget
//!
//! Rust cannot interrupt a future, so a task that always finds its channel full of messages or
//! its socket full of bytes would keep its thread forever. The budget bounds that: before a
//! runtime resource (a channel receive, a socket read, a timer) does work for a task, it asks
//! [`poll_proceed`]; each grant spends one unit, and when the task has spent its budget the
//! resource answers `Pending` (after waking the task, so it is rescheduled at the back of the
//! queue) even though it could make progress. The task yields at the next await point and
//! the others run.
//!
//! Invariants:
//! 1. The budget lives in a thread-local cell. [`Runnable::run`](crate::task::Runnable::run)
//!    sets a fresh [`Budget::initial`] around each task poll, so no scheduler can forget it; a
//!    scheduler that polls a future that is not a task (a `block_on`'s own) wraps that poll in
//!    [`with_budget`]. Outside both, the budget is unconstrained and every grant succeeds (a
//!    resource used from a plain thread never spuriously returns `Pending`).
//! 2. A grant that did not lead to progress (the resource still returned `Pending`) is given
//!    back when the [`Grant`] is dropped without [`Grant::made_progress`]: waiting costs nothing.
//! 3. Nesting restores the outer budget: [`with_budget`] saves and restores the cell, also on
//!    unwind.

use std::cell::Cell;
use std::future::Future;
use std::task::{Context, Poll};

/// The number of resource operations one poll of a task may perform before it is forced to
/// yield. 128 is tokio's figure (`coop::Budget::initial`), taken as is: no experiment of the
/// lab varies it yet (docs/lab.md lists what the lab measures).
pub const DEFAULT_BUDGET: u8 = 128;

/// A per-poll allowance of resource operations. `Budget::unconstrained()` never runs out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget(Option<u8>);

impl Budget {
    /// A budget of `n` operations.
    pub const fn new(n: u8) -> Self {
        Budget(Some(n))
    }

    /// The default per-poll budget, [`DEFAULT_BUDGET`].
    pub const fn initial() -> Self {
        Budget(Some(DEFAULT_BUDGET))
    }

    /// A budget that never runs out (the state outside any scheduler).
    pub const fn unconstrained() -> Self {
        Budget(None)
    }

    /// Operations left, or `None` when unconstrained.
    pub const fn remaining(self) -> Option<u8> {
        self.0
    }
}

thread_local! {
    static CURRENT: Cell<Budget> = const { Cell::new(Budget::unconstrained()) };
}

/// Runs `f` with `budget` as the current thread's budget, restoring the previous one after,
/// also if `f` panics.
pub fn with_budget<R>(budget: Budget, f: impl FnOnce() -> R) -> R {
    struct Restore(Budget);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = CURRENT.try_with(|cell| cell.set(self.0));
        }
    }
    let previous = CURRENT.with(|cell| cell.replace(budget));
    let _restore = Restore(previous);
    f()
}

/// Installs `budget` for one task poll and returns the one to restore after it (the task core's
/// fast path of [`with_budget`]: its poll cannot unwind past the restore, see `raw.rs`).
#[inline(always)]
pub(crate) fn enter_poll(budget: Budget) -> Budget {
    CURRENT.with(|cell| cell.replace(budget))
}

/// Restores the budget that [`enter_poll`] returned.
#[inline(always)]
pub(crate) fn leave_poll(previous: Budget) {
    let _ = CURRENT.try_with(|cell| cell.set(previous));
}

/// The current thread's remaining budget.
pub fn current() -> Budget {
    CURRENT.with(Cell::get)
}

/// Whether the current poll still has budget left (always true when unconstrained).
pub fn has_budget_remaining() -> bool {
    current().0 != Some(0)
}

/// Asks for one unit of budget before doing work for the task polled with `cx`.
///
/// `Ready(grant)`: go ahead; call [`Grant::made_progress`] if the operation completed, else
/// dropping the grant refunds it. `Pending`: the budget is spent; the task has been woken so it
/// runs again after the others, and the resource must return `Pending` now.
#[inline]
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<Grant> {
    CURRENT.with(|cell| {
        let budget = cell.get();
        match budget.0 {
            None => Poll::Ready(Grant { refund: None }),
            Some(0) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Some(n) => {
                cell.set(Budget(Some(n - 1)));
                Poll::Ready(Grant {
                    refund: Some(budget),
                })
            }
        }
    })
}

/// One unit of budget, refunded on drop unless [`Grant::made_progress`] was called.
#[must_use = "dropping a Grant refunds it; call made_progress() when the operation completed"]
#[derive(Debug)]
pub struct Grant {
    refund: Option<Budget>,
}

impl Grant {
    /// Keeps the unit spent: the operation did complete.
    pub fn made_progress(mut self) {
        self.refund = None;
    }
}

impl Drop for Grant {
    fn drop(&mut self) {
        if let Some(budget) = self.refund {
            let _ = CURRENT.try_with(|cell| cell.set(budget));
        }
    }
}

/// Yields once to the scheduler: the first poll wakes the task and returns `Pending`, so the
/// task goes to the back of its run queue and the others run; the second poll completes.
///
/// Works under every Switchyard scheduler (and any other executor), because it only uses the
/// waker: the task core reschedules a task woken during its own poll after the poll returns.
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    #[inline]
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_task::noop_waker;

    #[test]
    fn unconstrained_always_grants() {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        for _ in 0..1000 {
            match poll_proceed(&mut cx) {
                Poll::Ready(g) => g.made_progress(),
                Poll::Pending => panic!("unconstrained budget ran out"),
            }
        }
    }

    #[test]
    fn budget_runs_out_after_n_grants_and_is_restored_after() {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        with_budget(Budget::new(3), || {
            for _ in 0..3 {
                assert!(poll_proceed(&mut cx).map(Grant::made_progress).is_ready());
            }
            assert!(poll_proceed(&mut cx).is_pending());
            assert!(!has_budget_remaining());
        });
        assert_eq!(current(), Budget::unconstrained());
    }

    #[test]
    fn yield_now_is_pending_once_and_wakes_itself() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        struct Count(AtomicUsize);
        impl futures_task::ArcWake for Count {
            fn wake_by_ref(arc_self: &Arc<Self>) {
                arc_self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = futures_task::waker(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut fut = std::pin::pin!(yield_now());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
        assert!(fut.as_mut().poll(&mut cx).is_ready());
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_grant_without_progress_is_refunded() {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        with_budget(Budget::new(1), || {
            for _ in 0..10 {
                let grant = poll_proceed(&mut cx);
                assert!(grant.is_ready());
                drop(grant);
            }
            assert_eq!(current().remaining(), Some(1));
        });
    }
}
