//! [`JoinError`]: why a task produced no output.

use std::any::Any;
use std::fmt;

use super::id::TaskId;

/// Why awaiting a [`JoinHandle`](super::JoinHandle) produced no output: the task was
/// cancelled ([`JoinHandle::abort`](super::JoinHandle::abort), [`TaskRef::shutdown`](super::TaskRef::shutdown),
/// its scheduler dropped it), or its future panicked (the payload is kept, so the panic can be
/// inspected or resumed with [`std::panic::resume_unwind`]).
pub struct JoinError {
    id: TaskId,
    repr: Repr,
}

enum Repr {
    Cancelled,
    Panic(Payload),
}

/// A panic payload that may be shared between threads.
///
/// `Box<dyn Any + Send>` is not `Sync`, which would make `JoinError` unusable in
/// `Box<dyn Error + Send + Sync>`. Through `&Payload` only [`Payload::message`] reads the
/// payload, and it reads it only as `&str` or `String`, which are `Sync`; every other access
/// moves the payload out by value.
struct Payload(Box<dyn Any + Send>);

// SAFETY: a `&Payload` gives access to the inner value only through `message`, which reads
// it as `&'static str` or `String` (both `Sync`); all other uses take the payload by value,
// which needs only `Send`. So sharing `&Payload` between threads never shares a non-`Sync`
// value.
unsafe impl Sync for Payload {}

impl Payload {
    fn message(&self) -> Option<&str> {
        if let Some(s) = self.0.downcast_ref::<&'static str>() {
            Some(s)
        } else {
            self.0.downcast_ref::<String>().map(String::as_str)
        }
    }
}

impl JoinError {
    pub(super) fn cancelled(id: TaskId) -> JoinError {
        JoinError {
            id,
            repr: Repr::Cancelled,
        }
    }

    pub(super) fn panic(id: TaskId, payload: Box<dyn Any + Send>) -> JoinError {
        JoinError {
            id,
            repr: Repr::Panic(Payload(payload)),
        }
    }

    /// Whether the task was cancelled before it finished.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// Whether the task's future panicked (while polled, or while dropped on cancellation).
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The id of the task.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The panic's message, if it panicked with a string (as `panic!("..")` does).
    pub fn panic_message(&self) -> Option<&str> {
        match &self.repr {
            Repr::Panic(payload) => payload.message(),
            Repr::Cancelled => None,
        }
    }

    /// The panic payload.
    ///
    /// # Panics
    ///
    /// If the task was cancelled rather than panicked; use [`Self::try_into_panic`] to check.
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send> {
        match self.try_into_panic() {
            Ok(payload) => payload,
            Err(err) => panic!("`JoinError::into_panic` called on a cancelled task: {err}"),
        }
    }

    /// The panic payload, or the error itself if the task was cancelled.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self.repr {
            Repr::Panic(Payload(payload)) => Ok(payload),
            Repr::Cancelled => Err(self),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(
                f,
                "{} was cancelled (aborted, shut down, or dropped by its scheduler) before it finished",
                self.id
            ),
            Repr::Panic(payload) => match payload.message() {
                Some(message) => write!(f, "{} panicked: {message}", self.id),
                None => write!(f, "{} panicked (with a non-string payload)", self.id),
            },
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "JoinError::Cancelled({})", self.id),
            Repr::Panic(payload) => {
                write!(f, "JoinError::Panic({}, {:?})", self.id, payload.message())
            }
        }
    }
}

impl std::error::Error for JoinError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_error_keeps_its_message_and_payload() {
        let id = TaskId::next();
        let err = JoinError::panic(id, Box::new(String::from("boom")));
        assert!(err.is_panic() && !err.is_cancelled());
        assert_eq!(err.panic_message(), Some("boom"));
        assert_eq!(err.to_string(), format!("{id} panicked: boom"));
        let payload = err.into_panic();
        assert_eq!(payload.downcast_ref::<String>().unwrap(), "boom");
    }

    #[test]
    fn a_cancelled_error_says_so_and_is_send_sync() {
        fn assert_send_sync<T: Send + Sync + std::error::Error>() {}
        assert_send_sync::<JoinError>();
        let err = JoinError::cancelled(TaskId::next());
        assert!(err.is_cancelled());
        assert!(err.to_string().contains("was cancelled"));
        assert!(err.try_into_panic().is_err());
    }
}
