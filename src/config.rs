//! The configuration of an ablation: what is run (the [`Experiment`], saved in `config.json`
//! and compared on resume) and how (the [`Execution`]: threads, output directory).
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::tasks::TaskKind;
use crate::train::TrainConfig;
use crate::variants::{Arm, Space, Variant};

/// A named starting point for the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Everything the paper runs, scaled down to finish in minutes on two cores: all variants ×
    /// tasks, 2 simulations, a small synthetic field and fewer epochs. Not the paper's numbers.
    Quick,
    /// The paper's grid: 20 simulations, 10 epochs, field 6_6_2 when data is given.
    Paper,
}

impl std::str::FromStr for Preset {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "quick" => Ok(Preset::Quick),
            "paper" => Ok(Preset::Paper),
            _ => Err(Error::Invalid {
                what: "preset".into(),
                reason: format!("{s:?}; expected quick or paper"),
            }),
        }
    }
}

/// Which reading of the method (METHOD.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The paper's text: true coordinates, λ on the baseline, test accuracy, most-cubic grid,
    /// path-length small-worldness with density-matched nulls, ε in every row sum.
    Paper,
    /// The published notebook: every [`Deviations`] switch on.
    Notebook,
}

impl Profile {
    /// The deviations this profile turns on.
    pub fn deviations(self) -> Deviations {
        match self {
            Profile::Paper => Deviations::default(),
            Profile::Notebook => Deviations::all(),
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "paper" => Ok(Profile::Paper),
            "notebook" => Ok(Profile::Notebook),
            _ => Err(Error::Invalid {
                what: "profile".into(),
                reason: format!("{s:?}; expected paper or notebook"),
            }),
        }
    }
}

/// The published notebook's departures from the paper's text (METHOD.md §8), each a switch.
/// All off is the paper profile; all on is the notebook profile; any mix can be asked for with
/// `--deviations`, to see what each one changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Deviations {
    /// `scrambled-positions`: D\* from the positions reshaped with `reshape(3, -1)` instead of
    /// transposed ([`crate::priors::space::scrambled_positions`]).
    pub scrambled_positions: bool,
    /// `baseline-without-lambda`: the baseline `W`'s regularizer is Σ|W| (λ = 1).
    pub baseline_without_lambda: bool,
    /// `training-accuracy`: the reported accuracy (tables, export) is the last epoch's
    /// *training* accuracy, input noise on; test accuracy is still measured and kept.
    pub training_accuracy: bool,
    /// `notebook-grid`: D on the notebook's grid tuple in `np.meshgrid` order
    /// ([`crate::priors::space::notebook_grid_tuple`] unless `--grid` gives one).
    pub notebook_grid: bool,
    /// `notebook-small-world`: σ from global efficiency with `(U+Uᵀ)/2 > 0.7` nulls.
    pub notebook_small_world: bool,
    /// `eps-only-emd`: the row-sum ε of communicability only in the EMD arm; the wiring-cost
    /// C of `…C` variants divides by the bare row sums (a zero row gives a non-finite loss).
    pub eps_only_emd: bool,
}

/// The switches' names, in [`Deviations`] order.
pub const DEVIATION_NAMES: [&str; 6] = [
    "scrambled-positions",
    "baseline-without-lambda",
    "training-accuracy",
    "notebook-grid",
    "notebook-small-world",
    "eps-only-emd",
];

impl Deviations {
    /// Every switch on: the notebook profile.
    pub fn all() -> Self {
        Deviations {
            scrambled_positions: true,
            baseline_without_lambda: true,
            training_accuracy: true,
            notebook_grid: true,
            notebook_small_world: true,
            eps_only_emd: true,
        }
    }

    fn flags_mut(&mut self) -> [&mut bool; 6] {
        [
            &mut self.scrambled_positions,
            &mut self.baseline_without_lambda,
            &mut self.training_accuracy,
            &mut self.notebook_grid,
            &mut self.notebook_small_world,
            &mut self.eps_only_emd,
        ]
    }

    /// Turn on the switch called `name` (one of [`DEVIATION_NAMES`]).
    pub fn enable(&mut self, name: &str) -> Result<()> {
        let i = DEVIATION_NAMES
            .iter()
            .position(|&d| d == name.trim())
            .ok_or_else(|| Error::Invalid {
                what: "deviation".into(),
                reason: format!("{name:?}; expected one of {}", DEVIATION_NAMES.join(", ")),
            })?;
        *self.flags_mut()[i] = true;
        Ok(())
    }

    /// The names of the switches that are on.
    pub fn names(&self) -> Vec<&'static str> {
        let mut me = *self;
        let on: Vec<bool> = me.flags_mut().iter().map(|b| **b).collect();
        DEVIATION_NAMES
            .iter()
            .zip(on)
            .filter_map(|(n, b)| b.then_some(*n))
            .collect()
    }

    /// The metric reported as "accuracy" in tables and exports.
    pub fn reported_accuracy(&self) -> &'static str {
        if self.training_accuracy {
            "train_accuracy"
        } else {
            "test_accuracy"
        }
    }
}

/// Where the field comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataSource {
    /// The built-in synthetic MICrONS-like field.
    Synthetic { n: usize, seed: u64 },
    /// A field folder `<dir>/<field>/` in the seed's format.
    Dir { dir: PathBuf, field: String },
}

/// What is run. Everything here is written to `config.json` and must match on resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    pub preset: Preset,
    pub profile: Profile,
    /// The notebook's deviations in effect (all off for the paper profile).
    #[serde(default)]
    pub deviations: Deviations,
    /// The notebook grid tuple for D when `deviations.notebook_grid` is on (None: the
    /// notebook's tuple for the field's N).
    #[serde(default)]
    pub grid: Option<[usize; 3]>,
    pub data: DataSource,
    pub variants: Vec<Variant>,
    #[serde(with = "task_names")]
    pub tasks: Vec<TaskKind>,
    pub arms: Vec<Arm>,
    pub simulations: usize,
    pub train: TrainConfig,
    /// Trials of the training / validation / test sets.
    pub trials: [usize; 3],
    /// Null graphs of the small-worldness σ.
    pub nulls: usize,
    /// Base seed; every run's seeds derive from it and the run's identity.
    pub seed: u64,
}

/// The synthetic field size of the quick preset: large enough for the priors to have
/// structure, small enough that 66 runs of 6 epochs finish in minutes on two cores.
pub const QUICK_N: usize = 64;
/// Epochs of the quick preset.
pub const QUICK_EPOCHS: usize = 6;

impl Experiment {
    /// The preset's experiment on `data` (None: the built-in synthetic field).
    pub fn preset(preset: Preset, data: Option<(PathBuf, String)>) -> Self {
        let (simulations, epochs) = match preset {
            Preset::Quick => (2, QUICK_EPOCHS),
            Preset::Paper => (20, 10),
        };
        let data = match data {
            Some((dir, field)) => DataSource::Dir { dir, field },
            None => DataSource::Synthetic {
                n: match preset {
                    Preset::Quick => QUICK_N,
                    // Field 6_6_2's size, so that timings compare with the paper's.
                    Preset::Paper => 312,
                },
                seed: 0,
            },
        };
        Experiment {
            preset,
            profile: Profile::Paper,
            deviations: Deviations::default(),
            grid: None,
            data,
            variants: Variant::paper(),
            tasks: TaskKind::ALL.to_vec(),
            arms: vec![Arm::default()],
            simulations,
            train: TrainConfig {
                epochs,
                ..TrainConfig::default()
            },
            trials: [5120, 2560, 2560],
            nulls: 1000,
            seed: 0,
        }
    }

    /// Reject configurations that cannot run, naming the value.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, reason: String| {
            Err(Error::Invalid {
                what: what.into(),
                reason,
            })
        };
        if self.grid.is_some() && !self.deviations.notebook_grid {
            return bad(
                "grid",
                "a grid tuple is only used with the notebook-grid deviation (--profile notebook \
                 or --deviations notebook-grid)"
                    .into(),
            );
        }
        if self.variants.is_empty() {
            return bad("variants", "none selected".into());
        }
        if self.tasks.is_empty() {
            return bad("tasks", "none selected".into());
        }
        if self.arms.is_empty() {
            return bad("arms", "none selected".into());
        }
        // A name listed twice would run its runs twice into one results.csv (two status rows
        // per run, which `merge` then refuses).
        if let Some(v) = first_repeated(&self.variants) {
            return bad("variants", format!("{v} is listed twice"));
        }
        if let Some(t) = first_repeated(&self.tasks) {
            return bad(
                "tasks",
                format!("{} is listed twice (under either of its names)", t.name()),
            );
        }
        if let Some(a) = first_repeated(&self.arms) {
            return bad("arms", format!("{a} is listed twice"));
        }
        if self.simulations == 0 {
            return bad("simulations", "must be at least 1".into());
        }
        let runs = [self.arms.len(), self.variants.len(), self.tasks.len()]
            .iter()
            .try_fold(self.simulations, |acc, &k| acc.checked_mul(k))
            .filter(|&r| r <= MAX_RUNS);
        if runs.is_none() {
            return bad(
                "simulations",
                format!(
                    "{} simulations × {} arm(s) × {} variant(s) × {} task(s) is more than \
                     {MAX_RUNS} runs",
                    self.simulations,
                    self.arms.len(),
                    self.variants.len(),
                    self.tasks.len()
                ),
            );
        }
        if self.nulls > MAX_NULLS {
            return bad(
                "nulls",
                format!("{} null graphs per σ (at most {MAX_NULLS})", self.nulls),
            );
        }
        if let DataSource::Synthetic { n, .. } = self.data {
            if n < 2 {
                return bad("synthetic field size", format!("{n} (must be at least 2)"));
            }
            if n > MAX_SYNTHETIC_N {
                return bad(
                    "synthetic field size",
                    format!(
                        "N = {n} (at most {MAX_SYNTHETIC_N}: every prior is an N×N matrix, \
                         and the real fields have a few hundred neurons)"
                    ),
                );
            }
        }
        if let Some(g) = self.grid {
            if !self.variants.iter().any(|v| v.space == Space::Grid) {
                return bad(
                    "grid",
                    "no selected variant uses the grid distance D (WD, WDC, W*DC*, …), so the \
                     grid tuple would be unused"
                        .into(),
                );
            }
            if let DataSource::Synthetic { n, .. } = self.data {
                let points = g[0].checked_mul(g[1]).and_then(|p| p.checked_mul(g[2]));
                if points != Some(n) {
                    return bad(
                        "grid",
                        format!(
                            "{}×{}×{} does not hold exactly the synthetic field's N = {n} points",
                            g[0], g[1], g[2]
                        ),
                    );
                }
            }
        }
        if self.trials[0] < self.train.train_trials() {
            return bad(
                "training trials",
                format!(
                    "{} < batches per epoch × batch size = {}",
                    self.trials[0],
                    self.train.train_trials()
                ),
            );
        }
        if self.trials[1] == 0 || self.trials[2] == 0 {
            return bad(
                "validation/test trials",
                format!("{:?} (must be positive)", &self.trials[1..]),
            );
        }
        self.train.validate()
    }
}

/// Largest grid [`Experiment::validate`] accepts (arms × variants × tasks × simulations); the
/// paper's whole grid is 2 × 11 × 3 × 20 = 1 320 runs.
pub const MAX_RUNS: usize = 1_000_000;

/// Largest number of null graphs per small-worldness σ (both presets use 1 000).
pub const MAX_NULLS: usize = 100_000;

/// Largest synthetic field (the real MICrONS fields have a few hundred neurons).
pub const MAX_SYNTHETIC_N: usize = 5_000;

/// Most worker threads an ablation accepts (`--threads`); more only adds scheduling.
pub const MAX_THREADS: usize = 1024;

/// The first item that appears again later in `items`.
fn first_repeated<T: PartialEq>(items: &[T]) -> Option<&T> {
    items
        .iter()
        .enumerate()
        .find(|(i, x)| items[i + 1..].contains(x))
        .map(|(_, x)| x)
}

/// How it is run: never affects the results, so not compared on resume.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// Worker threads (0: all cores).
    pub threads: usize,
    pub out_dir: PathBuf,
    pub parallel: Parallel,
}

/// Where the parallelism goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Parallel {
    /// Runs in parallel (rayon over runs), each run's kernels sequential.
    Runs,
    /// One run at a time, its kernels parallel.
    Kernels,
}

impl std::str::FromStr for Parallel {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "runs" => Ok(Parallel::Runs),
            "kernels" => Ok(Parallel::Kernels),
            _ => Err(Error::Invalid {
                what: "parallel".into(),
                reason: format!("{s:?}; expected runs or kernels"),
            }),
        }
    }
}

mod task_names {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::tasks::TaskKind;

    pub fn serialize<S: Serializer>(t: &[TaskKind], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(t.iter().map(|k| k.name()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<TaskKind>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| TaskKind::parse(s).map_err(serde::de::Error::custom))
            .collect()
    }
}
