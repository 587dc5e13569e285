//! The waker vtable: how a `Waker` for a task counts references and schedules the task.
//!
//! A task's waker is a pointer to its [`Header`] with the vtable of its task type
//! (`RawTask::<F, S>::WAKER_VTABLE`), and owns one reference:
//!
//! | function | reference count | state transition |
//! |---|---|---|
//! | `clone` | +1 (`Relaxed`, as `Arc::clone`) | none |
//! | `wake` | the waker's own one is consumed | (4) or (6) by value: `transition_to_notified_by_val` |
//! | `wake_by_ref` | +1 only when it schedules (for the new `Runnable`) | (4) or (6): `transition_to_notified_by_ref` |
//! | `drop` | -1; the last one frees (or orphans) the task | (12) |
//!
//! Waking an idle task hands a [`Runnable`](super::Runnable) to [`Schedule::schedule`];
//! waking a running one sets `NOTIFIED`, and the run reschedules it after its poll; waking a
//! scheduled or complete task changes nothing. The waker that [`Runnable::run`] puts in the
//! `Context` is borrowed from the run's reference (see `RawTask::run`), so polling costs no
//! reference counting; a future that keeps the waker clones it.
//!
//! [`Runnable::run`]: super::Runnable::run

use std::future::Future;
use std::ptr::NonNull;
use std::task::RawWaker;

use super::current;
use super::header::Header;
use super::raw::RawTask;
use super::schedule::{Schedule, ScheduleInfo};
use super::state::TransitionToNotified;

/// The header behind a waker's data pointer.
#[inline(always)]
fn header(data: *const ()) -> NonNull<Header> {
    // SAFETY: every RawWaker with these functions was made from a non-null header pointer
    // (`RawTask::waker_unowned`).
    unsafe { NonNull::new_unchecked(data.cast_mut().cast::<Header>()) }
}

/// `RawWakerVTable::clone`: one more reference.
///
/// # Safety
///
/// `data` is the header pointer of a live waker of a task of type `RawTask<F, S>`.
pub(super) unsafe fn clone_waker(data: *const ()) -> RawWaker {
    let ptr = header(data);
    // SAFETY: the waker being cloned owns a reference, so the task is alive.
    let header = unsafe { ptr.as_ref() };
    header.state.ref_inc();
    // The header's pointer, so that a clone `will_wake` the waker it came from (raw.rs,
    // `waker_unowned`).
    RawWaker::new(data, header.vtable.waker)
}

/// `RawWakerVTable::wake`: wakes, consuming the waker's reference.
///
/// # Safety
///
/// As [`clone_waker`]; the waker's reference is given up.
pub(super) unsafe fn wake<F: Future, S: Schedule>(data: *const ()) {
    let ptr = header(data);
    if current::wake_if_polled_here(ptr) {
        // A self-wake during the poll, recorded for the run. The run holds a reference, so
        // ours is not the last.
        // SAFETY: the waker's reference, given up once.
        unsafe { Header::drop_reference(ptr) };
        return;
    }
    // SAFETY: the waker's reference keeps the task alive until the transition.
    let header = unsafe { ptr.as_ref() };
    match header.state.transition_to_notified_by_val() {
        TransitionToNotified::DoNothing => {}
        TransitionToNotified::Submit => {
            // SAFETY: the transition added the Runnable's reference and kept the waker's, which
            // keeps the scheduler alive during the call and is given up after it.
            unsafe {
                RawTask::<F, S>::schedule(ptr, ScheduleInfo::default());
                Header::drop_reference(ptr);
            }
        }
        // SAFETY: the transition gave up the last reference of a complete task.
        TransitionToNotified::Dealloc => unsafe { (header.vtable.dealloc)(ptr) },
    }
}

/// `RawWakerVTable::wake_by_ref`: wakes, keeping the waker.
///
/// # Safety
///
/// As [`clone_waker`].
pub(super) unsafe fn wake_by_ref<F: Future, S: Schedule>(data: *const ()) {
    let ptr = header(data);
    if current::wake_if_polled_here(ptr) {
        // A self-wake during the poll: recorded for the run, no atomic operation.
        return;
    }
    // SAFETY: the waker's reference keeps the task alive for the whole call.
    let header = unsafe { ptr.as_ref() };
    match header.state.transition_to_notified_by_ref() {
        TransitionToNotified::DoNothing => {}
        // SAFETY: the transition added the Runnable's reference; the waker's keeps the
        // scheduler alive during the call.
        TransitionToNotified::Submit => unsafe {
            RawTask::<F, S>::schedule(ptr, ScheduleInfo::default())
        },
        TransitionToNotified::Dealloc => {
            debug_assert!(false, "waking by reference never gives up a reference")
        }
    }
}

/// `RawWakerVTable::drop`: gives up the waker's reference. Needs no type: the last
/// reference is acted on through the header's vtable.
///
/// # Safety
///
/// `data` is the header pointer of a live task waker, whose reference is given up.
pub(super) unsafe fn drop_waker(data: *const ()) {
    // SAFETY: the waker owned a reference, given up here once.
    unsafe { Header::drop_reference(header(data)) }
}
