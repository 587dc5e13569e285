//! Bring your own runtime: the example `custom_model` (a FIFO executor of its own, brought in
//! through `switchyard_lab::Lab`) gets the whole command line, and its runtime is measured as
//! a column beside the built-in models.
//!
//! `cargo test -p switchyard-lab` builds the examples before it runs any test; this test runs
//! the example's binary, which sits beside the lab's.

use std::path::PathBuf;
use std::process::{Command, Output};

fn example() -> PathBuf {
    let lab = PathBuf::from(env!("CARGO_BIN_EXE_switchyard-lab"));
    let exe = lab.with_file_name("examples").join("custom_model");
    assert!(
        exe.exists(),
        "{} is missing: run `cargo test -p switchyard-lab` (it builds the examples first)",
        exe.display()
    );
    exe
}

fn run(args: &[&str]) -> Output {
    Command::new(example())
        .args(args)
        .output()
        .expect("the example starts")
}

#[test]
fn the_users_runtime_is_measured_beside_the_built_ins() {
    let dir = std::env::temp_dir().join(format!("switchyard-lab-custom-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let json = dir.join("r.json");
    let out = run(&[
        "run",
        "--tiny",
        "--only",
        "switch,spawn,sharing",
        "--models",
        "loop,fifo",
        "--out",
        dir.join("out").to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        file["config"]["models"],
        serde_json::json!(["loop", "fifo"])
    );
    let rows = file["results"].as_array().unwrap();
    for (experiment, variant) in [
        ("switch", "yield"),
        ("switch", "pingpong_same_core"),
        ("spawn", "spawn_join"),
        ("sharing", "message,units=16"),
    ] {
        for model in ["loop", "fifo"] {
            assert!(
                rows.iter().any(|r| r["model"] == model
                    && r["experiment"] == experiment
                    && r["variant"] == variant),
                "{model} has no {experiment} / {variant} row"
            );
        }
    }
    // What it cannot do, it says (and why), as a built-in model does.
    let skipped = file["skipped"].as_array().unwrap();
    assert!(skipped.iter().any(|s| s["model"] == "fifo"
        && s["variant"] == "pingpong_cross_core"
        && s["reason"].as_str().unwrap().starts_with("not applicable")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn list_names_the_users_runtime_and_the_plain_lab_does_not() {
    let listed = String::from_utf8_lossy(&run(&["list"]).stdout).into_owned();
    assert!(listed.contains("fifo"), "{listed}");
    let plain = Command::new(env!("CARGO_BIN_EXE_switchyard-lab"))
        .arg("list")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("fifo"));
}
