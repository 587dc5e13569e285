//! The task allocation and the functions that know its concrete type.
//!
//! A task is one heap allocation, a `#[repr(C)]` [`Cell`]:
//!
//! ```text
//! +--------------------------------------------+ <- NonNull<Header>: every handle points here
//! | Header: state word | vtable | id | awaiter  |    (32 bytes on 64-bit targets)
//! +--------------------------------------------+
//! | S: the scheduler (one pointer for an Arc)  |
//! +--------------------------------------------+
//! | Stage<F>: union of                         |
//! |   the future F          (until COMPLETE)   |
//! |   its output F::Output  (COMPLETE)         |
//! |   a thin panic payload  (COMPLETE|PANICKED)|
//! +--------------------------------------------+
//! ```
//!
//! The union is as large as its largest member, not the sum: the future and its output never
//! live at the same time, and which member is live is told by the state word
//! ([`Snapshot::completion`](super::state::Snapshot::completion)), so no discriminant is stored. The panic payload is a
//! `Box<Box<dyn Any + Send>>`, one pointer wide, so a panic never makes the union wider than
//! a pointer (the second allocation is made only on the rare panicking path).
//!
//! [`RawTask<F, S>`] holds the functions that need `F` and `S`; the handles reach them through
//! the header's [`Vtable`]. The protocol each function follows is the one in
//! [`state`](super::state); the step it performs is named by the transition it calls.

use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::error::JoinError;
use super::header::{Header, Vtable};
use super::id::TaskId;
use super::runnable::Runnable;
use super::schedule::{Schedule, ScheduleInfo};
use super::state::{
    Completion, State, TransitionToComplete, TransitionToIdle, TransitionToRunning,
};
use super::{current, waker};
use crate::coop;
use crate::loom::cell::UnsafeCell;

/// A panic payload, boxed once more so it is one pointer wide (a thin pointer) in the stage.
type ThinPayload = Box<Box<dyn Any + Send>>;

/// The one allocation of a task.
#[repr(C)]
pub(super) struct Cell<F: Future, S> {
    /// First, so that a pointer to the cell is a pointer to its header.
    pub(super) header: Header,
    /// The scheduler hook. Shared (`&S`) by every thread that schedules the task.
    pub(super) scheduler: S,
    /// The future, its output or its panic payload, owned as the state word says.
    pub(super) stage: UnsafeCell<Stage<F>>,
}

/// The future, its output or its panic payload: which one is live is told by the state word.
pub(super) union Stage<F: Future> {
    future: ManuallyDrop<F>,
    output: ManuallyDrop<F::Output>,
    panic: ManuallyDrop<ThinPayload>,
}

/// The functions of the task type `Cell<F, S>`, gathered into its [`Vtable`].
pub(super) struct RawTask<F, S>(PhantomData<(F, S)>);

impl<F, S> RawTask<F, S>
where
    F: Future,
    S: Schedule,
{
    /// The vtable every header of this task type points to.
    const VTABLE: Vtable = Vtable {
        run: Self::run,
        schedule: Self::schedule,
        drop_runnable: Self::drop_runnable,
        cancel: Self::cancel,
        read_output: Self::read_output,
        drop_output: Self::drop_output,
        dealloc: Self::dealloc,
        waker: &Self::WAKER_VTABLE,
    };

    /// The waker vtable of this task type (its functions are in [`waker`]).
    pub(super) const WAKER_VTABLE: RawWakerVTable = RawWakerVTable::new(
        waker::clone_waker,
        waker::wake::<F, S>,
        waker::wake_by_ref::<F, S>,
        waker::drop_waker,
    );

    /// Transition (1): allocates a task, scheduled, with two references: the `Runnable`'s and
    /// the `JoinHandle`'s, and a third, a `TaskRef`'s, if `with_ref`.
    #[inline]
    pub(super) fn allocate(future: F, scheduler: S, id: TaskId, with_ref: bool) -> NonNull<Header> {
        let state = if with_ref {
            State::new_with_ref()
        } else {
            State::new()
        };
        let cell = Box::new(Cell {
            header: Header {
                state,
                vtable: &Self::VTABLE,
                id,
                awaiter: UnsafeCell::new(None),
            },
            scheduler,
            stage: UnsafeCell::new(Stage {
                future: ManuallyDrop::new(future),
            }),
        });
        // `into_raw`, never `leak`: the pointer keeps the provenance of the whole allocation,
        // which the handles cast back to a `Cell` (Miri checks this).
        let cell = Box::into_raw(cell);
        // SAFETY: `Box::into_raw` never returns null.
        unsafe { NonNull::new_unchecked(cell.cast::<Header>()) }
    }

    /// The cell behind a header pointer.
    #[inline(always)]
    fn cell(ptr: NonNull<Header>) -> *const Cell<F, S> {
        ptr.as_ptr().cast::<Cell<F, S>>().cast_const()
    }

    /// The task's scheduler.
    ///
    /// # Safety
    ///
    /// The task is alive and stays so for `'a` (the caller holds a reference).
    #[inline(always)]
    unsafe fn scheduler<'a>(ptr: NonNull<Header>) -> &'a S {
        // SAFETY: by the caller's contract the cell is alive; `scheduler` is never written
        // after allocation, so a shared reference to it is valid for as long as the task.
        unsafe { &(*Self::cell(ptr)).scheduler }
    }

    /// The stage cell.
    ///
    /// # Safety
    ///
    /// As [`Self::scheduler`].
    #[inline(always)]
    unsafe fn stage<'a>(ptr: NonNull<Header>) -> &'a UnsafeCell<Stage<F>> {
        // SAFETY: the cell is alive (caller's contract); the `UnsafeCell` makes a shared
        // reference to it compatible with the writes the stage's owner makes through it.
        unsafe { &(*Self::cell(ptr)).stage }
    }

    /// A `Waker` for the task, without touching the reference count.
    ///
    /// # Safety
    ///
    /// The caller owns a reference for the returned waker (or never drops it).
    #[inline(always)]
    pub(super) unsafe fn waker_unowned(ptr: NonNull<Header>) -> Waker {
        // The vtable pointer stored in the header, not `&Self::WAKER_VTABLE`: each use of a
        // reference to a `const` may get its own copy, and `Waker::will_wake` compares vtable
        // addresses. With one pointer per task, the borrowed waker of a poll `will_wake` its
        // own clones, so a resource that stored a clone need not replace it at every poll.
        // SAFETY: the caller's reference keeps the header alive.
        let vtable = unsafe { ptr.as_ref() }.vtable.waker;
        let raw = RawWaker::new(ptr.as_ptr().cast_const().cast(), vtable);
        // SAFETY: the functions of `WAKER_VTABLE` (which `vtable` points to) uphold the
        // `RawWakerVTable` contract for a data pointer to a live task header; the caller
        // provides the reference.
        unsafe { Waker::from_raw(raw) }
    }

    /// `Runnable::run`: polls the future once.
    ///
    /// # Safety
    ///
    /// The caller owned a `Runnable` of this task (so `SCHEDULED` is set) and gives up its
    /// reference here.
    unsafe fn run(ptr: NonNull<Header>) -> bool {
        // SAFETY: the Runnable's reference keeps the task alive.
        let header = unsafe { ptr.as_ref() };
        // Transition (2).
        match header.state.transition_to_running() {
            TransitionToRunning::Poll => {}
            TransitionToRunning::Cancel => {
                // SAFETY: we hold RUNNING and the Runnable's reference.
                unsafe { Self::cancel(ptr) };
                return false;
            }
        }

        // The waker in the Context is borrowed: it lends the run's reference, so polling costs
        // no reference counting; `ManuallyDrop` keeps it from giving that reference up.
        // SAFETY: the run's reference outlives the poll, and the waker is never dropped.
        let waker = ManuallyDrop::new(unsafe { Self::waker_unowned(ptr) });
        let mut cx = Context::from_waker(&waker);
        // SAFETY: the run's reference keeps the stage alive for the whole function.
        let stage = unsafe { Self::stage(ptr) };

        let mut future_dropped = false;
        let saved = current::enter(ptr);
        // The poll runs under a fresh budget (`coop`, invariant 1); `catch_unwind` below keeps
        // a panic from skipping the restore.
        let outer_budget = coop::enter_poll(coop::Budget::initial());
        let polled = panic::catch_unwind(AssertUnwindSafe(|| {
            stage.with_mut(|stage| {
                // SAFETY: 1. we hold RUNNING, so we own the stage exclusively (state
                // invariant 2); 2. without COMPLETE the live member is the future; 3. the
                // future is never moved out of the allocation until dropped in place, so
                // pinning it is sound.
                let future = unsafe { Pin::new_unchecked(&mut *(*stage).future) };
                let output = match future.poll(&mut cx) {
                    Poll::Ready(output) => output,
                    Poll::Pending => return Poll::Pending,
                };
                future_dropped = true;
                // SAFETY: as above; the future finished, and is dropped in place exactly once
                // (`future_dropped` tells the panic path not to drop it again).
                unsafe { ManuallyDrop::drop(&mut (*stage).future) };
                Poll::Ready(output)
            })
        }));

        coop::leave_poll(outer_budget);
        let woken_here = current::leave(saved);

        match polled {
            Ok(Poll::Pending) => match header.state.transition_to_idle(woken_here) {
                // Transition (3): the run's reference was given up with RUNNING.
                TransitionToIdle::Idle => false,
                // Transition (5).
                TransitionToIdle::Notified => {
                    // SAFETY: the transition added the new Runnable's reference; the run's own
                    // keeps the scheduler alive during the call, and is given up after it.
                    unsafe {
                        Self::schedule(
                            ptr,
                            ScheduleInfo {
                                woken_while_running: true,
                            },
                        );
                        Header::drop_reference(ptr);
                    }
                    true
                }
                TransitionToIdle::Cancel => {
                    // SAFETY: still RUNNING, with the run's reference.
                    unsafe { Self::cancel(ptr) };
                    false
                }
            },
            Ok(Poll::Ready(output)) => {
                stage.with_mut(|stage| {
                    // SAFETY: we own the stage (RUNNING) and the future was dropped, so no
                    // member is live; writing a `ManuallyDrop` member drops nothing.
                    unsafe { ptr::write(&raw mut (*stage).output, ManuallyDrop::new(output)) }
                });
                // SAFETY: RUNNING, the run's reference, the future dropped, the output written.
                unsafe { Self::complete(ptr, Completion::Output) };
                false
            }
            Err(payload) => {
                if !future_dropped {
                    // The poll itself panicked: the future is still live. Drop it; a panic in
                    // its drop is dropped too (the first panic is the one reported).
                    let _ = panic::catch_unwind(AssertUnwindSafe(|| {
                        // SAFETY: we own the stage (RUNNING) and the future is live.
                        stage.with_mut(|stage| unsafe { ManuallyDrop::drop(&mut (*stage).future) })
                    }));
                }
                // SAFETY: RUNNING, the run's reference, the future dropped.
                unsafe { Self::complete_with_panic(ptr, payload) };
                false
            }
        }
    }

    /// Wraps a scheduled reference into a `Runnable` and hands it to the scheduler.
    ///
    /// # Safety
    ///
    /// The caller owns a reference that counts as the `Runnable`'s (`SCHEDULED` is set for
    /// it), and holds another one (or is the run) so the task outlives the call.
    #[inline]
    pub(super) unsafe fn schedule(ptr: NonNull<Header>, info: ScheduleInfo) {
        // SAFETY: by the caller's contract the reference is a scheduled one.
        let runnable = unsafe { Runnable::from_raw(ptr.cast()) };
        // SAFETY: the caller's other reference keeps the task, so `scheduler`, alive while the
        // scheduler runs (it may run the Runnable to completion on another thread meanwhile).
        unsafe { Self::scheduler(ptr) }.schedule(runnable, info);
    }

    /// The `Runnable`'s drop: takes `RUNNING` and cancels.
    ///
    /// # Safety
    ///
    /// As [`Self::run`].
    unsafe fn drop_runnable(ptr: NonNull<Header>) {
        // SAFETY: the Runnable's reference keeps the task alive.
        let header = unsafe { ptr.as_ref() };
        // Transition (2), then cancel whatever the outcome: the Runnable was not run.
        let _ = header.state.transition_to_running();
        // SAFETY: we hold RUNNING and the Runnable's reference.
        unsafe { Self::cancel(ptr) };
    }

    /// Drops the future unfinished and completes the task as cancelled (or panicked, if the
    /// future's drop panicked).
    ///
    /// # Safety
    ///
    /// The caller holds `RUNNING` (the future is live) and a reference, given up here.
    unsafe fn cancel(ptr: NonNull<Header>) {
        // SAFETY: the caller's reference keeps the stage alive.
        let stage = unsafe { Self::stage(ptr) };
        let dropped = panic::catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: RUNNING: we own the stage, and the live member is the future.
            stage.with_mut(|stage| unsafe { ManuallyDrop::drop(&mut (*stage).future) })
        }));
        match dropped {
            // SAFETY: the caller's contract, and the future is dropped.
            Ok(()) => unsafe { Self::complete(ptr, Completion::Cancelled) },
            // SAFETY: the caller's contract, and the future is dropped.
            Err(payload) => unsafe { Self::complete_with_panic(ptr, payload) },
        }
    }

    /// Stores a panic payload and completes the task as panicked.
    ///
    /// # Safety
    ///
    /// As [`Self::complete`], with no member of the stage live.
    unsafe fn complete_with_panic(ptr: NonNull<Header>, payload: Box<dyn Any + Send>) {
        // SAFETY: the caller's reference keeps the stage alive.
        let stage = unsafe { Self::stage(ptr) };
        stage.with_mut(|stage| {
            // SAFETY: RUNNING: we own the stage, and no member is live.
            unsafe {
                ptr::write(
                    &raw mut (*stage).panic,
                    ManuallyDrop::new(Box::new(payload)),
                )
            }
        });
        // SAFETY: the caller's contract, and the payload is written.
        unsafe { Self::complete(ptr, Completion::Panicked) };
    }

    /// Releases the task from its scheduler, then transition (7), then what it asks for.
    ///
    /// # Safety
    ///
    /// The caller holds `RUNNING` and a reference, given up here; the future is dropped and
    /// the stage holds what `completion` says.
    unsafe fn complete(ptr: NonNull<Header>, completion: Completion) {
        // SAFETY: the caller's reference keeps the task alive until the transition below.
        let header = unsafe { ptr.as_ref() };
        // Released before COMPLETE is visible: whoever sees the task finished knows its
        // scheduler has already forgotten it. A `TaskRef` of this task handed back by the
        // scheduler is given up by the completing step itself (`Schedule::release_ref`); one
        // of another task is dropped as usual.
        // SAFETY: as above.
        let table_ref = unsafe { Self::scheduler(ptr) }.release_ref(header.id);
        let released = match table_ref {
            Some(task) if task.points_to(ptr) => {
                task.forget();
                1
            }
            other => {
                drop(other);
                0
            }
        };
        match header.state.transition_to_complete(completion, released) {
            TransitionToComplete::Done => {}
            // SAFETY: the last reference of a complete task.
            TransitionToComplete::Dealloc => unsafe { Self::dealloc(ptr) },
            TransitionToComplete::WakeJoinHandle => {
                header.awaiter.with(|awaiter| {
                    // SAFETY: JOIN_WAKER was set when we completed, so the slot holds a waker
                    // and the JoinHandle will not write it again (it may only while
                    // COMPLETE is clear); reading it shared is allowed.
                    match unsafe { &*awaiter } {
                        Some(waker) => waker.wake_by_ref(),
                        None => debug_assert!(false, "JOIN_WAKER set on an empty slot"),
                    }
                });
                // SAFETY: our reference, given up once.
                unsafe { Header::drop_reference(ptr) };
            }
            TransitionToComplete::DropOutput => {
                // The JoinHandle is gone, so we own the output. Its drop may panic; the task is
                // already complete, so that panic has nobody to report to and is dropped.
                let _ = panic::catch_unwind(AssertUnwindSafe(|| {
                    // SAFETY: COMPLETE without JOIN_INTEREST: the stage is ours alone.
                    unsafe { Self::drop_output(ptr, completion) }
                }));
                // SAFETY: our reference, given up once.
                unsafe { Header::drop_reference(ptr) };
            }
        }
    }

    /// Moves the complete stage out into `*dst` as a `Result<F::Output, JoinError>`.
    ///
    /// # Safety
    ///
    /// The caller owns the stage of a complete task (it is the `JoinHandle`, it loaded the state
    /// with `COMPLETE` set and read `completion` from it), has not read it before, and
    /// `dst` is valid for writing a `Result<F::Output, JoinError>`.
    unsafe fn read_output(ptr: NonNull<Header>, completion: Completion, dst: *mut ()) {
        // SAFETY: the JoinHandle's reference keeps the task alive.
        let header = unsafe { ptr.as_ref() };
        // SAFETY: as above.
        let stage = unsafe { Self::stage(ptr) };
        let result = stage.with_mut(|stage| match completion {
            // SAFETY: COMPLETE without PANICKED or CANCELLED: the output is live; we own it and
            // read it exactly once.
            Completion::Output => Ok(unsafe { ManuallyDrop::take(&mut (*stage).output) }),
            Completion::Panicked => {
                // SAFETY: COMPLETE | PANICKED: the payload is live; read once.
                let payload = unsafe { ManuallyDrop::take(&mut (*stage).panic) };
                Err(JoinError::panic(header.id, *payload))
            }
            Completion::Cancelled => Err(JoinError::cancelled(header.id)),
        });
        // SAFETY: the caller guarantees `dst` is a valid `Result<F::Output, JoinError>` slot.
        unsafe { ptr::write(dst.cast::<Result<F::Output, JoinError>>(), result) };
    }

    /// Drops the complete stage in place.
    ///
    /// # Safety
    ///
    /// The caller owns the stage of a complete task, `completion` says what it holds, and it
    /// has not been read.
    unsafe fn drop_output(ptr: NonNull<Header>, completion: Completion) {
        // SAFETY: the caller's reference keeps the task alive.
        let stage = unsafe { Self::stage(ptr) };
        stage.with_mut(|stage| match completion {
            // SAFETY: the output is live and ours; dropped once.
            Completion::Output => unsafe { ManuallyDrop::drop(&mut (*stage).output) },
            // SAFETY: the payload is live and ours; dropped once.
            Completion::Panicked => unsafe { ManuallyDrop::drop(&mut (*stage).panic) },
            Completion::Cancelled => {}
        });
    }

    /// Frees the task: drops the awaiter slot and the scheduler, and the allocation. The stage
    /// was emptied already (whoever completed or joined the task dropped its contents).
    ///
    /// # Safety
    ///
    /// The reference count reached zero on a complete task; nobody else can reach it.
    unsafe fn dealloc(ptr: NonNull<Header>) {
        // SAFETY: `ptr` came from `Box::into_raw` of a `Cell<F, S>` in `allocate`, and no other
        // reference exists; the `Stage` union has no drop glue, so only the header's awaiter
        // and the scheduler are dropped.
        drop(unsafe { Box::from_raw(ptr.as_ptr().cast::<Cell<F, S>>()) });
    }
}
