//! The `fairness` workload (docs/lab.md, "Experiments"; the rows are made by
//! [`crate::experiments::fairness`]): units that all want the CPU take turns (a counter and
//! an `Instant::now()`, [`Tally::turn`]) between a common start and stop signal ([`Race`]).
//!
//! [`unit()`] and [`referee`] are the units for any task model and [`turns`] runs them over the
//! adapter trait [`Runtime`]; the thread and process models build their own units on
//! [`Race`] and [`Tally`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::adapter::Runtime;
use crate::models::{Outcome, Turns};
use crate::workloads::failed;

/// The start and stop signals every unit of one run watches.
#[derive(Debug, Default)]
pub struct Race {
    go: OnceLock<Instant>,
    stop: AtomicBool,
}

impl Race {
    /// A race not started yet.
    pub fn new() -> Race {
        Race::default()
    }

    /// Gives the start signal (the first call wins) and returns its instant.
    pub fn start(&self) -> Instant {
        *self.go.get_or_init(Instant::now)
    }

    /// The start signal's instant, once given.
    pub fn started(&self) -> Option<Instant> {
        self.go.get().copied()
    }

    /// Gives the stop signal.
    pub fn stop(&self) {
        // Relaxed: the flag carries no data; each unit's tally travels back through its
        // join, which synchronises on its own.
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether the stop signal was given.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// One unit's count of turns and its longest gap, kept by the unit itself.
#[derive(Debug, Clone, Copy)]
pub struct Tally {
    last: Instant,
    turns: Turns,
}

impl Tally {
    /// A tally whose first gap starts at `go`.
    pub fn new(go: Instant) -> Tally {
        Tally {
            last: go,
            turns: Turns::default(),
        }
    }

    /// One turn: measures the gap since the previous one; `false` once the race stopped
    /// (that turn's gap counts, its iteration does not).
    #[inline]
    pub fn turn(&mut self, race: &Race) -> bool {
        let now = Instant::now();
        let gap = now.saturating_duration_since(self.last).as_nanos() as u64;
        self.turns.max_gap_ns = self.turns.max_gap_ns.max(gap);
        self.last = now;
        if race.stopped() {
            return false;
        }
        self.turns.iterations += 1;
        true
    }

    /// What the unit had.
    pub fn finish(self) -> Turns {
        self.turns
    }
}

/// One unit of the workload, for every task model: waits (yielding) for the start signal,
/// then takes turns, yielding with the model's `yield_now` after each, until the stop.
pub async fn unit<F: Future<Output = ()>>(race: Arc<Race>, yield_now: impl Fn() -> F) -> Turns {
    let go = loop {
        match race.started() {
            Some(go) => break go,
            None => yield_now().await,
        }
    };
    let mut tally = Tally::new(go);
    while tally.turn(&race) {
        yield_now().await;
    }
    tally.finish()
}

/// The referee, for every task model: a task like the units (spawned after them) that gives
/// the start signal, yields until `run_for` has passed, and gives the stop signal. Being a
/// task, it needs no timer, which not every executor has.
pub async fn referee<F: Future<Output = ()>>(
    race: Arc<Race>,
    run_for: Duration,
    yield_now: impl Fn() -> F,
) {
    let go = race.start();
    while go.elapsed() < run_for {
        yield_now().await;
    }
    race.stop();
}

/// The whole workload over [`Runtime`]: `units` units and the referee, each yielding with the
/// runtime's yield, for `run_for`; one [`Turns`] per unit.
pub async fn turns<R: Runtime>(
    spawner: R::Spawner,
    units: u64,
    run_for: Duration,
) -> Outcome<Vec<Turns>> {
    let race = Arc::new(Race::new());
    let mut handles = Vec::with_capacity(units as usize);
    for _ in 0..units {
        handles.push(R::spawn(&spawner, unit(Arc::clone(&race), R::yield_now))?);
    }
    let referee = R::spawn(&spawner, referee(race, run_for, R::yield_now))?;
    let mut turns = Vec::with_capacity(handles.len());
    for handle in handles {
        turns.push(R::join(handle).await.ok_or_else(failed)?);
    }
    R::join(referee).await.ok_or_else(failed)?;
    Ok(turns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_counts_turns_until_the_stop_and_keeps_the_longest_gap() {
        let race = Race::new();
        let go = race.start();
        let mut tally = Tally::new(go);
        assert!(tally.turn(&race));
        assert!(tally.turn(&race));
        race.stop();
        assert!(!tally.turn(&race));
        let turns = tally.finish();
        assert_eq!(turns.iterations, 2);
        assert!(turns.max_gap_ns <= go.elapsed().as_nanos() as u64);
        assert_eq!(race.started(), Some(go));
    }
}
