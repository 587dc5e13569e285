//! The command line of docs/lab.md, and the rule for bad input: one line naming what is wrong
//! and what is accepted, exit status 2.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::experiments::{self, Sizing};
use crate::models::{self, Model};
use crate::results::ResultFile;
use crate::run::{self, Plan};
use crate::{compare, comparison, python, report};

/// The Switchyard lab: measures each concurrency model on this machine.
#[derive(Debug, Parser)]
#[command(
    name = "switchyard-lab",
    version,
    args_conflicts_with_subcommands = true,
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure (the default): progress, a table, DIR/results.json and DIR/report.html.
    Run(RunArgs),
    /// Experiments and models, one line each with what it measures.
    List,
    /// The models compared in one table, measured here (quick form).
    Table {
        /// Also write the measured result file here.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// (tests) measure with the tiny workloads instead of the quick ones.
        #[arg(long, hide = true)]
        tiny: bool,
        /// The Python 3 interpreter of the py-* columns (default: the first python3 on PATH).
        #[arg(long, value_name = "PATH")]
        python: Option<PathBuf>,
    },
    /// The same experiments from several result files, side by side.
    Compare {
        /// Two or more result files.
        #[arg(value_name = "RESULTS.json", num_args = 1..)]
        files: Vec<PathBuf>,
        /// Also write the comparison as an HTML page (the report's charts, a series per file).
        #[arg(long, value_name = "FILE.html")]
        out: Option<PathBuf>,
    },
    /// Rebuild the HTML report from a result file.
    Report {
        /// The result file.
        #[arg(value_name = "RESULTS.json")]
        file: PathBuf,
        /// Where to write the report (default: report.html beside the result file).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// (internal) park N units of a model in this fresh process, for `scale`.
    #[command(name = "__park", hide = true)]
    Park {
        model: String,
        n: u64,
        #[arg(long, overrides_with = "no_pin")]
        pin: bool,
        #[arg(long, overrides_with = "pin")]
        no_pin: bool,
    },
}

#[derive(Debug, Args, Default)]
struct RunArgs {
    /// Scaled-down counts: the whole default set in under 20 s on 2 cores.
    #[arg(long)]
    quick: bool,
    /// (tests) smaller still: every path exercised in a second or two.
    #[arg(long, hide = true)]
    tiny: bool,
    /// Experiments to run (comma-separated; default: all built).
    #[arg(long, value_name = "EXP[,EXP..]", value_delimiter = ',')]
    only: Vec<String>,
    /// Models to measure (comma-separated; default: all built, peers with --peers).
    #[arg(long, value_name = "M[,M..]", value_delimiter = ',')]
    models: Vec<String>,
    /// Also measure MODEL once per value of one of its knobs, as columns MODEL[KNOB=V]
    /// (repeatable; `list` names the knobs).
    #[arg(long, value_name = "MODEL.KNOB=V1,V2,..")]
    vary: Vec<String>,
    /// Also measure the peers (tokio, async-executor; needs --features peers).
    #[arg(long)]
    peers: bool,
    /// Output folder (default: `lab-results/<timestamp>`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Also write the result file here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Also write the tables as Markdown here.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Seed for workloads with random inputs (recorded in the result file).
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// Pin each measurement to CPU 0 (the default).
    #[arg(long, overrides_with = "no_pin")]
    pin: bool,
    /// Let the OS place measurements.
    #[arg(long, overrides_with = "pin")]
    no_pin: bool,
    /// The Python 3 interpreter of the py-* models (default: the first python3 on PATH).
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,
}

/// Bad input (exit 2) or a failure while working (exit 1), each one line.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The user asked for something the lab does not accept.
    #[error("{0}")]
    Usage(String),
    /// Something failed while working.
    #[error("{0}")]
    Failed(String),
}

/// Parses the command line, runs it, and maps errors to exit statuses.
pub fn main() -> ExitCode {
    // Before any thread is pinned (see `machine::cores`).
    let _ = crate::machine::cores();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(LabError::Usage(msg)) => {
            eprintln!("switchyard-lab: {msg}");
            ExitCode::from(2)
        }
        Err(LabError::Failed(msg)) => {
            eprintln!("switchyard-lab: {msg}");
            ExitCode::from(1)
        }
    }
}

/// Help and version print as clap does; every other parse error becomes one line.
fn clap_error(e: clap::Error) -> ExitCode {
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let rendered = e.render().to_string();
    let first = rendered
        .lines()
        .next()
        .unwrap_or("bad command line")
        .trim_start_matches("error: ");
    let accepted = match e.kind() {
        ErrorKind::UnknownArgument | ErrorKind::InvalidSubcommand => {
            let mut options: Vec<String> = Cli::command()
                .get_arguments()
                .filter(|a| !a.is_hide_set())
                .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
                .collect();
            options.extend(["run", "list", "table", "compare", "report"].map(str::to_owned));
            format!(" (accepted: {})", options.join(", "))
        }
        _ => match e.get(ContextKind::ValidValue) {
            Some(ContextValue::Strings(v)) if !v.is_empty() => {
                format!(" (accepted: {})", v.join(", "))
            }
            _ if first.contains("--only") => format!(" (accepted: {})", accepted_experiments()),
            _ if first.contains("--models") => format!(" (accepted: {})", accepted_models()),
            _ => " (see --help)".to_owned(),
        },
    };
    eprintln!("switchyard-lab: {first}{accepted}");
    ExitCode::from(2)
}

fn dispatch(cli: Cli) -> Result<(), LabError> {
    match cli.command {
        None => run_command(cli.run),
        Some(Command::Run(args)) => run_command(args),
        Some(Command::List) => {
            print!("{}", list());
            Ok(())
        }
        Some(Command::Table { json, tiny, python }) => table_command(json, tiny, python),
        Some(Command::Compare { files, out }) => compare_command(&files, out.as_deref()),
        Some(Command::Report { file, out }) => report_command(&file, out),
        Some(Command::Park {
            model,
            n,
            pin,
            no_pin,
        }) => experiments::scale::child_main(&model, n, pin && !no_pin),
    }
}

/// `list`: experiments and models, one line each.
pub fn list() -> String {
    let mut out = String::from("experiments:\n");
    for e in experiments::catalogue() {
        out.push_str(&format!(
            "  {:<10} {} [{}]\n",
            e.name(),
            e.describe(),
            e.variants()
        ));
    }
    for (name, why) in experiments::PLANNED {
        out.push_str(&format!("  {name:<10} ({why})\n"));
    }
    out.push_str("models:\n");
    for m in models::catalogue() {
        let status = match m.model {
            Ok(_) if m.peer => " [peer: measured with --peers]".to_owned(),
            Ok(_) => String::new(),
            Err(why) => format!(" ({why})"),
        };
        out.push_str(&format!("  {:<18} {}{status}\n", m.name, m.describe));
    }
    out.push_str(&crate::vary::list());
    out
}

fn accepted_experiments() -> String {
    experiments::catalogue()
        .iter()
        .map(|e| e.name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn accepted_models() -> String {
    models::catalogue()
        .iter()
        .filter(|m| m.model.is_ok())
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn resolve_experiments(
    only: &[String],
) -> Result<Vec<&'static dyn experiments::Experiment>, LabError> {
    if only.is_empty() {
        return Ok(experiments::catalogue());
    }
    only.iter()
        .map(|name| {
            experiments::find(name).ok_or_else(|| {
                match experiments::PLANNED.iter().find(|(p, _)| p == name) {
                    Some((_, why)) => LabError::Usage(format!(
                        "experiment `{name}` is not built yet: {why} (accepted: {})",
                        accepted_experiments()
                    )),
                    None => LabError::Usage(format!(
                        "unknown experiment `{name}` (accepted: {})",
                        accepted_experiments()
                    )),
                }
            })
        })
        .collect()
}

fn resolve_models(names: &[String], peers: bool) -> Result<Vec<&'static dyn Model>, LabError> {
    if peers && !cfg!(feature = "peers") {
        return Err(LabError::Usage(
            "--peers needs a lab built with `--features peers` (try `cargo lab --peers`)"
                .to_owned(),
        ));
    }
    if names.is_empty() {
        return Ok(models::defaults(peers));
    }
    names
        .iter()
        .map(|name| match models::find(name) {
            Some(entry) => entry.model.map_err(|why| {
                LabError::Usage(format!(
                    "model `{name}` is unavailable: {why} (accepted: {})",
                    accepted_models()
                ))
            }),
            None => Err(LabError::Usage(format!(
                "unknown model `{name}` (accepted: {})",
                accepted_models()
            ))),
        })
        .collect()
}

fn run_command(args: RunArgs) -> Result<(), LabError> {
    let experiments = resolve_experiments(&args.only)?;
    let mut models = resolve_models(&args.models, args.peers)?;
    for vary in &args.vary {
        for model in crate::vary::parse(vary).map_err(LabError::Usage)? {
            if models.iter().any(|m| m.name() == model.name()) {
                return Err(LabError::Usage(format!(
                    "--vary: column `{}` asked for twice (accepted: each value once)",
                    model.name()
                )));
            }
            models.push(model);
        }
    }
    let sizing = if args.tiny {
        Sizing::Tiny
    } else if args.quick {
        Sizing::Quick
    } else {
        Sizing::Full
    };
    let python = locate_python(args.python.as_deref(), &models, !args.no_pin)?;
    let plan = Plan {
        experiments,
        models,
        sizing,
        pin: !args.no_pin,
        seed: args.seed,
        progress: true,
        python,
    };
    let started = std::time::Instant::now();
    let file = run::measure(&plan);
    let dir = args
        .out
        .unwrap_or_else(|| run::default_dir(&file.started_at));
    run::write_outputs(&file, &dir, args.json.as_deref())
        .map_err(|e| LabError::Failed(format!("cannot write results to {}: {e}", dir.display())))?;
    print!("{}", run::summary(&file));
    println!(
        "\nwrote {} and {} in {:.1} s",
        dir.join("results.json").display(),
        dir.join("report.html").display(),
        started.elapsed().as_secs_f64()
    );
    if let Some(json) = args.json {
        println!("wrote {}", json.display());
    }
    if let Some(markdown) = args.markdown {
        std::fs::write(&markdown, crate::table::markdown(&file))
            .map_err(|e| LabError::Failed(format!("cannot write {}: {e}", markdown.display())))?;
        println!("wrote {}", markdown.display());
    }
    Ok(())
}

fn table_command(
    json: Option<PathBuf>,
    tiny: bool,
    python: Option<PathBuf>,
) -> Result<(), LabError> {
    let names: Vec<String> = comparison::measurable()
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let models = resolve_models(&names, false)?;
    let python = locate_python(python.as_deref(), &models, true)?;
    let plan = Plan {
        experiments: experiments::catalogue()
            .into_iter()
            .filter(|e| comparison::EXPERIMENTS.contains(&e.name()))
            .collect(),
        models,
        sizing: if tiny { Sizing::Tiny } else { Sizing::Quick },
        pin: true,
        seed: 1,
        progress: true,
        python,
    };
    let file = run::measure(&plan);
    print!("{}", crate::table::verdict_text(&file));
    if let Some(json) = json {
        std::fs::write(&json, file.to_json())
            .map_err(|e| LabError::Failed(format!("cannot write {}: {e}", json.display())))?;
        println!("wrote {}", json.display());
    }
    Ok(())
}

/// The interpreter of the Python models (`--python`), located before anything is pinned; a
/// `--python` that is not a Python 3 is bad input (exit 2).
fn locate_python(
    explicit: Option<&std::path::Path>,
    models: &[&'static dyn Model],
    pin: bool,
) -> Result<Option<python::Located>, LabError> {
    let wanted = models.iter().any(|m| python::is_model(m.name()));
    python::for_run(explicit, wanted, pin).map_err(|e| LabError::Usage(e.to_string()))
}

fn load(path: &std::path::Path) -> Result<ResultFile, LabError> {
    ResultFile::load(path).map_err(|e| LabError::Usage(e.to_string()))
}

fn compare_command(files: &[PathBuf], out: Option<&std::path::Path>) -> Result<(), LabError> {
    if files.len() < 2 {
        return Err(LabError::Usage(format!(
            "compare needs at least two result files, got {} (accepted: compare A.json B.json ..)",
            files.len()
        )));
    }
    let loaded = files
        .iter()
        .map(|p| {
            let file = load(p)?;
            Ok((compare::label(&p.display().to_string(), &file), file))
        })
        .collect::<Result<Vec<_>, LabError>>()?;
    print!("{}", compare::to_text(&loaded));
    if let Some(out) = out {
        std::fs::write(out, report::render_compare(&loaded))
            .map_err(|e| LabError::Failed(format!("cannot write {}: {e}", out.display())))?;
        println!("wrote {}", out.display());
    }
    Ok(())
}

fn report_command(path: &std::path::Path, out: Option<PathBuf>) -> Result<(), LabError> {
    let file = load(path)?;
    let out = out.unwrap_or_else(|| path.with_file_name("report.html"));
    std::fs::write(&out, report::render(&file))
        .map_err(|e| LabError::Failed(format!("cannot write {}: {e}", out.display())))?;
    println!("wrote {}", out.display());
    Ok(())
}
