//! A deterministic simulation scheduler on `switchyard-runtime`'s kit: the run queue is a
//! bag, and each step a seeded random number picks which ready task runs next; time is a
//! virtual clock ([`Driver::with_virtual_clock`]) that jumps to the next timer when nothing is
//! ready. The same seed gives the same interleaving and the same virtual times, so a race
//! found under one seed is replayed exactly from that seed.
//!
//! The program under test: two tasks increment a shared counter with a read, an await, and a
//! write (a lost update when they interleave). `cargo run -p switchyard-runtime --example
//! simulation` searches seeds until one loses an update, then replays that seed and checks
//! that the same trace and the same wrong result come back.

use std::cell::Cell;
use std::error::Error;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchyard_runtime::driver::Driver;
use switchyard_runtime::task::{self, Runnable, ScheduleInfo, TaskId};
use switchyard_runtime::{coop, time};

/// Seeds tried before giving up; a lost update needs one unlucky pick out of a few.
const MAX_SEEDS: u64 = 1_000;
/// Increments per task.
const INCREMENTS: u64 = 3;

/// xorshift64* (Vigna 2016): small, fast, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // Never zero (xorshift's fixed point); splitmix-style scrambling of small seeds.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

/// What one run produced: the order in which tasks were polled, the counter, the virtual
/// time at the end.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    trace: Vec<usize>,
    counter: u64,
    elapsed: Duration,
}

/// Runs the program under test with the schedule decided by `seed`.
fn simulate(seed: u64) -> Result<Outcome, Box<dyn Error>> {
    let driver = Driver::with_virtual_clock(Instant::now())?;
    let _entered = driver.enter();
    let start = driver.now();
    // The bag of ready tasks, tagged with a stable task number for the trace.
    let ready: Arc<Mutex<Vec<(usize, Runnable)>>> = Arc::default();
    let counter = Rc::new(Cell::new(0u64));
    let mut joins = Vec::new();
    for number in 0..2 {
        let (bag, counter) = (ready.clone(), counter.clone());
        let schedule =
            move |runnable, _: ScheduleInfo| bag.lock().unwrap().push((number, runnable));
        let body = async move {
            for _ in 0..INCREMENTS {
                time::sleep(Duration::from_millis(1 + number as u64)).await; // virtual
                let read = counter.get();
                coop::yield_now().await;
                counter.set(read + 1); // the lost update: `read` may be stale by now
            }
        };
        let (runnable, join) = task::spawn_local(body, schedule, TaskId::default());
        runnable.schedule();
        joins.push(join);
    }
    let mut rng = Rng::new(seed);
    let mut trace = Vec::new();
    while !joins.iter().all(|join| join.is_finished()) {
        let picked = {
            let mut bag = ready.lock().unwrap();
            (!bag.is_empty()).then(|| {
                let index = rng.below(bag.len());
                bag.swap_remove(index)
            })
        };
        match picked {
            Some((number, runnable)) => {
                trace.push(number);
                runnable.run();
            }
            // Nothing ready: the virtual clock jumps to the next timer.
            None => {
                driver.park(None)?;
            }
        }
    }
    Ok(Outcome {
        trace,
        counter: counter.get(),
        elapsed: driver.now() - start,
    })
}

/// Finds a seed that loses an update, then replays it.
fn run() -> Result<u64, Box<dyn Error>> {
    let expected = 2 * INCREMENTS;
    let mut found = None;
    for seed in 0..MAX_SEEDS {
        let outcome = simulate(seed)?;
        if outcome.counter != expected {
            found = Some((seed, outcome));
            break;
        }
    }
    let (seed, outcome) = found.ok_or("no seed lost an update: the race was not found")?;
    let replay = simulate(seed)?;
    if replay != outcome {
        return Err(format!("seed {seed} did not replay: {outcome:?} then {replay:?}").into());
    }
    println!(
        "simulation: seed {seed} loses an update ({} of {expected}) after {:?} of virtual time; \
         replayed identically ({} polls)",
        outcome.counter,
        outcome.elapsed,
        outcome.trace.len()
    );
    Ok(seed)
}

#[cfg_attr(test, allow(dead_code))]
fn main() {
    if let Err(error) = run() {
        eprintln!("simulation: FAILED: {error}");
        std::process::exit(1);
    }
}

#[test]
fn a_seed_finds_the_lost_update_and_replays_it() {
    let seed = run().unwrap();
    assert_eq!(run().unwrap(), seed, "the search itself is deterministic");
}
