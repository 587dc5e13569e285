//! Experiment `switch`: the cost of a context switch.
//!
//! * `yield`: one unit yields 1,000,000 times; ns per yield.
//! * `pingpong_same_core`, `pingpong_cross_core`: two units pass a token back and forth
//!   over two capacity-1 channels (tasks) or two pipes (threads, processes); ns per round
//!   trip. 200,000 round trips for tasks; 50,000 same-core and 5,000 cross-core for
//!   threads and processes. Single-threaded executors have no cross-core variant.
//!
//! Placement (docs/lab.md, "Placement"): the two units are asked onto CPUs taken from the
//! process's affinity mask at start ([`Placement::cpus`]), the first for unit 0 (and for the
//! calling thread, where single-threaded executors run both units), the second for unit 1
//! cross-core. Each unit records `sched_getcpu` when it starts its loop and when it leaves
//! ([`Seen`]); the row's note says where they ran, and a row whose units did not run where
//! asked is not recorded as that variant: a skip says what was measured and where it ran.
//!
//! The thread and process ping-pongs (two pipes, one byte) are checked against
//! `perf bench sched pipe` in the same placement ([`checks::perf_sched_pipe`]); the process
//! model's framed channel keeps rows of its own (`channel_pingpong_*`) and no check.

use std::sync::Arc;

use super::{Ctx, Experiment, Size};
use crate::checks;
use crate::machine;
use crate::models::{Kind, Model, Placement, Seen, Skip};
use crate::results::Check;

/// See the [module docs](self).
pub struct Switch;

const NAME: &str = "switch";

const YIELDS: Size = Size {
    full: 1_000_000,
    quick: 100_000,
    tiny: 1_000,
};

fn round_trips(kind: Kind, placement: Placement) -> Size {
    match (kind, placement) {
        (Kind::Task, _) => Size {
            full: 200_000,
            quick: 20_000,
            tiny: 200,
        },
        (_, Placement::SameCore) => Size {
            full: 50_000,
            quick: 5_000,
            tiny: 50,
        },
        (_, Placement::CrossCore) => Size {
            full: 5_000,
            quick: 1_000,
            tiny: 20,
        },
    }
}

impl Experiment for Switch {
    fn name(&self) -> &'static str {
        NAME
    }

    fn describe(&self) -> &'static str {
        "context-switch cost: one unit yielding, two units ping-ponging a token (same core, cross core)"
    }

    fn variants(&self) -> &'static str {
        "yield, pingpong_same_core, pingpong_cross_core; process also channel_pingpong_same_core, channel_pingpong_cross_core (metric ns_per_op)"
    }

    fn steps(&self, model: &dyn Model, _ctx: &Ctx) -> u64 {
        3 + 2 * model.pingpong_mechanisms().len() as u64
    }

    fn run(&self, model: &dyn Model, ctx: &mut Ctx) {
        let name = model.name();
        let n = ctx.sizing.pick(YIELDS);
        ctx.batches((NAME, name, "yield"), n, None, || model.yield_many(n));
        ctx.step(name, "yield");

        let own = std::iter::once((None, model.channel_note()));
        let others = model
            .pingpong_mechanisms()
            .iter()
            .map(|&(mechanism, note)| (Some(mechanism), Some(note)));
        for (mechanism, note) in own.chain(others) {
            for (suffix, placement) in [
                ("pingpong_same_core", Placement::SameCore),
                ("pingpong_cross_core", Placement::CrossCore),
            ] {
                let variant = match mechanism {
                    None => suffix.to_owned(),
                    Some(m) => format!("{m}_{suffix}"),
                };
                pingpong_row(model, ctx, mechanism, &variant, placement, note);
                ctx.step(name, &variant);
            }
        }
    }
}

/// Measures one ping-pong row, checks where its units ran, and (own mechanism, threads and
/// processes) checks it against `perf bench sched pipe` in the same placement.
fn pingpong_row(
    model: &dyn Model,
    ctx: &mut Ctx,
    mechanism: Option<&str>,
    variant: &str,
    placement: Placement,
    note: Option<&str>,
) {
    let name = model.name();
    let Some(cpus) = placement.cpus() else {
        let why = "this process may use one CPU: no cross-core placement";
        ctx.skip(NAME, name, Some(variant), Skip::not_applicable(why).0);
        return;
    };
    let n = ctx.sizing.pick(round_trips(model.kind(), placement));
    let mut seen_per_sample = Vec::new();
    // Units that run on the calling thread (single-threaded executors) run on the first CPU.
    let pinned = machine::Pinned::to(cpus[0]);
    let measured = ctx.batches((NAME, name, variant), n, None, || {
        let seen = Arc::new(Seen::default());
        let elapsed = match mechanism {
            None => model.pingpong(n, placement, &seen),
            Some(m) => model.pingpong_over(m, n, placement, &seen),
        };
        seen_per_sample.push(seen.ran());
        elapsed
    });
    drop(pinned);
    let Some(measured) = measured else {
        return;
    };
    match where_they_ran(cpus, &seen_per_sample) {
        Ok(placed) => {
            let row = ctx.rows.last_mut().expect("batches pushed the row");
            row.note = Some(match note {
                Some(note) => format!("{note}; {placed}"),
                None => placed,
            });
        }
        Err(misplaced) => {
            // Not presented as this variant: the row goes, and the skip says what it was.
            ctx.rows.pop();
            ctx.skip(
                NAME,
                name,
                Some(variant),
                format!(
                    "units did not run where asked ({misplaced}); the {} measured is not reported as {variant}",
                    crate::table::human(measured, "ns")
                ),
            );
            return;
        }
    }
    if model.kind() != Kind::Task && mechanism.is_none() {
        let row = Check::row_id(NAME, name, variant, "ns_per_op");
        let threads = model.kind() == Kind::Thread;
        ctx.checks.push(checks::perf_sched_pipe(
            row,
            Some(measured),
            n,
            // perf's median over up to 3 runs: each cross-core run is seconds on a busy VM.
            ctx.sizing.samples().min(3),
            cpus,
            threads,
        ));
    }
}

/// Whether both units of every sample ran on the CPUs asked (`cpus[0]` for unit 0, `cpus[1]`
/// for unit 1, at both marks): `Ok` with the note's words, or `Err` with what happened.
pub fn where_they_ran(
    cpus: [usize; 2],
    samples: &[[Option<(usize, usize)>; 2]],
) -> Result<String, String> {
    for (i, seen) in samples.iter().enumerate() {
        for (unit, ran) in seen.iter().enumerate() {
            match *ran {
                Some((first, last)) if first == cpus[unit] && last == cpus[unit] => {}
                Some((first, last)) => {
                    return Err(format!(
                        "asked CPUs {} and {}; in sample {}, unit {unit} ran on CPU {first} then {last}",
                        cpus[0],
                        cpus[1],
                        i + 1
                    ));
                }
                None => {
                    return Err(format!(
                        "unit {unit} did not report its CPU in sample {}",
                        i + 1
                    ));
                }
            }
        }
    }
    Ok(if cpus[0] == cpus[1] {
        format!("both units ran on CPU {}", cpus[0])
    } else {
        format!("units ran on CPUs {} and {}", cpus[0], cpus[1])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_on_the_cpus_asked_are_named_in_the_note() {
        let both = [Some((0, 0)), Some((1, 1))];
        assert_eq!(
            where_they_ran([0, 1], &[both, both]),
            Ok("units ran on CPUs 0 and 1".to_owned())
        );
        let same = [Some((3, 3)), Some((3, 3))];
        assert_eq!(
            where_they_ran([3, 3], &[same]),
            Ok("both units ran on CPU 3".to_owned())
        );
    }

    #[test]
    fn a_unit_that_stayed_on_the_first_cpu_is_not_cross_core() {
        // The fault the lab had: the second unit asked for CPU 1 never left CPU 0.
        let stuck = [Some((0, 0)), Some((0, 0))];
        let err = where_they_ran([0, 1], &[stuck]).unwrap_err();
        assert!(err.contains("unit 1 ran on CPU 0 then 0"), "{err}");
        let migrated = [Some((0, 0)), Some((1, 0))];
        assert!(where_they_ran([0, 1], &[migrated]).is_err());
        assert!(where_they_ran([0, 1], &[[Some((0, 0)), None]]).is_err());
    }

    #[test]
    fn a_thread_unit_asked_for_the_second_cpu_reports_it() {
        let Some(cpus) = Placement::CrossCore.cpus() else {
            // One CPU: nothing to place across (the row is skipped with that reason).
            return;
        };
        let seen = Arc::new(Seen::default());
        crate::models::find("thread")
            .and_then(|e| e.model.ok())
            .expect("the thread model is built")
            .pingpong(20, Placement::CrossCore, &seen)
            .expect("ping-pong ran");
        assert_eq!(
            seen.ran(),
            [Some((cpus[0], cpus[0])), Some((cpus[1], cpus[1]))]
        );
    }
}
