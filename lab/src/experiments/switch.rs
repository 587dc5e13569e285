//! Experiment `switch`: the cost of a context switch.
//!
//! * `yield`: one unit yields 1,000,000 times; ns per yield.
//! * `pingpong_same_core`, `pingpong_cross_core`: two units pass a token back and forth
//!   over two capacity-1 channels (tasks) or two pipes (threads, processes); ns per round
//!   trip. 200,000 round trips for tasks; 50,000 same-core and 5,000 cross-core for
//!   threads and processes. Single-threaded executors have no cross-core variant.
//!
//! For threads (and later processes) the ping-pong is checked against
//! `perf bench sched pipe` with the same placement, when perf is installed.

use super::{Ctx, Experiment, Size};
use crate::checks;
use crate::models::{Kind, Model, Placement};

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
        "yield, pingpong_same_core, pingpong_cross_core (metric ns_per_op)"
    }

    fn steps(&self, _model: &dyn Model, _ctx: &Ctx) -> u64 {
        3
    }

    fn run(&self, model: &dyn Model, ctx: &mut Ctx) {
        let name = model.name();
        let n = ctx.sizing.pick(YIELDS);
        ctx.batches((NAME, name, "yield"), n, None, || model.yield_many(n));
        ctx.step(name, "yield");

        for (variant, placement) in [
            ("pingpong_same_core", Placement::SameCore),
            ("pingpong_cross_core", Placement::CrossCore),
        ] {
            let n = ctx.sizing.pick(round_trips(model.kind(), placement));
            let note = model.channel_note().map(str::to_owned);
            let measured = ctx.batches((NAME, name, variant), n, note, || {
                model.pingpong(n, placement)
            });
            // Checked only where the lab has a figure to set beside the tool's.
            if model.kind() != Kind::Task && measured.is_some() {
                let row = format!("{NAME} / {name} / {variant} / ns_per_op");
                let threads = model.kind() == Kind::Thread;
                ctx.checks.push(checks::perf_sched_pipe(
                    row, measured, n, placement, threads,
                ));
            }
            ctx.step(name, variant);
        }
    }
}
