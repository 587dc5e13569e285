//! A two-level priority runtime on `switchyard-runtime`'s kit: every task is spawned `High`
//! or `Low`; a round runs every ready high-priority task before it takes one low-priority
//! task, so low work runs only when high work is idle, and still runs then (no starvation
//! while high tasks wait on timers or I/O). Timers and I/O come from the [`Driver`], as in
//! `fifo.rs`. Run: `cargo run -p switchyard-runtime --example priority`; it checks the order.

use std::cell::RefCell;
use std::error::Error;
use std::future::Future;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use switchyard_runtime::driver::Driver;
use switchyard_runtime::task::{self, JoinHandle, Runnable, ScheduleInfo, TaskId};
use switchyard_runtime::{coop, time};

/// A task's level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// Runs whenever ready.
    High,
    /// Runs one task at a time, when no high task is ready.
    Low,
}

/// Two FIFO queues and a driver.
pub struct TwoLevel {
    high: (mpsc::Sender<Runnable>, mpsc::Receiver<Runnable>),
    low: (mpsc::Sender<Runnable>, mpsc::Receiver<Runnable>),
    driver: Driver,
}

impl TwoLevel {
    /// A runtime with its own reactor and timers.
    pub fn new() -> std::io::Result<TwoLevel> {
        Ok(TwoLevel {
            high: mpsc::channel(),
            low: mpsc::channel(),
            driver: Driver::new()?,
        })
    }

    /// Spawns `future` at `priority`; a wake puts it back in the same queue.
    pub fn spawn<F: Future + 'static>(
        &self,
        priority: Priority,
        future: F,
    ) -> JoinHandle<F::Output> {
        let queue = match priority {
            Priority::High => self.high.0.clone(),
            Priority::Low => self.low.0.clone(),
        };
        let unparker = self.driver.unparker();
        let schedule = move |runnable, _: ScheduleInfo| {
            let _ = queue.send(runnable);
            unparker.unpark();
        };
        let (runnable, join) = task::spawn_local(future, schedule, TaskId::default());
        runnable.schedule();
        join
    }

    /// Runs until `done` finishes: all ready high tasks, then one low task, then timers and
    /// I/O (without waiting if anything ran).
    pub fn run_until<T>(&self, done: &JoinHandle<T>) -> Result<(), Box<dyn Error>> {
        let _entered = self.driver.enter();
        while !done.is_finished() {
            let mut ran = self.high.1.try_iter().map(Runnable::run).count();
            if ran == 0 {
                ran += self.low.1.try_recv().map(Runnable::run).into_iter().count();
            }
            self.driver.park((ran > 0).then_some(Duration::ZERO))?;
        }
        Ok(())
    }
}

/// Three high tasks that yield twice and sleep once, three low tasks that yield; checks that
/// no low task step runs while a high task is ready, and that the low tasks still finish.
fn run() -> Result<(), Box<dyn Error>> {
    let rt = TwoLevel::new()?;
    let log: Rc<RefCell<Vec<(Priority, usize)>>> = Rc::default();
    let mut joins = Vec::new();
    for i in 0..3 {
        let log = log.clone();
        joins.push(rt.spawn(Priority::Low, async move {
            for _ in 0..3 {
                log.borrow_mut().push((Priority::Low, i));
                coop::yield_now().await;
            }
        }));
    }
    for i in 0..3 {
        let log = log.clone();
        joins.push(rt.spawn(Priority::High, async move {
            for step in 0..3 {
                log.borrow_mut().push((Priority::High, i));
                if step == 1 {
                    time::sleep(Duration::from_millis(2)).await; // high idle: low may run
                } else {
                    coop::yield_now().await;
                }
            }
        }));
    }
    let last = rt.spawn(Priority::Low, async move {
        for join in joins {
            join.await?;
        }
        Ok::<_, task::JoinError>(())
    });
    rt.run_until(&last)?;
    let log = log.borrow();
    // The high tasks' first two steps (6 entries) come before any low step.
    let first_low = log
        .iter()
        .position(|(p, _)| *p == Priority::Low)
        .ok_or("no low step ran")?;
    if first_low < 6 {
        return Err(format!("a low task ran while high tasks were ready: {log:?}").into());
    }
    let lows = log.iter().filter(|(p, _)| *p == Priority::Low).count();
    let highs = log.len() - lows;
    if (lows, highs) != (9, 9) {
        return Err(format!("expected 9 steps of each level, got {lows} low, {highs} high").into());
    }
    Ok(())
}

#[cfg_attr(test, allow(dead_code))]
fn main() {
    if let Err(error) = run() {
        eprintln!("priority: FAILED: {error}");
        std::process::exit(1);
    }
    println!("priority: ok (high work first, low work when high is idle)");
}

#[test]
fn high_tasks_run_first_and_low_tasks_still_finish() {
    run().unwrap();
}
