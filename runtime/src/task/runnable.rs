//! The scheduler's handles: [`Runnable`] (the right to poll the task once) and [`TaskRef`]
//! (an owned reference for a scheduler's table).

use std::fmt;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::task::{RawWaker, Waker};

use super::header::Header;
use super::id::TaskId;
use super::schedule::ScheduleInfo;
use super::state::TransitionToCancelled;

/// A task that is scheduled: the one handle allowed to poll it, held by the scheduler's queue.
///
/// At most one `Runnable` exists per task (it owns the `SCHEDULED` flag and a reference).
/// [`Runnable::run`] polls the future once and consumes it; a wake hands the scheduler a new
/// one. Dropping a `Runnable` without running it cancels the task: the future is dropped on
/// this thread, the `JoinHandle` reports [`JoinError::is_cancelled`](super::JoinError), and
/// [`Schedule::release`](super::Schedule::release) is called.
pub struct Runnable {
    ptr: NonNull<Header>,
}

// SAFETY: a Runnable is a counted reference to a task whose shared parts (the state word, the
// scheduler `S: Send + Sync`) are thread-safe; the future it may poll is `Send` for tasks made
// by `spawn`, and for `spawn_unchecked` the caller promised to run and drop the Runnable only
// on the spawning thread.
unsafe impl Send for Runnable {}
// SAFETY: `&Runnable` allows only `id`, `waker` and `task`, which touch the immutable id and
// the atomic reference count.
unsafe impl Sync for Runnable {}

impl Runnable {
    /// Polls the task's future once, under `catch_unwind` (a panic completes the task with
    /// [`JoinError::is_panic`](super::JoinError::is_panic); the calling thread lives on) and
    /// under a fresh cooperative budget ([`Budget::initial`](crate::coop::Budget::initial),
    /// restored to the caller's after the poll).
    ///
    /// Returns `true` if the task was woken during the poll and is not finished: it has then
    /// already been handed to [`Schedule::schedule`](super::Schedule::schedule) again, with
    /// [`ScheduleInfo::woken_while_running`] set.
    #[inline]
    pub fn run(self) -> bool {
        let this = ManuallyDrop::new(self);
        // SAFETY: the Runnable owns the scheduled reference, given to `run`, which consumes it.
        unsafe { (this.header().vtable.run)(this.ptr) }
    }

    /// The task's id.
    #[inline]
    pub fn id(&self) -> TaskId {
        self.header().id
    }

    /// A waker for the task (a new reference).
    pub fn waker(&self) -> Waker {
        let header = self.header();
        header.state.ref_inc();
        let raw = RawWaker::new(self.ptr.as_ptr().cast_const().cast(), header.vtable.waker);
        // SAFETY: the vtable is the task type's waker vtable and the waker owns the reference
        // just added.
        unsafe { Waker::from_raw(raw) }
    }

    /// Hands the task to its scheduler (with a default [`ScheduleInfo`]), as a wake would.
    pub fn schedule(self) {
        let ptr = ManuallyDrop::new(self).ptr;
        // SAFETY: the guard's reference keeps the task (and its scheduler) alive during the
        // call; then the Runnable's reference goes with it to the scheduler.
        unsafe {
            let header = ptr.as_ref();
            header.state.ref_inc();
            (header.vtable.schedule)(ptr, ScheduleInfo::default());
            Header::drop_reference(ptr);
        }
    }

    /// An owned handle to the task, for the scheduler's table (a new reference).
    pub fn task(&self) -> TaskRef {
        self.header().state.ref_inc();
        TaskRef { ptr: self.ptr }
    }

    /// Gives up the `Runnable` as a raw pointer (for intrusive queues); see [`Self::from_raw`].
    #[inline]
    pub fn into_raw(self) -> NonNull<()> {
        ManuallyDrop::new(self).ptr.cast()
    }

    /// Takes back a `Runnable` given up with [`Self::into_raw`].
    ///
    /// # Safety
    ///
    /// `ptr` came from [`Runnable::into_raw`] and is turned back into a `Runnable` once.
    #[inline]
    pub unsafe fn from_raw(ptr: NonNull<()>) -> Runnable {
        Runnable { ptr: ptr.cast() }
    }

    #[inline(always)]
    fn header(&self) -> &Header {
        // SAFETY: the Runnable's reference keeps the task alive as long as `self`.
        unsafe { self.ptr.as_ref() }
    }
}

impl Drop for Runnable {
    fn drop(&mut self) {
        // SAFETY: the Runnable owns the scheduled reference, given up here.
        unsafe { (self.header().vtable.drop_runnable)(self.ptr) }
    }
}

impl fmt::Debug for Runnable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runnable").field("id", &self.id()).finish()
    }
}

/// An owned reference to a task, kept in a scheduler's table so it can shut the task down
/// (for example when the runtime is dropped). It keeps the allocation alive, not the task
/// running: a task whose only handles are `TaskRef`s is never woken again.
///
/// `Send + Sync`: its methods touch only the state word, except [`TaskRef::shutdown`], which may
/// drop the future here; for a `!Send` future (made by [`spawn_unchecked`](super::spawn_unchecked))
/// the caller promised to shut down and drop `TaskRef`s only on the spawning thread.
pub struct TaskRef {
    ptr: NonNull<Header>,
}

// SAFETY: see the type's documentation: the shared parts are atomic or immutable, and dropping
// a !Send future here is excluded by the `spawn_unchecked` contract.
unsafe impl Send for TaskRef {}
// SAFETY: as for Send.
unsafe impl Sync for TaskRef {}

impl TaskRef {
    /// The task's id.
    #[inline]
    pub fn id(&self) -> TaskId {
        self.header().id
    }

    /// Cancels the task: if it is idle, drops its future now, on this thread, and completes it
    /// as cancelled (calling [`Schedule::release`](super::Schedule::release)); if it is
    /// scheduled or running, marks it so that the next run (or the `Runnable`'s drop) does
    /// it; if it is finished, does nothing.
    pub fn shutdown(&self) {
        let header = self.header();
        match header.state.transition_to_shutdown() {
            TransitionToCancelled::DoNothing => {}
            // SAFETY: transition (9) gave us RUNNING | CANCELLED and a reference for `cancel`.
            TransitionToCancelled::CancelNow => unsafe { (header.vtable.cancel)(self.ptr) },
            TransitionToCancelled::Submit => debug_assert!(false, "shutdown never schedules"),
        }
    }

    /// Whether the task is complete (finished, panicked or cancelled); then its future has been
    /// dropped and `release` has been called.
    pub fn is_finished(&self) -> bool {
        self.header().state.load().is_complete()
    }

    /// A `TaskRef` that owns one reference of the task at `ptr`.
    ///
    /// # Safety
    ///
    /// The caller gives a reference it owns to the new `TaskRef`.
    #[inline]
    pub(super) unsafe fn from_raw(ptr: NonNull<Header>) -> TaskRef {
        TaskRef { ptr }
    }

    /// Whether this is a reference to the task at `ptr`.
    #[inline]
    pub(super) fn points_to(&self, ptr: NonNull<Header>) -> bool {
        self.ptr == ptr
    }

    /// Forgets the `TaskRef` without giving up its reference: the caller gives it up instead
    /// (`RawTask::complete`, in the completing step).
    #[inline]
    pub(super) fn forget(self) {
        std::mem::forget(self);
    }

    #[inline(always)]
    fn header(&self) -> &Header {
        // SAFETY: the TaskRef's reference keeps the task alive as long as `self`.
        unsafe { self.ptr.as_ref() }
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: the TaskRef owns a reference, given up here once.
        unsafe { Header::drop_reference(self.ptr) }
    }
}

impl fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskRef")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}
