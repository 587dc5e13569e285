//! Experiment `scale`: how many units a model holds, and what each costs.
//!
//! For N = 10, 100, ... up to 1,000,000 tasks, 10,000 threads or 1,000 processes, N units
//! each wait forever (tasks on a future that never completes, threads and processes
//! blocked on a pipe). Two rows per N: `bytes_per_unit` (resident memory growth / N) and
//! `ns_per_unit` (time to create them all and see every one waiting / N).
//!
//! Each N runs in a fresh child process (the lab re-executes itself with the hidden
//! subcommand `__park`), so one N's memory never shows in another's growth and the units
//! need no clean-up: the child just exits. N is capped by what the machine allows (thread
//! limits, available memory), and each row's note says which cap applied.

use std::process::Command;
use std::time::Duration;

use super::{Ctx, Experiment, Size, Sizing};
use crate::machine;
use crate::models::{self, Kind, Model};
use crate::results::Row;

/// See the [module docs](self).
pub struct Scale;

const NAME: &str = "scale";

/// The hidden subcommand a child runs.
pub const CHILD_COMMAND: &str = "__park";

/// Bytes of available memory the lab assumes one parked task may need when capping N
/// (a generous bound: the peers measure 100-350 B), so a run never swaps.
const TASK_BYTES_BOUND: u64 = 2_048;

fn largest_n(kind: Kind) -> Size {
    match kind {
        Kind::Task => Size {
            full: 1_000_000,
            quick: 100_000,
            tiny: 1_000,
        },
        Kind::Thread => Size {
            full: 10_000,
            quick: 1_000,
            tiny: 100,
        },
        Kind::Process => Size {
            full: 1_000,
            quick: 100,
            tiny: 10,
        },
    }
}

/// The N values to measure and the note that says what capped them.
fn plan(kind: Kind, sizing: Sizing) -> (Vec<u64>, String) {
    let wanted = sizing.pick(largest_n(kind));
    let (limit, why) = match kind {
        Kind::Task => match machine::available_memory() {
            Some(bytes) => (
                bytes / 2 / TASK_BYTES_BOUND,
                format!(
                    "task limit = half of MemAvailable / {TASK_BYTES_BOUND} B = {}",
                    bytes / 2 / TASK_BYTES_BOUND
                ),
            ),
            None => (u64::MAX, "no MemAvailable: not capped".to_owned()),
        },
        Kind::Thread | Kind::Process => machine::thread_limit(),
    };
    let top = wanted.min(limit);
    let note = if top < wanted {
        format!("capped at {top} (wanted {wanted}): {why}")
    } else {
        format!("up to {wanted}, not capped ({why})")
    };
    (n_values(wanted, top), note)
}

/// 10, 100, .. up to `top`; plus `top` itself when it caps `wanted` between two powers.
fn n_values(wanted: u64, top: u64) -> Vec<u64> {
    let top = top.min(wanted);
    let mut ns = Vec::new();
    let mut n: u64 = 10;
    while n <= top {
        ns.push(n);
        n = n.saturating_mul(10);
    }
    // A cap between two powers of ten is itself measured: it is how far the machine goes.
    if top < wanted && ns.last().is_some_and(|&last| last < top) {
        ns.push(top);
    }
    ns
}

impl Experiment for Scale {
    fn name(&self) -> &'static str {
        NAME
    }

    fn describe(&self) -> &'static str {
        "how far a model scales: N idle units, memory and creation time per unit (fresh process per N)"
    }

    fn variants(&self) -> &'static str {
        "N=<n> for n = 10, 100, .. (metrics bytes_per_unit, ns_per_unit)"
    }

    fn steps(&self, model: &dyn Model, ctx: &Ctx) -> u64 {
        plan(model.kind(), ctx.sizing).0.len() as u64
    }

    fn run(&self, model: &dyn Model, ctx: &mut Ctx) {
        let (ns, cap_note) = plan(model.kind(), ctx.sizing);
        for n in ns {
            let variant = format!("N={n}");
            match park_in_child(model.name(), n, ctx.pin) {
                Ok((create, growth, hand_offs)) => {
                    ctx.add_hand_offs(hand_offs);
                    let note = Some(match model.park_note() {
                        Some(kept) => format!(
                            "fresh child process; {kept}; {cap_note}; memory resolution one page / N"
                        ),
                        None => format!(
                            "fresh child process; {cap_note}; memory resolution one page / N"
                        ),
                    });
                    let per_unit_bytes = growth as f64 / n as f64;
                    let per_unit_ns = create.as_nanos() as f64 / n as f64;
                    ctx.rows.push(row(
                        model.name(),
                        &variant,
                        "bytes_per_unit",
                        "B",
                        per_unit_bytes,
                        n,
                        note.clone(),
                    ));
                    ctx.rows.push(row(
                        model.name(),
                        &variant,
                        "ns_per_unit",
                        "ns",
                        per_unit_ns,
                        n,
                        note,
                    ));
                }
                Err(reason) => ctx.skip(NAME, model.name(), Some(&variant), reason),
            }
            ctx.step(model.name(), &variant);
        }
    }
}

fn row(
    model: &str,
    variant: &str,
    metric: &str,
    unit: &str,
    value: f64,
    n: u64,
    note: Option<String>,
) -> Row {
    Row::single(NAME, model, variant, metric, unit, n, value, note)
}

/// Runs one N in a fresh copy of the lab; returns (creation time, resident growth, the
/// stall monitor's hand-offs there).
fn park_in_child(model: &str, n: u64, pin: bool) -> Result<(Duration, u64, u64), String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find the lab's own executable: {e}"))?;
    let output = Command::new(exe)
        .arg(CHILD_COMMAND)
        .arg(model)
        .arg(n.to_string())
        .arg(if pin { "--pin" } else { "--no-pin" })
        .output()
        .map_err(|e| format!("cannot start the child process: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or("");
    let value: serde_json::Value = serde_json::from_str(line).map_err(|_| {
        format!(
            "child process for N={n} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )
    })?;
    if let Some(skip) = value.get("skip").and_then(|s| s.as_str()) {
        return Err(skip.to_owned());
    }
    let create = value.get("create_ns").and_then(|v| v.as_u64());
    let growth = value.get("resident_growth").and_then(|v| v.as_u64());
    match (create, growth) {
        (Some(create), Some(growth)) => Ok((
            Duration::from_nanos(create),
            growth,
            value.get("hand_offs").and_then(|v| v.as_u64()).unwrap_or(0),
        )),
        _ => Err(format!("child process for N={n} answered {line:?}")),
    }
}

/// The child's side: park `n` units of `model`, print one JSON line, exit without
/// cleaning up (the point of the fresh process).
pub fn child_main(model: &str, n: u64, pin: bool) -> ! {
    if pin {
        machine::pin_current(0);
    }
    let answer = match models::find(model).map(|e| e.model) {
        Some(Ok(model)) => match model.park(n) {
            Ok(parked) => serde_json::json!({
                "create_ns": parked.create.as_nanos() as u64,
                "resident_growth": parked.resident_growth,
                "hand_offs": model.hand_offs(),
            }),
            Err(skip) => serde_json::json!({ "skip": skip.0 }),
        },
        Some(Err(why)) => serde_json::json!({ "skip": format!("model `{model}`: {why}") }),
        None => serde_json::json!({ "skip": format!("unknown model `{model}`") }),
    };
    println!("{answer}");
    std::process::exit(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n_runs_over_powers_of_ten_up_to_the_workload() {
        assert_eq!(n_values(10_000, u64::MAX), [10, 100, 1_000, 10_000]);
    }

    #[test]
    fn a_cap_between_powers_of_ten_is_measured_itself() {
        assert_eq!(n_values(10_000, 8_191), [10, 100, 1_000, 8_191]);
        assert_eq!(n_values(10_000, 1_000), [10, 100, 1_000]);
    }
}
