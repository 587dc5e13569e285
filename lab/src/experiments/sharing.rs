//! Experiment `sharing`: shared state against message passing, the seeds' central question.
//!
//! `units` = 1, 2, 4 and 16 units together make 1,000,000 increments of one counter
//! (processes: 200,000, each `message` increment being a system call; `--quick`: a
//! twentieth),
//! each unit its share ([`crate::models::share_of`]), by one of three ways
//! ([`crate::models::Share`]):
//! * `lock`: each increment under the model's mutex;
//! * `atomic`: each increment one `fetch_add` on a shared atomic (shared memory for processes);
//! * `message`: each increment one message over the model's channel to one owner unit, which
//!   alone holds the counter (the owner is one more unit beside the `units` senders).
//!
//! Variants `lock,units=N`, `atomic,units=N`, `message,units=N`; metric `ns_per_op`, the
//! time from the start signal until the counter reads the total, per increment. A counter that
//! does not read the total is a skip naming the figure, never a row. Each row's note says
//! what the model used (its mutex and channel) and the count.

use super::{Count, Ctx, Experiment, Size};
use crate::models::{Kind, Model, Share};

/// See the [module docs](self).
pub struct Sharing;

const NAME: &str = "sharing";

/// The unit counts, in row order.
pub const UNITS: [u64; 4] = [1, 2, 4, 16];

/// The increments of one batch.
fn increments(kind: Kind) -> Size {
    match kind {
        Kind::Task | Kind::Thread => Size {
            full: 1_000_000,
            quick: 50_000,
            tiny: 1_000,
        },
        Kind::Process => Size {
            full: 200_000,
            quick: 10_000,
            tiny: 200,
        },
    }
}

impl Experiment for Sharing {
    fn name(&self) -> &'static str {
        NAME
    }

    fn describe(&self) -> &'static str {
        "shared state against message passing: units make 1,000,000 increments of one counter by lock, atomic or message"
    }

    fn variants(&self) -> &'static str {
        "lock,units=N; atomic,units=N; message,units=N for N = 1, 2, 4, 16 (metric ns_per_op)"
    }

    fn steps(&self, _model: &dyn Model, _ctx: &Ctx) -> u64 {
        (Share::ALL.len() * UNITS.len()) as u64
    }

    fn run(&self, model: &dyn Model, ctx: &mut Ctx) {
        let total = ctx.sizing.pick(increments(model.kind()));
        for way in Share::ALL {
            for units in UNITS {
                let variant = format!("{},units={units}", way.name());
                let scaled = match ctx.sizing.pick(Size {
                    full: 0,
                    quick: 1,
                    tiny: 2,
                }) {
                    0 => "",
                    1 => " (quick: a twentieth of the full count)",
                    _ => " (tiny: test counts)",
                };
                let note = format!(
                    "{} increments by {units} unit(s){scaled}; {}",
                    total,
                    model.sharing_note(way).unwrap_or("the model's own")
                );
                ctx.batches(
                    (NAME, model.name(), &variant),
                    Count::fixed(total),
                    Some(note),
                    |total| model.sharing(way, units, total),
                );
                ctx.step(model.name(), &variant);
            }
        }
    }
}
