//! `run --vary MODEL.KNOB=V1,V2,..`: the scheduler lab's knobs (docs/lab.md, "Varying the
//! knobs").
//!
//! Each [`Knob`] is one tunable of the pool's or the loop's builder
//! (`switchyard_scheduler::pool::Builder`, `switchyard_scheduler::local::Builder`). Varying one
//! adds one model column per value, named `MODEL[KNOB=V]` (e.g. `pool[lifo_poll_bound=0]`):
//! a [`Varied`] model that answers every primitive as its base model does, with the knob set
//! while it builds its runtime. The setting lives in a thread-local for the length of one
//! primitive ([`Setting::apply`]): the pool and the loop are built on the thread that measures,
//! so nothing else sees it. The name parses back ([`find`]), so the fresh process of `scale`
//! measures the same column.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use switchyard_scheduler::local;
use switchyard_scheduler::pool;

use crate::models::{
    self, Blocked, Blocking, Kind, Model, Outcome, Parked, Placement, Probe, Seen, ServerProcesses,
    Share, Turns,
};

/// The value a knob was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// A count.
    Count(u64),
    /// A duration.
    Duration(Duration),
    /// Turned off.
    Off,
}

/// A tunable of the pool's or the loop's builder. See the [module docs](self).
#[derive(Debug)]
pub struct Knob {
    /// The model it belongs to (`pool`, `loop`).
    pub model: &'static str,
    /// Its name, as the builder's method.
    pub name: &'static str,
    /// The values it takes, in words (the error of a value that does not parse names it).
    pub takes: &'static str,
    /// Its default and where the figure comes from.
    pub default: &'static str,
    /// What it trades, and the experiment that shows the trade.
    pub trades: &'static str,
    parse: fn(&str) -> Option<Value>,
}

fn count(text: &str, min: u64, max: u64) -> Option<Value> {
    let n: u64 = text.parse().ok()?;
    (min..=max).contains(&n).then_some(Value::Count(n))
}

/// Every knob `--vary` accepts, in `list`'s order.
pub const KNOBS: &[Knob] = &[
    Knob {
        model: "pool",
        name: "lifo_poll_bound",
        takes: "a whole number 0..=1000 (0: no LIFO priority)",
        default: "3, tokio's MAX_LIFO_POLLS_PER_TICK",
        trades: "a task woken by the running one runs next on the same worker (hot cache, short hand-off) against the deque's tasks waiting behind a pair that keeps waking each other; shown by switch (pingpong_*) and fairness",
        parse: |t| count(t, 0, 1000),
    },
    Knob {
        model: "pool",
        name: "global_queue_interval",
        takes: "a whole number 1..=100000 (ticks)",
        default: "61, Go's schedtick check and tokio's default",
        trades: "rarer looks at the injector favour local work against the wait of tasks spawned from outside the pool and of timers; shown by latency (loaded) and fairness",
        parse: |t| count(t, 1, 100_000),
    },
    Knob {
        model: "pool",
        name: "stall_time_slice",
        takes: "whole milliseconds 1..=10000, or `off` (no stall monitor)",
        default: "10 ms, Go's forcePreemptNS",
        trades: "a shorter slice hands a blocked worker's queues to a spare thread sooner (the others' lateness) against more hand-offs and threads; shown by blocking",
        parse: |t| match t {
            "off" => Some(Value::Off),
            t => count(t, 1, 10_000).map(|v| match v {
                Value::Count(ms) => Value::Duration(Duration::from_millis(ms)),
                other => other,
            }),
        },
    },
    Knob {
        model: "pool",
        name: "max_spare_threads",
        takes: "a whole number 0..=1024",
        default: "the number of workers",
        trades: "spare threads kept after a hand-off make the next one cheap against idle threads' memory; shown by blocking",
        parse: |t| count(t, 0, 1024),
    },
    Knob {
        model: "pool",
        name: "spin_before_sleep",
        takes: "whole microseconds 0..=1000 (0: never spin)",
        default: "5 us, from the sweep in Builder::spin_before_sleep's doc (ping-pong against echo CPU per request)",
        trades: "a worker that spins finds the next job without a futex round trip (switch pingpong_*, spawn) against CPU burnt that another thread could use (echo, blocking); shown by switch and spawn",
        parse: |t| {
            count(t, 0, 1000).map(|v| match v {
                Value::Count(us) => Value::Duration(Duration::from_micros(us)),
                other => other,
            })
        },
    },
    Knob {
        model: "loop",
        name: "polls_per_tick",
        takes: "a whole number 1..=100000",
        default: "61, tokio's event_interval",
        trades: "more ready tasks polled per tick before timers and I/O is throughput against timer and I/O latency; shown by latency (loaded) and echo",
        parse: |t| count(t, 1, 100_000),
    },
];

/// Tunables the issue names that the builders do not expose (docs/lab.md says so).
pub const NOT_EXPOSED: &str =
    "the deque bound and the coop budget are constants of the runtime, not builder knobs";

/// One knob set to one value.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The knob.
    pub knob: &'static Knob,
    /// Its value.
    pub value: Value,
}

thread_local! {
    static CURRENT: RefCell<Option<Setting>> = const { RefCell::new(None) };
}

impl Setting {
    /// Runs `f` with this setting applied to the runtimes built on this thread meanwhile.
    pub fn apply<T>(self, f: impl FnOnce() -> T) -> T {
        struct Reset(Option<Setting>);
        impl Drop for Reset {
            fn drop(&mut self) {
                CURRENT.with(|c| *c.borrow_mut() = self.0.take());
            }
        }
        let _reset = Reset(CURRENT.with(|c| c.borrow_mut().replace(self)));
        f()
    }
}

fn current(model: &str) -> Option<Setting> {
    CURRENT
        .with(|c| *c.borrow())
        .filter(|s| s.knob.model == model)
}

/// The pool builder with the knob being varied on this thread, if it is one of the pool's.
pub fn pool_knobs(builder: pool::Builder) -> pool::Builder {
    let Some(Setting { knob, value }) = current("pool") else {
        return builder;
    };
    match (knob.name, value) {
        ("lifo_poll_bound", Value::Count(n)) => builder.lifo_poll_bound(n as u32),
        ("global_queue_interval", Value::Count(n)) => builder.global_queue_interval(n as u32),
        ("stall_time_slice", Value::Duration(d)) => builder.stall_time_slice(Some(d)),
        ("stall_time_slice", Value::Off) => builder.stall_time_slice(None),
        ("max_spare_threads", Value::Count(n)) => builder.max_spare_threads(n as usize),
        ("spin_before_sleep", Value::Duration(d)) => builder.spin_before_sleep(d),
        _ => builder,
    }
}

/// The loop builder with the knob being varied on this thread, if it is one of the loop's.
pub fn loop_knobs(builder: local::Builder) -> local::Builder {
    match current("loop") {
        Some(Setting {
            knob,
            value: Value::Count(n),
        }) if knob.name == "polls_per_tick" => builder.polls_per_tick(n as u32),
        _ => builder,
    }
}

fn accepted_knobs() -> String {
    KNOBS
        .iter()
        .map(|k| format!("{}.{}", k.model, k.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses one `--vary` argument, `MODEL.KNOB=V1,V2,..`, into one model per value; the error
/// is one line naming what is accepted.
pub fn parse(arg: &str) -> Result<Vec<&'static dyn Model>, String> {
    let Some((target, values)) = arg.split_once('=') else {
        return Err(format!(
            "--vary takes MODEL.KNOB=V1,V2,.., not `{arg}` (knobs: {})",
            accepted_knobs()
        ));
    };
    let knob = KNOBS
        .iter()
        .find(|k| target.split_once('.') == Some((k.model, k.name)))
        .ok_or_else(|| {
            format!(
                "unknown knob `{target}` in --vary (accepted: {})",
                accepted_knobs()
            )
        })?;
    let mut out: Vec<&'static dyn Model> = Vec::new();
    for text in values.split(',') {
        let text = text.trim();
        let value = (knob.parse)(text).ok_or_else(|| {
            format!(
                "--vary {target}: `{text}` is not a value it takes (accepted: {})",
                knob.takes
            )
        })?;
        out.push(varied(knob, value, text)?);
    }
    Ok(out)
}

fn varied(knob: &'static Knob, value: Value, text: &str) -> Result<&'static dyn Model, String> {
    let base = models::find(knob.model)
        .and_then(|e| e.model.ok())
        .ok_or_else(|| format!("model `{}` is not built", knob.model))?;
    let name: &'static str =
        Box::leak(format!("{}[{}={text}]", knob.model, knob.name).into_boxed_str());
    Ok(Box::leak(Box::new(Varied {
        base,
        name,
        setting: Setting { knob, value },
    })))
}

/// The model a `MODEL[KNOB=V]` name stands for, if it is one.
pub fn find(name: &str) -> Option<&'static dyn Model> {
    let inner = name.strip_suffix(']')?;
    let (model, setting) = inner.split_once('[')?;
    let (knob, value) = setting.split_once('=')?;
    let knob = KNOBS.iter().find(|k| k.model == model && k.name == knob)?;
    varied(knob, (knob.parse)(value)?, value).ok()
}

/// A model measured with one knob set. See the [module docs](self).
pub struct Varied {
    base: &'static dyn Model,
    name: &'static str,
    setting: Setting,
}

impl Model for Varied {
    fn name(&self) -> &'static str {
        self.name
    }
    fn describe(&self) -> &'static str {
        self.base.describe()
    }
    fn kind(&self) -> Kind {
        self.base.kind()
    }
    fn channel_note(&self) -> Option<&'static str> {
        self.base.channel_note()
    }
    fn multi_threaded(&self) -> bool {
        self.base.multi_threaded()
    }
    fn park_note(&self) -> Option<&'static str> {
        self.base.park_note()
    }
    fn yield_many(&self, n: u64) -> Outcome<Duration> {
        self.setting.apply(|| self.base.yield_many(n))
    }
    fn pingpong(
        &self,
        round_trips: u64,
        placement: Placement,
        seen: &Arc<Seen>,
    ) -> Outcome<Duration> {
        self.setting
            .apply(|| self.base.pingpong(round_trips, placement, seen))
    }
    fn pingpong_mechanisms(&self) -> &'static [(&'static str, &'static str)] {
        self.base.pingpong_mechanisms()
    }
    fn pingpong_over(
        &self,
        mechanism: &str,
        round_trips: u64,
        placement: Placement,
        seen: &Arc<Seen>,
    ) -> Outcome<Duration> {
        self.setting.apply(|| {
            self.base
                .pingpong_over(mechanism, round_trips, placement, seen)
        })
    }
    fn spawn_join(&self, n: u64) -> Outcome<Duration> {
        self.setting.apply(|| self.base.spawn_join(n))
    }
    fn park(&self, n: u64) -> Outcome<Parked> {
        self.setting.apply(|| self.base.park(n))
    }
    fn spawn_variants(&self) -> &'static [&'static str] {
        self.base.spawn_variants()
    }
    fn spawn_join_variant(&self, variant: &str, n: u64) -> Outcome<Duration> {
        self.setting
            .apply(|| self.base.spawn_join_variant(variant, n))
    }
    fn ipc_round_trips(&self, mechanism: &str, size: usize, round_trips: u64) -> Outcome<Duration> {
        self.setting
            .apply(|| self.base.ipc_round_trips(mechanism, size, round_trips))
    }
    fn speedup_run(&self, chunks: u64, workers: usize) -> Outcome<Duration> {
        self.setting
            .apply(|| self.base.speedup_run(chunks, workers))
    }
    fn sleep_lateness(&self, probe: Probe) -> Outcome<Histogram<u64>> {
        self.setting.apply(|| self.base.sleep_lateness(probe))
    }
    fn blocking_lateness(&self, load: Blocking) -> Outcome<Blocked> {
        self.setting.apply(|| self.base.blocking_lateness(load))
    }
    fn fairness_turns(&self, units: u64, run_for: Duration) -> Outcome<Vec<Turns>> {
        self.setting
            .apply(|| self.base.fairness_turns(units, run_for))
    }
    fn echo_serve(
        &self,
        listener: std::net::TcpListener,
        connections: u64,
        processes: &ServerProcesses,
    ) -> Outcome<()> {
        self.setting
            .apply(|| self.base.echo_serve(listener, connections, processes))
    }
    fn hand_offs(&self) -> Option<u64> {
        self.base.hand_offs()
    }
    fn sharing(&self, way: Share, units: u64, total: u64) -> Outcome<Duration> {
        self.setting.apply(|| self.base.sharing(way, units, total))
    }
    fn sharing_note(&self, way: Share) -> Option<&'static str> {
        self.base.sharing_note(way)
    }
}

/// `list`'s section: every knob, its values, default and trade.
pub fn list() -> String {
    let mut out = String::from(
        "knobs (run --vary MODEL.KNOB=V1,V2,..; one column MODEL[KNOB=V] per value):\n",
    );
    for k in KNOBS {
        out.push_str(&format!(
            "  {}.{}: {}; default {}; {}\n",
            k.model, k.name, k.takes, k.default, k.trades
        ));
    }
    out.push_str(&format!("  (not knobs: {NOT_EXPOSED})\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_value_is_one_column_named_model_knob_value() {
        let names: Vec<&str> = parse("pool.lifo_poll_bound=0,3")
            .unwrap()
            .iter()
            .map(|m| m.name())
            .collect();
        assert_eq!(
            names,
            ["pool[lifo_poll_bound=0]", "pool[lifo_poll_bound=3]"]
        );
        let names: Vec<&str> = parse("pool.stall_time_slice=off,5")
            .unwrap()
            .iter()
            .map(|m| m.name())
            .collect();
        assert_eq!(
            names,
            ["pool[stall_time_slice=off]", "pool[stall_time_slice=5]"]
        );
    }

    #[test]
    fn a_varied_name_parses_back_to_the_same_setting() {
        let model = find("loop[polls_per_tick=7]").unwrap();
        assert_eq!(model.name(), "loop[polls_per_tick=7]");
        assert!(find("loop[polls_per_tick=0]").is_none());
        assert!(find("loop").is_none());
    }

    #[test]
    fn bad_input_names_what_is_accepted() {
        let err = parse("nosuch.knob=1").err().unwrap();
        assert!(err.contains("unknown knob `nosuch.knob`"), "{err}");
        assert!(err.contains("pool.lifo_poll_bound"), "{err}");
        let err = parse("pool.lifo_poll_bound=x").err().unwrap();
        assert!(err.contains("`x`") && err.contains("0..=1000"), "{err}");
        let err = parse("pool.lifo_poll_bound").err().unwrap();
        assert!(err.contains("MODEL.KNOB=V1,V2"), "{err}");
    }

    #[test]
    fn a_setting_reaches_the_builder_only_while_it_applies() {
        let setting = Setting {
            knob: KNOBS.iter().find(|k| k.name == "polls_per_tick").unwrap(),
            value: Value::Count(7),
        };
        assert!(current("loop").is_none());
        setting.apply(|| {
            assert!(current("loop").is_some());
            assert!(current("pool").is_none());
        });
        assert!(current("loop").is_none());
    }

    #[test]
    fn every_knob_names_the_experiment_that_shows_it() {
        let experiments: Vec<&str> = crate::experiments::catalogue()
            .iter()
            .map(|e| e.name())
            .collect();
        for k in KNOBS {
            assert!(
                k.trades
                    .split("shown by ")
                    .nth(1)
                    .is_some_and(|shown| experiments.iter().any(|e| shown.contains(e))),
                "{}.{}",
                k.model,
                k.name
            );
        }
    }
}
