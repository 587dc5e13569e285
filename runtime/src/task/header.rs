//! The task header: the type-erased front of every task allocation.
//!
//! Every handle ([`Runnable`](super::Runnable), [`TaskRef`](super::TaskRef),
//! [`JoinHandle`](super::JoinHandle), `Waker`) is a pointer to a [`Header`]. The header is
//! the first field of the `#[repr(C)]` [`Cell`](super::raw) that holds the whole task, so a
//! header pointer is also a pointer to the cell; the [`Vtable`] holds the functions that know
//! the cell's concrete type (`F`, `S`) and so can reach the scheduler and the stage.
//!
//! Who may touch which field, when:
//!
//! | field | access |
//! |---|---|
//! | `state` | any reference holder, atomically |
//! | `vtable`, `id` | any reference holder; never written after spawn |
//! | `awaiter` | the `JoinHandle` while `JOIN_WAKER` is clear; read-only, shared with the completing thread, while it is set; the freeing thread at the end |
//!
//! On a 64-bit target the header is four words, 32 bytes:
//!
//! | field | bytes | what |
//! |---|---|---|
//! | `state` | 8 | flags and reference count ([`state`](super::state)) |
//! | `vtable` | 8 | `&'static Vtable` of the task's concrete type |
//! | `id` | 8 | the [`TaskId`] |
//! | `awaiter` | 8 | `Option<Box<Waker>>`: null until a `JoinHandle` first waits |
//!
//! ## Why the awaiter's waker is boxed
//!
//! A `Waker` is two words. Stored inline, it made the header 40 bytes, and the task the lab's
//! `scale` experiment parks (an `Arc` scheduler, and a 16-byte future: an `Arc` and the async
//! block's state) 64 bytes, which glibc's allocator serves from an 80-byte block (an 8-byte
//! block header, then 16-byte steps). Boxed, the slot is one word that stays null for every
//! task nobody awaits before it finishes: detached tasks, tasks joined after they completed,
//! and the idle tasks that dominate memory at scale. The header is then 32 bytes, that task
//! 56, and its block 64: 16 bytes less per task. The cost is one small allocation per
//! `JoinHandle` that has to wait (made on its first `Pending`, reused when the handle
//! registers another waker, freed with the task or when the waiting handle is dropped). On
//! glibc that is about 190 instructions per wait where many waits are open at once (a
//! 1,000-deep chain of tasks each spawning and awaiting the next: 1,182 -> 1,375 instructions
//! per level under callgrind), and nothing for a handle awaited after its task finished. The
//! slot's protocol (`join.rs`) is unchanged: only what the slot holds is.

use std::ptr::NonNull;
use std::task::{RawWakerVTable, Waker};

use super::id::TaskId;
use super::schedule::ScheduleInfo;
use super::state::{Completion, RefDec, State};
use crate::loom::cell::UnsafeCell;

/// The type-erased front of a task; see the module documentation for who may touch what.
#[repr(C)]
pub(super) struct Header {
    /// Flags and reference count.
    pub(super) state: State,
    /// The functions that know the task's concrete type.
    pub(super) vtable: &'static Vtable,
    /// The task's id.
    pub(super) id: TaskId,
    /// The waker of the task awaiting the `JoinHandle`, guarded by `JOIN_WAKER`; boxed so the
    /// slot is one word (module doc).
    pub(super) awaiter: UnsafeCell<Option<Box<Waker>>>,
}

/// The functions of one concrete task type, `RawTask<F, S>`. Each takes a pointer to the
/// header of a live task of that type; their `# Safety` sections are on the functions in
/// [`raw`](super::raw).
pub(super) struct Vtable {
    /// Polls the task once; consumes the `Runnable`'s reference.
    pub(super) run: unsafe fn(NonNull<Header>) -> bool,
    /// Wraps a scheduled reference into a `Runnable` and hands it to the scheduler.
    pub(super) schedule: unsafe fn(NonNull<Header>, ScheduleInfo),
    /// The `Runnable`'s drop: cancels the task.
    pub(super) drop_runnable: unsafe fn(NonNull<Header>),
    /// Drops the future of a task the caller claimed `RUNNING | CANCELLED`, and completes it.
    pub(super) cancel: unsafe fn(NonNull<Header>),
    /// Moves the complete stage out as a `Result<F::Output, JoinError>` into `*dst`.
    pub(super) read_output: unsafe fn(NonNull<Header>, Completion, *mut ()),
    /// Drops the complete stage (the `JoinHandle` is dropped without taking it).
    pub(super) drop_output: unsafe fn(NonNull<Header>, Completion),
    /// Frees the allocation.
    pub(super) dealloc: unsafe fn(NonNull<Header>),
    /// The waker vtable of this task type.
    pub(super) waker: &'static RawWakerVTable,
}

impl Header {
    /// Gives up one reference, and acts on the outcome: frees a complete task, or hands an
    /// orphaned one to its scheduler to be cancelled (state invariant 3).
    ///
    /// # Safety
    ///
    /// `ptr` points to a live task and the caller owns one of its references, which it gives
    /// up here (no access through it afterwards).
    #[inline]
    pub(super) unsafe fn drop_reference(ptr: NonNull<Header>) {
        // SAFETY: the caller's reference keeps the task alive until `ref_dec` returns.
        let header = unsafe { ptr.as_ref() };
        let vtable = header.vtable;
        match header.state.ref_dec() {
            RefDec::Alive => {}
            // SAFETY: ours was the last reference of a complete task; nobody else can reach it.
            RefDec::Dealloc => unsafe { (vtable.dealloc)(ptr) },
            // SAFETY: ours was the last reference, with that outcome.
            RefDec::Orphaned => unsafe { Self::orphaned(ptr) },
        }
    }

    /// Acts on [`RefDec::Orphaned`]: revives the task as scheduled and cancelled, and hands
    /// it to its scheduler, so the owner drops the future (never on this thread, which may not
    /// be the one a `!Send` future belongs to) and `release` is called.
    ///
    /// # Safety
    ///
    /// The caller just gave up the last reference with the outcome `RefDec::Orphaned`.
    #[cold]
    pub(super) unsafe fn orphaned(ptr: NonNull<Header>) {
        // SAFETY: the caller dropped the last reference with `RefDec::Orphaned`, so the task
        // is still allocated (only `Dealloc` frees) and nobody else can reach it; it owns the
        // task exclusively now.
        let header = unsafe { ptr.as_ref() };
        header.state.revive_for_cancel();
        // SAFETY: `revive_for_cancel` made two references: a scheduled one, which `schedule`
        // turns into the Runnable it hands over, and ours, which keeps the task (and the
        // scheduler inside it) alive during that call, given up after it.
        unsafe {
            (header.vtable.schedule)(ptr, ScheduleInfo::default());
            Self::drop_reference(ptr);
        }
    }
}
