//! `compare A.json B.json ..`: the same rows from several result files side by side, with
//! the ratio of the last file's figure to the first's (below 1.0: the last is lower).

use crate::results::ResultFile;
use crate::table::{Grid, cell};

/// Side-by-side grid of every row key found in any file, in first-seen order.
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
    header.extend(files.iter().map(|(label, _)| label.clone()));
    header.push("last/first".to_owned());
    let rows = keys
        .iter()
        .map(|&(e, m, v, metric)| {
            let found: Vec<_> = files.iter().map(|(_, f)| f.find(e, m, v, metric)).collect();
            let mut cells = vec![format!("{e} / {m} / {v} / {metric}")];
            cells.extend(found.iter().map(|r| r.map_or_else(|| "-".to_owned(), cell)));
            let ratio = match (
                found.first().copied().flatten(),
                found.last().copied().flatten(),
            ) {
                (Some(a), Some(b)) if a.value != 0.0 && found.len() > 1 => {
                    format!("{:.2}", b.value / a.value)
                }
                _ => "-".to_owned(),
            };
            cells.push(ratio);
            cells
        })
        .collect();
    Grid { header, rows }
}

/// A short label for a file: its name, plus host and start time.
pub fn label(path: &str, file: &ResultFile) -> String {
    format!("{path} ({}, {})", file.machine.hostname, file.started_at)
}
