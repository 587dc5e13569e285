//! Why a spawn on the loop can fail.

/// The reason a spawn on the event loop was refused. The future was not started and has been
/// dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpawnError {
    /// The task table is full.
    #[error(
        "the event loop's task table is full ({capacity} live tasks): await some of them, \
         or raise the limit with Builder::task_capacity"
    )]
    AtCapacity {
        /// The configured capacity ([`Builder::task_capacity`](super::Builder::task_capacity)).
        capacity: usize,
    },
    /// The event loop has been dropped.
    #[error("the event loop has shut down; no task can be spawned on it")]
    Shutdown,
    /// `spawn_local` was called on a thread that is not running an event loop.
    #[error("spawn_local called outside EventLoop::block_on: no event loop runs on this thread")]
    NoEventLoop,
}

impl From<SpawnError> for futures_task::SpawnError {
    fn from(_: SpawnError) -> Self {
        // futures-task has a single variant; every refusal reads as "shut down" there.
        futures_task::SpawnError::shutdown()
    }
}
