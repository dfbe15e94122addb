//! Adam with Keras's update form (METHOD.md §4).
//!
//! Keras folds the bias corrections into the step size and adds ε to √v *uncorrected*
//! ("ε-hat" in Kingma & Ba's §2): with t the 1-based step,
//! `α_t = lr·√(1−β2^t)/(1−β1^t)`, `m ← m + (g−m)(1−β1)`, `v ← v + (g²−v)(1−β2)`,
//! `θ ← θ − α_t·m/(√v + ε)`. With ε = 1e-7 this differs measurably from the textbook form
//! (ε added to √v̂) while v is small, i.e. exactly in the first steps.

/// Adam's hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl Default for AdamConfig {
    /// Keras's defaults, which the paper uses: lr 1e-3, β1 0.9, β2 0.999, ε 1e-7.
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
        }
    }
}

/// Adam state for one flat parameter vector.
#[derive(Debug, Clone)]
pub struct Adam {
    cfg: AdamConfig,
    t: u64,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Adam {
    /// State for `len` parameters, moments zero.
    pub fn new(cfg: AdamConfig, len: usize) -> Self {
        Adam {
            cfg,
            t: 0,
            m: vec![0.0; len],
            v: vec![0.0; len],
        }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// One update of `params` by `grads` (same length as at construction).
    ///
    /// # Panics
    /// If the lengths differ from the state's (a programming error, not input).
    pub fn step(&mut self, params: &mut [f32], grads: &[f32]) {
        assert_eq!(params.len(), self.m.len(), "Adam: parameter length");
        assert_eq!(grads.len(), self.m.len(), "Adam: gradient length");
        self.t += 1;
        let c = self.cfg;
        // Bias corrections in f64: β2^t for t in the thousands loses digits in f32.
        let t = self.t as i32;
        let alpha = (c.lr * (1.0 - c.beta2.powi(t)).sqrt() / (1.0 - c.beta1.powi(t))) as f32;
        let (b1, b2, eps) = ((1.0 - c.beta1) as f32, (1.0 - c.beta2) as f32, c.eps as f32);
        for (((p, &g), m), v) in params
            .iter_mut()
            .zip(grads)
            .zip(self.m.iter_mut())
            .zip(self.v.iter_mut())
        {
            *m += (g - *m) * b1;
            *v += (g * g - *v) * b2;
            *p -= alpha * *m / (v.sqrt() + eps);
        }
    }
}
