//! A single-threaded FIFO runtime with I/O and timers, built on `switchyard-runtime`'s kit
//! alone: a [`Driver`] (reactor plus timers), `task::spawn_local`, a closure as the scheduler,
//! a plain `Vec` of [`TaskRef`]s for shutdown, and [`BlockOnWaker`] for `block_on`'s own future.
//! `docs/custom-runtime.md` walks through it. Run: `cargo run -p switchyard-runtime --example
//! fifo`; it serves one echo over TCP, with a sleep and a timeout, and checks the reply.

use futures_util::{AsyncReadExt, AsyncWriteExt};
use std::task::{Context, Poll};
use std::{cell::RefCell, error::Error, future::Future, pin::pin, sync::mpsc, time::Duration};
use switchyard_runtime::coop::{self, Budget};
use switchyard_runtime::driver::{BlockOnWaker, Driver};
use switchyard_runtime::net::{TcpListener, TcpStream};
use switchyard_runtime::task::{self, JoinHandle, Runnable, ScheduleInfo, TaskId, TaskRef};
use switchyard_runtime::time;

/// Polls per round before timers and I/O get their turn (tokio's `event_interval`).
const ROUND: usize = 61;

/// The runtime: a driver, a FIFO queue of runnables, and every live task (for shutdown).
pub struct Fifo {
    tasks: RefCell<Vec<TaskRef>>,
    queue: mpsc::Sender<Runnable>,
    ready: mpsc::Receiver<Runnable>,
    driver: Driver,
}

impl Fifo {
    /// A runtime with its own reactor and timers.
    pub fn new() -> std::io::Result<Fifo> {
        let ((queue, ready), driver) = (mpsc::channel(), Driver::new()?);
        let tasks = RefCell::default();
        Ok(Fifo {
            tasks,
            queue,
            ready,
            driver,
        })
    }

    /// Spawns a `!Send` future; it first runs at the next `block_on`.
    pub fn spawn<F: Future + 'static>(&self, future: F) -> JoinHandle<F::Output> {
        let (queue, unparker) = (self.queue.clone(), self.driver.unparker());
        // Step 4 of the contract, the unpark rule: push, then unpark.
        let schedule = move |runnable, _: ScheduleInfo| {
            let _ = queue.send(runnable); // fails only once the runtime is gone: cancelled
            unparker.unpark();
        };
        let (runnable, join) = task::spawn_local(future, schedule, TaskId::default());
        let mut tasks = self.tasks.borrow_mut();
        if tasks.len() == tasks.capacity() {
            tasks.retain(|task| !task.is_finished()); // amortised: forget finished tasks
        }
        tasks.push(runnable.task());
        runnable.schedule();
        join
    }

    /// Runs `future` to completion, running tasks, timers and I/O meanwhile.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _entered = self.driver.enter(); // step 1: the reactor and timers are current
        let main = BlockOnWaker::new(self.driver.unparker());
        let waker = main.waker();
        let (mut cx, mut future) = (Context::from_waker(&waker), pin!(future));
        loop {
            // Step 2: budget the polls (`run` does it for tasks; the main future is ours).
            if main.take_woken() {
                let poll = coop::with_budget(Budget::initial(), || future.as_mut().poll(&mut cx));
                if let Poll::Ready(output) = poll {
                    return output;
                }
            }
            let ready = self.ready.try_iter().take(ROUND);
            let ran = ready.map(Runnable::run).count();
            // Step 3: fire timers; poll I/O if busy, else sleep until the next deadline.
            let wait = (ran > 0 || main.is_woken()).then_some(Duration::ZERO);
            self.driver.park(wait).expect("epoll failed");
        }
    }
}

impl Drop for Fifo {
    /// Step 5, the shutdown order: shut tasks down, drop queued runnables, repeat.
    fn drop(&mut self) {
        let _entered = self.driver.enter();
        let mut in_flight: Vec<TaskRef> = Vec::new();
        while !(in_flight.is_empty() && self.tasks.borrow().is_empty()) {
            let idle = self.tasks.take();
            idle.iter().for_each(TaskRef::shutdown);
            in_flight.extend(idle);
            self.ready.try_iter().for_each(drop);
            in_flight.retain(|task| !task.is_finished());
        } // the driver (its fds) goes after this, with the fields
    }
}

/// Echoes "hello" through a server task, with a sleep and a timeout, and checks the reply and
/// the shutdown. Exits non-zero (an `Err` from `main`, or a failed assertion) when a check
/// fails; `cargo test` runs it (`harness = false` in Cargo.toml: the test is `main`).
fn main() -> Result<(), Box<dyn Error>> {
    let rt = Fifo::new()?;
    let listener = rt.block_on(async { TcpListener::bind("127.0.0.1:0") })?;
    let addr = listener.local_addr()?;
    let server = rt.spawn(async move {
        let (mut stream, _) = listener.accept().await?;
        let mut buf = [0; 5];
        stream.read_exact(&mut buf).await?;
        time::sleep(Duration::from_millis(5)).await;
        stream.write_all(&buf).await
    });
    let reply = rt.block_on(async move {
        let mut client = TcpStream::connect(addr).await?;
        client.write_all(b"hello").await?;
        let mut buf = [0; 5];
        time::timeout(Duration::from_secs(10), client.read_exact(&mut buf)).await??;
        server.await??;
        Ok::<_, Box<dyn Error>>(buf)
    })?;
    assert_eq!(&reply, b"hello", "the echo came back changed");
    let forever = rt.spawn(std::future::pending::<()>());
    drop(rt);
    assert!(forever.is_finished(), "dropping the runtime cancels tasks");
    Ok(())
}
