//! The three cognitive tasks of METHOD.md §5, as seeded generators of input sequences and labels.
//!
//! Every task is read out once, at the last step, so a trial is an input sequence plus one class
//! label. Inputs are stored **time-major**, `x[step][trial][channel]`, the layout the RNN kernel
//! consumes (`[steps, batch, input]`): one time step of a whole set is one contiguous slice, and a
//! training batch is gathered step by step with [`TaskData::gather`] into a caller-owned buffer.
//!
//! The input noise of training is *not* part of a task (the trainer adds it); the only randomness
//! here is the choice of condition per trial and, for Perceptual Decision-Making, the stimulus
//! noise that defines the task itself.
//!
//! Conditions are drawn **stratified**: the conditions of a task (8 problems, 2 × 5 class ×
//! coherence pairs, or 2 classes) are cycled over the trials and the order is shuffled. Each trial
//! is still marginally uniform over the conditions, as METHOD.md asks, but every set is exactly
//! balanced whenever its size is a multiple of the number of conditions (5120 and 2560 are, for
//! all three tasks), so that class imbalance never varies between seeds or splits.
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::error::{Error, Result};

mod go_no_go;
mod one_choice;
mod perceptual;

pub use go_no_go::GO_NO_GO;
pub use one_choice::{goal_blind_ceiling, OneChoiceProblem, ONE_CHOICE, ONE_CHOICE_PROBLEMS};
pub use perceptual::{PERCEPTUAL, PERCEPTUAL_COHERENCES, PERCEPTUAL_NOISE_STD};

/// Number of trials of the training set (METHOD.md §4).
pub const TRAIN_TRIALS: usize = 5120;
/// Number of trials of the validation set.
pub const VALIDATION_TRIALS: usize = 2560;
/// Number of trials of the test set.
pub const TEST_TRIALS: usize = 2560;

/// The three tasks. The notebook numbers them Task1 = One-Choice Inference, Task2 = Go/NoGo,
/// Task3 = Perceptual Decision-Making (see [`TaskKind::notebook_name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskKind {
    /// One-Choice Inference (seRNN): 4 classes l, u, r, d; 50 steps, 8 channels.
    OneChoice,
    /// Perceptual Decision-Making (neurogym conventions): 2 classes; 41 steps, 3 channels.
    PerceptualDecision,
    /// Go/NoGo: 2 classes NoGo = 0, Go = 1; 40 steps, 3 channels.
    GoNoGo,
}

/// Fixed shape of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskShape {
    /// Time steps per trial.
    pub steps: usize,
    /// Input channels.
    pub channels: usize,
    /// Output classes.
    pub classes: usize,
    /// Distinct conditions the trials are stratified over.
    pub conditions: usize,
}

impl TaskKind {
    /// All tasks in the notebook's order (Task1, Task2, Task3).
    pub const ALL: [TaskKind; 3] = [
        TaskKind::OneChoice,
        TaskKind::GoNoGo,
        TaskKind::PerceptualDecision,
    ];

    /// Shape of the task.
    pub fn shape(self) -> TaskShape {
        match self {
            TaskKind::OneChoice => ONE_CHOICE,
            TaskKind::PerceptualDecision => PERCEPTUAL,
            TaskKind::GoNoGo => GO_NO_GO,
        }
    }

    /// Human-readable name, e.g. `"one-choice-inference"`.
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::OneChoice => "one-choice-inference",
            TaskKind::PerceptualDecision => "perceptual-decision-making",
            TaskKind::GoNoGo => "go-no-go",
        }
    }

    /// The notebook's folder name (`Task1`, `Task2`, `Task3`), used by the published tables.
    pub fn notebook_name(self) -> &'static str {
        match self {
            TaskKind::OneChoice => "Task1",
            TaskKind::GoNoGo => "Task2",
            TaskKind::PerceptualDecision => "Task3",
        }
    }

    /// Parses [`TaskKind::name`] or [`TaskKind::notebook_name`].
    pub fn parse(s: &str) -> Result<TaskKind> {
        TaskKind::ALL
            .into_iter()
            .find(|k| k.name() == s || k.notebook_name() == s)
            .ok_or_else(|| Error::Invalid {
                what: "task".into(),
                reason: format!(
                    "unknown task {s:?}; expected one of one-choice-inference/Task1, \
                     go-no-go/Task2, perceptual-decision-making/Task3"
                ),
            })
    }
}

/// A set of trials of one task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskData {
    /// Which task generated it.
    pub kind: TaskKind,
    /// Time steps per trial.
    pub steps: usize,
    /// Number of trials in the set.
    pub batch: usize,
    /// Input channels.
    pub channels: usize,
    /// Output classes.
    pub classes: usize,
    /// Inputs, `[steps, trials, channels]` row-major (time-major).
    pub x: Vec<f32>,
    /// Class label of each trial, in `0..classes`.
    pub labels: Vec<u32>,
    /// Condition of each trial: the problem index (0..8) for One-Choice Inference, the index
    /// into [`PERCEPTUAL_COHERENCES`] for Perceptual Decision-Making, the label for Go/NoGo.
    /// Used to break accuracy down by difficulty.
    pub conditions: Vec<u32>,
}

impl TaskData {
    /// Number of trials (the same as the field `batch`).
    pub fn trials(&self) -> usize {
        self.batch
    }

    /// The inputs of all trials at time step `t`, `[trials, channels]`. Panics if `t >= steps`.
    pub fn step(&self, t: usize) -> &[f32] {
        let w = self.batch * self.channels;
        &self.x[t * w..(t + 1) * w]
    }

    /// The input of one trial at one step, `[channels]`. Panics if out of range.
    pub fn at(&self, t: usize, trial: usize) -> &[f32] {
        let o = (t * self.batch + trial) * self.channels;
        &self.x[o..o + self.channels]
    }

    /// Gathers the trials `idx` into caller-owned buffers: `x_out` is `[steps, idx.len(),
    /// channels]` (the RNN kernel's layout), `labels_out` is `[idx.len()]`. No allocation, so the
    /// training loop can reuse one buffer per batch.
    pub fn gather(&self, idx: &[usize], x_out: &mut [f32], labels_out: &mut [u32]) -> Result<()> {
        let b = idx.len();
        let c = self.channels;
        if x_out.len() != self.steps * b * c {
            return Err(Error::Invalid {
                what: "x_out".into(),
                reason: format!(
                    "length {} != steps {} × batch {b} × channels {c}",
                    x_out.len(),
                    self.steps
                ),
            });
        }
        if labels_out.len() != b {
            return Err(Error::Invalid {
                what: "labels_out".into(),
                reason: format!("length {} != batch {b}", labels_out.len()),
            });
        }
        if let Some(&bad) = idx.iter().find(|&&i| i >= self.batch) {
            return Err(Error::Invalid {
                what: "trial index".into(),
                reason: format!("{bad} out of range for a set of {} trials", self.batch),
            });
        }
        for (l, &i) in labels_out.iter_mut().zip(idx) {
            *l = self.labels[i];
        }
        if c == 0 {
            return Ok(());
        }
        for (t, out_t) in x_out.chunks_exact_mut(b * c).enumerate() {
            let src = self.step(t);
            for (dst, &i) in out_t.chunks_exact_mut(c).zip(idx) {
                dst.copy_from_slice(&src[i * c..(i + 1) * c]);
            }
        }
        Ok(())
    }

    /// Allocating convenience around [`TaskData::gather`]: the sub-set of trials `idx`.
    pub fn select(&self, idx: &[usize]) -> Result<TaskData> {
        let mut x = vec![0.0; self.steps * idx.len() * self.channels];
        let mut labels = vec![0; idx.len()];
        self.gather(idx, &mut x, &mut labels)?;
        Ok(TaskData {
            kind: self.kind,
            steps: self.steps,
            batch: idx.len(),
            channels: self.channels,
            classes: self.classes,
            x,
            labels,
            conditions: idx.iter().map(|&i| self.conditions[i]).collect(),
        })
    }

    /// Number of trials of each class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }
}

/// Generates `trials` trials of `kind`, deterministically in `seed`.
pub fn generate(kind: TaskKind, trials: usize, seed: u64) -> TaskData {
    let shape = kind.shape();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let conditions = stratified_conditions(shape.conditions, trials, &mut rng);
    let mut data = TaskData {
        kind,
        steps: shape.steps,
        batch: trials,
        channels: shape.channels,
        classes: shape.classes,
        x: vec![0.0; shape.steps * trials * shape.channels],
        labels: vec![0; trials],
        conditions: vec![0; trials],
    };
    match kind {
        TaskKind::OneChoice => one_choice::fill(&mut data, &conditions),
        TaskKind::PerceptualDecision => perceptual::fill(&mut data, &conditions, &mut rng),
        TaskKind::GoNoGo => go_no_go::fill(&mut data, &conditions),
    }
    data
}

/// Condition `i mod conditions` for trial `i`, then shuffled: exact balance, uniform marginals.
fn stratified_conditions(
    conditions: usize,
    trials: usize,
    rng: &mut Xoshiro256PlusPlus,
) -> Vec<u32> {
    let mut c: Vec<u32> = (0..trials).map(|i| (i % conditions) as u32).collect();
    c.shuffle(rng);
    c
}

/// Writes `value` into channel `ch` of trial `trial` for the steps `steps`.
fn set_channel(
    d: &mut TaskData,
    trial: usize,
    ch: usize,
    steps: std::ops::Range<usize>,
    value: f32,
) {
    for t in steps {
        let o = (t * d.batch + trial) * d.channels + ch;
        d.x[o] = value;
    }
}

/// Train / validation / test sets of one task, generated from distinct seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSplits {
    /// Training set (5120 trials by default).
    pub train: TaskData,
    /// Validation set (2560 trials by default).
    pub validation: TaskData,
    /// Test set (2560 trials by default).
    pub test: TaskData,
}

impl TaskSplits {
    /// The paper's splits: 5120 / 2560 / 2560 trials.
    pub fn generate(kind: TaskKind, seed: u64) -> TaskSplits {
        TaskSplits::with_sizes(kind, [TRAIN_TRIALS, VALIDATION_TRIALS, TEST_TRIALS], seed)
    }

    /// Splits of the given sizes `[train, validation, test]`. The three seeds are derived from
    /// `seed` by a SplitMix64 finalizer so they differ from each other and from `seed` itself,
    /// and a test set never shares its stimulus noise with the training set.
    pub fn with_sizes(kind: TaskKind, sizes: [usize; 3], seed: u64) -> TaskSplits {
        let s = split_seeds(seed);
        TaskSplits {
            train: generate(kind, sizes[0], s[0]),
            validation: generate(kind, sizes[1], s[1]),
            test: generate(kind, sizes[2], s[2]),
        }
    }
}

/// The seeds of the train, validation and test sets derived from one run seed.
pub fn split_seeds(seed: u64) -> [u64; 3] {
    [1u64, 2, 3].map(|k| splitmix64(seed ^ k.wrapping_mul(0xD1B5_4A32_D192_ED03)))
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
