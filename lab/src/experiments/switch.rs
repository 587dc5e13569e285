//! Experiment `switch`: the cost of a context switch.
//!
//! * `yield`: one unit yields 1,000,000 times; ns per yield.
//! * `pingpong_same_core`, `pingpong_cross_core`: two units pass a token back and forth
//!   over two capacity-1 channels (tasks) or two pipes (threads, processes); ns per round
//!   trip. 200,000 round trips for tasks; 50,000 same-core and 5,000 cross-core for
//!   threads and processes. Single-threaded executors have no cross-core variant.
//!
//! The run budget (docs/lab.md, "The run budget"): each count is the most one sample makes;
//! a sample stops at [`PER_SAMPLE_MS`] when a calibration run shows the count would take
//! longer, but never below the count's minimum ([`count`]). Cheap operations (a yield, a
//! same-core round trip) are never cut; a cross-core round trip through a hypervisor (tens of
//! µs) is: 200,000 of them took 16 s a sample for the pool and tokio-mt. The row's `n` is
//! the count each sample made.
//!
//! Placement (docs/lab.md, "Placement"): the two units are asked onto CPUs taken from the
//! process's affinity mask at start ([`Placement::cpus`]), the first for unit 0 (and for the
//! calling thread, where single-threaded executors run both units), the second for unit 1
//! cross-core. Each unit records `sched_getcpu` when it starts its loop and when it leaves
//! ([`Seen`]); the row's note says where they ran, and a row whose units did not run where
//! asked is not recorded as that variant: a skip says what was measured and where it ran.
//!
//! The thread and process ping-pongs (two pipes, one byte) are checked against
//! `perf bench sched pipe` in the same placement ([`checks::PerfPipe`]); the process
//! model's framed channel keeps rows of its own (`channel_pingpong_*`) and no check.

use std::sync::Arc;
use std::time::Duration;

use super::{Count, Ctx, Experiment, Size, Sizing};
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

/// The longest one sample may take (ms) before its count is cut, down to the count's
/// minimum: 5 samples of 400 ms (quick: 3 of 80 ms) per row at most, past the minimum.
pub const PER_SAMPLE_MS: Size = Size {
    full: 400,
    quick: 80,
    tiny: 20,
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

/// The fewest round trips a ping-pong sample makes whatever the time: 2,000 (quick 1,000),
/// enough that one preempted round trip moves the figure by well under the spread a VM
/// shows. (The perf check runs at least [`checks::PERF_MIN_LOOPS`] whatever the row's count:
/// the row's samples start after a warm-up, perf's cannot.)
const MIN_ROUND_TRIPS: Size = Size {
    full: 2_000,
    quick: 1_000,
    tiny: 20,
};

/// The count of one row at `sizing`: up to `most`, at least `least` (or `most`, if fewer),
/// cut at [`PER_SAMPLE_MS`].
pub fn count(sizing: Sizing, most: Size, least: Size) -> Count {
    let max = sizing.pick(most);
    let min = sizing.pick(least).min(max).max(1);
    let per_sample = Duration::from_millis(sizing.pick(PER_SAMPLE_MS));
    Count::bounded(max.max(1), min, per_sample).expect("1 <= min <= max and a time bound > 0")
}

/// The fewest yields a sample makes: a tenth of the count.
const MIN_YIELDS: Size = Size {
    full: 100_000,
    quick: 10_000,
    tiny: 100,
};

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
        let yields = count(ctx.sizing, YIELDS, MIN_YIELDS);
        ctx.batches((NAME, name, "yield"), yields, None, |n| model.yield_many(n));
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
    let count = count(
        ctx.sizing,
        round_trips(model.kind(), placement),
        MIN_ROUND_TRIPS,
    );
    // The thread and process ping-pongs over pipes are checked against perf, one perf run
    // after each sample, with the sample's count (checks::PerfPipe).
    let checked = model.kind() != Kind::Task && mechanism.is_none();
    let threads = model.kind() == Kind::Thread;
    let mut perf = None;
    let mut seen_per_sample = Vec::new();
    let mut samples = Vec::new();
    let mut calibrating = count.calibration().is_some();
    // Units that run on the calling thread (single-threaded executors) run on the first CPU.
    let pinned = machine::Pinned::to(cpus[0]);
    let measured = ctx.batches((NAME, name, variant), count, None, |n| {
        let seen = Arc::new(Seen::default());
        let elapsed = match mechanism {
            None => model.pingpong(n, placement, &seen),
            Some(m) => model.pingpong_over(m, n, placement, &seen),
        };
        if std::mem::take(&mut calibrating) {
            // The calibration run is not a sample: neither placed nor checked.
            return elapsed;
        }
        seen_per_sample.push(seen.ran());
        if let Ok(took) = &elapsed {
            samples.push(took.as_nanos() as f64 / n.max(1) as f64);
        }
        if checked && elapsed.is_ok() {
            perf.get_or_insert_with(|| checks::PerfPipe::new(n, cpus, threads))
                .run_once();
        }
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
                    crate::table::human(measured.median, "ns")
                ),
            );
            return;
        }
    }
    if let Some(perf) = perf {
        let row = Check::row_id(NAME, name, variant, "ns_per_op");
        ctx.checks
            .push(perf.judge(row, Some(measured.median), &samples));
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
    fn a_cross_core_sample_runs_at_least_what_perf_runs() {
        // Every cross-core count can run: at least one round trip, the minimum within the
        // maximum.
        for sizing in [Sizing::Full, Sizing::Quick] {
            for kind in [Kind::Task, Kind::Thread, Kind::Process] {
                let c = count(
                    sizing,
                    round_trips(kind, Placement::CrossCore),
                    MIN_ROUND_TRIPS,
                );
                assert!(1 <= c.min && c.min <= c.max, "{sizing:?} {kind:?}: {c:?}");
            }
        }
        // Yields are never cut below a tenth of the count.
        let y = count(Sizing::Full, YIELDS, MIN_YIELDS);
        assert_eq!((y.max, y.min), (1_000_000, 100_000));
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
