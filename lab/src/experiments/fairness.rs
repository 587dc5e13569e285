//! Experiment `fairness`: do many units that all want the CPU get an equal share of it?
//!
//! 1,000 units each loop on cheap work for 1 s of wall time (quick: 0.2 s): one turn is a
//! counter increment and one `Instant::now()`
//! ([`Tally::turn`](crate::workloads::fairness::Tally::turn); the workload is
//! [`crate::workloads::fairness`]), then the model's yield. The units wait for a common start
//! signal ([`Race`](crate::workloads::fairness::Race)) so that creating them is not counted,
//! and stop at a common stop signal. Rows, both variant `jain`:
//!
//! * metric `jain_index`: Jain's fairness index over the per-unit iteration counts,
//!   `(Σx)² / (n Σx²)` ([`jain_index`]): 1.0 when every unit ran equally often, `1/n` when one
//!   unit had every turn. Higher is better.
//! * metric `max_starvation` (ns): the longest time any unit went without running, the largest
//!   gap between two consecutive turns of one unit (the first gap starts at the start signal,
//!   the last ends at the turn that sees the stop signal).
//!
//! One run per model (the run is long enough to hold many rounds of every unit); the note
//! gives the total turns and the least and most any unit had. Threads are capped by the
//! machine's thread limit, with a note.

use std::time::Duration;

use super::{Ctx, Experiment, Size};
use crate::machine;
use crate::models::{Kind, Model};
use crate::results::Row;

/// See the [module docs](self).
pub struct Fairness;

const NAME: &str = "fairness";

/// docs/lab.md: 1,000 units.
const UNITS: Size = Size {
    full: 1_000,
    quick: 1_000,
    tiny: 20,
};

/// Wall time of the run, in ms. docs/lab.md: 1 s (quick 0.2 s).
const RUN_MS: Size = Size {
    full: 1_000,
    quick: 200,
    tiny: 30,
};

/// Jain's fairness index of `counts`: `(Σx)² / (n Σx²)`, in `1/n ..= 1`; `None` when there
/// are no counts or all are zero.
pub fn jain_index(counts: &[u64]) -> Option<f64> {
    let n = counts.len() as f64;
    let sum: f64 = counts.iter().map(|&x| x as f64).sum();
    let squares: f64 = counts.iter().map(|&x| (x as f64) * (x as f64)).sum();
    (squares > 0.0).then(|| sum * sum / (n * squares))
}

fn row(model: &str, metric: &str, unit: &str, n: u64, value: f64, note: String) -> Row {
    Row::single(NAME, model, "jain", metric, unit, n, value, Some(note))
}

impl Experiment for Fairness {
    fn name(&self) -> &'static str {
        NAME
    }

    fn describe(&self) -> &'static str {
        "1,000 units looping on a counter and a yield for 1 s: Jain's index of their turns, longest starvation"
    }

    fn variants(&self) -> &'static str {
        "jain (metrics jain_index, max_starvation)"
    }

    fn steps(&self, _model: &dyn Model, _ctx: &Ctx) -> u64 {
        1
    }

    fn run(&self, model: &dyn Model, ctx: &mut Ctx) {
        let name = model.name();
        let mut units = ctx.sizing.pick(UNITS);
        let mut cap = String::new();
        if model.kind() != Kind::Task {
            let (limit, why) = machine::thread_limit();
            if units > limit {
                units = limit;
                cap = format!("; capped at {limit} units: {why}");
            }
        }
        let most = crate::models::process::FAIR_PROCESSES;
        if model.kind() == Kind::Process && units > most {
            units = most;
            cap = format!("; capped at {most} units, each a process start");
        }
        let run_for = Duration::from_millis(ctx.sizing.pick(RUN_MS));
        match model.fairness_turns(units, run_for) {
            Ok(turns) => {
                let counts: Vec<u64> = turns.iter().map(|t| t.iterations).collect();
                let total: u64 = counts.iter().sum();
                let least = counts.iter().min().copied().unwrap_or(0);
                let most = counts.iter().max().copied().unwrap_or(0);
                let starvation = turns.iter().map(|t| t.max_gap_ns).max().unwrap_or(0);
                let placed = if model.multi_threaded() {
                    "; the model's workers on CPUs of their own"
                } else if ctx.pin {
                    "; pinned to CPU 0"
                } else {
                    ""
                };
                let note = format!(
                    "{units} units for {} ms; {total} turns in all, {least} to {most} per unit{placed}{cap}",
                    run_for.as_millis()
                );
                match jain_index(&counts) {
                    Some(jain) => {
                        ctx.rows
                            .push(row(name, "jain_index", "index", units, jain, note.clone()));
                    }
                    None => ctx.skip(
                        NAME,
                        name,
                        Some("jain"),
                        "no unit completed a turn: nothing to index".to_owned(),
                    ),
                }
                ctx.rows.push(row(
                    name,
                    "max_starvation",
                    "ns",
                    units,
                    starvation as f64,
                    note,
                ));
            }
            Err(skip) => ctx.skip(NAME, name, Some("jain"), skip.0),
        }
        ctx.step(name, "jain");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_counts_are_perfectly_fair() {
        let index = jain_index(&[7; 1_000]).unwrap();
        assert!((index - 1.0).abs() < 1e-12, "{index}");
    }

    #[test]
    fn one_unit_hogging_every_turn_scores_one_over_n() {
        let mut counts = vec![0u64; 1_000];
        counts[17] = 123_456;
        let index = jain_index(&counts).unwrap();
        assert!((index - 1.0 / 1_000.0).abs() < 1e-12, "{index}");
    }

    #[test]
    fn half_the_units_starved_scores_one_half() {
        let counts: Vec<u64> = (0..100).map(|i| if i % 2 == 0 { 50 } else { 0 }).collect();
        let index = jain_index(&counts).unwrap();
        assert!((index - 0.5).abs() < 1e-12, "{index}");
    }

    #[test]
    fn no_turns_have_no_index() {
        assert_eq!(jain_index(&[]), None);
        assert_eq!(jain_index(&[0, 0, 0]), None);
    }
}
