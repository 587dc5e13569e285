//! # Scoped closures: borrow from the caller, run on the pool
//!
//! [`Pool::scope`](super::Pool::scope) is `std::thread::scope` on the pool's workers: closures
//! spawned on the [`Scope`] may borrow anything that outlives the scope, because `scope` does
//! not return until every one of them has finished (also when the body or a closure panics).
//!
//! Protocol:
//! 1. `Scope::spawn` increments `pending` and pushes a job that owns a [`Pending`] guard.
//! 2. The guard decrements `pending` when dropped: after the closure ran, or when the job
//!    is dropped unrun (pool shutdown; the scope then panics with
//!    [`SCOPE_CANCELLED`]). The decrement that reaches zero unparks the scope's owner.
//! 3. `scope` runs the body, then parks until `pending` is zero (AcqRel decrement / Acquire
//!    load: every closure's writes are visible when `scope` returns), then re-raises the first
//!    panic, the body's first.
//!
//! Lifetimes are `std::thread::scope`'s: `'scope` is invariant and shorter than `'env`, the
//! closures are `'scope`, and their type is erased to `'static` for the queues: sound because
//! of step 3, which `scope` performs on every path out.
//!
//! A scope opened from inside a pool job blocks that worker while it waits; the stall monitor
//! hands the worker's queues to a spare thread after one time slice, so the scope's own closures
//! (queued on that worker) still run.

use super::job::Job;
use super::shared::{Placement, Shared};
use std::any::Any;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use switchyard_runtime::park::{Parker, Unparker};

/// The panic message of a scope whose closures were dropped unrun by a pool shutdown.
pub const SCOPE_CANCELLED: &str = "pool shut down while a scope's closures were queued";

struct ScopeState {
    pending: AtomicUsize,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    cancelled: AtomicBool,
    owner: Unparker,
}

/// Decrements `pending` when dropped (step 2).
struct Pending {
    state: Arc<ScopeState>,
    ran: bool,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.ran {
            self.state.cancelled.store(true, Ordering::Relaxed);
        }
        let owner = self.state.owner.clone();
        // AcqRel: release this closure's writes to the owner's Acquire load (step 3); acquire
        // so the last decrementer's unpark happens after every other decrement.
        if self.state.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            owner.unpark();
        }
    }
}

/// A scope to spawn borrowing closures on; see [`Pool::scope`](super::Pool::scope).
pub struct Scope<'scope, 'env: 'scope> {
    shared: Arc<Shared>,
    state: Arc<ScopeState>,
    /// Invariance over 'scope, as `std::thread::Scope`.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

impl std::fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("pending", &self.state.pending.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Runs `f` on the pool. It may borrow anything that outlives the scope. A panic in `f`
    /// is re-raised by `scope` after every closure has finished.
    pub fn spawn<F>(&'scope self, f: F)
    where
        F: FnOnce() + Send + 'scope,
    {
        // 1.
        self.state.pending.fetch_add(1, Ordering::Relaxed);
        let mut guard = Pending {
            state: self.state.clone(),
            ran: false,
        };
        let job: Box<dyn FnOnce() + Send + 'scope> = Box::new(move || {
            guard.ran = true;
            if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
                let mut slot = guard.state.panic.lock().unwrap_or_else(|e| e.into_inner());
                slot.get_or_insert(payload);
            }
            drop(guard);
        });
        // SAFETY: only the lifetime is changed ('scope -> 'static; same layout). `scope` waits
        // (step 3, on every path, also unwinding) until `pending` is zero, which happens only
        // after this box has been run or dropped (the guard it owns decrements on drop), so the
        // box never outlives 'scope.
        let job: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(job) };
        self.shared.schedule(Job::Closure(job), Placement::Back);
    }
}

/// Step 3, also on unwind.
struct WaitAll<'a> {
    state: &'a ScopeState,
    parker: &'a Parker,
}

impl Drop for WaitAll<'_> {
    fn drop(&mut self) {
        // Acquire: pairs with the AcqRel decrements.
        while self.state.pending.load(Ordering::Acquire) != 0 {
            self.parker.park();
        }
    }
}

pub(crate) fn scope<'env, F, T>(shared: &Arc<Shared>, f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let parker = Parker::new();
    let scope = Scope {
        shared: shared.clone(),
        state: Arc::new(ScopeState {
            pending: AtomicUsize::new(0),
            panic: Mutex::new(None),
            cancelled: AtomicBool::new(false),
            owner: parker.unparker(),
        }),
        scope: PhantomData,
        env: PhantomData,
    };
    let result = {
        let _wait = WaitAll {
            state: &scope.state,
            parker: &parker,
        };
        catch_unwind(AssertUnwindSafe(|| f(&scope)))
    };
    let result = match result {
        Ok(value) => value,
        Err(payload) => resume_unwind(payload),
    };
    if let Some(payload) = scope
        .state
        .panic
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
    {
        resume_unwind(payload);
    }
    if scope.state.cancelled.load(Ordering::Relaxed) {
        panic!("{SCOPE_CANCELLED}");
    }
    result
}
