//! Training one variant on one task with Keras semantics (METHOD.md §4).
//!
//! Input noise N(0, σ²) on training batches only; `h_t = act(x_t U + h_{t-1} W + b)`, h_0 = 0;
//! `softmax(h_T V + c)` at the last step; mean cross-entropy + the variant's regularizer on W
//! every batch; Adam (Keras's form, [`adam`]); optional projection W ← max(W, 0) after every
//! update; the training set reshuffled every epoch; validation each epoch and the test set at
//! the end. Deterministic in the seed: the only randomness is the shuffle and the noise, both
//! from generators derived from the seed, and every reduction runs in a fixed order.
pub mod adam;
pub mod model;
pub mod ops;
pub mod step;

use std::time::Instant;

use cortical_kernels::fpenv::FlushDenormals;
use faer::Par;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::variants::{RegForm, Sign};
pub use adam::{Adam, AdamConfig};
pub use model::{Dims, Layout};
pub use ops::{Activation, Real};

/// Hyper-parameters of one fit. Defaults are the paper's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch: usize,
    pub batches_per_epoch: usize,
    pub adam: AdamConfig,
    /// Standard deviation of the training input noise (Keras `GaussianNoise`).
    pub noise_sd: f64,
    /// λ of the wiring cost.
    pub lambda: f64,
    /// λ_EMD of the communicability EMD.
    pub lambda_emd: f64,
    /// ε added to row sums in communicability.
    pub comm_eps: f64,
    #[serde(with = "activation_name")]
    pub activation: Activation,
}

mod activation_name {
    use super::Activation;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(a: &Activation, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match a {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Activation, D::Error> {
        match String::deserialize(d)?.as_str() {
            "relu" => Ok(Activation::Relu),
            "tanh" => Ok(Activation::Tanh),
            other => Err(serde::de::Error::custom(format!(
                "activation {other:?}: expected relu or tanh"
            ))),
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            batch: 128,
            batches_per_epoch: 40,
            adam: AdamConfig::default(),
            noise_sd: 0.05,
            lambda: 0.3,
            lambda_emd: 0.1,
            comm_eps: 1e-10,
            activation: Activation::Relu,
        }
    }
}

impl TrainConfig {
    /// Training trials per epoch: batches × batch size (5 120 in the paper).
    pub fn train_trials(&self) -> usize {
        self.batch * self.batches_per_epoch
    }

    /// Reject values that cannot train (zero sizes, non-finite or negative rates).
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, reason: String| {
            Err(Error::Invalid {
                what: what.into(),
                reason,
            })
        };
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1".into());
        }
        if self.batch == 0 || self.batches_per_epoch == 0 {
            return bad(
                "batch",
                format!(
                    "batch size {} × batches per epoch {} must be positive",
                    self.batch, self.batches_per_epoch
                ),
            );
        }
        if self
            .epochs
            .checked_mul(self.batches_per_epoch)
            .is_none_or(|steps| steps > MAX_STEPS)
        {
            return bad(
                "epochs",
                format!(
                    "{} epochs × {} batches per epoch is more than {MAX_STEPS} training steps",
                    self.epochs, self.batches_per_epoch
                ),
            );
        }
        for (what, v) in [
            ("lambda", self.lambda),
            ("lambda_emd", self.lambda_emd),
            ("noise_sd", self.noise_sd),
            ("learning rate", self.adam.lr),
            ("comm_eps", self.comm_eps),
        ] {
            if !v.is_finite() || v < 0.0 {
                return bad(what, format!("{v} (must be finite and ≥ 0)"));
            }
        }
        Ok(())
    }
}

/// Largest number of Adam steps (epochs × batches per epoch) of one fit
/// [`TrainConfig::validate`] accepts; the paper's fits take 10 × 40 = 400.
pub const MAX_STEPS: usize = 10_000_000;

/// Trials of one task split: inputs `[steps, trials, channels]` (time-major, like
/// `tasks::TaskData`) and class labels.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub steps: usize,
    pub trials: usize,
    pub channels: usize,
    pub classes: usize,
    pub x: Vec<f32>,
    pub labels: Vec<u32>,
}

impl Dataset {
    /// Copy trials `idx` into a `[steps, idx.len(), channels]` batch buffer.
    pub fn gather<T: Real>(&self, idx: &[usize], x: &mut [T], labels: &mut [u32]) {
        let (c, b) = (self.channels, idx.len());
        for t in 0..self.steps {
            let src = &self.x[t * self.trials * c..(t + 1) * self.trials * c];
            let dst = &mut x[t * b * c..(t + 1) * b * c];
            for (k, &i) in idx.iter().enumerate() {
                for (d, &v) in dst[k * c..(k + 1) * c]
                    .iter_mut()
                    .zip(&src[i * c..(i + 1) * c])
                {
                    *d = T::of(f64::from(v));
                }
            }
        }
        for (l, &i) in labels.iter_mut().zip(idx) {
            *l = self.labels[i];
        }
    }

    /// Copy the contiguous trials `r` into a batch buffer.
    pub fn gather_range<T: Real>(
        &self,
        r: std::ops::Range<usize>,
        x: &mut [T],
        labels: &mut [u32],
    ) {
        let (c, b) = (self.channels, r.len());
        for t in 0..self.steps {
            let src = &self.x[(t * self.trials + r.start) * c..(t * self.trials + r.end) * c];
            for (d, &v) in x[t * b * c..(t + 1) * b * c].iter_mut().zip(src) {
                *d = T::of(f64::from(v));
            }
        }
        labels[..b].copy_from_slice(&self.labels[r]);
    }

    fn check(&self, what: &str) -> Result<()> {
        if self.x.len() != self.steps * self.trials * self.channels
            || self.labels.len() != self.trials
            || self.labels.iter().any(|&l| l as usize >= self.classes)
        {
            return Err(Error::Invalid {
                what: format!("{what} data"),
                reason: format!(
                    "{} inputs / {} labels for {} steps × {} trials × {} channels, {} classes",
                    self.x.len(),
                    self.labels.len(),
                    self.steps,
                    self.trials,
                    self.channels,
                    self.classes
                ),
            });
        }
        Ok(())
    }
}

/// What is fixed about one fit besides the hyper-parameters: the initial W, the regularizer's
/// matrices and the sign constraint.
#[derive(Debug, Clone, Copy)]
pub struct Problem<'a> {
    /// Initial W, N×N row-major.
    pub w0: &'a [f64],
    pub form: RegForm,
    /// D or D\* as f32, N×N row-major (all forms but `L1`).
    pub distance: Option<&'a [f32]>,
    /// sort(C_emp) over all N² entries (`L1DistanceEmd`).
    pub c_emp_sorted: Option<&'a [f32]>,
    pub sign: Sign,
}

/// One epoch's learning-curve point. `train_*` are Keras's running means over the epoch's
/// batches (noise on, weights changing); `loss` includes the regularizer, as Keras reports it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub val_loss: f64,
    pub val_accuracy: f64,
}

/// Where a fit stopped because the loss went non-finite.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// 1-based epoch and batch of the first non-finite loss.
    pub epoch: usize,
    pub batch: usize,
}

/// Wall-clock time of a fit and of its parts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Per training step (RNN + regularizer + Adam), seconds, in order.
    pub step_s: Vec<f64>,
    /// Totals over all steps, seconds.
    pub rnn_s: f64,
    pub reg_s: f64,
    pub total_s: f64,
}

impl Timing {
    /// Median training-step time in seconds (0 if no step ran).
    pub fn median_step_s(&self) -> f64 {
        let mut v = self.step_s.clone();
        if v.is_empty() {
            return 0.0;
        }
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }
}

/// The outcome of one fit.
#[derive(Debug, Clone)]
pub struct Fit {
    pub curves: Vec<EpochRecord>,
    pub test_loss: f64,
    pub test_accuracy: f64,
    /// Regularizer value at the final W.
    pub reg: f64,
    /// Final W, N×N row-major.
    pub w: Vec<f32>,
    pub failure: Option<Failure>,
    pub timing: Timing,
}

/// Train one model. `seed` fixes U/V init, the shuffles and the noise; `par` is the kernels'
/// parallelism (use `Par::Seq` when runs are parallel).
pub fn fit(
    cfg: &TrainConfig,
    problem: &Problem<'_>,
    train: &Dataset,
    val: &Dataset,
    test: &Dataset,
    seed: u64,
    par: Par,
) -> Result<Fit> {
    cfg.validate()?;
    train.check("training")?;
    val.check("validation")?;
    test.check("test")?;
    let n = (problem.w0.len() as f64).sqrt() as usize;
    if n == 0 || n * n != problem.w0.len() {
        return Err(Error::Invalid {
            what: "initial W".into(),
            reason: format!("{} entries is not a non-empty square", problem.w0.len()),
        });
    }
    for d in [val, test] {
        if (d.steps, d.channels, d.classes) != (train.steps, train.channels, train.classes) {
            return Err(Error::Invalid {
                what: "data splits".into(),
                reason: "training, validation and test differ in steps/channels/classes".into(),
            });
        }
    }
    if train.trials < cfg.train_trials() {
        return Err(Error::Invalid {
            what: "training data".into(),
            reason: format!(
                "{} trials, need {} (batches × batch size)",
                train.trials,
                cfg.train_trials()
            ),
        });
    }
    let dims = Dims {
        input: train.channels,
        hidden: n,
        classes: train.classes,
    };
    let layout = Layout::new(dims);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut params: Vec<f32> = model::init_params(&layout, problem.w0, &mut rng);
    let mut adam = Adam::new(cfg.adam, layout.len);
    let mut ws = step::Workspace::<f32>::new(layout, train.steps, cfg.batch);
    let reg = ops::RegInputs {
        form: problem.form,
        lambda: cfg.lambda as f32,
        lambda_emd: cfg.lambda_emd as f32,
        eps: cfg.comm_eps as f32,
        distance: problem.distance,
        c_emp_sorted: problem.c_emp_sorted,
    };
    let noise = Normal::new(0.0f32, cfg.noise_sd as f32).map_err(|e| Error::Invalid {
        what: "noise_sd".into(),
        reason: e.to_string(),
    })?;
    let mut order: Vec<usize> = (0..train.trials).collect();
    let mut idx = vec![0usize; cfg.batch];
    let mut curves = Vec::with_capacity(cfg.epochs);
    let mut timing = Timing {
        step_s: Vec::with_capacity(cfg.epochs * cfg.batches_per_epoch),
        ..Timing::default()
    };
    // Subnormals flushed, as TensorFlow runs its kernels: a decaying ReLU state otherwise
    // makes every step several times slower (see `cortical_kernels::fpenv`).
    let _flush = FlushDenormals::new();
    let started = Instant::now();
    let mut failure = None;
    'epochs: for epoch in 1..=cfg.epochs {
        order.shuffle(&mut rng);
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        for batch in 1..=cfg.batches_per_epoch {
            let t0 = Instant::now();
            idx.copy_from_slice(&order[(batch - 1) * cfg.batch..batch * cfg.batch]);
            train.gather(&idx, &mut ws.x, &mut ws.labels);
            if cfg.noise_sd > 0.0 {
                for x in ws.x.iter_mut() {
                    *x += noise.sample(&mut rng);
                }
            }
            let s = match step::loss_and_grad(&params, &mut ws, &reg, cfg.activation, par) {
                Err(e) if undefined_at_w(&e) => {
                    failure = Some(Failure { epoch, batch });
                    break 'epochs;
                }
                r => r?,
            };
            let loss = s.xent + s.reg;
            if !loss.is_finite() || ws.grad.iter().any(|g| !g.is_finite()) {
                failure = Some(Failure { epoch, batch });
                break 'epochs;
            }
            adam.step(&mut params, &ws.grad);
            if problem.sign == Sign::NonNegative {
                layout
                    .split_mut(&mut params)
                    .w
                    .iter_mut()
                    .for_each(|w| *w = w.max(0.0));
            }
            loss_sum += loss;
            correct += s.correct;
            timing.rnn_s += s.t_rnn.as_secs_f64();
            timing.reg_s += s.t_reg.as_secs_f64();
            timing.step_s.push((Instant::now() - t0).as_secs_f64());
        }
        let reg_now = match reg_value(&reg, &params, &layout, &mut ws) {
            Err(e) if undefined_at_w(&e) => {
                failure = Some(Failure {
                    epoch,
                    batch: cfg.batches_per_epoch,
                });
                break 'epochs;
            }
            r => r?,
        };
        let (val_xent, val_accuracy) = step::evaluate(&params, &mut ws, val, cfg.activation, par);
        curves.push(EpochRecord {
            epoch,
            train_loss: loss_sum / cfg.batches_per_epoch as f64,
            train_accuracy: correct as f64 / cfg.train_trials() as f64,
            val_loss: val_xent + reg_now,
            val_accuracy,
        });
    }
    let reg_final = if failure.is_none() {
        reg_value(&reg, &params, &layout, &mut ws)?
    } else {
        f64::NAN
    };
    let (test_xent, test_accuracy) = if failure.is_none() {
        step::evaluate(&params, &mut ws, test, cfg.activation, par)
    } else {
        (f64::NAN, f64::NAN)
    };
    timing.total_s = started.elapsed().as_secs_f64();
    let w = layout.split(&params).w.to_vec();
    Ok(Fit {
        curves,
        test_loss: test_xent + reg_final,
        test_accuracy,
        reg: reg_final,
        w,
        failure,
        timing,
    })
}

/// Whether a kernel error says the regularizer is undefined at the current W — a zero row of
/// |W| in a communicability computed without ε (the notebook's `eps-only-emd` deviation, where
/// TensorFlow would produce a NaN loss). Such a run stops as failed, like a non-finite loss;
/// every other error is the caller's and propagates.
fn undefined_at_w(e: &Error) -> bool {
    matches!(
        e,
        Error::Kernel(cortical_kernels::KernelError::InvalidWeights { .. })
    )
}

/// The regularizer's value at the current W (its gradient goes to scratch and is discarded).
fn reg_value(
    reg: &ops::RegInputs<'_, f32>,
    params: &[f32],
    layout: &Layout,
    ws: &mut step::Workspace<f32>,
) -> Result<f64> {
    let p = layout.split(params);
    let g = layout.split_mut(&mut ws.grad);
    ops::regularizer(reg, p.w, g.w, &mut ws.reg)
}
