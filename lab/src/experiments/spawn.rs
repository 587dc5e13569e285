//! Experiment `spawn`: the cost of creating a unit of work and joining it.
//!
//! `spawn_join`: from inside a running unit, create 100,000 empty units (threads: 2,000;
//! processes: 200), then join them all; ns per unit.
//! * `fork`, `forkserver` (process model only): the same with the launcher's other start
//!   methods (`fork` is skipped with the launcher's reason when the lab runs threads);
//!   `command_true`: `Command::new("/bin/true")` spawn and wait, the baseline.

use super::{Count, Ctx, Experiment, Size};
use crate::models::{Kind, Model};

/// See the [module docs](self).
pub struct Spawn;

const NAME: &str = "spawn";

fn units(kind: Kind) -> Size {
    match kind {
        Kind::Task => Size {
            full: 100_000,
            quick: 10_000,
            tiny: 100,
        },
        Kind::Thread => Size {
            full: 2_000,
            quick: 200,
            tiny: 20,
        },
        Kind::Process => Size {
            full: 200,
            quick: 20,
            tiny: 4,
        },
    }
}

impl Experiment for Spawn {
    fn name(&self) -> &'static str {
        NAME
    }

    fn describe(&self) -> &'static str {
        "creation cost: spawn empty units from inside a running unit, then join them all"
    }

    fn variants(&self) -> &'static str {
        "spawn_join; process also fork, forkserver, command_true (metric ns_per_op)"
    }

    fn steps(&self, model: &dyn Model, _ctx: &Ctx) -> u64 {
        1 + model.spawn_variants().len() as u64
    }

    fn run(&self, model: &dyn Model, ctx: &mut Ctx) {
        let n = ctx.sizing.pick(units(model.kind()));
        ctx.batches(
            (NAME, model.name(), "spawn_join"),
            Count::fixed(n),
            None,
            |n| model.spawn_join(n),
        );
        ctx.step(model.name(), "spawn_join");
        for &variant in model.spawn_variants() {
            ctx.batches((NAME, model.name(), variant), Count::fixed(n), None, |n| {
                model.spawn_join_variant(variant, n)
            });
            ctx.step(model.name(), variant);
        }
    }
}
