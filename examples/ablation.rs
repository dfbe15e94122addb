//! The ablation's command line: parses flags, calls `cortical_priors::ablation`, prints.
//!
//! ```text
//! cargo run --release --example ablation                      # quick preset, synthetic field
//! cargo run --release --example ablation -- --preset paper --data ../shared/data/microns
//! cargo run --release --example ablation -- inspect --data ../shared/data/microns --field 5_3_8
//! cargo run --release --example ablation -- report results/ablation-quick
//! cargo run --release --example ablation -- --shard 0/4 --out results/s0   # one of 4 shards
//! cargo run --release --example ablation -- merge results/s0 results/s1 results/s2 results/s3 \
//!     --out results/merged
//! ```
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use clap::{Parser, Subcommand};
use cortical_priors::ablation::{self, Event};
use cortical_priors::config::{DataSource, Execution, Experiment, Parallel, Preset, Profile};
use cortical_priors::data::Field;
use cortical_priors::shard::{self, Shard};
use cortical_priors::tasks::TaskKind;
use cortical_priors::variants::{Arm, Variant};
use cortical_priors::Error;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Parser, Debug)]
#[command(
    name = "ablation",
    about = "Train the paper's RNN variants on its tasks and measure what they learned.",
    long_about = "Without arguments: the QUICK preset (all 11 variants × 3 tasks × 2 simulations \
                  on a small built-in synthetic field, fewer epochs; minutes on two cores, not the \
                  paper's numbers). --preset paper runs the paper's grid."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    data: DataArgs,
    /// quick (default) or paper.
    #[arg(long, default_value = "quick")]
    preset: Preset,
    /// paper (the paper's text) or notebook (the published notebook: every deviation on).
    #[arg(long, default_value = "paper")]
    profile: Profile,
    /// Comma-separated notebook deviations to turn on in addition to the profile's:
    /// scrambled-positions, baseline-without-lambda, training-accuracy, notebook-grid,
    /// notebook-small-world, eps-only-emd (METHOD.md §8).
    #[arg(long, value_delimiter = ',')]
    deviations: Option<Vec<String>>,
    /// The notebook grid tuple AxBxC for D (needs notebook-grid; default: the notebook's
    /// 12x13x2 for N = 312, else the most cubic exact factorization of N).
    #[arg(long, value_parser = parse_grid)]
    grid: Option<[usize; 3]>,
    /// Comma-separated variants, e.g. W,WDC,W*D*C* (default: all eleven).
    #[arg(long, value_delimiter = ',')]
    variants: Option<Vec<Variant>>,
    /// Comma-separated tasks: one-choice-inference|Task1, go-no-go|Task2,
    /// perceptual-decision-making|Task3 (default: all three).
    #[arg(long, value_delimiter = ',', value_parser = parse_task)]
    tasks: Option<Vec<TaskKind>>,
    /// Comma-separated arms SIGN/SOURCE, SIGN free|nonneg, SOURCE corr-sttc|precision-sttc|sttc
    /// (default: free/corr-sttc).
    #[arg(long, value_delimiter = ',')]
    arms: Option<Vec<Arm>>,
    /// Simulations per (arm, variant, task).
    #[arg(long)]
    simulations: Option<usize>,
    /// Epochs per fit.
    #[arg(long)]
    epochs: Option<usize>,
    /// Batches per epoch.
    #[arg(long)]
    batches: Option<usize>,
    /// Wiring-cost weight λ.
    #[arg(long)]
    lambda: Option<f64>,
    /// Run the grid once per λ in this comma-separated list (e.g. 0.01,0.03,0.1,0.3,1) into
    /// OUT/lambda-<λ>/ and write OUT/sweep.md: each variant at its best λ by validation accuracy.
    #[arg(long, value_delimiter = ',', conflicts_with = "lambda")]
    lambda_sweep: Option<Vec<f64>>,
    /// Communicability-EMD weight λ_EMD.
    #[arg(long)]
    lambda_emd: Option<f64>,
    /// Null graphs of the small-worldness σ.
    #[arg(long)]
    nulls: Option<usize>,
    /// Size of the synthetic field (when no data is given).
    #[arg(long)]
    n: Option<usize>,
    /// Base seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads (0: all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// runs (rayon over runs, sequential kernels) or kernels (one run at a time).
    #[arg(long, default_value = "runs")]
    parallel: Parallel,
    /// Run only shard K of M disjoint slices of the grid (0 ≤ K < M), e.g. 0/4; combine the
    /// shards' output directories with `ablation merge`. Each shard needs its own --out.
    /// Not with --lambda-sweep (shard a sweep by running each λ as its own grid with --lambda).
    #[arg(long, value_name = "K/M", value_parser = parse_shard, conflicts_with = "lambda_sweep")]
    shard: Option<Shard>,
    /// Output directory (default results/ablation-<preset>, with --shard
    /// results/ablation-<preset>-shard<K>of<M>).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct DataArgs {
    /// Folder of MICrONS fields (default: $CORTICAL_DATA; without either, the synthetic field).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Field id, e.g. 6_6_2 (default: 6_6_2 for --preset paper, 5_3_8 for quick).
    #[arg(long)]
    field: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print a summary of a field as JSON.
    Inspect {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Figures (SVG), summary.md and the seed-compatible *_raw.csv export of a finished (or
    /// partial) ablation directory.
    Report {
        /// The ablation's output directory (holds results.csv and config.json).
        dir: PathBuf,
        /// Where to write (default: DIR itself).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Combine output directories of one experiment (shards, whole runs, earlier merges) into
    /// one: results.csv in grid order, config.json, summary.md. Refuses different experiments
    /// and runs present twice. OUT must be new, empty, or an earlier merge of the same
    /// experiment whose runs are all among the inputs' (it is then replaced).
    Merge {
        /// Output directories of `ablation` runs.
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
        /// Where the merged results go.
        #[arg(long, value_name = "OUT")]
        out: PathBuf,
        /// Exit with status 3 when runs of the grid are missing (the merge is still written).
        #[arg(long)]
        require_complete: bool,
    },
    /// Compare an output folder's results with the paper's published Tables 2 and 3 (field
    /// 6_6_2): our last-epoch training accuracy (what the tables report) and test accuracy per
    /// cell, and whether our mean lies inside the published 95% interval.
    Compare {
        /// The output folder of an ablation (holds results.csv).
        dir: PathBuf,
    },
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse::<Shard>().map_err(|e| match e {
        Error::Invalid { reason, .. } => reason,
        e => e.to_string(),
    })
}

fn parse_grid(s: &str) -> Result<[usize; 3], String> {
    let parts: Vec<&str> = s.split(['x', 'X', ',']).collect();
    let dims: Vec<usize> = parts
        .iter()
        .map(|p| p.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("{s:?}: expected three positive integers AxBxC, e.g. 12x13x2"))?;
    match dims.as_slice() {
        [a, b, c] if *a > 0 && *b > 0 && *c > 0 => Ok([*a, *b, *c]),
        _ => Err(format!(
            "{s:?}: expected three positive integers AxBxC, e.g. 12x13x2"
        )),
    }
}

fn parse_task(s: &str) -> Result<TaskKind, String> {
    TaskKind::parse(s.trim()).map_err(|e| e.to_string())
}

/// `p` made absolute against the working directory (not resolved further), so that a folder
/// recorded in `config.json` means the same folder when a resume runs from elsewhere.
fn absolute(p: &std::path::Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The data folder and field: `--data`, else `$CORTICAL_DATA`; `None` for the synthetic field.
fn data_source(args: &DataArgs, preset: Preset) -> Result<Option<(PathBuf, String)>, Error> {
    let dir = match (&args.data, std::env::var_os("CORTICAL_DATA")) {
        (Some(d), _) => absolute(d),
        (None, Some(v)) if v.is_empty() => {
            return Err(Error::Invalid {
                what: "$CORTICAL_DATA".into(),
                reason: "is set but empty; unset it (synthetic field) or name the data folder"
                    .into(),
            })
        }
        (None, Some(v)) => absolute(&PathBuf::from(v)),
        (None, None) => {
            if let Some(f) = &args.field {
                return Err(Error::Invalid {
                    what: "--field".into(),
                    reason: format!(
                        "{f:?} needs a data folder (--data DIR or $CORTICAL_DATA); without one \
                         the built-in synthetic field is used"
                    ),
                });
            }
            return Ok(None);
        }
    };
    if let Some(f) = &args.field {
        if f.trim().is_empty() || f.contains(['/', '\\']) || f == ".." {
            return Err(Error::Invalid {
                what: "--field".into(),
                reason: format!("{f:?} is not a field id (a folder name such as 6_6_2)"),
            });
        }
    }
    let field = args.field.clone().unwrap_or_else(|| {
        match preset {
            Preset::Paper => "6_6_2",
            Preset::Quick => "5_3_8",
        }
        .to_string()
    });
    Ok(Some((dir, field)))
}

fn inspect(args: &DataArgs, preset: Preset) -> Result<(), Error> {
    let field = match data_source(args, preset)? {
        Some((dir, id)) => ablation::load_field(&DataSource::Dir { dir, field: id })?,
        None => Field::synthetic(&Default::default()),
    };
    let report = cortical_priors::data::inspect(&field);
    println!(
        "{}",
        serde_json::to_string_pretty(&report).expect("the report serializes")
    );
    Ok(())
}

fn report(dir: &std::path::Path, out: Option<&std::path::Path>) -> Result<(), Error> {
    let r = cortical_priors::report::report(dir, out)?;
    println!("summary: {}", r.summary.display());
    println!("figures:");
    for f in &r.figures {
        println!("  {}", f.display());
    }
    println!(
        "seed-compatible export: {} tables under {}",
        r.exports.len(),
        out.unwrap_or(dir).join("export").display()
    );
    for l in &r.excluded {
        println!("not in the figures: {l}");
    }
    Ok(())
}

/// What the accuracy table of a run or merge shows.
fn accuracy_label(exp: &Experiment) -> &'static str {
    if exp.deviations.training_accuracy {
        "Last-epoch training accuracy (the notebook's reported accuracy)"
    } else {
        "Test accuracy"
    }
}

/// Exit status of a merge that was written but lacks runs (with --require-complete).
const INCOMPLETE: u8 = 3;

fn merge(dirs: &[PathBuf], out: &std::path::Path, require_complete: bool) -> Result<u8, Error> {
    let m = shard::merge(dirs, out)?;
    for w in &m.warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "field {}: merged {} input(s) into {}: {} of {} runs of the grid{}\n",
        m.field_id,
        m.inputs,
        m.out_dir.display(),
        m.runs,
        m.total,
        if m.replaced {
            " (replaced an earlier merge)"
        } else {
            ""
        }
    );
    println!(
        "{}, mean ± 95% CI over simulations:\n",
        accuracy_label(&m.experiment)
    );
    println!("{}", m.accuracy_table);
    println!(
        "results: {}/results.csv, config.json, summary.md",
        m.out_dir.display()
    );
    if m.missing.is_empty() {
        return Ok(0);
    }
    println!("\nPARTIAL: {} run(s) of the grid missing:", m.missing.len());
    for k in m.missing.iter().take(10) {
        println!("  {}", shard::describe(k));
    }
    if m.missing.len() > 10 {
        println!("  … and {} more", m.missing.len() - 10);
    }
    Ok(if require_complete { INCOMPLETE } else { 0 })
}

fn compare(dir: &std::path::Path) -> Result<(), Error> {
    let path = dir.join("results.csv");
    if !path.is_file() {
        return Err(Error::MissingFile {
            path,
            what: "results of an ablation (point `ablation compare` at an output folder)".into(),
        });
    }
    let rows = cortical_priors::report::csv::read(&path)?;
    if rows.is_empty() {
        return Err(Error::Format {
            path,
            reason: "no finished run to compare yet".into(),
        });
    }
    let fields: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r.key.field.as_str()).collect();
    if fields.iter().any(|f| *f != "6_6_2") {
        eprintln!(
            "note: the published tables are of field 6_6_2; this folder holds {}",
            fields.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    let (table, agree) = cortical_priors::report::paper::compare(&rows)?;
    println!("{table}");
    println!(
        "{} of {} compared cells have our mean training accuracy inside the published 95% CI",
        agree.inside, agree.compared
    );
    Ok(())
}

fn run(cli: Cli) -> Result<u8, Error> {
    match &cli.command {
        Some(Command::Inspect { data }) => {
            // `ablation --data X inspect` and `ablation inspect --data X` both work.
            let args = DataArgs {
                data: data.data.clone().or_else(|| cli.data.data.clone()),
                field: data.field.clone().or_else(|| cli.data.field.clone()),
            };
            return inspect(&args, cli.preset).map(|()| 0);
        }
        Some(Command::Compare { dir }) => return compare(dir).map(|()| 0),
        Some(Command::Merge {
            dirs,
            out,
            require_complete,
        }) => return merge(dirs, out, *require_complete),
        Some(Command::Report { dir, out }) => return report(dir, out.as_deref()).map(|()| 0),
        None => {}
    }
    let source = data_source(&cli.data, cli.preset)?;
    if source.is_none() && cli.preset == Preset::Paper {
        eprintln!(
            "note: no --data and no $CORTICAL_DATA: the paper preset runs on the built-in \
             synthetic field, not on MICrONS data"
        );
    }
    let mut exp = Experiment::preset(cli.preset, source);
    exp.profile = cli.profile;
    exp.deviations = cli.profile.deviations();
    for name in cli.deviations.iter().flatten() {
        exp.deviations.enable(name)?;
    }
    exp.grid = cli.grid;
    if let Some(v) = cli.variants {
        exp.variants = v;
    }
    if let Some(t) = cli.tasks {
        exp.tasks = t;
    }
    if let Some(a) = cli.arms {
        exp.arms = a;
    }
    if let Some(s) = cli.simulations {
        exp.simulations = s;
    }
    if let Some(e) = cli.epochs {
        exp.train.epochs = e;
    }
    if let Some(b) = cli.batches {
        exp.train.batches_per_epoch = b;
    }
    if let Some(l) = cli.lambda {
        exp.train.lambda = l;
    }
    if let Some(l) = cli.lambda_emd {
        exp.train.lambda_emd = l;
    }
    if let Some(k) = cli.nulls {
        exp.nulls = k;
    }
    if let Some(s) = cli.seed {
        exp.seed = s;
    }
    if let Some(n) = cli.n {
        match &mut exp.data {
            DataSource::Synthetic { n: m, .. } => *m = n,
            DataSource::Dir { .. } => {
                return Err(Error::Invalid {
                    what: "--n".into(),
                    reason: "sets the synthetic field's size; not allowed with --data".into(),
                })
            }
        }
    }
    let preset_name = match cli.preset {
        Preset::Quick => "quick",
        Preset::Paper => "paper",
    };
    let shard = cli.shard.unwrap_or(Shard::ALL);
    let exec = Execution {
        threads: cli.threads,
        out_dir: cli.out.unwrap_or_else(|| {
            PathBuf::from(if cli.lambda_sweep.is_some() {
                format!("results/lambda-sweep-{preset_name}")
            } else if shard == Shard::ALL {
                format!("results/ablation-{preset_name}")
            } else {
                format!(
                    "results/ablation-{preset_name}-shard{}of{}",
                    shard.index(),
                    shard.count()
                )
            })
        }),
        parallel: cli.parallel,
    };
    exp.validate()?;
    if cli.preset == Preset::Quick {
        eprintln!(
            "QUICK preset: {} simulation(s), {} epoch(s), {} — a scaled-down check that \
             everything runs, not the paper's numbers (use --preset paper for those).",
            exp.simulations,
            exp.train.epochs,
            match &exp.data {
                DataSource::Synthetic { n, .. } => format!("synthetic field N = {n}"),
                DataSource::Dir { field, .. } => format!("field {field}"),
            }
        );
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} runs, ETA {eta}  {msg}",
        )
        .expect("a valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let failed_runs = Mutex::new(Vec::new());
    let progress = |e: &Event| match e {
        // `suspend` + eprintln, not `bar.println`: the latter prints nothing when stderr is not
        // a terminal (a log file), and these lines matter most there.
        Event::Grown { keys } => bar.suspend(|| {
            eprintln!(
                "growing the grid in {} ({} grew); the runs already there are kept",
                exec.out_dir.display(),
                keys.join(", ")
            )
        }),
        Event::OtherBuild { changes } => bar.suspend(|| {
            let what: Vec<String> = changes
                .iter()
                .map(|(key, was, now)| format!("{key} {was}, this build {now}"))
                .collect();
            eprintln!(
                "note: {} was started by another build ({}); its runs are kept, and the new \
                 ones may differ from what that build would have computed",
                exec.out_dir.display(),
                what.join("; ")
            )
        }),
        Event::Planned { total, skipped } => {
            bar.set_length((total - skipped) as u64);
            if *skipped > 0 {
                bar.suspend(|| eprintln!("resuming: {skipped} of {total} runs already done"));
            }
        }
        Event::Started { run } => bar.set_message(format!(
            "{} {} sim {}",
            run.variant,
            run.task.name(),
            run.simulation
        )),
        Event::Finished { run, ok } => {
            if !ok {
                failed_runs.lock().unwrap().push(format!(
                    "{} {} {} sim {}",
                    run.arm,
                    run.variant,
                    run.task.name(),
                    run.simulation
                ));
            }
            bar.inc(1);
        }
    };
    if let Some(lambdas) = &cli.lambda_sweep {
        let (outcomes, table) =
            cortical_priors::sweep::run(&exp, &exec, lambdas, &|_, e| progress(e))?;
        bar.finish_and_clear();
        for (l, o) in &outcomes {
            println!(
                "λ = {l}: {} runs ({} done before, {} now, {} stopped on a non-finite loss)",
                o.total, o.skipped, o.ran, o.failed
            );
        }
        println!("\n{table}");
        println!("sweep: {}/sweep.md", exec.out_dir.display());
        return Ok(0);
    }
    if shard != Shard::ALL && shard.select(&ablation::enumerate(&exp)).is_empty() {
        eprintln!(
            "note: shard {shard} of this {}-run grid holds no runs (more shards than runs)",
            ablation::enumerate(&exp).len()
        );
    }
    let outcome = ablation::run_shard(&exp, &exec, shard, &progress);
    bar.finish_and_clear();
    let outcome = outcome?;
    let of_grid = if shard == Shard::ALL {
        String::new()
    } else {
        format!(
            " (shard {shard} of a {}-run grid)",
            ablation::enumerate(&exp).len()
        )
    };
    println!(
        "field {}: {} runs{of_grid} ({} done before, {} now, {} stopped on a non-finite loss)\n",
        outcome.field_id, outcome.total, outcome.skipped, outcome.ran, outcome.failed
    );
    println!(
        "{}, mean ± 95% CI over simulations:\n",
        accuracy_label(&exp)
    );
    println!("{}", outcome.accuracy_table);
    for f in failed_runs.into_inner().unwrap() {
        println!("non-finite loss: {f}");
    }
    println!(
        "results: {}/results.csv, config.json, summary.md",
        outcome.out_dir.display()
    );
    Ok(0)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
