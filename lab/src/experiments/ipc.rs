//! Experiment `ipc`: what moving a message between two units costs, per mechanism.
//!
//! For each mechanism (`channel`: the launcher's framed channel, data on pipes; `pipe`: two raw
//! pipes; `unix`: a raw socketpair; `shm`: two SPSC rings on shared memory) and each size
//! (8 B, 4 KiB, 64 KiB, 1 MiB), a message goes to another unit and comes back, many times.
//! Two rows per variant `<mechanism>_<size>`: `ns_per_op` (one round trip) and
//! `bytes_per_sec` (both directions' bytes over the round-trip time, from the median).

use super::{Ctx, Experiment, Size};
use crate::models::Model;
use crate::results::Row;

/// See the [module docs](self).
pub struct Ipc;

const NAME: &str = "ipc";

/// The mechanisms, in docs/lab.md's order.
const MECHANISMS: [&str; 4] = ["channel", "pipe", "unix", "shm"];

/// The message sizes, with their names in variants, and round trips per batch.
const SIZES: [(usize, &str, Size); 4] = [
    (
        8,
        "8B",
        Size {
            full: 20_000,
            quick: 2_000,
            tiny: 20,
        },
    ),
    (
        4 << 10,
        "4KiB",
        Size {
            full: 10_000,
            quick: 1_000,
            tiny: 10,
        },
    ),
    (
        64 << 10,
        "64KiB",
        Size {
            full: 2_000,
            quick: 200,
            tiny: 4,
        },
    ),
    (
        1 << 20,
        "1MiB",
        Size {
            full: 200,
            quick: 20,
            tiny: 2,
        },
    ),
];

impl Experiment for Ipc {
    fn name(&self) -> &'static str {
        NAME
    }

    fn describe(&self) -> &'static str {
        "message cost: round trips of 8 B .. 1 MiB over channel, pipe, unix socket, shared memory"
    }

    fn variants(&self) -> &'static str {
        "<mechanism>_<size> for channel, pipe, unix, shm x 8B, 4KiB, 64KiB, 1MiB (metrics ns_per_op, bytes_per_sec)"
    }

    fn steps(&self, _model: &dyn Model, _ctx: &Ctx) -> u64 {
        (MECHANISMS.len() * SIZES.len()) as u64
    }

    fn run(&self, model: &dyn Model, ctx: &mut Ctx) {
        for mechanism in MECHANISMS {
            for (size, size_name, rounds) in SIZES {
                let variant = format!("{mechanism}_{size_name}");
                let n = ctx.sizing.pick(rounds);
                let median = ctx.batches((NAME, model.name(), &variant), n, None, || {
                    model.ipc_round_trips(mechanism, size, n)
                });
                if let Some(ns) = median {
                    let bytes_per_sec = 2.0 * size as f64 / (ns * 1e-9);
                    ctx.rows.push(Row {
                        experiment: NAME.to_owned(),
                        model: model.name().to_owned(),
                        variant: variant.clone(),
                        metric: "bytes_per_sec".to_owned(),
                        value: bytes_per_sec,
                        unit: "B/s".to_owned(),
                        n,
                        samples: ctx.sizing.samples() as u64,
                        min: bytes_per_sec,
                        median: bytes_per_sec,
                        max: bytes_per_sec,
                        p50: None,
                        p90: None,
                        p99: None,
                        p999: None,
                        max_latency: None,
                        hdr: None,
                        note: Some("2 x size / median round trip".to_owned()),
                    });
                }
                ctx.step(model.name(), &variant);
            }
        }
    }
}
