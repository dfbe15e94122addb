//! The built-in MICrONS-like field: what the crate runs on when no data folder is given.
//!
//! Generated in four steps, each calibrated to the 17 real fields (tests/synthetic.rs prints
//! real vs synthetic statistics side by side and checks that each falls in the real range):
//!
//! 1. **Somata** uniform in a slab with the real fields' extent (≈ 950 × 110 × 450 µm in x, y,
//!    z: an imaging field is thin in depth), stored in 4 × 4 × 40 nm voxels.
//! 2. **Connectome**: each ordered pair i → j is connected with probability ∝ exp(−d/λ)
//!    (scaled to the real fields' density, ≈ 0.5 %), with a log-normal synapse count rounded
//!    to ≥ 1 (the real counts are mostly 1, up to 4–7).
//! 3. **Spikes** from a discrete-time linear–nonlinear Poisson network on the real imaging
//!    frame grid (6.3009 Hz: the seed's deconvolved events all sit on frame times, which is
//!    what makes their STTC at Δt = 5 ms what it is). Each neuron's log-rate is its log-normal
//!    baseline plus a shared slow fluctuation (global state), a few spatially smooth slow
//!    fluctuations (so that nearby neurons co-vary more) and multiplicative excitation from
//!    its presynaptic partners' spikes in the previous frame, weighted by synapse count.
//! 4. **Functional matrices** from those spikes exactly as METHOD.md §2 defines them, by the
//!    crate's own [`crate::priors::functional`] (20 ms bins; STTC Δt = 5 ms on
//!    [0, last spike + 0.1 s]); precision by the graphical lasso
//!    ([`crate::priors::precision::graphical_lasso`]) with a fixed α on frame-binned counts
//!    (the real precision matrices' diagonal, 12–26, fits counts at the frame rate).
//!
//! Everything is deterministic in [`SyntheticConfig::seed`] (one `Xoshiro256PlusPlus` stream,
//! consumed in a fixed order). Ids are fake but unique and in the real ranges' style.
use super::{Field, VOXEL_NM};
use crate::error::{Error, Result};
use faer::Mat;
use rand::{RngExt, SeedableRng};
use rand_distr::{LogNormal, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Frame rate of the MICrONS two-photon scans (METHOD.md §1), Hz.
pub const MICRONS_FRAME_RATE_HZ: f64 = 6.3009;

/// Configuration of the synthetic field. [`Default`] holds the calibrated values; only `n`,
/// `seed` and `duration_s` are meant to be changed routinely.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SyntheticConfig {
    /// Number of neurons.
    pub n: usize,
    /// Seed of the single random stream everything is drawn from.
    pub seed: u64,
    /// Recording length in seconds (real fields: ≈ 6347 s; the default is shorter so that a
    /// field of 100 neurons is generated in well under a second).
    pub duration_s: f64,
    /// Event times sit on this frame grid (real: 6.3009 Hz).
    pub frame_rate_hz: f64,
    /// Slab extent in µm (x, y, z).
    pub extent_um: [f64; 3],
    /// Slab corner in voxels (x, y, z), inside the real fields' coordinate ranges.
    pub origin_vox: [i64; 3],
    /// Expected fraction of ordered pairs (i ≠ j) that are connected.
    pub density: f64,
    /// Length constant λ of the connection probability exp(−d/λ), µm.
    pub length_constant_um: f64,
    /// Synapse count per connection: max(1, round(LogNormal(μ, σ))).
    pub count_mu: f64,
    pub count_sigma: f64,
    /// Median baseline event rate (Hz) and the log-normal spread of baselines across neurons.
    pub rate_median_hz: f64,
    pub rate_sigma: f64,
    /// Standard deviation of the log-rate modulation by the shared slow fluctuation.
    pub global_gain: f64,
    /// Standard deviation of the log-rate modulation by the spatially smooth fluctuations.
    pub local_gain: f64,
    /// Number of spatially smooth fluctuations and their spatial width along x, µm.
    pub local_factors: usize,
    pub local_width_um: f64,
    /// Correlation time of all slow fluctuations, s.
    pub fluctuation_tau_s: f64,
    /// Multiplicative rate increase per presynaptic event × synapse in the previous frame.
    pub coupling: f64,
    /// Probability per synapse that a presynaptic event also evokes a postsynaptic event in
    /// the same frame (a frame is 159 ms, longer than synaptic delays: at 20 ms bins and
    /// Δt = 5 ms only same-frame effects reach corr and STTC).
    pub transmission: f64,
    /// Graphical-lasso penalty for the synthetic precision matrix.
    pub glasso_alpha: f64,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            n: 100,
            seed: 0,
            duration_s: 1200.0,
            frame_rate_hz: MICRONS_FRAME_RATE_HZ,
            extent_um: [950.0, 110.0, 450.0],
            origin_vox: [125_000, 176_000, 15_200],
            density: 0.005,
            length_constant_um: 400.0,
            count_mu: -0.2,
            count_sigma: 0.55,
            rate_median_hz: 0.28,
            rate_sigma: 0.375,
            global_gain: 0.55,
            local_gain: 0.4,
            local_factors: 4,
            local_width_um: 250.0,
            fluctuation_tau_s: 3.0,
            coupling: 0.5,
            transmission: 0.1,
            glasso_alpha: 0.0005,
        }
    }
}

impl SyntheticConfig {
    /// Checks every value; [`Field::try_synthetic`] calls it.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, v: f64, req: &str| Error::Invalid {
            what: format!("SyntheticConfig.{what}"),
            reason: format!("{v} (must be {req})"),
        };
        let positive = [
            ("duration_s", self.duration_s),
            ("frame_rate_hz", self.frame_rate_hz),
            ("length_constant_um", self.length_constant_um),
            ("count_sigma", self.count_sigma),
            ("rate_median_hz", self.rate_median_hz),
            ("local_width_um", self.local_width_um),
            ("fluctuation_tau_s", self.fluctuation_tau_s),
        ];
        for (what, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(bad(what, v, "finite and > 0"));
            }
        }
        for (k, &e) in self.extent_um.iter().enumerate() {
            if !(e.is_finite() && e >= 0.0) {
                return Err(bad(&format!("extent_um[{k}]"), e, "finite and ≥ 0"));
            }
        }
        let non_negative = [
            ("rate_sigma", self.rate_sigma),
            ("global_gain", self.global_gain),
            ("local_gain", self.local_gain),
            ("coupling", self.coupling),
            ("glasso_alpha", self.glasso_alpha),
        ];
        for (what, v) in non_negative {
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(what, v, "finite and ≥ 0"));
            }
        }
        if !(self.count_mu.is_finite() && self.count_mu < 10.0) {
            return Err(bad("count_mu", self.count_mu, "finite and < 10"));
        }
        if !(0.0..=1.0).contains(&self.transmission) {
            return Err(bad("transmission", self.transmission, "in [0, 1]"));
        }
        if !(0.0..=1.0).contains(&self.density) {
            return Err(bad("density", self.density, "in [0, 1]"));
        }
        // Frames are simulated one by one: refuse runaway sizes rather than allocate for hours.
        let frames = self.duration_s * self.frame_rate_hz;
        if frames < 2.0 {
            return Err(bad(
                "duration_s",
                self.duration_s,
                "at least two frames long",
            ));
        }
        if frames * self.n as f64 > 5e9 {
            return Err(bad(
                "duration_s",
                self.duration_s,
                "small enough that n × frames ≤ 5e9",
            ));
        }
        Ok(())
    }

    /// The field id: `synthetic-n<N>-seed<S>`.
    pub fn id(&self) -> String {
        format!("synthetic-n{}-seed{}", self.n, self.seed)
    }
}

impl Field {
    /// [`Field::synthetic`] for a configuration that may be invalid (e.g. from the command line).
    pub fn try_synthetic(cfg: &SyntheticConfig) -> Result<Field> {
        cfg.validate()?;
        generate_valid(cfg)
    }
}

/// [`Field::synthetic`]: panics (with the error's message) only if `cfg` fails
/// [`SyntheticConfig::validate`] — a programming error — or the graphical lasso fails on the
/// generated counts (not seen for valid configurations); use [`Field::try_synthetic`] for
/// configurations that come from users.
pub(crate) fn generate(cfg: &SyntheticConfig) -> Field {
    match Field::try_synthetic(cfg) {
        Ok(f) => f,
        Err(e) => panic!("Field::synthetic: {e}"),
    }
}

fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    rng.sample::<f64, _>(StandardNormal)
}

fn generate_valid(cfg: &SyntheticConfig) -> Result<Field> {
    let n = cfg.n;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(cfg.seed);

    // 1. Somata, uniform in the slab; voxel coordinates are integers like the real ones.
    let positions_vox: Vec<[i64; 3]> = (0..n)
        .map(|_| {
            std::array::from_fn(|k| {
                let um = rng.random::<f64>() * cfg.extent_um[k];
                cfg.origin_vox[k] + (um * 1000.0 / VOXEL_NM[k]).round() as i64
            })
        })
        .collect();
    let um: Vec<[f64; 3]> = positions_vox
        .iter()
        .map(|p| std::array::from_fn(|k| p[k] as f64 * VOXEL_NM[k] / 1000.0))
        .collect();
    let dist = |i: usize, j: usize| {
        let d: f64 = (0..3).map(|k| (um[i][k] - um[j][k]).powi(2)).sum();
        d.sqrt()
    };

    // 2. Connectome. Scaling the exponential kernel so its mean over pairs is `density` keeps
    //    the expected density fixed whatever the slab and λ.
    let mut kernel = Mat::<f64>::zeros(n, n);
    let mut kernel_sum = 0.0;
    for i in 0..n {
        for j in 0..n {
            if i != j {
                let k = (-dist(i, j) / cfg.length_constant_um).exp();
                kernel[(i, j)] = k;
                kernel_sum += k;
            }
        }
    }
    let pairs = (n * n.saturating_sub(1)) as f64;
    let scale = if kernel_sum > 0.0 {
        cfg.density * pairs / kernel_sum
    } else {
        0.0
    };
    let counts = LogNormal::new(cfg.count_mu, cfg.count_sigma).expect("validated σ > 0");
    let mut connectome = Mat::<f64>::zeros(n, n);
    for i in 0..n {
        for j in 0..n {
            // Draw for every pair (also i == j) so the stream does not depend on the outcome.
            let u = rng.random::<f64>();
            let c: f64 = rng.sample(counts);
            if i != j && u < (scale * kernel[(i, j)]).min(1.0) {
                connectome[(i, j)] = c.round().max(1.0);
            }
        }
    }

    // 3. Spikes.
    let spikes = simulate(cfg, &um, &connectome, &mut rng);

    // 4. Functional matrices from the spikes, by the crate's own METHOD §2 implementation.
    let (corr, sttc, precision) = functional(cfg, &spikes)?;

    // Fake ids, unique and shaped like the real ones (18-digit root ids).
    let root_ids = (0..n as i64)
        .map(|i| 864_691_135_000_000_000 + 7919 * i)
        .collect();
    let unit_ids = (1..=n as i64).collect();
    let target_ids = (0..n as i64).map(|i| 100_000 + 37 * i).collect();

    Ok(Field {
        id: cfg.id(),
        n,
        root_ids,
        unit_ids,
        target_ids,
        positions_vox,
        connectome,
        corr,
        sttc,
        precision,
        spikes: Some(spikes),
    })
}

/// A stationary unit-variance AR(1) step with correlation `a` between frames.
fn ar1(z: &mut f64, a: f64, rng: &mut Xoshiro256PlusPlus) {
    *z = a * *z + (1.0 - a * a).sqrt() * normal(rng);
}

fn simulate(
    cfg: &SyntheticConfig,
    um: &[[f64; 3]],
    connectome: &Mat<f64>,
    rng: &mut Xoshiro256PlusPlus,
) -> Vec<Vec<f64>> {
    let n = um.len();
    let dt = 1.0 / cfg.frame_rate_hz;
    let frames = (cfg.duration_s * cfg.frame_rate_hz).floor() as usize;
    let a = (-dt / cfg.fluctuation_tau_s).exp();

    // Per-neuron baseline log-rate, global loading and local loadings (Gaussian bumps in x,
    // centres spread over the slab), with the log-normal mean correction so that the average
    // rate stays at the baseline whatever the gains.
    let x_min = um.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
    let x_max = um.iter().map(|p| p[0]).fold(f64::NEG_INFINITY, f64::max);
    let centres: Vec<f64> = (0..cfg.local_factors)
        .map(|k| x_min + (k as f64 + 0.5) / cfg.local_factors as f64 * (x_max - x_min))
        .collect();
    let mut base = vec![0.0; n];
    let mut g_load = vec![0.0; n];
    let mut l_load = vec![vec![0.0; cfg.local_factors]; n];
    for i in 0..n {
        let g = cfg.global_gain * (0.75 + 0.35 * rng.random::<f64>());
        let mut var = g * g;
        for (k, c) in centres.iter().enumerate() {
            let b = cfg.local_gain
                * (-(um[i][0] - c).powi(2) / (2.0 * cfg.local_width_um.powi(2))).exp();
            l_load[i][k] = b;
            var += b * b;
        }
        g_load[i] = g;
        base[i] = cfg.rate_median_hz.ln() + cfg.rate_sigma * normal(rng) - 0.5 * var;
    }
    // Presynaptic lists: who excites i, and by how many synapses.
    let inputs: Vec<Vec<(usize, f64)>> = (0..n)
        .map(|i| {
            (0..n)
                .filter(|&j| connectome[(j, i)] != 0.0)
                .map(|j| (j, connectome[(j, i)]))
                .collect()
        })
        .collect();

    let mut z_g = normal(rng);
    let mut z_l: Vec<f64> = (0..cfg.local_factors).map(|_| normal(rng)).collect();
    let mut prev = vec![false; n];
    let mut now = vec![false; n];
    let mut evoked_now = vec![false; n];
    let mut trains = vec![Vec::new(); n];
    for t in 0..frames {
        ar1(&mut z_g, a, rng);
        for z in &mut z_l {
            ar1(z, a, rng);
        }
        let time = (t + 1) as f64 * dt;
        for i in 0..n {
            let mut log_rate = base[i] + g_load[i] * z_g;
            for (b, z) in l_load[i].iter().zip(&z_l) {
                log_rate += b * z;
            }
            let drive: f64 = inputs[i]
                .iter()
                .filter(|(j, _)| prev[*j])
                .map(|(_, c)| c)
                .sum();
            let rate = log_rate.exp() * (1.0 + cfg.coupling * drive);
            let p = 1.0 - (-rate * dt).exp();
            now[i] = rng.random::<f64>() < p;
        }
        // Same-frame transmission, one generation: each event of a presynaptic neuron j
        // evokes one in i with probability 1 − (1 − q)^synapses. One uniform per (i, input)
        // pair with an event keeps the stream independent of the order of outcomes.
        if cfg.transmission > 0.0 {
            for i in 0..n {
                let mut evoked = false;
                for &(j, c) in &inputs[i] {
                    if now[j] {
                        let p = 1.0 - (1.0 - cfg.transmission).powf(c);
                        evoked |= rng.random::<f64>() < p;
                    }
                }
                evoked_now[i] = evoked;
            }
        }
        for i in 0..n {
            if now[i] || evoked_now[i] {
                now[i] = true;
                trains[i].push(time);
            }
        }
        std::mem::swap(&mut prev, &mut now);
    }
    // A silent neuron would make its correlations undefined (NaN); give it one event at a
    // random frame, which for realistic settings never happens (≥ 100 expected events).
    for train in &mut trains {
        if train.is_empty() && frames > 0 {
            let t = rng.random_range(0..frames);
            train.push((t + 1) as f64 * dt);
        }
    }
    trains
}

/// corr, STTC and precision of the synthetic spikes (see the module docs).
fn functional(
    cfg: &SyntheticConfig,
    spikes: &[Vec<f64>],
) -> Result<(Mat<f64>, Mat<f64>, Mat<f64>)> {
    use crate::priors::functional::{binned_counts, pearson_binned, recording_stop, sttc_matrix};
    use crate::priors::precision::{empirical_covariance, graphical_lasso, GlassoOptions};
    let n = spikes.len();
    if n == 0 {
        return Ok((Mat::zeros(0, 0), Mat::zeros(0, 0), Mat::zeros(0, 0)));
    }
    let t_stop = recording_stop(spikes);
    let corr = pearson_binned(spikes, CORR_BIN_S, t_stop);
    let sttc = sttc_matrix(spikes, STTC_DT_S, 0.0, t_stop);
    let counts = binned_counts(spikes, 1.0 / cfg.frame_rate_hz, t_stop);
    let cov = empirical_covariance(counts.as_ref());
    let fit = graphical_lasso(cov.as_ref(), cfg.glasso_alpha, &GlassoOptions::default())?;
    Ok((corr, sttc, fit.precision))
}

/// METHOD.md §2: Pearson correlation of counts in 20 ms bins.
pub const CORR_BIN_S: f64 = 0.02;
/// METHOD.md §2: STTC window Δt = 5 ms.
pub const STTC_DT_S: f64 = 0.005;
