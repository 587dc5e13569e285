//! `switchyard-lab table`: LAB.md's comparison table of the models, every figure measured
//! in this run (the experiments run in quick form), the qualitative labels derived from
//! them. A model or experiment that does not exist yet says so in its cells: no figure
//! here is ever quoted or guessed. Beside LAB.md's three columns (loop, pool, process)
//! stand the two baselines, `thread` and `naive`.

use crate::models::{self, Kind};
use crate::results::ResultFile;
use crate::table::{Grid, human, thousands};

/// The columns, with the static labels of LAB.md's table (scheduling, when to use).
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
        ("uses multiple CPUs", |_, _, _| {
            "speedup experiment not built yet".to_owned()
        }),
        ("switch cost", switch_cost),
        ("creation cost", creation_cost),
        ("scale reached", scale_reached),
        ("a blocking call", |_, _, _| {
            "blocking experiment not built yet".to_owned()
        }),
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
    use crate::results::{Config, Machine, SCHEMA};

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

    #[test]
    fn models_not_built_say_so_in_every_measured_line() {
        // `loop` is not built in this build (the pool is).
        let grid = build(&empty());
        let unbuilt = grid.header.iter().position(|h| h == "loop").unwrap();
        for row in &grid.rows[1..grid.rows.len() - 1] {
            assert_eq!(row[unbuilt], "not built yet", "{row:?}");
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
