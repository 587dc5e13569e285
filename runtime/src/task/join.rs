//! [`JoinHandle`]: awaiting a task's output.
//!
//! The `JoinHandle` and the completing thread share two things, each guarded by a flag of the
//! state word:
//!
//! 1. **The output.** Once `COMPLETE` is set, the stage belongs to the `JoinHandle` if
//!    `JOIN_INTEREST` was set at that moment, else to the completing thread, which drops it.
//!    The handle's drop clears `JOIN_INTEREST` only while `COMPLETE` is clear (transition
//!    (11)); after it, the handle drops the output itself before giving up its reference.
//! 2. **The awaiter slot.** The handle writes its waker into the header's slot only while
//!    `JOIN_WAKER` is clear, then sets `JOIN_WAKER` (which fails if the task completed
//!    meanwhile: the output is then ready). The completing thread reads the slot only if
//!    `JOIN_WAKER` was set when it completed. To replace a waker, the handle first clears
//!    `JOIN_WAKER` (which also fails once the task is complete). A handle dropped while
//!    waiting does the same and drops its waker at once; otherwise the slot's waker is
//!    dropped when the task is freed. The slot holds the waker boxed (one word in the
//!    header, see `header.rs`): the handle allocates the box the first time it waits and
//!    reuses it for a replacement waker.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

use super::error::JoinError;
use super::header::Header;
use super::id::TaskId;
use super::schedule::ScheduleInfo;
use super::state::{RefDec, Snapshot, TransitionToCancelled, TransitionToDetached};

/// An owned permission to await a task's output: a `Future` of `Result<T, JoinError>`.
///
/// Dropping it detaches the task (it keeps running; its output is dropped when produced).
pub struct JoinHandle<T> {
    ptr: NonNull<Header>,
    /// Whether `poll` has already moved the output out (it then owns nothing in the stage).
    output_taken: bool,
    _output: PhantomData<T>,
}

// SAFETY: the handle may move the output `T` to another thread (so `T: Send`); everything
// else it touches is atomic or immutable.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` gives only `abort`, `is_finished` and `id`, which never touch `T`.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// Wraps the JoinHandle's reference of a task whose output type is `T`.
    ///
    /// # Safety
    ///
    /// `ptr` is a task whose output type is `T`, and the caller gives it the JoinHandle's
    /// reference (the one counted with `JOIN_INTEREST`).
    pub(super) unsafe fn from_raw(ptr: NonNull<Header>) -> JoinHandle<T> {
        JoinHandle {
            ptr,
            output_taken: false,
            _output: PhantomData,
        }
    }

    /// Cancels the task: if it is idle, marks it cancelled and schedules it, so its owner drops
    /// the future (a `!Send` future is never dropped on a foreign thread); if it is scheduled
    /// or running, marks it, and the run drops the future after its poll; if it is finished,
    /// does nothing. Awaiting the handle then gives [`JoinError::is_cancelled`], unless the
    /// task finished first.
    pub fn abort(&self) {
        let header = self.header();
        match header.state.transition_to_aborted() {
            TransitionToCancelled::DoNothing => {}
            // SAFETY: transition (8) added the Runnable's reference; ours keeps the task alive.
            TransitionToCancelled::Submit => unsafe {
                (header.vtable.schedule)(self.ptr, ScheduleInfo::default())
            },
            TransitionToCancelled::CancelNow => debug_assert!(false, "abort never cancels inline"),
        }
    }

    /// Whether the task is complete (finished, panicked or cancelled).
    pub fn is_finished(&self) -> bool {
        self.header().state.load().is_complete()
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.header().id
    }

    #[inline(always)]
    fn header(&self) -> &Header {
        // SAFETY: the handle's reference keeps the task alive as long as `self`.
        unsafe { self.ptr.as_ref() }
    }

    /// Moves the output out of a complete task.
    fn take_output(&mut self, snapshot: Snapshot) -> Result<T, JoinError> {
        debug_assert!(snapshot.is_complete() && !self.output_taken);
        let mut out = MaybeUninit::<Result<T, JoinError>>::uninit();
        // SAFETY: 1. COMPLETE was loaded with Acquire (or by an Acquire CAS) with
        // JOIN_INTEREST set, so the stage is ours and its writes are visible; 2. we have not
        // taken it before (`output_taken`); 3. `out` is a slot for this task's output type.
        unsafe {
            (self.header().vtable.read_output)(
                self.ptr,
                snapshot.completion(),
                out.as_mut_ptr().cast(),
            )
        };
        self.output_taken = true;
        // SAFETY: `read_output` initialised it.
        unsafe { out.assume_init() }
    }

    /// Registers `waker` in the awaiter slot; returns the complete state if the task
    /// completed meanwhile.
    fn register(&self, snapshot: Snapshot, waker: &Waker) -> Result<(), Snapshot> {
        let header = self.header();
        if snapshot.has_join_waker() {
            // SAFETY: JOIN_WAKER is set, so the slot holds a waker and may be read shared
            // (the completing thread only reads it too).
            let same = header.awaiter.with(|slot| match unsafe { &*slot } {
                Some(current) => current.will_wake(waker),
                None => false,
            });
            if same {
                return Ok(());
            }
            header.state.unset_join_waker()?;
        }
        header.awaiter.with_mut(|slot| {
            // SAFETY: JOIN_WAKER is clear, so the slot is ours alone (the completing thread
            // reads it only if JOIN_WAKER is set when it completes).
            let slot = unsafe { &mut *slot };
            match slot {
                // The box of an earlier wait is reused: one allocation per waiting handle.
                Some(boxed) => (**boxed).clone_from(waker),
                None => *slot = Some(Box::new(waker.clone())),
            }
        });
        header.state.set_join_waker()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        assert!(
            !this.output_taken,
            "a JoinHandle was polled again after it returned Ready"
        );
        let snapshot = this.header().state.load();
        if snapshot.is_complete() {
            return Poll::Ready(this.take_output(snapshot));
        }
        match this.register(snapshot, cx.waker()) {
            Ok(()) => Poll::Pending,
            Err(complete) => Poll::Ready(this.take_output(complete)),
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let header = self.header();
        let vtable = header.vtable;
        let snapshot = header.state.load();
        if snapshot.has_join_waker() && !snapshot.is_complete() {
            // Dropped while waiting (a timeout or a `select` gave up on it): take the waker
            // back, so it does not keep the awaiting task's allocation alive until this task
            // completes. On success the slot is ours again (the completing thread will not
            // read it); on failure the task completed meanwhile and the slot goes with it.
            if header.state.unset_join_waker().is_ok() {
                // SAFETY: JOIN_WAKER is clear, so the slot is ours alone (see the module doc).
                let waker = header.awaiter.with_mut(|slot| unsafe { (*slot).take() });
                drop(waker);
            }
        }
        match header.state.transition_to_detached() {
            TransitionToDetached::OwnsOutput(completion) => {
                if !self.output_taken {
                    // SAFETY: COMPLETE with JOIN_INTEREST: the stage is ours and not read.
                    unsafe { (vtable.drop_output)(self.ptr, completion) };
                }
                match header.state.drop_join_handle_after_complete() {
                    RefDec::Alive => {}
                    // SAFETY: the last reference of a complete task.
                    RefDec::Dealloc => unsafe { (vtable.dealloc)(self.ptr) },
                    RefDec::Orphaned => debug_assert!(false, "the task is complete"),
                }
            }
            TransitionToDetached::Detached(RefDec::Alive) => {}
            TransitionToDetached::Detached(RefDec::Dealloc) => {
                debug_assert!(false, "detached before completion, so not complete");
            }
            TransitionToDetached::Detached(RefDec::Orphaned) => {
                // SAFETY: the transition gave up the last reference with that outcome.
                unsafe { Header::orphaned(self.ptr) }
            }
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}
