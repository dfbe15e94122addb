//! The grid of runs: enumeration, parallel execution, resume.
//!
//! A run is one (field, arm, variant, task, simulation). Its seeds derive from the base seed and
//! its identity only, so a run gives the same numbers whether it runs first or last, alone or
//! beside others, fresh or after a resume. Within one simulation every variant sees the same
//! task data and the same draw of each prior (the W\* lognormal, the orthogonal W, the W!
//! permutation), so variants are compared paired.
//!
//! Execution: rayon over runs with sequential kernels ([`Parallel::Runs`], the default: see the
//! measurement in the crate README), or one run at a time with parallel kernels. Each finished
//! run is appended to `results.csv` and flushed before the next is reported.
//!
//! Scale-out: [`run_shard`] runs one of `M` disjoint slices of the grid, and
//! [`crate::shard::merge`] combines the slices' output directories.
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use cortical_kernels::fpenv::set_flush_denormals;
use faer::{Mat, MatRef, Par};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use crate::config::{DataSource, Execution, Experiment, Parallel};
use crate::data::{Field, SyntheticConfig};
use crate::error::{Error, Result};
use crate::metrics::SmallWorldMethod;
use crate::report::csv::{ResultsFile, RunKey, STATUS};
use crate::report::{json, summary};
use crate::shard::{Shard, SHARD_KEY};
use crate::tasks::{TaskKind, TaskSplits};
use crate::train::{self, Dataset, Fit, Problem};
use crate::variants::{Arm, Init, RegForm, Space, Variant};

/// One run of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub arm: Arm,
    pub variant: Variant,
    pub task: TaskKind,
    pub simulation: usize,
}

impl Run {
    /// `what|arm|variant|task|simN`: the label its seeds (and its shard) derive from, so that
    /// every stream of a run is tied to its identity and nothing else.
    pub fn label(&self, what: &str) -> String {
        format!(
            "{what}|{}|{}|{}|sim{}",
            self.arm,
            self.variant,
            self.task.name(),
            self.simulation
        )
    }

    /// Its key in `results.csv`.
    pub fn key(&self, field: &str) -> RunKey {
        RunKey {
            field: field.to_string(),
            arm: self.arm.to_string(),
            variant: self.variant.to_string(),
            task: self.task.name().to_string(),
            simulation: self.simulation,
        }
    }
}

/// Every run of the experiment, in a fixed order (arm, simulation, task, variant).
pub fn enumerate(exp: &Experiment) -> Vec<Run> {
    let mut runs = Vec::new();
    for &arm in &exp.arms {
        for simulation in 0..exp.simulations {
            for &task in &exp.tasks {
                for &variant in &exp.variants {
                    runs.push(Run {
                        arm,
                        variant,
                        task,
                        simulation,
                    });
                }
            }
        }
    }
    runs
}

/// A seed derived from the base seed and a label (FNV-1a, then a SplitMix64 finalizer so that
/// neighbouring labels give unrelated streams).
pub fn derive_seed(seed: u64, label: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in label.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = h.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Load the experiment's field.
pub fn load_field(data: &DataSource) -> Result<Field> {
    match data {
        DataSource::Synthetic { n, seed } => Field::try_synthetic(&SyntheticConfig {
            n: *n,
            seed: *seed,
            ..SyntheticConfig::default()
        }),
        DataSource::Dir { dir, field } => {
            if !dir.is_dir() {
                return Err(Error::Invalid {
                    what: "data directory".into(),
                    reason: format!("{} does not exist or is not a directory", dir.display()),
                });
            }
            if !dir.join(field).is_dir() && dir.join(format!("connectome_{field}.csv")).is_file() {
                return Err(Error::Invalid {
                    what: "data directory".into(),
                    reason: format!(
                        "{} is field {field}'s own folder; give the folder that holds the \
                         field folders (its parent) as --data",
                        dir.display()
                    ),
                });
            }
            Field::load_from(dir, field)
        }
    }
}

fn row_major_f32(m: MatRef<'_, f64>) -> Vec<f32> {
    let mut v = Vec::with_capacity(m.nrows() * m.ncols());
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            v.push(m[(i, j)] as f32);
        }
    }
    v
}

fn row_major_f64(m: MatRef<'_, f64>) -> Vec<f64> {
    let mut v = Vec::with_capacity(m.nrows() * m.ncols());
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            v.push(m[(i, j)]);
        }
    }
    v
}

/// The field's fixed priors, computed once: D\*, D and sort(C_emp), as the regularizers read them.
pub struct FieldPriors {
    pub n: usize,
    pub soma: Option<Vec<f32>>,
    pub grid: Option<Vec<f32>>,
    pub c_emp_sorted: Option<Vec<f32>>,
}

impl FieldPriors {
    /// Compute what the experiment's variants need, as its profile reads them.
    pub fn new(field: &Field, exp: &Experiment) -> Result<Self> {
        use crate::priors::space;
        let (variants, dev, eps) = (&exp.variants, &exp.deviations, exp.train.comm_eps);
        let n = field.n;
        let soma = variants.iter().any(|v| v.space == Space::Soma).then(|| {
            let positions = if dev.scrambled_positions {
                space::scrambled_positions(&field.positions_vox)
            } else {
                field.positions_vox.clone()
            };
            row_major_f32(
                space::soma_distance(&positions, space::SomaScale::MinMaxPerAxis).as_ref(),
            )
        });
        let grid = if variants.iter().any(|v| v.space == Space::Grid) {
            let layout = if dev.notebook_grid {
                space::Grid::Meshgrid(exp.grid.unwrap_or_else(|| space::notebook_grid_tuple(n)))
            } else {
                space::Grid::MostCubic
            };
            Some(row_major_f32(space::grid_distance(n, layout)?.as_ref()))
        } else {
            None
        };
        let c_emp_sorted = if variants.iter().any(|v| v.needs_c_emp()) {
            let mut c = row_major_f32(c_emp(field, eps)?.as_ref());
            c.sort_by(f32::total_cmp);
            Some(c)
        } else {
            None
        };
        Ok(FieldPriors {
            n,
            soma,
            grid,
            c_emp_sorted,
        })
    }

    fn distance(&self, space: Space) -> Option<&[f32]> {
        match space {
            Space::None => None,
            Space::Grid => self.grid.as_deref(),
            Space::Soma => self.soma.as_deref(),
        }
    }
}

/// C_emp = C(connectome) (METHOD.md §3), through the same kernel as C_art.
fn c_emp(field: &Field, eps: f64) -> Result<Mat<f64>> {
    crate::priors::comm::c_emp(field.connectome.as_ref(), eps)
}

/// The initial W of a run (row-major f64).
pub fn initial_w(field: &Field, run: &Run, seed: u64) -> Result<Vec<f64>> {
    use crate::priors::init;
    let tag = format!("{}|sim{}", run.arm, run.simulation);
    let rng =
        |what: &str| Xoshiro256PlusPlus::seed_from_u64(derive_seed(seed, &format!("{what}|{tag}")));
    let source = match run.arm.source {
        crate::variants::Source::CorrSttc => init::FunctionalSource::CorrSttc,
        crate::variants::Source::PrecisionSttc => init::FunctionalSource::PrecisionSttc,
        crate::variants::Source::Sttc => init::FunctionalSource::Sttc,
    };
    let bio = || {
        init::w_bio(
            field.corr.as_ref(),
            field.sttc.as_ref(),
            field.precision.as_ref(),
            source,
            &mut rng("w-bio"),
        )
    };
    let w: Mat<f64> = match run.variant.init {
        Init::Orthogonal => init::orthogonal(field.n, &mut rng("orthogonal")),
        Init::Functional => bio()?,
        Init::Permuted => init::permuted(bio()?.as_ref(), &mut rng("permutation")),
        Init::Ecdf => init::ecdf_resample(bio()?.as_ref(), &mut rng("ecdf")),
        // same draw as W* of this simulation: the controls differ from it only as documented
        Init::FunctionalNoSelf => init::without_diagonal(bio()?.as_ref())?,
        Init::DiagonalOnly => init::diagonal_only(bio()?.as_ref())?,
    };
    Ok(row_major_f64(w.as_ref()))
}

fn dataset(d: &crate::tasks::TaskData) -> Dataset {
    Dataset {
        steps: d.steps,
        trials: d.batch,
        channels: d.channels,
        classes: d.classes,
        x: d.x.clone(),
        labels: d.labels.clone(),
    }
}

/// The training configuration of a run with regularizer `form`: the experiment's, with the
/// notebook's deviations that act on one run applied (`baseline-without-lambda`: λ = 1 for
/// Σ|W|; `eps-only-emd`: no ε in the wiring-cost communicability).
pub fn train_config(exp: &Experiment, form: RegForm) -> train::TrainConfig {
    let mut cfg = exp.train;
    if exp.deviations.baseline_without_lambda && form == RegForm::L1 {
        cfg.lambda = 1.0;
    }
    if exp.deviations.eps_only_emd && form == RegForm::L1DistanceComm {
        cfg.comm_eps = 0.0;
    }
    cfg
}

/// Train and measure one run; returns its rows, `status` last.
pub fn run_one(
    exp: &Experiment,
    field: &Field,
    priors: &FieldPriors,
    run: &Run,
    par: Par,
) -> Result<Vec<(String, f64)>> {
    let started = Instant::now();
    let splits = TaskSplits::with_sizes(
        run.task,
        exp.trials,
        derive_seed(
            exp.seed,
            &format!("data|{}|sim{}", run.task.name(), run.simulation),
        ),
    );
    let (tr, va, te) = (
        dataset(&splits.train),
        dataset(&splits.validation),
        dataset(&splits.test),
    );
    let w0 = initial_w(field, run, exp.seed)?;
    let form = run.variant.reg_form();
    let problem = Problem {
        w0: &w0,
        form,
        distance: priors.distance(run.variant.space),
        c_emp_sorted: if form == RegForm::L1DistanceEmd {
            priors.c_emp_sorted.as_deref()
        } else {
            None
        },
        sign: run.arm.sign,
    };
    let label = run.label("fit");
    let fit = train::fit(
        &train_config(exp, form),
        &problem,
        &tr,
        &va,
        &te,
        derive_seed(exp.seed, &label),
        par,
    )?;
    let mut rows = fit_rows(&fit);
    if fit.failure.is_none() {
        let n = priors.n;
        let w = Mat::from_fn(n, n, |i, j| f64::from(fit.w[i * n + j]));
        let topo = crate::metrics::topology_with(
            w.as_ref(),
            exp.nulls,
            derive_seed(exp.seed, &format!("nulls|{label}")),
            if exp.deviations.notebook_small_world {
                SmallWorldMethod::NotebookEfficiency
            } else {
                SmallWorldMethod::PathLength
            },
        )?;
        rows.push(("entropy".into(), topo.entropy));
        rows.push(("modularity".into(), topo.modularity));
        rows.push(("assortativity".into(), topo.assortativity));
        rows.push(("small_worldness".into(), topo.small_world.sigma));
    }
    rows.push(("time_run_s".into(), started.elapsed().as_secs_f64()));
    rows.push((STATUS.into(), if fit.failure.is_none() { 1.0 } else { 0.0 }));
    Ok(rows)
}

/// The training part of a run's rows: final metrics, learning curves, timings.
pub fn fit_rows(fit: &Fit) -> Vec<(String, f64)> {
    let mut rows = Vec::new();
    if let Some(last) = fit.curves.last().filter(|_| fit.failure.is_none()) {
        rows.push(("train_accuracy".into(), last.train_accuracy));
        rows.push(("train_loss".into(), last.train_loss));
        rows.push(("val_accuracy".into(), last.val_accuracy));
        rows.push(("val_loss".into(), last.val_loss));
        rows.push(("test_accuracy".into(), fit.test_accuracy));
        rows.push(("test_loss".into(), fit.test_loss));
        rows.push(("regularizer".into(), fit.reg));
    }
    for e in &fit.curves {
        rows.push((format!("epoch{}_train_accuracy", e.epoch), e.train_accuracy));
        rows.push((format!("epoch{}_train_loss", e.epoch), e.train_loss));
        rows.push((format!("epoch{}_val_accuracy", e.epoch), e.val_accuracy));
        rows.push((format!("epoch{}_val_loss", e.epoch), e.val_loss));
    }
    if let Some(f) = fit.failure {
        rows.push(("failed_epoch".into(), f.epoch as f64));
        rows.push(("failed_batch".into(), f.batch as f64));
    }
    let t = &fit.timing;
    rows.push(("time_step_median_ms".into(), 1e3 * t.median_step_s()));
    rows.push(("time_fit_s".into(), t.total_s));
    rows.push(("time_rnn_s".into(), t.rnn_s));
    rows.push(("time_regularizer_s".into(), t.reg_s));
    rows
}

/// What the driver reports while it works.
#[derive(Debug, Clone)]
pub enum Event {
    /// The output directory held a smaller grid of the same experiment; these keys of it grew
    /// ([`json::GROWABLE`]) and `config.json` now records the grown one.
    Grown { keys: Vec<String> },
    /// The output directory was started by another build: for each of `git_commit` and
    /// `tiles_isa` ([`json::TILES_ISA`]) that differs, (key, stored, this build's). Its runs are
    /// kept; the new ones may differ from what that build would have computed (in the last bits
    /// where only the instruction set differs).
    OtherBuild {
        changes: Vec<(String, String, String)>,
    },
    /// The grid is known: `total` runs, `skipped` of them already in `results.csv`.
    Planned { total: usize, skipped: usize },
    /// A run began.
    Started { run: Run },
    /// A run finished and was written (`ok` false: non-finite loss).
    Finished { run: Run, ok: bool },
}

/// The outcome of an ablation.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub out_dir: PathBuf,
    pub total: usize,
    pub skipped: usize,
    pub ran: usize,
    pub failed: usize,
    /// Test accuracy, variant × task, mean ± 95% CI (Markdown).
    pub accuracy_table: String,
    pub field_id: String,
}

/// The `config.json` document of an experiment.
pub fn config_document(exp: &Experiment, exec: &Execution) -> serde_json::Value {
    serde_json::json!({
        "crate_version": env!("CARGO_PKG_VERSION"),
        "git_commit": json::git_commit(),
        json::TILES_ISA: cortical_kernels::isa::tiles_isa_name(),
        "threads": exec.threads,
        "parallel": exec.parallel,
        json::EXPERIMENT: exp,
    })
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Check that `out` is new, empty, or an ablation's output (it has `config.json`).
///
/// A non-empty directory without `config.json` is refused: there is no telling what its
/// results were computed with (appending could mix two experiments in one file), and its other
/// files (a `summary.md` of the user's own, say) would be overwritten.
fn check_out_dir(out: &Path) -> Result<()> {
    let bad = |reason: String| {
        Err(Error::Invalid {
            what: "output directory".into(),
            reason,
        })
    };
    match std::fs::metadata(out) {
        Ok(m) if !m.is_dir() => {
            return bad(format!("{} exists and is not a directory", out.display()))
        }
        Ok(_) => {
            let mut entries = std::fs::read_dir(out).map_err(io_err(out))?;
            if !out.join("config.json").exists() && entries.next().is_some() {
                return bad(format!(
                    "{} is not empty and has no config.json, so it is not an ablation's output \
                     to resume; choose a new or empty directory (or restore its config.json)",
                    out.display()
                ));
            }
        }
        Err(_) => {}
    }
    Ok(())
}

/// [`check_out_dir`], then create the directory if it is new.
fn prepare_out_dir(out: &Path) -> Result<()> {
    check_out_dir(out)?;
    std::fs::create_dir_all(out).map_err(|e| Error::Invalid {
        what: "output directory".into(),
        reason: format!("cannot create {}: {e}", out.display()),
    })
}

/// Whether `exp` could run (or resume) into `out` as a whole grid, checked without writing
/// anything: the configuration, the directory, and a stored `config.json`'s experiment. (The
/// data fingerprint is checked when the run loads its field.) The λ sweep checks every λ's
/// folder this way before any of them trains.
pub fn check_resumable(exp: &Experiment, out: &Path) -> Result<()> {
    exp.validate()?;
    check_out_dir(out)?;
    let config_path = out.join("config.json");
    if config_path.exists() {
        crate::shard::check_recorded(&config_path, Shard::ALL)?;
        let exec = Execution {
            threads: 0,
            out_dir: out.to_path_buf(),
            parallel: Parallel::Runs,
        };
        json::check(&config_path, &config_document(exp, &exec), true)?;
    }
    Ok(())
}

/// Run (or resume) the ablation.
pub fn run(
    exp: &Experiment,
    exec: &Execution,
    progress: &(dyn Fn(&Event) + Sync),
) -> Result<Outcome> {
    run_shard(exp, exec, Shard::ALL, progress)
}

/// Run (or resume) one shard of the ablation ([`crate::shard`]): the runs of `shard`, with
/// `shard` recorded in `config.json` outside the compared experiment section. Resuming needs
/// the same shard; `Outcome::total` counts the shard's runs.
pub fn run_shard(
    exp: &Experiment,
    exec: &Execution,
    shard: Shard,
    progress: &(dyn Fn(&Event) + Sync),
) -> Result<Outcome> {
    exp.validate()?;
    if exec.threads > crate::config::MAX_THREADS {
        return Err(Error::Invalid {
            what: "threads".into(),
            reason: format!(
                "{} (at most {}; 0 uses every core)",
                exec.threads,
                crate::config::MAX_THREADS
            ),
        });
    }
    let field = load_field(&exp.data)?;
    // The priors first: what only the field can tell (a grid tuple that does not hold its N
    // points, an unusable correlation matrix) is refused before anything is written.
    let priors = FieldPriors::new(&field, exp)?;
    let out = &exec.out_dir;
    prepare_out_dir(out)?;
    let config_path = out.join("config.json");
    let mut config = config_document(exp, exec);
    config[SHARD_KEY] = shard.to_string().into();
    config[json::DATA_FINGERPRINT] = field.fingerprint().into();
    let mut other_build = Vec::new();
    if config_path.exists() {
        crate::shard::check_recorded(&config_path, shard)?;
        let stored = json::read_stored(&config_path)?.unwrap_or_default();
        for key in ["git_commit", json::TILES_ISA] {
            let was = stored
                .get(key)
                .and_then(|v| v.as_str())
                .unwrap_or(json::NOT_RECORDED);
            let now = config[key].as_str().unwrap_or("unknown");
            if was != now {
                other_build.push((key.to_string(), was.to_string(), now.to_string()));
            }
        }
        json::check_fingerprints(
            stored.get(json::DATA_FINGERPRINT),
            config.get(json::DATA_FINGERPRINT),
            |was, now| Error::Invalid {
                what: "output directory".into(),
                reason: format!(
                    "{} holds runs computed on other data: field {}'s content changed \
                     (fingerprint {was}, now {now}) under the same configuration; choose \
                     another output directory or restore the data",
                    out.display(),
                    field.id
                ),
            },
        )?;
    }
    // Only the whole grid may grow: a shard's slice is cut from the whole grid, so a grown
    // grid would slice differently.
    if let json::Resume::Grown(keys) =
        json::write_or_check(&config_path, &config, shard == Shard::ALL)?
    {
        progress(&Event::Grown { keys });
    }
    if !other_build.is_empty() {
        progress(&Event::OtherBuild {
            changes: other_build,
        });
    }
    let results = ResultsFile::open(&out.join("results.csv"))?;
    let all = shard.select(&enumerate(exp));
    let todo: Vec<Run> = all
        .iter()
        .filter(|r| !results.done().contains(&r.key(&field.id)))
        .copied()
        .collect();
    let skipped = all.len() - todo.len();
    progress(&Event::Planned {
        total: all.len(),
        skipped,
    });
    let results = Mutex::new(results);
    let failed = Mutex::new(0usize);
    let one = |run: &Run, par: Par| -> Result<()> {
        progress(&Event::Started { run: *run });
        let rows = run_one(exp, &field, &priors, run, par)?;
        let ok = rows.last().map(|r| r.1) == Some(1.0);
        results
            .lock()
            .expect("no writer panicked")
            .append(&run.key(&field.id), &rows)?;
        if !ok {
            *failed.lock().expect("no writer panicked") += 1;
        }
        progress(&Event::Finished { run: *run, ok });
        Ok(())
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(exec.threads)
        // Kernels run with subnormals flushed (TensorFlow's mode), also when faer splits a
        // product across this pool's workers.
        .start_handler(|_| set_flush_denormals(true))
        .build()
        .map_err(|e| Error::Invalid {
            what: "threads".into(),
            reason: format!("{}: {e}", exec.threads),
        })?;
    pool.install(|| match exec.parallel {
        Parallel::Runs => todo.par_iter().try_for_each(|r| one(r, Par::Seq)),
        Parallel::Kernels => {
            let par = Par::rayon(exec.threads);
            todo.iter().try_for_each(|r| one(r, par))
        }
    })?;
    let accuracy_table = write_summary(exp, &field.id, out)?;
    Ok(Outcome {
        out_dir: out.clone(),
        total: all.len(),
        skipped,
        ran: todo.len(),
        failed: failed.into_inner().expect("no writer panicked"),
        accuracy_table,
        field_id: field.id,
    })
}

/// Write `summary.md` from `results.csv` (deterministic: no timestamps, sorted), and return the
/// table of the reported accuracy (test accuracy; last-epoch training accuracy under the
/// notebook's `training-accuracy` deviation). The document itself is [`summary::document`],
/// shared with `ablation report`.
pub fn write_summary(exp: &Experiment, field_id: &str, out: &Path) -> Result<String> {
    let rows = crate::report::csv::read(&out.join("results.csv"))?;
    let (doc, acc) = summary::document(exp, field_id, &rows)?;
    let path = out.join("summary.md");
    std::fs::write(&path, doc).map_err(io_err(&path))?;
    Ok(acc)
}
