//! The comparison table of docs/lab.md ("The comparison table") and the verdicts, every
//! figure read from one result file: `switchyard-lab table` measures and prints it, every
//! `run` ends with it, and the report opens with it.
//!
//! Each "when to use" cell is derived from this file's figures by the rules below and names
//! the figure each claim rests on (`CPU-bound work (speedup S(2) = 1.95)`); a model without a
//! figure for a rule gets no claim from it. Nothing here is quoted or guessed: only the
//! "scheduling" line is a property of the model rather than a measurement.

use crate::models;
use crate::results::{ResultFile, Row};
use crate::table::{Grid, human, thousands};

/// The models `switchyard-lab table` measures, with docs/lab.md's three first, the two
/// baselines (`thread`, `naive`) beside them, then Python's three (docs/lab.md, "Coming from
/// Python"; their cells are notes when no python3 is found).
const TABLE_MODELS: &[&str] = &[
    "loop",
    "pool",
    "process",
    "thread",
    "naive",
    "py-asyncio",
    "py-threading",
    "py-multiprocessing",
];

/// The experiments the table reads (those of them this build has are run, quick).
pub const EXPERIMENTS: &[&str] = &["switch", "spawn", "scale", "speedup", "blocking", "latency"];

/// The models whose columns can hold figures in this build.
pub fn measurable() -> Vec<&'static str> {
    TABLE_MODELS
        .iter()
        .copied()
        .filter(|name| models::find(name).is_some_and(|e| e.model.is_ok()))
        .collect()
}

/// What a model's unit is, read from its name (`pool[lifo_poll_bound=0]` is a pool).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    /// Tasks on an executor.
    Task,
    /// OS threads.
    Thread,
    /// OS processes.
    Process,
}

/// The model's name without a `--vary` suffix.
pub fn base_name(model: &str) -> &str {
    model.split('[').next().unwrap_or(model)
}

/// The kind of unit a model runs, from its name.
pub fn unit_kind(model: &str) -> UnitKind {
    match base_name(model) {
        "thread" | "py-threading" | "rayon" => UnitKind::Thread,
        "process" | "py-multiprocessing" => UnitKind::Process,
        _ => UnitKind::Task,
    }
}

/// How a model schedules its units (a property, not a figure).
pub fn scheduling(model: &str) -> &'static str {
    match base_name(model) {
        "loop" | "naive" | "async-executor" | "py-asyncio" => "cooperative, one thread",
        "tokio-ct" => "cooperative + budget, one thread",
        "pool" | "tokio-mt" => "cooperative + budget, work-stealing threads",
        "rayon" => "work-stealing threads, run to completion",
        "thread" | "process" | "py-multiprocessing" => "preemptive (OS)",
        "py-threading" => "preemptive (OS), one at a time (GIL)",
        _ => "not stated",
    }
}

/// A speed-up at or above this on the largest worker count reads as "uses multiple CPUs"
/// (halfway between one and two workers' ideal: a readable line, not a law).
const USES_CPUS_SPEEDUP: f64 = 1.5;

/// Others' p99 lateness at or above this share of the blocking experiment's 10 ms call reads
/// as "stalls every unit" (docs/lab.md, `blocking`).
const STALL_NS: f64 = 0.8 * 10_000_000.0;

/// Reaching at least this many units at no more than [`SMALL_UNIT_BYTES`] each reads as
/// "very many concurrent units".
const MANY_UNITS: u64 = 100_000;
/// Memory per unit that reads as small (a page is 4 KiB: below it, a unit costs less than
/// the smallest stack).
const SMALL_UNIT_BYTES: f64 = 4_096.0;
/// A spawn+join at or above this reads as too dear for short-lived units (100 µs: a
/// thousand units a second cost a tenth of a CPU).
const DEAR_SPAWN_NS: f64 = 100_000.0;
/// A loaded timer p99 at or above this reads as untimely (10 ms, ten times the 1 ms sleep).
const LATE_TIMER_NS: f64 = 10_000_000.0;

fn row<'a>(file: &'a ResultFile, e: &str, m: &str, v: &str, metric: &str) -> Option<&'a Row> {
    file.find(e, m, v, metric)
}

/// The largest `n=<k>` speed-up of a model: (k, S(k)).
pub fn speedup(file: &ResultFile, model: &str) -> Option<(u32, f64)> {
    file.rows_of("speedup")
        .filter(|r| r.model == model && r.metric == "speedup")
        .filter_map(|r| Some((r.variant.strip_prefix("n=")?.parse::<u32>().ok()?, r.value)))
        .max_by_key(|&(n, _)| n)
}

/// Others' p99 lateness in `blocking`, in ns.
pub fn blocking_p99(file: &ResultFile, model: &str) -> Option<f64> {
    file.rows_of("blocking")
        .find(|r| r.model == model && r.variant == "others_p99")
        .map(|r| r.p99.unwrap_or(r.value))
}

/// The largest N a model reached in `scale`, with its bytes per unit.
pub fn scale_reached(file: &ResultFile, model: &str) -> Option<(u64, f64)> {
    file.rows_of("scale")
        .filter(|r| r.model == model && r.metric == "bytes_per_unit")
        .max_by_key(|r| r.n)
        .map(|r| (r.n, r.value))
}

fn p99(r: &Row) -> f64 {
    r.p99.unwrap_or(r.value)
}

/// One claim of a verdict: what the model is (or is not) for, and the figure it rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// Whether the model suits it.
    pub good: bool,
    /// What, with the figure in parentheses.
    pub text: String,
}

/// The claims this file's figures support for `model`.
pub fn claims(file: &ResultFile, model: &str) -> Vec<Claim> {
    let mut out = Vec::new();
    let mut claim = |good: bool, text: String| out.push(Claim { good, text });
    if let Some((n, s)) = speedup(file, model).filter(|&(n, _)| n >= 2) {
        claim(
            s >= USES_CPUS_SPEEDUP,
            format!("CPU-bound work (speedup S({n}) = {s:.2})"),
        );
    }
    if let Some((n, bytes)) = scale_reached(file, model) {
        let most = models_of(file)
            .iter()
            .filter_map(|m| scale_reached(file, m))
            .map(|(n, _)| n)
            .max()
            .unwrap_or(n);
        if n >= MANY_UNITS && bytes <= SMALL_UNIT_BYTES {
            claim(
                true,
                format!(
                    "very many concurrent units (scale: {} at {} each)",
                    thousands(n),
                    human(bytes, "B")
                ),
            );
        } else if n < most {
            claim(
                false,
                format!(
                    "{} concurrent units (scale reached {} at {} each)",
                    thousands(most),
                    thousands(n),
                    human(bytes, "B")
                ),
            );
        }
    }
    if let Some(p99) = blocking_p99(file, model) {
        let stalls = p99 >= STALL_NS;
        claim(
            !stalls,
            format!(
                "code that makes blocking calls (blocking: others' p99 {})",
                human(p99, "ns")
            ),
        );
    }
    if let Some(r) = row(file, "spawn", model, "spawn_join", "ns_per_op")
        && r.value >= DEAR_SPAWN_NS
    {
        claim(
            false,
            format!("short-lived units (spawn+join {})", human(r.value, "ns")),
        );
    }
    if let Some(r) = row(file, "latency", model, "loaded", "lateness") {
        let late = p99(r);
        if late >= LATE_TIMER_NS {
            claim(
                false,
                format!("timers under load (loaded timer p99 {})", human(late, "ns")),
            );
        }
    }
    if unit_kind(model) == UnitKind::Process && file.results.iter().any(|r| r.model == model) {
        claim(
            true,
            "isolation and crash containment (own address space; no figure needed)".to_owned(),
        );
    }
    out
}

/// The "when to use" cell: `for: ..; not for: ..`, each claim with its figure.
pub fn when_to_use(file: &ResultFile, model: &str) -> String {
    let claims = claims(file, model);
    let join = |good: bool| {
        claims
            .iter()
            .filter(|c| c.good == good)
            .map(|c| c.text.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let (good, bad) = (join(true), join(false));
    match (good.is_empty(), bad.is_empty()) {
        (true, true) => "no verdict: this run has none of the figures it rests on".to_owned(),
        (false, true) => format!("for {good}"),
        (true, false) => format!("not for {bad}"),
        (false, false) => format!("for {good}. Not for {bad}"),
    }
}

/// One answer of the verdict list: a question, the model that answers it best here, why.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// What the user wants.
    pub question: &'static str,
    /// The best model in this file.
    pub model: String,
    /// The figure it rests on.
    pub because: String,
}

/// The best model for each question this file has figures for.
pub fn answers(file: &ResultFile) -> Vec<Answer> {
    // Python's models run scaled-down workloads (docs/lab.md, "Coming from Python"), so a
    // ratio or a lateness of theirs does not rank against the lab's own models: they get their
    // own answer below, not these.
    let models: Vec<String> = models_of(file)
        .into_iter()
        .filter(|m| !crate::python::is_model(base_name(m)))
        .collect();
    let mut out = Vec::new();
    let mut best = |question: &'static str,
                    score: &dyn Fn(&str) -> Option<(f64, String)>,
                    higher_better: bool| {
        let pick = models
            .iter()
            .filter_map(|m| score(m).map(|(v, why)| (m, v, why)))
            .max_by(|a, b| {
                let o = a.1.total_cmp(&b.1);
                if higher_better { o } else { o.reverse() }
            });
        if let Some((m, _, why)) = pick {
            out.push(Answer {
                question,
                model: m.clone(),
                because: why,
            });
        }
    };
    best(
        "many concurrent I/O-bound units",
        &|m| {
            let (n, b) = scale_reached(file, m)?;
            // Reach first, then memory: rank by N, ties by smaller units.
            Some((
                n as f64 - b / 1e12,
                format!("scale: {} units at {} each", thousands(n), human(b, "B")),
            ))
        },
        true,
    );
    best(
        "CPU-bound work",
        &|m| {
            // Only a model that does use several CPUs answers this.
            let (n, s) = speedup(file, m).filter(|&(_, s)| s >= USES_CPUS_SPEEDUP)?;
            Some((s, format!("speedup S({n}) = {s:.2}")))
        },
        true,
    );
    best(
        "the cheapest switch",
        &|m| {
            let r = row(file, "switch", m, "pingpong_same_core", "ns_per_op")?;
            Some((
                r.value,
                format!("same-core ping-pong round trip {}", human(r.value, &r.unit)),
            ))
        },
        false,
    );
    best(
        "the cheapest creation",
        &|m| {
            let r = row(file, "spawn", m, "spawn_join", "ns_per_op")?;
            Some((r.value, format!("spawn+join {}", human(r.value, &r.unit))))
        },
        false,
    );
    best(
        "code that makes blocking calls",
        &|m| {
            let p = blocking_p99(file, m)?;
            Some((
                p,
                format!("others' p99 while one unit blocks: {}", human(p, "ns")),
            ))
        },
        false,
    );
    best(
        "timers under load",
        &|m| {
            let r = row(file, "latency", m, "loaded", "lateness")?;
            Some((
                p99(r),
                format!("loaded timer p99 {}", human(p99(r), &r.unit)),
            ))
        },
        false,
    );
    best(
        "fairness",
        &|m| {
            let r = row(file, "fairness", m, "jain", "jain_index")?;
            Some((r.value, format!("Jain index {:.3}", r.value)))
        },
        true,
    );
    best(
        "a shared counter",
        &|m| {
            let r = file
                .rows_of("sharing")
                .filter(|r| r.model == m && r.metric == "ns_per_op")
                .min_by(|a, b| a.value.total_cmp(&b.value))?;
            Some((
                r.value,
                format!(
                    "sharing {} {} per increment",
                    r.variant,
                    human(r.value, &r.unit)
                ),
            ))
        },
        false,
    );
    // Python's models answer for Python code, with the GIL's finding for each of them.
    let python: Vec<(String, u32, f64)> = crate::python::MODELS
        .iter()
        .filter_map(|&m| speedup(file, m).map(|(n, s)| (m.to_owned(), n, s)))
        .filter(|&(_, n, _)| n >= 2)
        .collect();
    if !python.is_empty() {
        let fastest = python
            .iter()
            .filter(|(_, _, s)| *s >= USES_CPUS_SPEEDUP)
            .max_by(|a, b| a.2.total_cmp(&b.2));
        let because = python
            .iter()
            .map(|(m, n, s)| {
                let why = python_reason(file, m).map_or(String::new(), |r| format!(": {r}"));
                format!("{m} S({n}) = {s:.2}{why}")
            })
            .collect::<Vec<_>>()
            .join("; ");
        out.push(Answer {
            question: "CPU-bound Python code",
            model: fastest.map_or_else(|| "none of Python's models".to_owned(), |f| f.0.clone()),
            because,
        });
    }
    out
}

/// The models of a file in first-seen order.
pub fn models_of(file: &ResultFile) -> Vec<String> {
    let mut models: Vec<String> = Vec::new();
    for r in &file.results {
        if !models.contains(&r.model) {
            models.push(r.model.clone());
        }
    }
    models
}

/// The table of docs/lab.md for every model in `file`, in the file's order.
pub fn build(file: &ResultFile) -> Grid {
    build_for(file, &models_of(file))
}

/// The table for the given columns.
pub fn build_for(file: &ResultFile, columns: &[String]) -> Grid {
    let mut header = vec![String::new()];
    header.extend(columns.iter().cloned());
    type Line = fn(&ResultFile, &str) -> String;
    let lines: [(&str, Line); 7] = [
        ("scheduling", |_, m| scheduling(m).to_owned()),
        ("uses multiple CPUs", multiple_cpus),
        ("switch cost", switch_cost),
        ("creation cost", creation_cost),
        ("scale reached", scale_cell),
        ("a blocking call", blocking_call),
        ("when to use", when_to_use),
    ];
    let rows = lines
        .iter()
        .map(|(label, line)| {
            let mut cells = vec![(*label).to_owned()];
            cells.extend(columns.iter().map(|m| line(file, m)));
            cells
        })
        .collect();
    Grid { header, rows }
}

fn multiple_cpus(file: &ResultFile, model: &str) -> String {
    let why = python_reason(file, model).map_or(String::new(), |r| format!(": {r}"));
    match speedup(file, model) {
        Some((n, s)) if s >= USES_CPUS_SPEEDUP => format!("yes: S({n}) = {s:.2}{why}"),
        Some((n, s)) => format!("no: S({n}) = {s:.2}{why}"),
        None => "not measured".to_owned(),
    }
}

/// Why a Python model did or did not speed up, read from its `speedup` rows and the
/// interpreter recorded with the machine (docs/lab.md, "Coming from Python"): the GIL's
/// finding in words, or `None` for a model or a figure that says nothing about it. An
/// interpreter not recorded is taken to have the GIL (every CPython before 3.13 does).
pub fn python_reason(file: &ResultFile, model: &str) -> Option<&'static str> {
    let (_, s) = speedup(file, model).filter(|&(n, _)| n >= 2)?;
    let gil = file.machine.python.as_ref().is_none_or(|p| p.gil_enabled);
    let parallel = s >= USES_CPUS_SPEEDUP;
    match (model, gil, parallel) {
        ("py-threading", true, false) => Some("the GIL serialises it"),
        ("py-threading", false, false) => Some("no speed-up although this build has no GIL"),
        ("py-threading", false, true) => Some("a free-threaded build, no GIL"),
        ("py-multiprocessing", _, true) => Some("a process each, each with its own GIL"),
        ("py-asyncio", _, false) => Some("one event loop on one thread"),
        _ => None,
    }
}

fn blocking_call(file: &ResultFile, model: &str) -> String {
    match blocking_p99(file, model) {
        Some(p99) => {
            let label = if p99 >= STALL_NS {
                "stalls every unit"
            } else if unit_kind(model) == UnitKind::Task {
                "hands off"
            } else {
                "isolated"
            };
            format!("{label}: p99 of others {}", human(p99, "ns"))
        }
        None => "not measured".to_owned(),
    }
}

fn switch_cost(file: &ResultFile, model: &str) -> String {
    let parts: Vec<String> = [("yield", "yield"), ("pingpong_same_core", "round trip")]
        .into_iter()
        .filter_map(|(variant, label)| {
            row(file, "switch", model, variant, "ns_per_op")
                .map(|r| format!("{label} {}", human(r.value, &r.unit)))
        })
        .collect();
    if parts.is_empty() {
        "not measured".to_owned()
    } else {
        parts.join(", ")
    }
}

fn creation_cost(file: &ResultFile, model: &str) -> String {
    row(file, "spawn", model, "spawn_join", "ns_per_op").map_or_else(
        || "not measured".to_owned(),
        |r| format!("{} per spawn+join", human(r.value, &r.unit)),
    )
}

fn scale_cell(file: &ResultFile, model: &str) -> String {
    let unit = match unit_kind(model) {
        UnitKind::Task => "tasks",
        UnitKind::Thread => "threads",
        UnitKind::Process => "processes",
    };
    match scale_reached(file, model) {
        Some((n, bytes)) => format!("{} {unit}, {} each", thousands(n), human(bytes, "B")),
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
                python: None,
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

    fn r(experiment: &str, model: &str, variant: &str, metric: &str, value: f64) -> Row {
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
    fn python_speedups_state_the_gil_finding() {
        let mut file = empty();
        file.results = vec![
            r("speedup", "py-threading", "n=2", "speedup", 0.91),
            r("speedup", "py-multiprocessing", "n=2", "speedup", 1.8),
        ];
        assert_eq!(
            multiple_cpus(&file, "py-threading"),
            "no: S(2) = 0.91: the GIL serialises it"
        );
        assert_eq!(
            multiple_cpus(&file, "py-multiprocessing"),
            "yes: S(2) = 1.80: a process each, each with its own GIL"
        );
        let python = answers(&file)
            .into_iter()
            .find(|a| a.question == "CPU-bound Python code")
            .unwrap();
        assert_eq!(python.model, "py-multiprocessing");
        // The general verdicts choose among the lab's own models only.
        assert!(
            answers(&file)
                .iter()
                .all(|a| a.question == "CPU-bound Python code" || !a.model.starts_with("py-")),
            "{:?}",
            answers(&file)
        );
        assert!(
            python
                .because
                .contains("py-threading S(2) = 0.91: the GIL serialises it"),
            "{}",
            python.because
        );
        // A free-threaded interpreter recorded with the machine: no GIL to blame.
        let probe = r#"{"version": "3.13.0", "major": 3, "implementation": "CPython",
            "executable": "/p", "gil_enabled": false, "gil_check": "-", "start_method": null,
            "cpus": 2}"#;
        file.machine.python = Some(serde_json::from_str(probe).unwrap());
        assert_eq!(
            multiple_cpus(&file, "py-threading"),
            "no: S(2) = 0.91: no speed-up although this build has no GIL"
        );
        file.results[0].value = 1.9;
        assert_eq!(
            multiple_cpus(&file, "py-threading"),
            "yes: S(2) = 1.90: a free-threaded build, no GIL"
        );
    }

    #[test]
    fn speedup_rows_become_the_multiple_cpus_label_and_a_claim() {
        let mut file = empty();
        file.results = vec![
            r("speedup", "thread", "n=1", "speedup", 1.0),
            r("speedup", "thread", "n=2", "speedup", 1.95),
            r("speedup", "loop", "n=2", "speedup", 1.01),
        ];
        assert_eq!(multiple_cpus(&file, "thread"), "yes: S(2) = 1.95");
        assert_eq!(multiple_cpus(&file, "loop"), "no: S(2) = 1.01");
        assert_eq!(multiple_cpus(&file, "naive"), "not measured");
        assert_eq!(
            when_to_use(&file, "thread"),
            "for CPU-bound work (speedup S(2) = 1.95)"
        );
        assert_eq!(
            when_to_use(&file, "loop"),
            "not for CPU-bound work (speedup S(2) = 1.01)"
        );
    }

    #[test]
    fn a_verdict_changes_with_the_figures_it_names() {
        let mut file = empty();
        file.results = vec![r(
            "blocking",
            "loop",
            "others_p99",
            "lateness",
            10_200_000.0,
        )];
        let stalled = when_to_use(&file, "loop");
        assert!(
            stalled.starts_with("not for code that makes blocking calls"),
            "{stalled}"
        );
        assert!(stalled.contains("10.2 ms"), "{stalled}");
        file.results = vec![r("blocking", "loop", "others_p99", "lateness", 120_000.0)];
        let fine = when_to_use(&file, "loop");
        assert!(
            fine.starts_with("for code that makes blocking calls"),
            "{fine}"
        );
        assert!(fine.contains("120 µs"), "{fine}");
    }

    #[test]
    fn blocking_rows_become_the_blocking_call_label() {
        let mut file = empty();
        file.results = vec![
            r("blocking", "loop", "others_p99", "lateness", 10_200_000.0),
            r("blocking", "thread", "others_p99", "lateness", 120_000.0),
            r("blocking", "pool", "others_p99", "lateness", 900_000.0),
        ];
        assert!(blocking_call(&file, "loop").starts_with("stalls every unit"));
        assert!(blocking_call(&file, "thread").starts_with("isolated: p99"));
        assert!(blocking_call(&file, "pool[lifo_poll_bound=0]").starts_with("not measured"));
        assert!(blocking_call(&file, "pool").starts_with("hands off: p99"));
    }

    #[test]
    fn answers_pick_the_best_figure_and_name_it() {
        let mut file = empty();
        file.results = vec![
            r("spawn", "loop", "spawn_join", "ns_per_op", 90.0),
            r("spawn", "thread", "spawn_join", "ns_per_op", 20_000.0),
            r("speedup", "loop", "n=2", "speedup", 1.0),
            r("speedup", "pool", "n=2", "speedup", 1.9),
        ];
        let answers_then = answers(&file);
        file.results.pop();
        assert!(
            answers(&file)
                .iter()
                .all(|a| a.question != "CPU-bound work"),
            "no model uses several CPUs: no answer"
        );
        let answers = answers_then;
        let creation = answers
            .iter()
            .find(|a| a.question == "the cheapest creation")
            .unwrap();
        assert_eq!(creation.model, "loop");
        assert!(creation.because.contains("90"));
        let cpu = answers
            .iter()
            .find(|a| a.question == "CPU-bound work")
            .unwrap();
        assert_eq!(cpu.model, "pool");
        assert!(answers.iter().all(|a| a.question != "fairness"));
    }

    #[test]
    fn a_model_without_figures_is_not_measured_never_guessed() {
        let mut file = empty();
        file.results = vec![r("spawn", "loop", "spawn_join", "ns_per_op", 90.0)];
        let grid = build_for(&file, &["loop".to_owned(), "thread".to_owned()]);
        let thread = grid.header.iter().position(|h| h == "thread").unwrap();
        for row in &grid.rows[1..] {
            assert!(!row[thread].chars().any(|c| c.is_ascii_digit()), "{row:?}");
        }
    }
}
