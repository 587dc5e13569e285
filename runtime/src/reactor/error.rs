//! The reactor's errors, as values a user can act on.
//!
//! The public API speaks `io::Result` (as every I/O API in Rust does), so each variant is
//! carried inside an `io::Error`; [`ReactorError::of`] gets it back out.

use std::io;

/// What went wrong in the reactor itself (as opposed to in a syscall on a socket).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReactorError {
    /// Every slot of the registration table is in use.
    #[error(
        "the reactor's registration table is full ({capacity} registrations in use): drop \
         sockets you no longer need, or raise the limit with Reactor::with_capacity (the \
         event loop's Builder::io_capacity)"
    )]
    TableFull {
        /// The table's configured capacity.
        capacity: usize,
    },
    /// The capacity asked for does not fit the token's index field.
    #[error(
        "a registration table of {requested} entries was requested, but tokens can address \
         at most {max}"
    )]
    CapacityTooLarge {
        /// What was asked for.
        requested: usize,
        /// [`MAX_REGISTRATIONS`](super::MAX_REGISTRATIONS).
        max: usize,
    },
    /// `IoHandle::current` was called on a thread that has not entered a reactor.
    #[error(
        "no reactor: this thread is not inside a runtime; run inside the event loop, call \
         IoHandle::enter first, or use the `_with(&IoHandle, ..)` constructors"
    )]
    NoReactor,
    /// The `Reactor` that drives this resource has been dropped.
    #[error(
        "the reactor has been dropped: this I/O resource can no longer be driven; create it \
         again on a live runtime"
    )]
    Shutdown,
}

impl ReactorError {
    /// The `ReactorError` inside `error`, if it carries one.
    pub fn of(error: &io::Error) -> Option<&ReactorError> {
        error.get_ref()?.downcast_ref::<ReactorError>()
    }

    fn kind(&self) -> io::ErrorKind {
        match self {
            ReactorError::TableFull { .. } => io::ErrorKind::Other,
            ReactorError::CapacityTooLarge { .. } => io::ErrorKind::InvalidInput,
            ReactorError::NoReactor | ReactorError::Shutdown => io::ErrorKind::Other,
        }
    }
}

impl From<ReactorError> for io::Error {
    fn from(error: ReactorError) -> io::Error {
        io::Error::new(error.kind(), error)
    }
}
