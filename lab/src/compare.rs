//! `compare A.json B.json .. [--out FILE.html]`: the same rows from several result files
//! side by side, each file a letter (A, B, ..) with its machine named above the table, and
//! the ratio of each later file's figure to the first's (below 1.0: lower than A's; read
//! with the metric's direction, docs/lab.md "Result file"). `--out` writes the compare page
//! ([`crate::report::render_compare`]): the report's charts with one series per file.

use std::fmt::Write as _;

use crate::results::ResultFile;
use crate::table::{Grid, TERMINAL_WIDTH, cell, fit_lines};

/// The letter of file `i` (A, B, .. Z, then A2, B2, ..).
pub fn letter(i: usize) -> String {
    let l = char::from(b'A' + (i % 26) as u8);
    if i < 26 {
        l.to_string()
    } else {
        format!("{l}{}", i / 26 + 1)
    }
}

/// Side-by-side grid of every row key found in any file, in first-seen order: a column per
/// file, then `B/A`, `C/A`, .. for each later file.
pub fn compare(files: &[(String, ResultFile)]) -> Grid {
    let mut keys: Vec<(&str, &str, &str, &str)> = Vec::new();
    for (_, file) in files {
        for r in &file.results {
            let key = (
                r.experiment.as_str(),
                r.model.as_str(),
                r.variant.as_str(),
                r.metric.as_str(),
            );
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    let mut header = vec!["experiment / model / variant / metric".to_owned()];
    header.extend((0..files.len()).map(letter));
    header.extend((1..files.len()).map(|i| format!("{}/A", letter(i))));
    let rows = keys
        .iter()
        .map(|&(e, m, v, metric)| {
            let found: Vec<_> = files.iter().map(|(_, f)| f.find(e, m, v, metric)).collect();
            let mut cells = vec![format!("{e} / {m} / {v} / {metric}")];
            cells.extend(found.iter().map(|r| r.map_or_else(|| "-".to_owned(), cell)));
            for later in found.iter().skip(1) {
                cells.push(match (found[0], later) {
                    (Some(a), Some(b)) if a.value != 0.0 => format!("{:.2}", b.value / a.value),
                    _ => "-".to_owned(),
                });
            }
            cells
        })
        .collect();
    Grid { header, rows }
}

/// The text `compare` prints: each file's letter, path and machine, then the grid, no
/// line over [`TERMINAL_WIDTH`].
pub fn to_text(files: &[(String, ResultFile)]) -> String {
    let mut out = String::new();
    for (i, (label, file)) in files.iter().enumerate() {
        let m = &file.machine;
        let _ = writeln!(
            out,
            "{}: {label}: {}, {} cores, {}, {}, host {}, lab {}, started {}{}",
            letter(i),
            m.cpu_model,
            m.cores,
            m.kernel,
            m.rustc,
            m.hostname,
            file.lab_version,
            file.started_at,
            if file.config.quick { ", quick" } else { "" }
        );
    }
    out.push('\n');
    out.push_str(&compare(files).to_text_fit(TERMINAL_WIDTH));
    fit_lines(&out, TERMINAL_WIDTH)
}

/// A file's label: its path as given.
pub fn label(path: &str, _file: &ResultFile) -> String {
    path.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(host: &str, value: f64) -> ResultFile {
        let mut f = ResultFile::parse(
            r#"{"schema": 1, "lab_version": "0", "started_at": "t",
                "machine": {"cpu_model": "cpu", "cores": 2, "kernel": "k", "os": "", "rustc": "r", "hostname": "HOST"},
                "config": {"quick": true, "seed": 1, "pin": true},
                "results": [{"experiment": "switch", "model": "loop", "variant": "yield", "metric": "ns_per_op",
                  "value": 1.0, "unit": "ns", "n": 1, "samples": 1, "min": 1.0, "median": 1.0, "max": 1.0,
                  "p50": null, "p90": null, "p99": null, "p999": null, "max_latency": null, "note": null}]}"#,
        )
        .unwrap();
        f.machine.hostname = host.to_owned();
        f.results[0].value = value;
        f
    }

    #[test]
    fn text_names_each_machine_and_gives_the_ratio_to_the_first() {
        let files = vec![
            ("a.json".to_owned(), file("alpha", 100.0)),
            ("b.json".to_owned(), file("beta", 150.0)),
        ];
        let text = to_text(&files);
        assert!(
            text.contains("A: a.json: cpu, 2 cores, k, r, host alpha"),
            "{text}"
        );
        assert!(
            text.contains("B: b.json:") && text.contains("host beta"),
            "{text}"
        );
        let line = text
            .lines()
            .find(|l| l.starts_with("switch / loop"))
            .unwrap();
        assert!(line.ends_with("1.50"), "{line}");
        assert!(text.lines().all(|l| l.chars().count() <= TERMINAL_WIDTH));
    }

    #[test]
    fn a_row_missing_from_one_file_has_no_ratio() {
        let mut b = file("beta", 1.0);
        b.results[0].variant = "other".into();
        let grid = compare(&[("a".into(), file("alpha", 1.0)), ("b".into(), b)]);
        assert_eq!(grid.rows.len(), 2);
        assert!(grid.rows.iter().all(|r| r.last().unwrap() == "-"));
    }
}
