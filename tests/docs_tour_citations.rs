//! Every file, line range and anchor that `docs/tour.md` cites exists: a tour that drifts from
//! the code fails here, not in a reader's hands.
//!
//! A citation is a code span of the form `path:A-B` (lines A to B of a file in this
//! repository) or `path#text` (a file that contains `text`); paths end in `.rs` or `.md`.

use std::path::Path;

/// One citation found in the tour.
#[derive(Debug)]
enum Citation {
    Lines {
        path: String,
        first: usize,
        last: usize,
    },
    Anchor {
        path: String,
        text: String,
    },
}

fn is_path(path: &str) -> bool {
    (path.ends_with(".rs") || path.ends_with(".md"))
        && path.contains('/')
        && !path.contains(char::is_whitespace)
}

/// The citations in `markdown`: every code span that parses as one.
fn citations(markdown: &str) -> Vec<Citation> {
    let mut found = Vec::new();
    // Code spans are the odd pieces between backticks (the tour has no fenced code with
    // backticks in it, and no double-backtick spans).
    for span in markdown.split('`').skip(1).step_by(2) {
        if let Some((path, text)) = span.split_once('#') {
            if is_path(path) {
                found.push(Citation::Anchor {
                    path: path.into(),
                    text: text.into(),
                });
            }
        } else if let Some((path, range)) = span.rsplit_once(':') {
            let Some((first, last)) = range.split_once('-') else {
                continue;
            };
            if let (true, Ok(first), Ok(last)) = (is_path(path), first.parse(), last.parse()) {
                found.push(Citation::Lines {
                    path: path.into(),
                    first,
                    last,
                });
            }
        }
    }
    found
}

#[test]
fn every_citation_in_the_tour_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tour = std::fs::read_to_string(root.join("docs/tour.md")).expect("docs/tour.md exists");
    let cited = citations(&tour);
    assert!(
        cited.len() >= 30,
        "the tour cites its stops ({} found)",
        cited.len()
    );
    let mut broken = Vec::new();
    for citation in &cited {
        let path = match citation {
            Citation::Lines { path, .. } | Citation::Anchor { path, .. } => path,
        };
        let Ok(text) = std::fs::read_to_string(root.join(path)) else {
            broken.push(format!("{citation:?}: no such file"));
            continue;
        };
        match citation {
            Citation::Lines { first, last, .. } => {
                let lines = text.lines().count();
                if !(1 <= *first && first <= last && *last <= lines) {
                    broken.push(format!("{citation:?}: the file has {lines} lines"));
                }
            }
            Citation::Anchor { text: anchor, .. } => {
                if !text.contains(anchor.as_str()) {
                    broken.push(format!("{citation:?}: text not found"));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "broken citations in docs/tour.md:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_parser_finds_both_forms_and_ignores_plain_code() {
    let found = citations("see `a/b.rs:1-2`, `c/d.md#Some text`, `x:1-2`, `Vec<T>`");
    assert_eq!(found.len(), 2, "{found:?}");
}
