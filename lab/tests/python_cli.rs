//! The Python models on the command line (docs/lab.md, "Coming from Python"): `--python`,
//! a run without a python3, and a script that crashes, driven through the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lab(args: &[&str], path_env: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard-lab"));
    cmd.args(args);
    if let Some(path) = path_env {
        cmd.env("PATH", path);
    }
    cmd.output().expect("the lab binary starts")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh scratch folder per test (tests run in parallel).
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "switchyard-lab-pytest-{}-{test}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes an executable shell script.
fn script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The machine's python3, or `None` (the test that needs one then says so and passes).
fn python3() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("python3"))
        .find(|p| p.is_file())
}

/// A tiny run; its result file.
fn tiny_run(dir: &Path, args: &[&str], path_env: Option<&Path>) -> serde_json::Value {
    let json = dir.join("r.json");
    let out_dir = dir.join("out");
    let mut all = vec![
        "run",
        "--tiny",
        "--out",
        out_dir.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let out = lab(&all, path_env);
    assert!(out.status.success(), "run failed: {}", stderr(&out));
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

fn skips_of<'a>(file: &'a serde_json::Value, experiment: &str) -> Vec<&'a serde_json::Value> {
    file["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["experiment"] == experiment)
        .collect()
}

#[test]
fn a_python_path_that_is_not_a_python_3_exits_2_with_a_message() {
    let dir = scratch("not-python");
    let fake = dir.join("python-imposter");
    script(&fake, "echo 'Python 2.7.18'");
    let missing = dir.join("no-such-python");
    for (path, says) in [
        (&fake, "not a Python 3 interpreter"),
        (&missing, "cannot run it"),
    ] {
        let out = lab(
            &[
                "run",
                "--tiny",
                "--only",
                "switch",
                "--models",
                "py-asyncio",
                "--python",
                path.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.contains("--python") && err.contains(says), "{err}");
        assert!(err.contains(path.to_str().unwrap()), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_a_python3_each_python_cell_is_a_note_and_the_run_goes_on() {
    let dir = scratch("no-python");
    let empty = dir.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let file = tiny_run(
        &dir,
        &["--only", "switch,spawn", "--models", "loop,py-threading"],
        Some(&empty),
    );
    for experiment in ["switch", "spawn"] {
        let skips = skips_of(&file, experiment);
        let note = skips
            .iter()
            .find(|s| s["model"] == "py-threading")
            .unwrap_or_else(|| panic!("no note for {experiment}: {skips:?}"));
        let reason = note["reason"].as_str().unwrap();
        assert!(reason.contains("no python3 found"), "{reason}");
    }
    let rows = file["results"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["model"] == "loop"), "loop measured");
    assert!(rows.iter().all(|r| r["model"] != "py-threading"));
    assert!(file["machine"].get("python").is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_script_that_crashes_becomes_a_note_with_its_last_stderr_line() {
    let Some(real) = python3() else {
        return eprintln!("skipped: no python3 on PATH");
    };
    let dir = scratch("crash");
    // An interpreter that is the real one, except that `switch.py` dies as a Python script
    // dies. It answers the probe through the real one but names itself as the executable
    // (the lab runs what the probe names).
    let wrapper = dir.join("python3-crashy");
    let real = real.display();
    script(
        &wrapper,
        &format!(
            r##"case "$4" in
  -c) "{real}" "$@" | sed 's#"executable": "[^"]*"#"executable": "'"$0"'"#' ;;
  */switch.py) echo 'Traceback (most recent call last):' >&2
     echo 'RuntimeError: injected crash' >&2; exit 1 ;;
  *) exec "{real}" "$@" ;;
esac"##
        ),
    );
    let file = tiny_run(
        &dir,
        &[
            "--only",
            "switch,spawn",
            "--models",
            "py-asyncio",
            "--python",
            wrapper.to_str().unwrap(),
        ],
        None,
    );
    let notes = skips_of(&file, "switch");
    assert_eq!(notes.len(), 1, "{notes:?}");
    let reason = notes[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("switch.py failed"), "{reason}");
    assert!(reason.ends_with("RuntimeError: injected crash"), "{reason}");
    // The run went on: the next experiment's script ran.
    let rows = file["results"].as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r["experiment"] == "spawn" && r["model"] == "py-asyncio"),
        "{rows:?}"
    );
    assert!(rows.iter().all(|r| r["experiment"] != "switch"));
    assert_eq!(file["machine"]["python"]["major"], 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn list_names_the_python_models() {
    let out = lab(&["list"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for name in ["py-asyncio", "py-threading", "py-multiprocessing"] {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing from:\n{text}"));
        assert!(line.contains("needs a python3"), "{line}");
    }
}

/// Every Python echo row has its `cpu_ns_per_op` beside it, positive, and the
/// `conns=1000` variant is measured or skipped with a reason (docs/lab.md: every cell
/// measured, or a note saying why not).
#[test]
fn every_python_echo_row_has_its_server_cpu_and_the_thousand_connections() {
    if python3().is_none() {
        return eprintln!("skipped: no python3 on PATH");
    }
    let dir = scratch("echo-cpu");
    let models = ["py-asyncio", "py-threading", "py-multiprocessing"];
    let file = tiny_run(
        &dir,
        &["--only", "echo", "--models", &models.join(",")],
        None,
    );
    let rows = file["results"].as_array().unwrap();
    let skips = skips_of(&file, "echo");
    for model in models {
        let of = |metric: &str| -> Vec<&serde_json::Value> {
            rows.iter()
                .filter(|r| r["model"] == model && r["metric"] == metric)
                .collect()
        };
        let lateness = of("lateness");
        assert!(!lateness.is_empty(), "{model}: no echo rows; {skips:?}");
        let cpu = of("cpu_ns_per_op");
        for late in &lateness {
            let variant = &late["variant"];
            let beside = cpu
                .iter()
                .find(|r| r["variant"] == *variant)
                .unwrap_or_else(|| panic!("{model} / {variant}: no cpu_ns_per_op row"));
            let value = beside["value"].as_f64().unwrap();
            assert!(value > 0.0, "{model} / {variant}: cpu_ns_per_op {value}");
            assert_eq!(beside["unit"], "ns");
            assert!(beside["note"].as_str().is_some_and(|n| !n.is_empty()));
        }
        assert_eq!(cpu.len(), lateness.len(), "{model}: {cpu:?}");
        let many = |v: &serde_json::Value| v.as_str().is_some_and(|v| v.ends_with(",conns=1000"));
        let measured = lateness.iter().any(|r| many(&r["variant"]));
        let skipped = skips.iter().any(|s| {
            s["model"] == model
                && many(&s["variant"])
                && s["reason"].as_str().is_some_and(|r| !r.is_empty())
        });
        assert!(
            measured || skipped,
            "{model}: no conns=1000 row nor skip; {skips:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
