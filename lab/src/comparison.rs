//! `switchyard-lab table`: docs/lab.md's comparison table of the models, every figure measured
//! in this run (the experiments run in quick form), the qualitative labels derived from
//! them. A model or experiment that does not exist yet says so in its cells: no figure
//! here is ever quoted or guessed. Beside docs/lab.md's three columns (loop, pool, process)
//! stand the two baselines, `thread` and `naive`.

use crate::models::{self, Kind};
use crate::results::ResultFile;
use crate::table::{Grid, human, thousands};

/// The columns, with the static labels of docs/lab.md's table (scheduling, when to use).
const COLUMNS: &[(&str, &str, &str)] = &[
    ("loop", "cooperative", "many I/O-bound tasks"),
    (
        "pool",
        "preemptive (OS) + budget",
        "CPU-bound work, mixed work",
    ),
    (
        "process",
        "preemptive (OS)",
        "isolation, crash containment, CPU-bound with little data",
    ),
    (
        "thread",
        "preemptive (OS)",
        "a few long-lived units; baseline for pool",
    ),
    (
        "naive",
        "cooperative",
        "nothing: the baseline that shows what the loop buys",
    ),
];

/// The experiments the table reads (those of them this build has are run, quick).
pub const EXPERIMENTS: &[&str] = &["switch", "spawn", "scale", "speedup", "blocking"];

/// The models whose columns can hold figures in this build.
pub fn measurable() -> Vec<&'static str> {
    COLUMNS
        .iter()
        .filter(|(name, ..)| models::find(name).is_some_and(|e| e.model.is_ok()))
        .map(|(name, ..)| *name)
        .collect()
}

/// How one line of the table reads its figure for one model.
type Measure = fn(&ResultFile, &str, Kind) -> String;

/// Builds the table from a file measured with [`measurable`] models.
pub fn build(file: &ResultFile) -> Grid {
    let mut header = vec![String::new()];
    header.extend(COLUMNS.iter().map(|(name, ..)| (*name).to_owned()));
    let lines: [(&str, Measure); 5] = [
        ("uses multiple CPUs", multiple_cpus),
        ("switch cost", switch_cost),
        ("creation cost", creation_cost),
        ("scale reached", scale_reached),
        ("a blocking call", blocking_call),
    ];
    let mut rows = vec![row("scheduling", |(_, scheduling, _)| {
        (*scheduling).to_owned()
    })];
    for (label, measure) in lines {
        let mut cells = vec![label.to_owned()];
        for (name, ..) in COLUMNS {
            cells.push(match models::find(name).map(|e| e.model) {
                Some(Ok(model)) => measure(file, name, model.kind()),
                _ => "not built yet".to_owned(),
            });
        }
        rows.push(cells);
    }
    rows.push(row("when to use", |(_, _, when)| (*when).to_owned()));
    Grid { header, rows }
}

fn row(label: &str, cell: impl Fn(&(&str, &str, &str)) -> String) -> Vec<String> {
    let mut cells = vec![label.to_owned()];
    cells.extend(COLUMNS.iter().map(cell));
    cells
}

fn figure(
    file: &ResultFile,
    experiment: &str,
    model: &str,
    variant: &str,
    metric: &str,
) -> Option<String> {
    file.find(experiment, model, variant, metric)
        .map(|r| human(r.value, &r.unit))
}

/// A speed-up at or above this on the largest worker count reads as "uses multiple CPUs"
/// (halfway between 1 and 2 workers' ideal; picked for a readable label, not a law).
const USES_CPUS_SPEEDUP: f64 = 1.5;

/// Lateness of the others at or above this share of the 10 ms blocking call reads as
/// "stalls every task" (the blocking experiment's call is 10 ms; docs/lab.md).
const STALL_SHARE_NS: f64 = 0.8 * 10_000_000.0;

fn multiple_cpus(file: &ResultFile, model: &str, _kind: Kind) -> String {
    if file.rows_of("speedup").next().is_none() {
        return "speedup experiment not built yet".to_owned();
    }
    let best = file
        .rows_of("speedup")
        .filter(|r| r.model == model && r.metric == "speedup")
        .filter_map(|r| Some((r.variant.strip_prefix("n=")?.parse::<u32>().ok()?, r.value)))
        .max_by_key(|&(n, _)| n);
    match best {
        Some((n, s)) if s >= USES_CPUS_SPEEDUP => format!("yes: S({n}) = {s:.2}"),
        Some((n, s)) => format!("no: S({n}) = {s:.2}"),
        None => "not measured".to_owned(),
    }
}

fn blocking_call(file: &ResultFile, model: &str, kind: Kind) -> String {
    if file.rows_of("blocking").next().is_none() {
        return "blocking experiment not built yet".to_owned();
    }
    match file
        .rows_of("blocking")
        .find(|r| r.model == model && r.variant == "others_p99")
    {
        Some(r) => {
            let p99 = r.p99.unwrap_or(r.value);
            let label = if p99 >= STALL_SHARE_NS {
                "stalls every task"
            } else if kind == Kind::Task {
                "hands off"
            } else {
                "isolated"
            };
            format!("{label}: p99 of others {}", human(p99, &r.unit))
        }
        // A process blocks only itself: its siblings have threads of their own. docs/lab.md's
        // table states it; the blocking experiment has no process variant to measure it.
        None if kind == Kind::Process => "isolated".to_owned(),
        None => "not measured".to_owned(),
    }
}

fn switch_cost(file: &ResultFile, model: &str, _kind: Kind) -> String {
    let parts: Vec<String> = [("yield", "yield"), ("pingpong_same_core", "round trip")]
        .into_iter()
        .filter_map(|(variant, label)| {
            figure(file, "switch", model, variant, "ns_per_op").map(|f| format!("{label} {f}"))
        })
        .collect();
    if parts.is_empty() {
        "not measured".to_owned()
    } else {
        parts.join(", ")
    }
}

fn creation_cost(file: &ResultFile, model: &str, _kind: Kind) -> String {
    figure(file, "spawn", model, "spawn_join", "ns_per_op").map_or_else(
        || "not measured".to_owned(),
        |f| format!("{f} per spawn+join"),
    )
}

fn scale_reached(file: &ResultFile, model: &str, kind: Kind) -> String {
    let largest = file
        .rows_of("scale")
        .filter(|r| r.model == model && r.metric == "bytes_per_unit")
        .max_by_key(|r| r.n);
    let unit = match kind {
        Kind::Task => "tasks",
        Kind::Thread => "threads",
        Kind::Process => "processes",
    };
    match largest {
        Some(r) => format!(
            "{} {unit}, {} each (quick run)",
            thousands(r.n),
            human(r.value, &r.unit)
        ),
        None => "not measured".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Config, Machine, Row, SCHEMA};

    fn empty() -> ResultFile {
        ResultFile {
            schema: SCHEMA,
            lab_version: "0".into(),
            started_at: "t".into(),
            machine: Machine {
                cpu_model: String::new(),
                cores: 2,
                kernel: String::new(),
                os: String::new(),
                rustc: String::new(),
                hostname: String::new(),
            },
            config: Config {
                quick: true,
                seed: 1,
                pin: true,
                workload: None,
                experiments: vec![],
                models: vec![],
            },
            results: vec![],
            skipped: vec![],
            checks: vec![],
        }
    }

    fn row(experiment: &str, model: &str, variant: &str, metric: &str, value: f64) -> Row {
        Row {
            experiment: experiment.into(),
            model: model.into(),
            variant: variant.into(),
            metric: metric.into(),
            value,
            unit: "ns".into(),
            n: 1,
            samples: 1,
            min: value,
            median: value,
            max: value,
            p50: None,
            p90: None,
            p99: Some(value),
            p999: None,
            max_latency: None,
            hdr: None,
            note: None,
        }
    }

    #[test]
    fn speedup_rows_become_the_multiple_cpus_label() {
        let mut file = empty();
        file.results = vec![
            row("speedup", "thread", "n=1", "speedup", 1.0),
            row("speedup", "thread", "n=2", "speedup", 1.95),
            row("speedup", "loop", "n=2", "speedup", 1.01),
        ];
        assert_eq!(
            multiple_cpus(&file, "thread", Kind::Thread),
            "yes: S(2) = 1.95"
        );
        assert_eq!(multiple_cpus(&file, "loop", Kind::Task), "no: S(2) = 1.01");
        assert_eq!(multiple_cpus(&file, "naive", Kind::Task), "not measured");
    }

    #[test]
    fn blocking_rows_become_the_blocking_call_label() {
        let mut file = empty();
        file.results = vec![
            row("blocking", "loop", "others_p99", "lateness", 10_200_000.0),
            row("blocking", "thread", "others_p99", "lateness", 120_000.0),
        ];
        assert!(blocking_call(&file, "loop", Kind::Task).starts_with("stalls every task"));
        file.results
            .push(row("blocking", "pool", "others_p99", "lateness", 900_000.0));
        assert!(blocking_call(&file, "thread", Kind::Thread).starts_with("isolated: p99"));
        assert!(blocking_call(&file, "pool", Kind::Task).starts_with("hands off: p99"));
        assert_eq!(blocking_call(&file, "process", Kind::Process), "isolated");
    }

    #[test]
    fn models_not_built_say_so_in_every_measured_line() {
        let grid = build(&empty());
        for (column, (name, ..)) in COLUMNS.iter().enumerate() {
            if models::find(name).is_some_and(|e| e.model.is_ok()) {
                continue;
            }
            for row in &grid.rows[1..grid.rows.len() - 1] {
                assert_eq!(row[column + 1], "not built yet", "{name}: {row:?}");
            }
        }
    }

    #[test]
    fn a_built_model_without_figures_is_not_measured_never_guessed() {
        let grid = build(&empty());
        let thread = grid.header.iter().position(|h| h == "thread").unwrap();
        let switch = grid.rows.iter().find(|r| r[0] == "switch cost").unwrap();
        assert_eq!(switch[thread], "not measured");
        assert!(
            grid.rows
                .iter()
                .all(|r| !r[thread].chars().any(|c| c.is_ascii_digit()))
        );
    }
}
