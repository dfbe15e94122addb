//! Initial recurrent weights (METHOD.md §3): the functional prior W\*, its node-relabelled
//! control W!, the ECDF control, and the orthogonal initialization of the non-bio variants.
//!
//! Every random draw comes from the caller's `Xoshiro256PlusPlus`, in a documented order, so
//! the same seed gives bit-identical matrices.
use crate::error::{Error, Result};
use faer::{Mat, MatRef};
use rand::seq::SliceRandom;
use rand::RngExt;
use rand_distr::{Distribution, LogNormal, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Self-recurrence control 1: W\* with its diagonal set to zero, rescaled back to W\*'s
/// spectral radius (0.95), so that it differs from W\* only in having no self-connections —
/// not also in gain. W\*'s diagonal is large (corr and STTC are 1 there) and the wiring cost
/// charges nothing for it (D_ii = 0). Errors if what is left is nilpotent (ρ = 0).
pub fn without_diagonal(w: MatRef<'_, f64>) -> Result<Mat<f64>> {
    let n = w.nrows();
    let radius = perron_root(w)?;
    let off = Mat::from_fn(n, n, |i, j| if i == j { 0.0 } else { w[(i, j)] });
    let r = perron_root(off.as_ref())?;
    if !(r > 0.0 && r.is_finite()) {
        return Err(invalid(
            "W* without its diagonal",
            format!("has spectral radius {r}; cannot rescale to {radius}"),
        ));
    }
    Ok(Mat::from_fn(n, n, |i, j| off[(i, j)] * (radius / r)))
}

/// Self-recurrence control 2: the identity-like initialization `ρ(W*)·I` — only
/// self-connections, with the functional prior's spectral radius.
pub fn diagonal_only(w: MatRef<'_, f64>) -> Result<Mat<f64>> {
    let radius = perron_root(w)?;
    let n = w.nrows();
    Ok(Mat::from_fn(n, n, |i, j| if i == j { radius } else { 0.0 }))
}

/// Which functional matrices feed W\* (the arms of METHOD.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FunctionalSource {
    /// `corr' ⊙ sttc'` (the paper's main arm).
    CorrSttc,
    /// `precision' ⊙ sttc'`.
    PrecisionSttc,
    /// `sttc'` alone.
    Sttc,
}

/// Parameters of W\* fixed by the method (METHOD.md §3).
pub const LOGNORMAL_MU: f64 = -0.5;
/// σ of the lognormal factor.
pub const LOGNORMAL_SIGMA: f64 = 0.5;
/// Target mean of `bio` before clipping and rescaling.
pub const TARGET_MEAN: f64 = 0.1;
/// Floor of the non-zero entries.
pub const FLOOR: f64 = 0.01;
/// Target spectral radius.
pub const TARGET_RADIUS: f64 = 0.95;

/// The functional prior W\* (METHOD.md §3 steps 1–5).
///
/// 1. min–max scale each input used by `source` over the whole matrix (`sttc` must be the
///    symmetrized matrix, as `Field::sttc` is);
/// 2. `bio = L ⊙ corr' ⊙ sttc'` (or `precision' ⊙ sttc'`, or `sttc'`), with `L` i.i.d.
///    LogNormal(μ = −0.5, σ = 0.5) drawn row by row (`L[0,0], L[0,1], …`), N² draws for every
///    source (`rand_distr::LogNormal` on the caller's generator);
/// 3. `bio *= 0.1 / mean(bio)` (mean over all N² entries);
/// 4. `bio = max(bio, 0.01)` on the non-zero entries (zeros stay zero);
/// 5. `bio *= 0.95 / ρ(bio)` with ρ the Perron root (see [`perron_root`]).
///
/// Errors name the argument: non-square or mismatched shapes, a non-finite entry, a constant
/// matrix (min–max scaling undefined), or a product that is identically zero or nilpotent
/// (mean or spectral radius 0).
pub fn w_bio(
    corr: MatRef<'_, f64>,
    sttc: MatRef<'_, f64>,
    precision: MatRef<'_, f64>,
    source: FunctionalSource,
    rng: &mut Xoshiro256PlusPlus,
) -> Result<Mat<f64>> {
    Ok(w_bio_steps(corr, sttc, precision, source, rng)?.w)
}

/// The intermediate matrices of [`w_bio`] (for tests and diagnostics).
#[derive(Debug, Clone)]
pub struct WBioSteps {
    /// After step 3: mean exactly 0.1 (up to rounding).
    pub mean_scaled: Mat<f64>,
    /// After step 4: non-zero entries floored at 0.01.
    pub floored: Mat<f64>,
    /// ρ of `floored`.
    pub radius_before: f64,
    /// The result, `floored · 0.95 / radius_before`.
    pub w: Mat<f64>,
}

/// [`w_bio`] returning every step; the same draws, the same result.
pub fn w_bio_steps(
    corr: MatRef<'_, f64>,
    sttc: MatRef<'_, f64>,
    precision: MatRef<'_, f64>,
    source: FunctionalSource,
    rng: &mut Xoshiro256PlusPlus,
) -> Result<WBioSteps> {
    const STTC: &str = "sttc (sttc_matrix.npy)";
    let n = sttc.nrows();
    let inputs: Vec<(&str, MatRef<'_, f64>)> = match source {
        // Named as a field folder holds them, so that an error points at the file.
        FunctionalSource::CorrSttc => vec![("corr (corr_matrix.npy)", corr), (STTC, sttc)],
        FunctionalSource::PrecisionSttc => vec![
            ("precision (precision_matrix.npy)", precision),
            (STTC, sttc),
        ],
        FunctionalSource::Sttc => vec![(STTC, sttc)],
    };
    let mut scaled = Vec::with_capacity(inputs.len());
    for (name, m) in inputs {
        if m.nrows() != n || m.ncols() != n {
            return Err(invalid(
                name,
                format!(
                    "is {}×{}, expected {n}×{n} (the shape of sttc)",
                    m.nrows(),
                    m.ncols()
                ),
            ));
        }
        scaled.push(min_max_scale(name, m)?);
    }
    let lognormal = LogNormal::new(LOGNORMAL_MU, LOGNORMAL_SIGMA).expect("σ = 0.5 is valid");
    let mut bio = Mat::<f64>::zeros(n, n);
    for i in 0..n {
        for j in 0..n {
            let mut v: f64 = lognormal.sample(rng);
            for s in &scaled {
                v *= s[(i, j)];
            }
            bio[(i, j)] = v;
        }
    }
    let mean = mean(bio.as_ref());
    if !(mean > 0.0 && mean.is_finite()) {
        return Err(invalid(
            "w_bio",
            format!("the scaled product has mean {mean}; cannot rescale to mean 0.1"),
        ));
    }
    let k = TARGET_MEAN / mean;
    let mean_scaled = Mat::from_fn(n, n, |i, j| bio[(i, j)] * k);
    let floored = Mat::from_fn(n, n, |i, j| {
        let v = mean_scaled[(i, j)];
        if v != 0.0 {
            v.max(FLOOR)
        } else {
            0.0
        }
    });
    let rho = perron_root(floored.as_ref())?;
    if rho <= 0.0 {
        return Err(invalid(
            "w_bio",
            "the scaled product is nilpotent (spectral radius 0); cannot rescale to 0.95".into(),
        ));
    }
    let k = TARGET_RADIUS / rho;
    let w = Mat::from_fn(n, n, |i, j| floored[(i, j)] * k);
    Ok(WBioSteps {
        mean_scaled,
        floored,
        radius_before: rho,
        w,
    })
}

fn invalid(what: &str, reason: String) -> Error {
    Error::Invalid {
        what: what.to_string(),
        reason,
    }
}

fn mean(m: MatRef<'_, f64>) -> f64 {
    let mut s = 0.0;
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            s += m[(i, j)];
        }
    }
    s / (m.nrows() * m.ncols()) as f64
}

/// `(x − min) / (max − min)` over the whole matrix.
fn min_max_scale(name: &str, m: MatRef<'_, f64>) -> Result<Mat<f64>> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            let v = m[(i, j)];
            if !v.is_finite() {
                return Err(invalid(name, format!("entry ({i}, {j}) is {v}")));
            }
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return Err(invalid(
            name,
            format!("is constant ({lo}): min–max scaling is undefined"),
        ));
    }
    let range = hi - lo;
    Ok(Mat::from_fn(m.nrows(), m.ncols(), |i, j| {
        (m[(i, j)] - lo) / range
    }))
}

/// Spectral radius of a non-negative square matrix (its Perron root).
///
/// Power iteration on `B + sI` (s = half the largest row sum) from the all-ones vector: the
/// shift makes the Perron root the unique eigenvalue of largest modulus even when `B` is
/// periodic (e.g. bipartite), and the iterate stays positive, so the Collatz–Wielandt ratios
/// `min_i (Bx)_i/x_i ≤ ρ ≤ max_i (Bx)_i/x_i` bracket ρ at every step. It stops when the bracket
/// is narrower than 1e-14 relative. A reducible matrix can leave zeros in the Perron vector,
/// and the bracket then need not close: after 10 000 steps the eigenvalues of a general
/// eigendecomposition decide (their largest modulus, clamped into the certified bracket).
///
/// Errors: not square, a negative or non-finite entry, or the eigendecomposition failed.
pub fn perron_root(b: MatRef<'_, f64>) -> Result<f64> {
    let n = b.nrows();
    if b.ncols() != n {
        return Err(invalid(
            "perron_root",
            format!("matrix is {}×{}, not square", n, b.ncols()),
        ));
    }
    if n == 0 {
        return Ok(0.0);
    }
    let mut max_row = 0.0f64;
    for i in 0..n {
        let mut s = 0.0;
        for j in 0..n {
            let v = b[(i, j)];
            if !(v >= 0.0 && v.is_finite()) {
                return Err(invalid(
                    "perron_root",
                    format!("entry ({i}, {j}) is {v}; the matrix must be non-negative and finite"),
                ));
            }
            s += v;
        }
        max_row = max_row.max(s);
    }
    if max_row == 0.0 {
        return Ok(0.0);
    }
    let shift = 0.5 * max_row;
    let mut x = vec![1.0f64; n];
    let mut y = vec![0.0f64; n];
    let (mut lower, mut upper) = (0.0f64, max_row);
    for _ in 0..10_000 {
        // y = B x, column by column (faer is column-major).
        y.iter_mut().for_each(|v| *v = 0.0);
        for (j, &xj) in x.iter().enumerate() {
            if xj != 0.0 {
                let col = b.col(j);
                for i in 0..n {
                    y[i] += col[i] * xj;
                }
            }
        }
        // Lower bound: Bx ≥ c·x for a non-negative x ≠ 0 implies ρ ≥ c, so entries with
        // x_i = 0 (underflow on a reducible B) are simply skipped. The upper bound needs x > 0.
        let (mut lo, mut hi, mut positive) = (f64::INFINITY, 0.0f64, true);
        for i in 0..n {
            if x[i] > 0.0 {
                let r = y[i] / x[i];
                lo = lo.min(r);
                hi = hi.max(r);
            } else {
                positive = false;
            }
        }
        lower = lower.max(lo);
        if positive {
            upper = upper.min(hi);
        }
        if upper - lower <= 1e-14 * upper {
            return Ok(0.5 * (lower + upper));
        }
        // x ← (B + sI) x, normalized; stays strictly positive.
        let mut norm = 0.0f64;
        for i in 0..n {
            x[i] = y[i] + shift * x[i];
            norm = norm.max(x[i]);
        }
        x.iter_mut().for_each(|v| *v /= norm);
    }
    let eig = b.to_owned().eigenvalues().map_err(|e| {
        invalid(
            "perron_root",
            format!("eigenvalue decomposition failed: {e:?}"),
        )
    })?;
    let rho = eig.iter().map(|z| z.re.hypot(z.im)).fold(0.0f64, f64::max);
    Ok(rho.clamp(lower, upper))
}

/// W!: one uniformly random permutation `p` (Fisher–Yates, `SliceRandom::shuffle`) applied to
/// rows and columns, `W![i, j] = W[p[i], p[j]]` — a relabelling of the nodes, so the multiset
/// of weights and the spectrum are unchanged. Non-square input is permuted by rows and columns
/// independently of shape only up to the smaller side; pass square matrices.
pub fn permuted(w: MatRef<'_, f64>, rng: &mut Xoshiro256PlusPlus) -> Mat<f64> {
    let n = w.nrows().min(w.ncols());
    let mut p: Vec<usize> = (0..n).collect();
    p.shuffle(rng);
    Mat::from_fn(n, n, |i, j| w[(p[i], p[j])])
}

/// ECDF control: every non-zero entry (visited column by column) is replaced by a draw from
/// the empirical distribution of the non-zero entries (uniform index, i.e. sampling with
/// replacement = inverse-ECDF sampling); zeros stay zero, so the support is kept. No rescaling
/// follows (the spectral radius is no longer exactly 0.95).
pub fn ecdf_resample(w: MatRef<'_, f64>, rng: &mut Xoshiro256PlusPlus) -> Mat<f64> {
    let mut values = Vec::new();
    for j in 0..w.ncols() {
        for i in 0..w.nrows() {
            let v = w[(i, j)];
            if v != 0.0 {
                values.push(v);
            }
        }
    }
    let mut out = Mat::<f64>::zeros(w.nrows(), w.ncols());
    if values.is_empty() {
        return out;
    }
    for j in 0..w.ncols() {
        for i in 0..w.nrows() {
            if w[(i, j)] != 0.0 {
                out[(i, j)] = values[rng.random_range(0..values.len())];
            }
        }
    }
    out
}

/// Orthogonal initialization, gain 1 (Keras `Orthogonal`): QR of an N×N standard Gaussian
/// matrix drawn row by row, with Q's columns multiplied by `sign(diag R)` so that Q is Haar
/// distributed (without the correction the distribution depends on the QR's sign convention).
pub fn orthogonal(n: usize, rng: &mut Xoshiro256PlusPlus) -> Mat<f64> {
    if n == 0 {
        return Mat::zeros(0, 0);
    }
    let mut g = Mat::<f64>::zeros(n, n);
    for i in 0..n {
        for j in 0..n {
            g[(i, j)] = StandardNormal.sample(rng);
        }
    }
    let qr = g.qr();
    let mut q = qr.compute_Q();
    let r = qr.R();
    for j in 0..n {
        // A Gaussian matrix is singular with probability 0; treat an exact 0 as +.
        if r[(j, j)] < 0.0 {
            for i in 0..n {
                q[(i, j)] = -q[(i, j)];
            }
        }
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perron_root_of_periodic_and_reducible_matrices() {
        // Bipartite 2-cycle: eigenvalues ±2.
        let b = Mat::from_fn(2, 2, |i, j| if i != j { 2.0 } else { 0.0 });
        assert!((perron_root(b.as_ref()).unwrap() - 2.0).abs() < 1e-12);
        // Upper triangular (reducible): ρ = max diagonal = 3.
        let b = Mat::from_fn(3, 3, |i, j| match (i, j) {
            (0, 0) => 1.0,
            (1, 1) => 3.0,
            (2, 2) => 2.0,
            (i, j) if i < j => 5.0,
            _ => 0.0,
        });
        assert!((perron_root(b.as_ref()).unwrap() - 3.0).abs() < 1e-9);
        // Nilpotent: 0.
        let b = Mat::from_fn(3, 3, |i, j| if j == i + 1 { 1.0 } else { 0.0 });
        assert!(perron_root(b.as_ref()).unwrap().abs() < 1e-9);
    }
}
