//! [`EventLoop`]: `block_on` and the tick (see the module doc for the order of its steps).

use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_task::{FutureObj, LocalFutureObj, LocalSpawn, Spawn};
use switchyard_runtime::coop::{self, Budget};
use switchyard_runtime::reactor::{IoHandle, Reactor};
use switchyard_runtime::task::JoinHandle;
use switchyard_runtime::time::Timers;

use super::context::Entered;
use super::metrics::{Counters, LoopMetrics};
use super::park::Park;
use super::scheduler::{Local, Shared};
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
    reactor: Reactor,
    timers: Timers,
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
        let reactor = Reactor::with_capacity(builder.io_capacity)?;
        let shared = Arc::new(Shared::new(reactor.handle(), builder.task_capacity));
        Ok(EventLoop {
            local: Box::new(Local::new(shared)),
            reactor,
            timers: Timers::new(),
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
        let _io = self.reactor.handle().enter();
        let _timers = self.timers.enter();
        let waker = futures_task::waker(self.local.shared_arc().clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        let shared = self.local.shared_arc().clone();
        shared.main_woken.store(true, Ordering::Relaxed);
        loop {
            // Step 1: the main future. Acquire pairs with the waker's Release store.
            if shared.main_woken.load(Ordering::Relaxed)
                && shared.main_woken.swap(false, Ordering::Acquire)
            {
                let poll = coop::with_budget(Budget::initial(), || future.as_mut().poll(&mut cx));
                if let Poll::Ready(output) = poll {
                    return output;
                }
            }
            self.tick();
        }
    }

    /// Steps 2 to 5 of a tick.
    fn tick(&mut self) {
        let local = &*self.local;
        Counters::add(&local.counters.ticks, 1);
        // Step 2: remote work.
        local.drain_remote();
        // Step 3: ready tasks, up to the budget.
        let mut polls = 0;
        while polls < self.polls_per_tick {
            let Some(runnable) = local.pop() else { break };
            coop::with_budget(Budget::initial(), || runnable.run());
            polls += 1;
        }
        Counters::add(&local.counters.polls, u64::from(polls));
        local.shrink_idle_queue();
        // Step 4: due timers.
        let next_deadline = self.fire_timers();
        // Step 5: I/O, or park.
        self.poll_io(next_deadline);
    }

    /// Fires the timers that are due; returns the next deadline.
    fn fire_timers(&self) -> Option<Instant> {
        let next = self.timers.next_deadline()?;
        let now = Instant::now();
        if next > now {
            return Some(next);
        }
        self.timers.process(now)
    }

    fn poll_io(&mut self, next_deadline: Option<Instant>) {
        let shared = self.local.shared();
        let runnable_now = self.local.has_ready()
            || shared.main_woken.load(Ordering::Relaxed)
            || shared.has_remote();
        if runnable_now {
            // With nothing registered, epoll could report nothing: skip the syscall.
            if self.reactor.has_registrations() {
                poll_reactor(&mut self.reactor, Some(Duration::ZERO));
            }
            return;
        }
        let timeout =
            next_deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
        if timeout == Some(Duration::ZERO) {
            // A timer is already due: fire it at the next tick instead of sleeping.
            return;
        }
        // Parking protocol steps a to c (module doc; the code is in `park.rs`).
        let park = shared
            .park
            .prepare(|| shared.main_woken.load(Ordering::Relaxed) || shared.has_remote());
        if park == Park::Skip {
            return;
        }
        Counters::add(&self.local.counters.parks, 1);
        // Step d.
        poll_reactor(&mut self.reactor, timeout);
        shared.park.unparked();
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
        self.reactor.handle()
    }

    /// The loop's timers, to create timers outside `block_on`.
    pub fn timers(&self) -> &Timers {
        &self.timers
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

/// Waits in the reactor. An interrupted wait is an ordinary early return; any other error
/// means epoll itself is broken (a closed or invalid fd), and the loop cannot go on.
fn poll_reactor(reactor: &mut Reactor, timeout: Option<Duration>) {
    match reactor.poll(timeout) {
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
        Err(error) => panic!("the event loop's reactor failed to wait for events: {error}"),
    }
}

impl Drop for EventLoop {
    /// Shutdown, as numbered in the module doc.
    fn drop(&mut self) {
        let _entered = Entered::for_shutdown(&self.local);
        let _io = self.reactor.handle().enter();
        let _timers = self.timers.enter();
        // Steps 1 to 3; step 4 is the drop of the fields after this function.
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
