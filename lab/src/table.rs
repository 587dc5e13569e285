//! Text tables: one compact table per experiment printed at the end of a run (the models
//! that ran it as columns, the figure with its spread, the best marked), the full pivot
//! (rows x models) for the report, the way they fit a terminal (no line over
//! [`TERMINAL_WIDTH`] columns: long cells wrap, many models split into several tables) and
//! Markdown (`run --markdown FILE`), and the way figures are written for humans (units
//! scaled, three significant digits).

use std::fmt::Write as _;

use crate::comparison;
use crate::results::{ResultFile, Row};

/// The widest line the lab prints (docs/lab.md): an ordinary terminal's width and more.
pub const TERMINAL_WIDTH: usize = 120;

/// The widest a cell gets before it wraps onto more lines.
const CELL_WIDTH: usize = 30;
/// The same for the first column, which names the line.
const FIRST_CELL_WIDTH: usize = 60;

/// Metrics where a higher figure is better (docs/lab.md, "Result file").
pub fn higher_is_better(metric: &str) -> bool {
    matches!(
        metric,
        "speedup" | "jain_index" | "ops_per_sec" | "bytes_per_sec" | "parallel_fraction"
    )
}

/// A grid of cells with a header row; renders as aligned text or HTML.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Column titles.
    pub header: Vec<String>,
    /// Rows of cells, each as long as the header.
    pub rows: Vec<Vec<String>>,
}

impl Grid {
    /// Aligned plain text, columns separated by two spaces, a rule under the header.
    pub fn to_text(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| {
                std::iter::once(&self.header)
                    .chain(&self.rows)
                    .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (c, width) in widths.iter().enumerate() {
                let cell = cells.get(c).map_or("", String::as_str);
                out.push_str(cell);
                let pad = width - cell.chars().count();
                if c + 1 < widths.len() {
                    out.extend(std::iter::repeat_n(' ', pad + 2));
                }
            }
            out.trim_end().to_owned()
        };
        let mut out = line(&self.header);
        out.push('\n');
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&line(&rule));
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row));
            out.push('\n');
        }
        out
    }
}

impl Grid {
    /// Plain text no wider than `width`: cells wrap at `CELL_WIDTH`, and when the columns
    /// still do not fit they are split into several tables, each repeating the first column.
    pub fn to_text_fit(&self, width: usize) -> String {
        let wrapped: Vec<Vec<Vec<String>>> = std::iter::once(&self.header)
            .chain(&self.rows)
            .map(|row| {
                row.iter()
                    .enumerate()
                    .map(|(i, c)| wrap(c, if i == 0 { FIRST_CELL_WIDTH } else { CELL_WIDTH }))
                    .collect()
            })
            .collect();
        let columns = self.header.len();
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                wrapped
                    .iter()
                    .flat_map(|row| row.get(c).into_iter().flatten())
                    .map(|l| l.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut current: Vec<usize> = Vec::new();
        let mut used = widths.first().copied().unwrap_or(0);
        for c in 1..columns {
            if !current.is_empty() && used + 2 + widths[c] > width {
                groups.push(std::mem::take(&mut current));
                used = widths[0];
            }
            used += 2 + widths[c];
            current.push(c);
        }
        if !current.is_empty() || groups.is_empty() {
            groups.push(current);
        }
        let mut out = String::new();
        for (g, group) in groups.iter().enumerate() {
            if g > 0 {
                out.push('\n');
            }
            let cols: Vec<usize> = std::iter::once(0).chain(group.iter().copied()).collect();
            for (r, row) in wrapped.iter().enumerate() {
                let height = cols
                    .iter()
                    .map(|&c| row.get(c).map_or(1, Vec::len))
                    .max()
                    .unwrap_or(1);
                for line in 0..height {
                    let mut text = String::new();
                    for &c in &cols {
                        let cell = row
                            .get(c)
                            .and_then(|l| l.get(line))
                            .map_or("", String::as_str);
                        let _ = write!(text, "{cell:<w$}  ", w = widths[c]);
                    }
                    out.push_str(text.trim_end());
                    out.push('\n');
                }
                if r == 0 {
                    let rule: Vec<String> = cols.iter().map(|&c| "-".repeat(widths[c])).collect();
                    out.push_str(&rule.join("  "));
                    out.push('\n');
                }
            }
        }
        out
    }

    /// A Markdown table.
    pub fn to_markdown(&self) -> String {
        let cell = |c: &String| c.replace('|', "\\|");
        let mut out = format!(
            "| {} |\n",
            self.header.iter().map(cell).collect::<Vec<_>>().join(" | ")
        );
        out.push_str(&format!("|{}\n", "---|".repeat(self.header.len())));
        for row in &self.rows {
            out.push_str(&format!(
                "| {} |\n",
                row.iter().map(cell).collect::<Vec<_>>().join(" | ")
            ));
        }
        out
    }
}

/// Units [`human`] writes: a line never breaks between a figure and its unit.
const UNITS: &[&str] = &[
    "ns", "µs", "ms", "s", "B", "KiB", "MiB", "GiB", "B/s", "KiB/s", "MiB/s", "GiB/s", "x", "ops/s",
];

/// The words of `text`, a figure and its unit kept together (`1.24 µs,` is one word).
fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split(' ') {
        let bare = word.trim_end_matches([',', '.', ')', ';', ':']);
        let follows_figure = out
            .last()
            .is_some_and(|w| w.ends_with(|c: char| c.is_ascii_digit()));
        match out.last_mut() {
            Some(last) if follows_figure && UNITS.contains(&bare) => {
                last.push(' ');
                last.push_str(word);
            }
            _ => out.push(word.to_owned()),
        }
    }
    out
}

/// Words of `text` in lines of at most `width` characters (a longer word stands alone).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in words(text) {
        let word = word.as_str();
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

/// Every line of `text` no wider than `width`: a longer line wraps at spaces, keeping its own
/// indent, its continuation indented by four more.
pub fn fit_lines(text: &str, width: usize) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.chars().count() <= width {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let body = line.trim_start_matches(' ');
        let indent = &line[..line.len() - body.len()];
        let room = width.saturating_sub(indent.len() + 4).max(width / 2);
        for (i, part) in wrap(body, room).into_iter().enumerate() {
            out.push_str(indent);
            if i > 0 {
                out.push_str("    ");
            }
            out.push_str(&part);
            out.push('\n');
        }
    }
    out
}

/// The experiments of a file, in first-seen order.
pub fn experiments_of(file: &ResultFile) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for r in &file.results {
        if !out.contains(&r.experiment.as_str()) {
            out.push(&r.experiment);
        }
    }
    out
}

/// One experiment as a compact table: a line per `variant metric`, a column per model that
/// ran it; each cell the figure and its spread (`±` half of max - min over the samples, as
/// a share of the figure), the best of each line marked `*`.
pub fn experiment_grid(file: &ResultFile, experiment: &str) -> Grid {
    let rows: Vec<&Row> = file.rows_of(experiment).collect();
    let mut models: Vec<&str> = Vec::new();
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for r in &rows {
        if !models.contains(&r.model.as_str()) {
            models.push(&r.model);
        }
        if !keys.contains(&(r.variant.as_str(), r.metric.as_str())) {
            keys.push((&r.variant, &r.metric));
        }
    }
    let mut header = vec!["variant metric".to_owned()];
    header.extend(models.iter().map(|m| (*m).to_owned()));
    let grid_rows = keys
        .iter()
        .map(|&(variant, metric)| {
            let found: Vec<Option<&Row>> = models
                .iter()
                .map(|m| {
                    rows.iter()
                        .copied()
                        .find(|r| r.model == *m && r.variant == variant && r.metric == metric)
                })
                .collect();
            let figure = |r: &Row| r.p99.unwrap_or(r.value);
            let figures = found.iter().flatten().map(|r| figure(r));
            let best = if higher_is_better(metric) {
                figures.fold(f64::MIN, f64::max)
            } else {
                figures.fold(f64::MAX, f64::min)
            };
            let all_equal = found.iter().flatten().all(|r| figure(r) == best);
            let several = found.iter().flatten().count() > 1 && !all_equal;
            let mut cells = vec![format!("{variant} {metric}")];
            cells.extend(found.iter().map(|r| match r {
                Some(r) => {
                    let mark = if several && figure(r) == best {
                        " *"
                    } else {
                        ""
                    };
                    format!("{}{mark}", spread_cell(r))
                }
                None => "-".to_owned(),
            }));
            cells
        })
        .collect();
    Grid {
        header,
        rows: grid_rows,
    }
}

/// A figure with its spread: `12.5 ns ±4%`; histogram rows `p50 13.1 µs p99 114 µs`.
pub fn spread_cell(r: &Row) -> String {
    if r.p50.is_some() && r.p99.is_some() {
        return cell(r);
    }
    let base = human(r.value, &r.unit);
    if r.samples > 1 && r.max > r.min && r.value != 0.0 {
        let pct = (r.max - r.min) / 2.0 / r.value.abs() * 100.0;
        if pct >= 10.0 {
            format!("{base} ±{pct:.0}%")
        } else {
            format!("{base} ±{pct:.1}%")
        }
    } else {
        base
    }
}

/// A table per experiment, every line at most [`TERMINAL_WIDTH`] wide.
pub fn experiment_tables_text(file: &ResultFile) -> String {
    let mut out = String::new();
    for experiment in experiments_of(file) {
        let _ = writeln!(
            out,
            "\n== {experiment} (* best, by p99 where there are percentiles; ± half the spread over the samples)"
        );
        out.push_str(&experiment_grid(file, experiment).to_text_fit(TERMINAL_WIDTH));
    }
    out
}

/// The verdicts and the comparison table, as text no wider than [`TERMINAL_WIDTH`].
pub fn verdict_text(file: &ResultFile) -> String {
    let mut out = String::from("\n== which model, on this machine\n");
    for a in comparison::answers(file) {
        let _ = writeln!(out, "  {}: {} ({})", a.question, a.model, a.because);
    }
    out.push_str("\n== the models compared (each cell measured in this run)\n");
    out.push_str(&comparison::build(file).to_text_fit(TERMINAL_WIDTH));
    fit_lines(&out, TERMINAL_WIDTH)
}

/// The same tables as Markdown (`run --markdown FILE`).
pub fn markdown(file: &ResultFile) -> String {
    let m = &file.machine;
    let mut out = format!(
        "# Switchyard lab, {}\n\n{}, {} cores, {}, {}, {}\n\n## Which model, on this machine\n\n",
        file.started_at, m.cpu_model, m.cores, m.kernel, m.os, m.rustc
    );
    for a in comparison::answers(file) {
        let _ = writeln!(out, "- {}: **{}** ({})", a.question, a.model, a.because);
    }
    out.push_str("\n## The models compared\n\n");
    out.push_str(&comparison::build(file).to_markdown());
    for experiment in experiments_of(file) {
        let _ = write!(out, "\n## {experiment}\n\n");
        out.push_str(&experiment_grid(file, experiment).to_markdown());
    }
    out
}

/// The rows of a result file as one line per `experiment / variant / metric` and one
/// column per model, in first-seen order.
pub fn pivot(file: &ResultFile) -> Grid {
    let mut models: Vec<&str> = Vec::new();
    let mut keys: Vec<(&str, &str, &str)> = Vec::new();
    for row in &file.results {
        if !models.contains(&row.model.as_str()) {
            models.push(&row.model);
        }
        let key = (
            row.experiment.as_str(),
            row.variant.as_str(),
            row.metric.as_str(),
        );
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let mut header = vec![
        "experiment".to_owned(),
        "variant".to_owned(),
        "metric".to_owned(),
    ];
    header.extend(models.iter().map(|m| (*m).to_owned()));
    let rows = keys
        .iter()
        .map(|&(experiment, variant, metric)| {
            let mut cells = vec![experiment.to_owned(), variant.to_owned(), metric.to_owned()];
            for model in &models {
                cells.push(
                    file.find(experiment, model, variant, metric)
                        .map_or_else(|| "-".to_owned(), cell),
                );
            }
            cells
        })
        .collect();
    Grid { header, rows }
}

/// One row's figure for a table cell (latency: p50 and p99).
pub fn cell(row: &Row) -> String {
    match (row.p50, row.p99) {
        (Some(p50), Some(p99)) => format!(
            "p50 {} p99 {}",
            human(p50, &row.unit),
            human(p99, &row.unit)
        ),
        _ => human(row.value, &row.unit),
    }
}

/// A figure with its unit scaled for reading: ns to µs/ms/s, B to KiB/MiB.
pub fn human(value: f64, unit: &str) -> String {
    let (value, unit) = match unit {
        "ns" => scale(value, &[(1e9, "s"), (1e6, "ms"), (1e3, "µs"), (1.0, "ns")]),
        "B" => scale(
            value,
            &[(1_048_576.0, "MiB"), (1_024.0 * 10.0, "KiB"), (1.0, "B")],
        ),
        "B/s" => scale(
            value,
            &[
                (1_073_741_824.0, "GiB/s"),
                (1_048_576.0, "MiB/s"),
                (1_024.0, "KiB/s"),
                (1.0, "B/s"),
            ],
        ),
        // Dimensionless: the metric's name says what it is.
        "index" | "fraction" => (value, ""),
        other => (value, other),
    };
    format!("{} {unit}", sig3(value)).trim_end().to_owned()
}

fn scale<'a>(value: f64, steps: &[(f64, &'a str)]) -> (f64, &'a str) {
    for &(factor, unit) in steps {
        if value.abs() >= factor {
            let factor = if unit == "KiB" { 1_024.0 } else { factor };
            return (value / factor, unit);
        }
    }
    let (factor, unit) = steps[steps.len() - 1];
    (value / factor, unit)
}

/// An integer with thousands separators: `1,000,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Three significant digits, no exponent.
fn sig3(value: f64) -> String {
    let abs = value.abs();
    if abs >= 100.0 || abs == 0.0 {
        format!("{value:.0}")
    } else if abs >= 10.0 {
        format!("{value:.1}")
    } else if abs >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_scales_time_and_memory() {
        assert_eq!(human(12.5, "ns"), "12.5 ns");
        assert_eq!(human(97_100.0, "ns"), "97.1 µs");
        assert_eq!(human(1_100_000.0, "ns"), "1.10 ms");
        assert_eq!(human(112.0, "B"), "112 B");
        assert_eq!(human(331.4, "B"), "331 B");
        assert_eq!(human(20_480.0, "B"), "20.0 KiB");
        assert_eq!(human(1.95, "x"), "1.95 x");
        assert_eq!(human(3_006_074_784.0, "B/s"), "2.80 GiB/s");
        assert_eq!(human(297_742.0, "B/s"), "291 KiB/s");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(100), "100");
    }

    #[test]
    fn fitted_text_splits_many_columns_and_wraps_long_cells() {
        let mut header = vec!["row".to_owned()];
        header.extend((0..12).map(|i| format!("model-{i}")));
        let mut cells = vec!["a row".to_owned()];
        cells.extend((0..12).map(|i| format!("{i}.00 µs ±3% and a long explanation that wraps")));
        let grid = Grid {
            header,
            rows: vec![cells],
        };
        let text = grid.to_text_fit(TERMINAL_WIDTH);
        assert!(
            text.lines().all(|l| l.chars().count() <= TERMINAL_WIDTH),
            "{text}"
        );
        // Every model is still there, and the first column repeats in each part.
        for i in 0..12 {
            assert!(text.contains(&format!("model-{i}")), "{text}");
        }
        assert!(text.matches("a row").count() > 1, "{text}");
    }

    fn row(model: &str, variant: &str, metric: &str, value: f64, min: f64, max: f64) -> Row {
        Row {
            experiment: "e".into(),
            model: model.into(),
            variant: variant.into(),
            metric: metric.into(),
            value,
            unit: "ns".into(),
            n: 1,
            samples: 5,
            min,
            median: value,
            max,
            p50: None,
            p90: None,
            p99: None,
            p999: None,
            max_latency: None,
            hdr: None,
            note: None,
        }
    }

    #[test]
    fn an_experiment_table_marks_the_best_figure_and_shows_the_spread() {
        let mut file: ResultFile = serde_json::from_str(
            r#"{"schema": 1, "lab_version": "0", "started_at": "t",
                "machine": {"cpu_model": "", "cores": 2, "kernel": "", "os": "", "rustc": "", "hostname": ""},
                "config": {"quick": true, "seed": 1, "pin": true}, "results": []}"#,
        )
        .unwrap();
        file.results = vec![
            row("loop", "yield", "ns_per_op", 100.0, 90.0, 110.0),
            row("pool", "yield", "ns_per_op", 200.0, 200.0, 200.0),
            row("loop", "n=2", "speedup", 1.0, 1.0, 1.0),
            row("pool", "n=2", "speedup", 1.9, 1.9, 1.9),
        ];
        let grid = experiment_grid(&file, "e");
        assert_eq!(grid.header, ["variant metric", "loop", "pool"]);
        assert_eq!(grid.rows[0], ["yield ns_per_op", "100 ns ±10% *", "200 ns"]);
        assert_eq!(grid.rows[1], ["n=2 speedup", "1.00 ns", "1.90 ns *"]);
        file.results[3].value = 1.0;
        let grid = experiment_grid(&file, "e");
        assert_eq!(
            grid.rows[1],
            ["n=2 speedup", "1.00 ns", "1.00 ns"],
            "a tie marks nothing"
        );
    }

    #[test]
    fn a_full_peers_run_prints_nothing_wider_than_the_terminal() {
        let file =
            ResultFile::parse(include_str!("../../docs/results/2026-11-22-vm-2core.json")).unwrap();
        let text = experiment_tables_text(&file) + &verdict_text(&file);
        assert!(
            text.lines().all(|l| l.chars().count() <= TERMINAL_WIDTH),
            "{text}"
        );
        // Nine models do not fit one table: some experiments split, and every model stays.
        for model in ["loop", "tokio-mt", "async-executor", "rayon"] {
            assert!(text.contains(model), "{model}");
        }
        assert!(text.matches("variant metric").count() > experiments_of(&file).len());
    }

    #[test]
    fn a_figure_never_wraps_away_from_its_unit() {
        let lines = wrap("yield 290 ns, round trip 1.24 µs", 30);
        assert_eq!(lines, ["yield 290 ns, round trip", "1.24 µs"]);
    }

    #[test]
    fn long_lines_are_folded_to_the_width() {
        let line = "word ".repeat(60);
        let text = fit_lines(&line, 50);
        assert!(text.lines().all(|l| l.chars().count() <= 50), "{text}");
        assert_eq!(text.split_whitespace().count(), 60);
        // An indented line keeps its indent on every part.
        let text = fit_lines(&format!("  {line}"), 50);
        assert!(text.lines().all(|l| l.chars().count() <= 50), "{text}");
        assert!(text.starts_with("  word"), "{text}");
        assert!(
            text.lines().skip(1).all(|l| l.starts_with("      word")),
            "{text}"
        );
    }

    #[test]
    fn markdown_escapes_pipes() {
        let grid = Grid {
            header: vec!["a".into(), "b".into()],
            rows: vec![vec!["x|y".into(), "1".into()]],
        };
        assert_eq!(grid.to_markdown(), "| a | b |\n|---|---|\n| x\\|y | 1 |\n");
    }

    #[test]
    fn grid_text_aligns_columns() {
        let grid = Grid {
            header: vec!["a".into(), "bb".into()],
            rows: vec![vec!["ccc".into(), "d".into()]],
        };
        assert_eq!(grid.to_text(), "a    bb\n---  --\nccc  d\n");
    }
}
