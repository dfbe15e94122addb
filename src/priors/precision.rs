//! Sparse inverse covariance by the graphical lasso (Friedman, Hastie & Tibshirani 2008) with
//! α chosen by k-fold cross-validated Gaussian log-likelihood (METHOD.md §2, "Precision").
//!
//! The solver follows scikit-learn's `graphical_lasso(mode="cd")` step for step, so that both
//! reach the same optimum of the (strictly convex) problem
//! `min_P  tr(S P) − log det P + α Σ_{i≠j} |P_ij|`:
//! start from S with off-diagonals shrunk by 0.95, then sweep the columns; for column `i` solve
//! the lasso `min_β ½ βᵀ W₁₁ β − s₁₂ᵀ β + α‖β‖₁` by cyclic coordinate descent (W₁₁ the current
//! covariance without row/column `i`, s₁₂ the column of S), update P's column `i` and W's row
//! and column `i` from β. Convergence is sklearn's: the duality gap
//! `Σ S⊙P − p + α Σ_{i≠j}|P_ij|` below `tol` after a sweep.
//! (The original Friedman et al. / R `glasso` stop on the mean absolute change of W instead;
//! the optimum is the same.)
//!
//! [`graphical_lasso_cv`] mirrors sklearn's `GraphicalLassoCV`: a log grid from
//! `α_max = max_{i≠j}|S_ij|` down to `0.01 α_max`, unshuffled contiguous k-fold splits, warm
//! starts along the path, mean held-out log-likelihood per α, the best grid point refined
//! `n_refinements` times, and a final fit on all samples.
use crate::error::{Error, Result};
use faer::linalg::matmul::matmul;
use faer::linalg::solvers::DenseSolveCore;
use faer::{Accum, Mat, MatRef, Side};

/// Options of one graphical-lasso fit (defaults are sklearn's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GlassoOptions {
    /// Stop when the duality gap is below this (sklearn `tol`, 1e-4).
    pub tol: f64,
    /// Inner lasso: stop when `max|Δβ| ≤ enet_tol · max|β|` (sklearn `enet_tol`, 1e-4).
    pub enet_tol: f64,
    /// Maximum number of column sweeps (sklearn `max_iter`, 100).
    pub max_iter: usize,
    /// Maximum number of coordinate-descent sweeps per lasso (sklearn: max(20, max_iter)).
    pub enet_max_iter: usize,
}

impl Default for GlassoOptions {
    fn default() -> Self {
        Self {
            tol: 1e-4,
            enet_tol: 1e-4,
            max_iter: 100,
            enet_max_iter: 100,
        }
    }
}

/// Result of one graphical-lasso fit.
#[derive(Debug, Clone)]
pub struct GlassoFit {
    /// Sparse precision (inverse covariance) estimate P.
    pub precision: Mat<f64>,
    /// The matching covariance estimate W (W = P⁻¹ at the optimum).
    pub covariance: Mat<f64>,
    /// Column sweeps done.
    pub iterations: usize,
    /// Duality gap after the last sweep.
    pub dual_gap: f64,
    /// Whether `|dual_gap| < tol` was reached within `max_iter` sweeps.
    pub converged: bool,
}

fn invalid(what: &str, reason: String) -> Error {
    Error::Invalid {
        what: what.to_string(),
        reason,
    }
}

/// Graphical lasso of the empirical covariance `emp_cov` (p×p, symmetric) with penalty
/// `alpha ≥ 0` on the off-diagonal entries of the precision.
///
/// Errors: non-square or non-finite `emp_cov`, a negative or non-finite `alpha`, a start that
/// is not positive definite, or a sweep that produces non-finite values (ill-conditioned).
/// Non-convergence is not an error: see [`GlassoFit::converged`].
pub fn graphical_lasso(
    emp_cov: MatRef<'_, f64>,
    alpha: f64,
    opts: &GlassoOptions,
) -> Result<GlassoFit> {
    graphical_lasso_warm(emp_cov, alpha, None, opts)
}

/// [`graphical_lasso`] started from `cov_init` (warm start along an α path, as sklearn does).
pub fn graphical_lasso_warm(
    emp_cov: MatRef<'_, f64>,
    alpha: f64,
    cov_init: Option<MatRef<'_, f64>>,
    opts: &GlassoOptions,
) -> Result<GlassoFit> {
    let p = emp_cov.nrows();
    check_square_finite("emp_cov", emp_cov)?;
    if !(alpha >= 0.0 && alpha.is_finite()) {
        return Err(invalid(
            "alpha",
            format!("{alpha} is not a finite value ≥ 0"),
        ));
    }
    if alpha == 0.0 {
        let precision = spd_inverse("emp_cov", emp_cov)?;
        let gap = frob_dot(emp_cov, precision.as_ref()) - p as f64;
        return Ok(GlassoFit {
            precision,
            covariance: emp_cov.to_owned(),
            iterations: 0,
            dual_gap: gap,
            converged: true,
        });
    }
    let mut cov = match cov_init {
        Some(c) => {
            check_square_finite("cov_init", c)?;
            if c.nrows() != p {
                return Err(invalid(
                    "cov_init",
                    format!("is {}×{}, expected {p}×{p}", c.nrows(), c.ncols()),
                ));
            }
            c.to_owned()
        }
        None => emp_cov.to_owned(),
    };
    // sklearn's Tikhonov-like start: shrink off-diagonals, keep the empirical diagonal.
    for j in 0..p {
        for i in 0..p {
            cov[(i, j)] = if i == j {
                emp_cov[(i, i)]
            } else {
                0.95 * cov[(i, j)]
            };
        }
    }
    let mut prec = spd_inverse("initial covariance", cov.as_ref())?;
    if p == 1 {
        return Ok(GlassoFit {
            precision: prec,
            covariance: cov,
            iterations: 0,
            dual_gap: 0.0,
            converged: true,
        });
    }

    let m = p - 1;
    let mut sub = Mat::<f64>::zeros(m, m);
    let mut row = vec![0.0f64; m];
    let mut beta = vec![0.0f64; m];
    let mut h = vec![0.0f64; m];
    let others = |idx: usize, k: usize| if k < idx { k } else { k + 1 };
    let mut gap = f64::INFINITY;
    let mut iterations = 0;
    let mut converged = false;
    for sweep in 0..opts.max_iter {
        iterations = sweep + 1;
        for idx in 0..p {
            for b in 0..m {
                let jb = others(idx, b);
                for a in 0..m {
                    sub[(a, b)] = cov[(others(idx, a), jb)];
                }
                row[b] = emp_cov[(idx, jb)];
            }
            let denom = prec[(idx, idx)] + 1000.0 * f64::EPSILON;
            for b in 0..m {
                beta[b] = -prec[(others(idx, b), idx)] / denom;
            }
            lasso_cd(sub.as_ref(), &row, alpha, &mut beta, &mut h, opts);
            // P_ii = 1 / (W_ii − w₁₂ᵀβ); P₁₂ = −P_ii β; W₁₂ = W₁₁ β.
            let mut dot = 0.0;
            for b in 0..m {
                dot += cov[(others(idx, b), idx)] * beta[b];
            }
            let pii = 1.0 / (cov[(idx, idx)] - dot);
            prec[(idx, idx)] = pii;
            for (b, &bb) in beta.iter().enumerate() {
                let k = others(idx, b);
                prec[(k, idx)] = -pii * bb;
                prec[(idx, k)] = -pii * bb;
            }
            // h holds W₁₁β after the lasso (its gradient bookkeeping).
            for (b, &hb) in h.iter().enumerate() {
                let k = others(idx, b);
                cov[(idx, k)] = hb;
                cov[(k, idx)] = hb;
            }
        }
        if !all_finite(prec.as_ref()) {
            return Err(invalid(
                "emp_cov",
                format!(
                    "graphical lasso (α = {alpha}) produced non-finite values in sweep {}: \
                     the system is too ill-conditioned",
                    sweep + 1
                ),
            ));
        }
        gap = dual_gap(emp_cov, prec.as_ref(), alpha);
        if gap.abs() < opts.tol {
            converged = true;
            break;
        }
    }
    Ok(GlassoFit {
        precision: prec,
        covariance: cov,
        iterations,
        dual_gap: gap,
        converged,
    })
}

/// Cyclic coordinate descent for `min_β ½ βᵀQβ − qᵀβ + α‖β‖₁` from the given β; on return
/// `h = Qβ`.
fn lasso_cd(
    q_mat: MatRef<'_, f64>,
    q: &[f64],
    alpha: f64,
    beta: &mut [f64],
    h: &mut [f64],
    opts: &GlassoOptions,
) {
    let m = q.len();
    for (a, ha) in h.iter_mut().enumerate() {
        *ha = (0..m).map(|b| q_mat[(a, b)] * beta[b]).sum();
    }
    for _ in 0..opts.enet_max_iter.max(1) {
        let (mut w_max, mut d_max) = (0.0f64, 0.0f64);
        for j in 0..m {
            let qjj = q_mat[(j, j)];
            if qjj == 0.0 {
                continue;
            }
            let old = beta[j];
            let tmp = q[j] - h[j] + qjj * old;
            let new = tmp.signum() * (tmp.abs() - alpha).max(0.0) / qjj;
            if new != old {
                let d = new - old;
                let col = q_mat.col(j);
                for a in 0..m {
                    h[a] += d * col[a];
                }
                beta[j] = new;
            }
            d_max = d_max.max((new - old).abs());
            w_max = w_max.max(new.abs());
        }
        if w_max == 0.0 || d_max <= opts.enet_tol * w_max {
            break;
        }
    }
}

/// sklearn's `_dual_gap`: `Σ S⊙P − p + α (Σ|P| − Σ|diag P|)`.
pub fn dual_gap(emp_cov: MatRef<'_, f64>, precision: MatRef<'_, f64>, alpha: f64) -> f64 {
    let p = precision.nrows();
    let mut off = 0.0;
    for j in 0..p {
        for i in 0..p {
            if i != j {
                off += precision[(i, j)].abs();
            }
        }
    }
    frob_dot(emp_cov, precision) - p as f64 + alpha * off
}

/// Gaussian log-likelihood per sample of data with empirical covariance `emp_cov` under the
/// precision `precision` (sklearn's `log_likelihood`):
/// `(−Σ S⊙P + log det P − p log 2π) / 2`; −∞ when P is not positive definite.
pub fn log_likelihood(emp_cov: MatRef<'_, f64>, precision: MatRef<'_, f64>) -> f64 {
    let p = precision.nrows();
    let Ok(llt) = precision.llt(Side::Lower) else {
        return f64::NEG_INFINITY;
    };
    let l = llt.L();
    let logdet: f64 = (0..p).map(|i| 2.0 * l[(i, i)].ln()).sum();
    (-frob_dot(emp_cov, precision) + logdet - p as f64 * (2.0 * std::f64::consts::PI).ln()) / 2.0
}

/// Maximum-likelihood covariance of the rows of `x` (samples × features), centered on the
/// sample mean (sklearn's `empirical_covariance`).
pub fn empirical_covariance(x: MatRef<'_, f64>) -> Mat<f64> {
    let stats = Moments::of(x);
    stats.covariance()
}

/// Options of [`graphical_lasso_cv`] (defaults are sklearn's `GraphicalLassoCV`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GlassoCvOptions {
    /// Number of folds (contiguous, unshuffled: sklearn's `KFold(5)`).
    pub folds: usize,
    /// Grid points per refinement (sklearn `alphas = 4`).
    pub n_alphas: usize,
    /// Number of grid refinements (sklearn `n_refinements = 4`).
    pub n_refinements: usize,
    /// Options of the final fit; the fits along the CV path use `max_iter / 10` sweeps.
    pub glasso: GlassoOptions,
}

impl Default for GlassoCvOptions {
    fn default() -> Self {
        Self {
            folds: 5,
            n_alphas: 4,
            n_refinements: 4,
            glasso: GlassoOptions::default(),
        }
    }
}

/// Result of [`graphical_lasso_cv`].
#[derive(Debug, Clone)]
pub struct GlassoCvFit {
    /// The selected penalty.
    pub alpha: f64,
    /// The final fit on all samples with `alpha`.
    pub fit: GlassoFit,
    /// Every α evaluated, in decreasing order.
    pub alphas: Vec<f64>,
    /// Mean held-out log-likelihood of each α (NaN where a fit diverged).
    pub mean_scores: Vec<f64>,
}

/// Graphical lasso with α by k-fold cross-validation (sklearn's `GraphicalLassoCV`) on the
/// samples in the rows of `x` (samples × features, e.g. binned spike counts from
/// [`crate::priors::functional::binned_counts`]).
///
/// Only sufficient statistics (per-fold sums and Gram matrices, one GEMM each) are formed,
/// so memory is O(k p²) beyond `x`.
pub fn graphical_lasso_cv(x: MatRef<'_, f64>, opts: &GlassoCvOptions) -> Result<GlassoCvFit> {
    let (n, p) = (x.nrows(), x.ncols());
    if p < 2 {
        return Err(invalid("x", format!("has {p} features; at least 2 needed")));
    }
    if opts.folds < 2 || n < opts.folds {
        return Err(invalid(
            "folds",
            format!("{} folds for {n} samples", opts.folds),
        ));
    }
    if opts.n_alphas < 1 {
        return Err(invalid("n_alphas", "must be ≥ 1".into()));
    }
    check_finite("x", x)?;
    // KFold: the first n % k folds hold one sample more.
    let mut bounds = Vec::with_capacity(opts.folds + 1);
    bounds.push(0usize);
    for f in 0..opts.folds {
        let size = n / opts.folds + usize::from(f < n % opts.folds);
        bounds.push(bounds[f] + size);
    }
    let fold_stats: Vec<Moments> = (0..opts.folds)
        .map(|f| Moments::of(x.subrows(bounds[f], bounds[f + 1] - bounds[f])))
        .collect();
    let total = fold_stats
        .iter()
        .skip(1)
        .fold(fold_stats[0].clone(), |acc, s| acc.plus(s));
    let emp_cov = total.covariance();
    let splits: Vec<(Mat<f64>, Mat<f64>)> = fold_stats
        .iter()
        .map(|test| (total.minus(test).covariance(), test.covariance()))
        .collect();

    let path_opts = GlassoOptions {
        max_iter: (opts.glasso.max_iter / 10).max(1),
        ..opts.glasso
    };
    let a_max = alpha_max(emp_cov.as_ref());
    let mut alphas = log_grid(a_max, 1e-2 * a_max, opts.n_alphas, false);
    // (alpha, mean score) over every refinement, kept sorted by decreasing alpha.
    let mut path: Vec<(f64, f64)> = Vec::new();
    let mut best_index = 0usize;
    for _ in 0..opts.n_refinements.max(1) {
        let mut sums = vec![0.0f64; alphas.len()];
        for (train, test) in &splits {
            let mut init: Option<Mat<f64>> = None;
            for (a, &alpha) in alphas.iter().enumerate() {
                let score = match graphical_lasso_warm(
                    train.as_ref(),
                    alpha,
                    init.as_ref().map(|m| m.as_ref()),
                    &path_opts,
                ) {
                    Ok(fit) => {
                        let s = log_likelihood(test.as_ref(), fit.precision.as_ref());
                        init = Some(fit.covariance);
                        if s.is_finite() {
                            s
                        } else {
                            f64::NEG_INFINITY
                        }
                    }
                    Err(_) => f64::NEG_INFINITY,
                };
                sums[a] += score;
            }
        }
        for (a, &alpha) in alphas.iter().enumerate() {
            path.push((alpha, sums[a] / opts.folds as f64));
        }
        path.sort_by(|u, v| v.0.total_cmp(&u.0));
        // The last maximum wins (sklearn's `>=`: ties go to the smaller α); absurdly large
        // scores (≥ 0.1/eps) mark a degenerate fit and count as NaN.
        let mut best = f64::NEG_INFINITY;
        let mut last_finite = 0usize;
        for (i, &(_, s)) in path.iter().enumerate() {
            let s = if s >= 0.1 / f64::EPSILON { f64::NAN } else { s };
            if s.is_finite() {
                last_finite = i;
            }
            if s >= best {
                best = s;
                best_index = i;
            }
        }
        let last = path.len() - 1;
        let (a1, a0) = if best_index == 0 {
            (path[0].0, path[1.min(last)].0)
        } else if best_index == last_finite && best_index != last {
            (path[best_index].0, path[best_index + 1].0)
        } else if best_index == last {
            (path[best_index].0, 0.01 * path[best_index].0)
        } else {
            (path[best_index - 1].0, path[best_index + 1].0)
        };
        alphas = log_grid(a1, a0, opts.n_alphas, true);
    }
    let alpha = path[best_index].0;
    let fit = graphical_lasso(emp_cov.as_ref(), alpha, &opts.glasso)?;
    Ok(GlassoCvFit {
        alpha,
        fit,
        alphas: path.iter().map(|u| u.0).collect(),
        mean_scores: path
            .iter()
            .map(|u| if u.1.is_finite() { u.1 } else { f64::NAN })
            .collect(),
    })
}

/// `max_{i≠j} |S_ij|`: the smallest α for which the graphical lasso precision is diagonal.
pub fn alpha_max(emp_cov: MatRef<'_, f64>) -> f64 {
    let p = emp_cov.nrows();
    let mut m = 0.0f64;
    for j in 0..p {
        for i in 0..p {
            if i != j {
                m = m.max(emp_cov[(i, j)].abs());
            }
        }
    }
    m
}

/// `count` log-spaced values from `hi` down to `lo` (numpy `logspace` on log10 ends); with
/// `interior`, `count + 2` points of which the two ends are dropped (sklearn's refinement).
fn log_grid(hi: f64, lo: f64, count: usize, interior: bool) -> Vec<f64> {
    let total = if interior { count + 2 } else { count };
    let (l1, l0) = (hi.log10(), lo.log10());
    let pts: Vec<f64> = (0..total)
        .map(|k| {
            if total == 1 {
                10f64.powf(l1)
            } else {
                let t = k as f64 / (total - 1) as f64;
                10f64.powf(l1 + (l0 - l1) * t)
            }
        })
        .collect();
    if interior {
        pts[1..total - 1].to_vec()
    } else {
        pts
    }
}

/// Sufficient statistics of a block of samples: count, column sums and Gram matrix `XᵀX`.
#[derive(Debug, Clone)]
struct Moments {
    n: f64,
    sum: Vec<f64>,
    gram: Mat<f64>,
}

impl Moments {
    fn of(x: MatRef<'_, f64>) -> Self {
        let p = x.ncols();
        let sum = (0..p).map(|j| x.col(j).iter().sum()).collect();
        let mut gram = Mat::<f64>::zeros(p, p);
        matmul(
            gram.as_mut(),
            Accum::Replace,
            x.transpose(),
            x,
            1.0,
            faer::get_global_parallelism(),
        );
        Self {
            n: x.nrows() as f64,
            sum,
            gram,
        }
    }

    fn plus(&self, o: &Self) -> Self {
        self.combine(o, 1.0)
    }

    fn minus(&self, o: &Self) -> Self {
        self.combine(o, -1.0)
    }

    fn combine(&self, o: &Self, s: f64) -> Self {
        let p = self.sum.len();
        Self {
            n: self.n + s * o.n,
            sum: (0..p).map(|j| self.sum[j] + s * o.sum[j]).collect(),
            gram: Mat::from_fn(p, p, |i, j| self.gram[(i, j)] + s * o.gram[(i, j)]),
        }
    }

    /// `(XᵀX − n μ μᵀ) / n`.
    fn covariance(&self) -> Mat<f64> {
        let p = self.sum.len();
        let mu: Vec<f64> = self.sum.iter().map(|s| s / self.n).collect();
        Mat::from_fn(p, p, |i, j| {
            (self.gram[(i, j)] - self.n * mu[i] * mu[j]) / self.n
        })
    }
}

fn frob_dot(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    let mut s = 0.0;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            s += a[(i, j)] * b[(i, j)];
        }
    }
    s
}

fn all_finite(m: MatRef<'_, f64>) -> bool {
    (0..m.ncols()).all(|j| m.col(j).iter().all(|v| v.is_finite()))
}

fn check_finite(name: &str, m: MatRef<'_, f64>) -> Result<()> {
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            let v = m[(i, j)];
            if !v.is_finite() {
                return Err(invalid(name, format!("entry ({i}, {j}) is {v}")));
            }
        }
    }
    Ok(())
}

fn check_square_finite(name: &str, m: MatRef<'_, f64>) -> Result<()> {
    if m.nrows() != m.ncols() || m.nrows() == 0 {
        return Err(invalid(
            name,
            format!(
                "is {}×{}, expected a non-empty square matrix",
                m.nrows(),
                m.ncols()
            ),
        ));
    }
    check_finite(name, m)
}

/// Inverse of a symmetric positive definite matrix by Cholesky (sklearn uses `pinvh`).
fn spd_inverse(name: &str, m: MatRef<'_, f64>) -> Result<Mat<f64>> {
    let llt = m.llt(Side::Lower).map_err(|e| {
        invalid(
            name,
            format!("is not positive definite (Cholesky failed: {e:?})"),
        )
    })?;
    let inv = llt.inverse();
    // Symmetrize: the two triangles of a solver-computed inverse can differ in the last bit.
    let p = inv.nrows();
    Ok(Mat::from_fn(p, p, |i, j| 0.5 * (inv[(i, j)] + inv[(j, i)])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_alpha_gives_diagonal_precision() {
        let s = Mat::from_fn(3, 3, |i, j| if i == j { 2.0 } else { 0.3 });
        let fit = graphical_lasso(s.as_ref(), 1.0, &GlassoOptions::default()).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let want = if i == j { 0.5 } else { 0.0 };
                assert!((fit.precision[(i, j)] - want).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn log_grid_matches_logspace() {
        let g = log_grid(1.0, 0.01, 3, false);
        assert!((g[1] - 0.1).abs() < 1e-15 && g[0] == 1.0);
        assert_eq!(log_grid(1.0, 0.001, 2, true).len(), 2);
    }
}
