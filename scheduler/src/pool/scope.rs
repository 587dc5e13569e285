//! # Scoped closures: borrow from the caller, run on the pool
//!
//! [`Pool::scope`](super::Pool::scope) is `std::thread::scope` on the pool's workers: closures
//! spawned on the [`Scope`] may borrow anything that outlives the scope, because `scope` does
//! not return until every one of them has finished (also when the body or a closure panics).
//!
//! Protocol (rayon's counting latch, with no reference count per closure):
//! 0. Called from outside the pool, `scope` runs its body as one more closure of the scope, on
//!    a worker, as rayon does: the body's spawns are then cheap pushes to that worker's own
//!    deque, and the calling thread only waits. Called from a pool thread, the body runs
//!    inline.
//! 1. The scope's state lives on the owner's stack. `pending` starts at 1: the owner's own
//!    count, held while the body runs, so the count reaches zero only once, at the very end.
//! 2. `Scope::spawn` increments `pending` and pushes a job that owns a [`Pending`] guard
//!    (a pointer to the state). The guard decrements `pending` when dropped: after the closure
//!    ran, or when the job is dropped unrun (pool shutdown; the scope then panics with
//!    [`SCOPE_CANCELLED`]). A closure's panic is stored before the decrement.
//! 3. The decrement that reaches zero clones the owner's `Unparker`, then sets `released`
//!    (its last access to the state), then unparks the owner with its own clone.
//! 4. After the body, the owner drops its own count; unless that reached zero, it parks until
//!    `released` (Acquire: every closure's writes, and the panic slot, are visible). Only then
//!    does the state go out of scope. Then `scope` re-raises the first panic, the body's first.
//!
//! Lifetimes are `std::thread::scope`'s: `'scope` is invariant and shorter than `'env`, the
//! closures are `'scope`, and their type is erased to `'static` for the queues: sound because
//! of step 3, which `scope` performs on every path out.
//!
//! A scope opened from inside a pool job blocks that worker while it waits; the stall monitor
//! hands the worker's queues to a spare thread after one time slice, so the scope's own closures
//! (queued on that worker) still run.

use super::job::Job;
use super::shared::{PoolShared, QueueEnd, on_pool_thread};
use std::any::Any;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use switchyard_runtime::park::{Parker, Unparker};

/// The panic message of a scope whose closures were dropped unrun by a pool shutdown.
pub const SCOPE_CANCELLED: &str = "pool shut down while a scope's closures were queued";

struct ScopeState {
    pending: AtomicUsize,
    /// Set by the decrement that reached zero, as its last access to the state (step 3).
    released: AtomicBool,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    cancelled: AtomicBool,
    owner: Unparker,
}

impl ScopeState {
    /// Drops one count (steps 2-3).
    fn complete_one(&self) {
        // AcqRel: release this closure's writes (and the panic slot) towards the owner;
        // acquire the others', so the last decrementer's `released` store carries them all.
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            let owner = self.owner.clone();
            // Release: pairs with the owner's Acquire load (step 4). After this store the
            // owner may return and the state is gone: nothing below touches it.
            self.released.store(true, Ordering::Release);
            owner.unpark();
        }
    }
}

/// A count of one spawned closure; drops it when dropped (step 2).
struct Pending {
    state: *const ScopeState,
    ran: bool,
}

// SAFETY: `ScopeState` is Sync (atomics, a Mutex, an Unparker); the pointer is only used to
// reach it, from whichever thread runs or drops the job, while the owner waits (step 4).
unsafe impl Send for Pending {}

impl Drop for Pending {
    fn drop(&mut self) {
        // SAFETY: the state outlives every count: the owner does not leave `scope` (so the
        // state stays on its stack) until `released` is set, which happens only after this
        // count, the last one included, has been dropped (steps 3-4).
        let state = unsafe { &*self.state };
        if !self.ran {
            state.cancelled.store(true, Ordering::Relaxed);
        }
        state.complete_one();
    }
}

/// A scope to spawn borrowing closures on; see [`Pool::scope`](super::Pool::scope).
pub struct Scope<'scope, 'env: 'scope> {
    shared: &'scope Arc<PoolShared>,
    state: ScopeState,
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
        // 2. Relaxed: the count is published to the decrementers by the job's queue push.
        self.state.pending.fetch_add(1, Ordering::Relaxed);
        let mut guard = Pending {
            state: &self.state,
            ran: false,
        };
        let job: Box<dyn FnOnce() + Send + 'scope> = Box::new(move || {
            guard.ran = true;
            if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
                // SAFETY: as in `Pending::drop`: the guard's count is still held.
                let state = unsafe { &*guard.state };
                let mut slot = state.panic.lock().unwrap_or_else(|e| e.into_inner());
                slot.get_or_insert(payload);
            }
            drop(guard);
        });
        // SAFETY: only the lifetime is changed ('scope -> 'static; same layout). `scope` waits
        // (step 4, on every path, also unwinding) until the last count is dropped, which
        // happens only after this box has been run or dropped (the guard it owns drops its
        // count), so the box never outlives 'scope.
        let job: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(job) };
        self.shared.schedule(Job::Closure(job), QueueEnd::Back);
    }
}

/// Step 4, also on unwind.
struct WaitAll<'a> {
    state: &'a ScopeState,
    parker: &'a Parker,
}

impl Drop for WaitAll<'_> {
    fn drop(&mut self) {
        // The owner's own count (step 1). If it was the last, nobody else touches the state.
        if self.state.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            return;
        }
        // Acquire: pairs with the last decrementer's Release store.
        while !self.state.released.load(Ordering::Acquire) {
            self.parker.park();
        }
    }
}

pub(crate) fn scope<'env, F, T>(shared: &Arc<PoolShared>, f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T + Send,
    T: Send,
{
    let parker = Parker::new();
    // The body's output when it runs on a worker (step 0); declared before the scope, which
    // borrows it.
    let out: Mutex<Option<T>> = Mutex::new(None);
    let scope = Scope {
        shared,
        state: ScopeState {
            pending: AtomicUsize::new(1),
            released: AtomicBool::new(false),
            panic: Mutex::new(None),
            cancelled: AtomicBool::new(false),
            owner: parker.unparker(),
        },
        scope: PhantomData,
        env: PhantomData,
    };
    let result = {
        let _wait = WaitAll {
            state: &scope.state,
            parker: &parker,
        };
        if on_pool_thread(shared) {
            catch_unwind(AssertUnwindSafe(|| f(&scope))).map(Some)
        } else {
            // Step 0: from outside the pool, the body itself runs as a job on a worker, so its
            // spawns are pushes to that worker's own deque (no injector, no third thread
            // competing for the cores while the workers run the closures). A panic in it is
            // kept like a closure's; `None` afterwards means it was dropped unrun (shutdown).
            {
                let (out, scope) = (&out, &scope);
                scope.spawn(move || {
                    let value = f(scope);
                    *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
                });
            }
            drop(_wait);
            Ok(out.lock().unwrap_or_else(|e| e.into_inner()).take())
        }
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
    match result {
        Some(value) if !scope.state.cancelled.load(Ordering::Relaxed) => value,
        _ => panic!("{SCOPE_CANCELLED}"),
    }
}
