//! Text tables: the table printed at the end of a run (rows x models), and the way
//! figures are written for humans (units scaled, three significant digits).

use crate::results::{ResultFile, Row};

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
    fn grid_text_aligns_columns() {
        let grid = Grid {
            header: vec!["a".into(), "bb".into()],
            rows: vec![vec!["ccc".into(), "d".into()]],
        };
        assert_eq!(grid.to_text(), "a    bb\n---  --\nccc  d\n");
    }
}
