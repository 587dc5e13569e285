//! A `Send` handle to an event loop, for other threads.

use std::future::Future;
use std::sync::Arc;

use futures_task::{FutureObj, Spawn};
use switchyard_runtime::task::JoinHandle;

use super::SpawnError;
use super::scheduler::LoopShared;

/// Spawns `Send` futures on an [`EventLoop`](super::EventLoop) from any thread.
///
/// Cheap to clone. The task runs on the loop's thread, at its next tick (the loop is woken if
/// it is parked). Once the loop is dropped, spawns return [`SpawnError::Shutdown`].
#[derive(Clone)]
pub struct LoopHandle {
    pub(super) shared: Arc<LoopShared>,
}

impl LoopHandle {
    /// Spawns `future` on the loop.
    pub fn spawn<F>(&self, future: F) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.shared.spawn_remote(future)
    }

    /// Whether the loop has been dropped.
    pub fn is_shut_down(&self) -> bool {
        self.shared.remote_table().closed
    }

    /// Tasks alive on the loop now.
    pub fn live_tasks(&self) -> usize {
        self.shared.live()
    }
}

impl std::fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopHandle")
            .field("live_tasks", &self.live_tasks())
            .finish_non_exhaustive()
    }
}

impl Spawn for LoopHandle {
    fn spawn_obj(&self, future: FutureObj<'static, ()>) -> Result<(), futures_task::SpawnError> {
        self.spawn(future).map(drop).map_err(Into::into)
    }
}
