//! The adapter trait: what the lab needs from an async runtime to run every task workload
//! on it, and nothing more (docs/lab.md, "Bring your own runtime").
//!
//! Each task workload of the lab is one generic async function over [`Runtime`]
//! ([`crate::workloads`]); the loop, the pool, the naive executor and the peers (tokio
//! current_thread and multi_thread, async-executor) are adapters of this trait, so a column
//! compares runtimes on the same program, not different programs. The trait is static (its
//! methods take no `self` and the workloads are generic), so a timed loop calls the runtime's
//! own `spawn`, yield or channel with no dynamic dispatch.
//!
//! The futures a workload spawns are `Send`: a multi-threaded runtime needs it, and a
//! single-threaded one loses nothing by it (the lab's workloads share only `Arc`s and
//! channels). A runtime whose own handles are not `Send` reaches them from inside its tasks
//! another way (a thread-local, as the async-executor adapter does).

use std::time::Instant;

use crate::models::Skip;

/// A runtime the lab can measure. See the [module docs](self).
pub trait Runtime: 'static {
    /// What spawns a task from inside a running one (often a zero-sized type that finds the
    /// current runtime itself).
    type Spawner: Clone + Send + Sync + 'static;
    /// A spawned task's handle: await it with [`Runtime::join`], or let it run on with
    /// [`Runtime::detach`].
    type Join<T: Send + 'static>: Send + 'static;
    /// The sending half of the runtime's own bounded channel; clones send into the same
    /// channel (several senders, one receiver).
    type Sender<T: Send + 'static>: Clone + Send + 'static;
    /// The receiving half.
    type Receiver<T: Send + 'static>: Send + 'static;

    /// Starts a fresh runtime of `threads` worker threads (single-threaded runtimes ignore it
    /// and run on the calling thread), with room for `tasks` live tasks, runs
    /// `root(spawner)` on it as a spawned task (not the `block_on` future, which runtimes often
    /// poll by another path) and returns its output once it completes.
    fn run<T, F>(
        threads: usize,
        tasks: u64,
        root: impl FnOnce(Self::Spawner) -> F,
    ) -> Result<T, Skip>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static;

    /// Spawns `future` from inside a task of this runtime.
    fn spawn<F>(spawner: &Self::Spawner, future: F) -> Result<Self::Join<F::Output>, Skip>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Waits for a spawned task; `None` if it failed (panicked or was cancelled).
    fn join<T: Send + 'static>(handle: Self::Join<T>) -> impl Future<Output = Option<T>> + Send;

    /// Lets a spawned task run on without its handle.
    fn detach<T: Send + 'static>(handle: Self::Join<T>);

    /// Yields to the runtime's scheduler once.
    fn yield_now() -> impl Future<Output = ()> + Send;

    /// Sleeps until `deadline` on the runtime's own timer.
    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send;

    /// The runtime's own bounded channel of `capacity` slots.
    fn channel<T: Send + 'static>(capacity: usize) -> (Self::Sender<T>, Self::Receiver<T>);

    /// Sends `value`, waiting for room; false when the receiver is gone.
    fn send<T: Send + 'static>(tx: &Self::Sender<T>, value: T)
    -> impl Future<Output = bool> + Send;

    /// Receives the next value; `None` when every sender is gone.
    fn recv<T: Send + 'static>(
        rx: &mut Self::Receiver<T>,
    ) -> impl Future<Output = Option<T>> + Send;
}

/// A [`Runtime`] with TCP sockets of its own: what the `echo` workload
/// ([`crate::workloads::echo`]) needs beyond the trait, so a runtime without a reactor
/// implements [`Runtime`] alone and answers `echo` with "not applicable".
pub trait TcpRuntime: Runtime {
    /// The runtime's listener.
    type Listener: Send + Sync + 'static;
    /// One accepted connection.
    type Stream: Send + 'static;

    /// Takes over a bound std listener; called from inside a task of the runtime (so a
    /// runtime may register it with the reactor of the thread it runs on).
    fn listener(listener: std::net::TcpListener) -> std::io::Result<Self::Listener>;

    /// Accepts the next connection, with `TCP_NODELAY` set (the messages are small).
    fn accept(
        listener: &Self::Listener,
    ) -> impl Future<Output = std::io::Result<Self::Stream>> + Send;

    /// Reads what is there, waiting for at least one byte; 0 at end of stream.
    fn read(
        stream: &mut Self::Stream,
        buf: &mut [u8],
    ) -> impl Future<Output = std::io::Result<usize>> + Send;

    /// Writes all of `buf`.
    fn write_all(
        stream: &mut Self::Stream,
        buf: &[u8],
    ) -> impl Future<Output = std::io::Result<()>> + Send;
}

/// A multi-threaded [`Runtime`] that can also run as one worker pinned to a CPU: what the
/// cross-core ping-pong ([`crate::workloads::pingpong_across`]) needs beyond the trait, two
/// runtimes of one worker each, one per CPU, so that every wake crosses from one CPU to the
/// other (within one runtime of two workers a ping-pong pair stays on one worker: the waker
/// puts the woken task in its own LIFO slot). A runtime that does not implement it has no
/// cross-core ping-pong (docs/lab.md, "Placement").
pub trait PinnedRuntime: Runtime {
    /// A running runtime of one worker thread; dropping it shuts it down.
    type Pinned;

    /// Starts a runtime of one worker thread pinned to CPU `cpu` (an id).
    fn pinned(cpu: usize) -> Result<Self::Pinned, Skip>;

    /// Spawns `future` on `runtime` as a task, from outside it.
    fn spawn_on<F>(runtime: &Self::Pinned, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Blocks the calling thread until the task of `handle`, spawned on `runtime`, completes:
    /// its output, or why it failed.
    fn block_on<T: Send + 'static>(
        runtime: &Self::Pinned,
        handle: Self::Join<T>,
    ) -> Result<T, Skip>;
}
