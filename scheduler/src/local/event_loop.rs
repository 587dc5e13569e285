//! [`EventLoop`]: `block_on` and the tick (see the module doc for the order of its steps).

use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_task::{FutureObj, LocalFutureObj, LocalSpawn, Spawn};
use switchyard_runtime::coop::{self, Budget};
use switchyard_runtime::driver::{BlockOnWaker, Driver};
use switchyard_runtime::reactor::IoHandle;
use switchyard_runtime::task::JoinHandle;
use switchyard_runtime::time::Timers;

use super::context::Entered;
use super::metrics::{Counters, LoopMetrics};
use super::scheduler::{Local, LoopShared};
use super::{Builder, LoopHandle, SpawnError};

/// A cooperative single-threaded event loop: the asyncio model.
///
/// ```
/// use switchyard_scheduler::local::{EventLoop, spawn_local, yield_now};
///
/// let mut el = EventLoop::new()?;
/// let sum = el.block_on(async {
///     let a = spawn_local(async { yield_now().await; 1 }).unwrap();
///     let b = spawn_local(async { 2 }).unwrap();
///     a.await.unwrap() + b.await.unwrap()
/// });
/// assert_eq!(sum, 3);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// `EventLoop` is `!Send`: its tasks may be `!Send`, and they run on the thread that owns it.
/// Other threads spawn through a [`LoopHandle`]. Dropping the loop cancels every task (their
/// `JoinHandle`s report cancelled) and closes its file descriptors; it starts no thread.
pub struct EventLoop {
    /// Boxed so that its address, published in `context` while the loop runs, is stable.
    local: Box<Local>,
    /// The reactor and the timers, parked as one (`switchyard_runtime::driver`).
    driver: Driver,
    /// The waker of `block_on`'s own future.
    main: Arc<BlockOnWaker>,
    polls_per_tick: u32,
    _not_send: PhantomData<*const ()>,
}

impl EventLoop {
    /// An event loop with the default [`Builder`] settings.
    pub fn new() -> io::Result<EventLoop> {
        Builder::new().build()
    }

    /// A [`Builder`] to configure the loop.
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(super) fn from_builder(builder: Builder) -> io::Result<EventLoop> {
        let driver = Driver::with_capacity(builder.io_capacity)?;
        let shared = Arc::new(LoopShared::new(driver.unparker(), builder.task_capacity));
        Ok(EventLoop {
            local: Box::new(Local::new(shared)),
            main: BlockOnWaker::new(driver.unparker()),
            driver,
            polls_per_tick: builder.polls_per_tick,
            _not_send: PhantomData,
        })
    }

    /// Runs `future` to completion on this thread, running the loop's tasks, timers and I/O
    /// meanwhile. Tasks still alive when it returns stay in the loop, and run again at the
    /// next `block_on`.
    ///
    /// # Panics
    ///
    /// If called from inside a running event loop (a nested `block_on` would stall the outer
    /// loop), or if the reactor fails in a way that leaves the loop unable to wait for events.
    pub fn block_on<F: Future>(&mut self, future: F) -> F::Output {
        let _entered = Entered::for_block_on(&self.local);
        let _driver = self.driver.enter();
        let waker = self.main.waker();
        // On the entered thread this only sets the flag: the main future is polled first.
        waker.wake_by_ref();
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            // Step 1: the main future (not a task, so its budget is set here).
            if self.main.take_woken() {
                let poll = coop::with_budget(Budget::initial(), || future.as_mut().poll(&mut cx));
                if let Poll::Ready(output) = poll {
                    return output;
                }
            }
            tick(&self.local, &self.driver, &self.main, self.polls_per_tick);
        }
    }

    /// Spawns a `!Send` future on the loop. It first runs at the next tick of `block_on`.
    pub fn spawn_local<F>(&self, future: F) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.local.spawn_local(future)
    }

    /// Spawns a `Send` future on the loop (from its own thread; other threads use
    /// [`handle`](Self::handle)).
    pub fn spawn<F>(&self, future: F) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.local.spawn_local(future)
    }

    /// A handle to spawn on this loop from other threads.
    pub fn handle(&self) -> LoopHandle {
        LoopHandle {
            shared: self.local.shared_arc().clone(),
        }
    }

    /// The loop's reactor, to create I/O objects outside `block_on`.
    pub fn io_handle(&self) -> IoHandle {
        self.driver.io_handle()
    }

    /// The loop's timers, to create timers outside `block_on`.
    pub fn timers(&self) -> &Timers {
        self.driver.timers()
    }

    /// The loop's counters.
    pub fn metrics(&self) -> LoopMetrics {
        let counters = &self.local.counters;
        LoopMetrics {
            ticks: counters.ticks.get(),
            polls: counters.polls.get(),
            spawned: counters.spawned.get(),
            parks: counters.parks.get(),
            remote_scheduled: counters.remote_scheduled.get(),
            live_tasks: self.local.shared().live(),
        }
    }
}

/// Steps 2 to 5 of a tick (module doc).
fn tick(local: &Local, driver: &Driver, main: &BlockOnWaker, polls_per_tick: u32) {
    Counters::add(&local.counters.ticks, 1);
    // Step 2: remote work.
    local.drain_remote();
    // Step 3: ready tasks, up to the budget; `Runnable::run` gives each poll a fresh
    // cooperative budget.
    let mut polls = 0;
    while polls < polls_per_tick {
        let Some(runnable) = local.pop() else { break };
        runnable.run();
        polls += 1;
    }
    Counters::add(&local.counters.polls, u64::from(polls));
    local.shrink_run_queue();
    // Steps 4 and 5: due timers, then I/O without waiting if anything is runnable, else park
    // until the next deadline (the driver's `park`; wakes from other threads unpark it).
    let runnable_now = local.has_ready() || main.is_woken() || local.shared().has_remote();
    let wait = if runnable_now {
        Some(Duration::ZERO)
    } else {
        None
    };
    match driver.park(wait) {
        Ok(parked) => {
            if parked.blocked {
                Counters::add(&local.counters.parks, 1);
            }
        }
        // Any error but an interrupted wait (which `park` turns into an early return) means
        // epoll itself is broken (a closed or invalid fd), and the loop cannot go on.
        Err(error) => panic!("the event loop's reactor failed to wait for events: {error}"),
    }
}

impl Drop for EventLoop {
    /// Shutdown, as numbered in the module doc.
    fn drop(&mut self) {
        let _entered = Entered::for_shutdown(&self.local);
        let _driver = self.driver.enter();
        // Steps 1 to 3; step 4 is the drop of the fields after this function (the driver
        // after the tasks' table).
        self.local.shutdown();
    }
}

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("polls_per_tick", &self.polls_per_tick)
            .field("metrics", &self.metrics())
            .finish_non_exhaustive()
    }
}

impl LocalSpawn for EventLoop {
    fn spawn_local_obj(
        &self,
        future: LocalFutureObj<'static, ()>,
    ) -> Result<(), futures_task::SpawnError> {
        self.spawn_local(future).map(drop).map_err(Into::into)
    }
}

impl Spawn for EventLoop {
    fn spawn_obj(&self, future: FutureObj<'static, ()>) -> Result<(), futures_task::SpawnError> {
        self.spawn(future).map(drop).map_err(Into::into)
    }
}
