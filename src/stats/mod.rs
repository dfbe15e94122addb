//! Statistics of repeated runs (METHOD.md §7): means with t and percentile-bootstrap 95%
//! intervals, the Kruskal–Wallis and Mann–Whitney U tests, Holm's step-down correction and a
//! compact letter display of pairwise comparisons.
//!
//! Every function here matches a reference implementation, checked in `tests/stats.rs` against
//! values written by `tests/data/stats/make_refs.py`:
//!
//! | here | reference |
//! |---|---|
//! | [`t_ci95`] | `scipy.stats.t.interval(0.95, n−1, loc=mean, scale=sem)` |
//! | [`special::t_quantile`] | `scipy.stats.t.ppf` |
//! | [`bootstrap_ci95`] | numpy's default `np.percentile` of the same resample means |
//! | [`kruskal_wallis`] | `scipy.stats.kruskal` |
//! | [`mann_whitney_u`] | `scipy.stats.mannwhitneyu(x, y)` (two-sided, `method='auto'`) |
//! | [`holm`] | `statsmodels.stats.multitest.multipletests(p, method='holm')` |
//!
//! Samples are plain `&[f64]`; the module knows nothing of variants or tasks except that
//! [`pairwise_mwu_holm`] carries a label per group for the summary tables. Bad input (an empty
//! sample, a NaN or infinite value, fewer than two groups, a p-value outside [0, 1]) is an
//! [`Error::Invalid`] naming the argument, never a panic.
use rand::SeedableRng;
use rand_core::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::error::{Error, Result};

mod multiple;
mod nonparam;
pub mod special;

pub use multiple::{compact_letters, holm, pairwise_mwu_holm, PairTest, Pairwise};
pub use nonparam::{average_ranks, kruskal_wallis, mann_whitney_u, MwuMethod, MwuResult};

/// Resamples of [`bootstrap_ci95`] unless the caller asks otherwise (issue 7; scipy's
/// `bootstrap` default is 9 999).
pub const BOOTSTRAP_RESAMPLES: usize = 10_000;

/// A closed interval [lo, hi].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    /// Half the width, the "±" of a symmetric interval.
    pub fn half_width(&self) -> f64 {
        0.5 * (self.hi - self.lo)
    }

    /// Whether `x` lies in [lo, hi].
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::Invalid {
        what: what.into(),
        reason: reason.into(),
    }
}

/// A sample must be non-empty and finite; `what` names it in the error.
pub(crate) fn check_sample(what: &str, xs: &[f64]) -> Result<()> {
    if xs.is_empty() {
        return Err(invalid(what, "empty sample"));
    }
    if let Some((i, v)) = xs.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(invalid(what, format!("non-finite value {v} at index {i}")));
    }
    Ok(())
}

/// Arithmetic mean, summed in order.
pub fn mean(xs: &[f64]) -> Result<f64> {
    check_sample("xs", xs)?;
    Ok(xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Sample standard deviation (denominator n − 1, two-pass); needs n ≥ 2.
pub fn std_dev(xs: &[f64]) -> Result<f64> {
    let m = mean(xs)?;
    if xs.len() < 2 {
        return Err(invalid(
            "xs",
            "a standard deviation needs at least 2 values, got 1",
        ));
    }
    let ss = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>();
    Ok((ss / (xs.len() - 1) as f64).sqrt())
}

/// t-based 95% confidence interval of the mean: mean ± t_{0.975, n−1} · s/√n, with the exact
/// Student-t quantile ([`special::t_quantile`]). Needs n ≥ 2.
pub fn t_ci95(xs: &[f64]) -> Result<Interval> {
    let m = mean(xs)?;
    let n = xs.len();
    if n < 2 {
        return Err(invalid("xs", "a t interval needs at least 2 values, got 1"));
    }
    let h = special::t_quantile(0.975, (n - 1) as f64) * std_dev(xs)? / (n as f64).sqrt();
    Ok(Interval {
        lo: m - h,
        hi: m + h,
    })
}

/// The `pct` percentile (0 ≤ pct ≤ 100) of an ascending-sorted, non-empty slice by numpy's
/// default rule (`np.percentile(a, pct)`, method `'linear'`, Hyndman & Fan's type 7), reproduced
/// operation for operation so that the results agree to the last bit:
/// q = pct/100, v = (n−1)·q, i = ⌊v⌋, g = v − i, and between a = s\[i\], b = s\[i+1\]
/// the result is a + (b−a)·g when g < ½ but b − (b−a)·(1−g) when g ≥ ½ (numpy's `_lerp`,
/// which is exact at both ends); v ≥ n−1 gives the maximum.
fn percentile_sorted(sorted: &[f64], pct: f64) -> f64 {
    let n = sorted.len();
    let v = (n - 1) as f64 * (pct / 100.0);
    if v >= (n - 1) as f64 {
        return sorted[n - 1];
    }
    let i = v.floor();
    let g = v - i;
    let i = i as usize;
    let (a, b) = (sorted[i], sorted[i + 1]);
    let d = b - a;
    if g >= 0.5 {
        b - d * (1.0 - g)
    } else {
        a + d * g
    }
}

/// The `pct` percentile of `xs` (any order) by numpy's default linear rule; see
/// [`bootstrap_ci95`] for the rule.
pub fn percentile(xs: &[f64], pct: f64) -> Result<f64> {
    check_sample("xs", xs)?;
    if !(0.0..=100.0).contains(&pct) {
        return Err(invalid("pct", format!("{pct} is outside [0, 100]")));
    }
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    Ok(percentile_sorted(&s, pct))
}

/// The means of `resamples` bootstrap resamples of `xs` (each n draws with replacement), from
/// `Xoshiro256PlusPlus::seed_from_u64(seed)`.
///
/// An index is drawn as ⌊u·n / 2⁶⁴⌋ from one `next_u64` u (Lemire's multiply-shift without the
/// rejection step: its bias, < n/2⁶⁴, is far below anything 10⁴ resamples can see), so the
/// resamples depend only on the generator's output stream — which `make_refs.py` reproduces in
/// Python to check these means and the interval bit for bit. Each mean is summed in draw order.
pub fn bootstrap_means(xs: &[f64], resamples: usize, seed: u64) -> Result<Vec<f64>> {
    check_sample("xs", xs)?;
    if resamples == 0 {
        return Err(invalid("resamples", "must be at least 1"));
    }
    let n = xs.len();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut means = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let mut s = 0.0;
        for _ in 0..n {
            let i = ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize;
            s += xs[i];
        }
        means.push(s / n as f64);
    }
    Ok(means)
}

/// Percentile-bootstrap 95% confidence interval of the mean: the 2.5th and 97.5th percentiles of
/// [`bootstrap_means`]`(xs, resamples, seed)`, each by numpy's default `np.percentile` rule
/// (linear interpolation between order statistics at (B−1)·q, B = `resamples`) — so with
/// `resamples` = 10 000 the bounds are interpolated between the 250th/251st and the
/// 9 750th/9 751st smallest means (1-based). Deterministic in `seed`; constant data gives a
/// zero-width interval. [`BOOTSTRAP_RESAMPLES`] is the usual `resamples`.
pub fn bootstrap_ci95(xs: &[f64], resamples: usize, seed: u64) -> Result<Interval> {
    let mut means = bootstrap_means(xs, resamples, seed)?;
    means.sort_by(f64::total_cmp);
    Ok(Interval {
        lo: percentile_sorted(&means, 2.5),
        hi: percentile_sorted(&means, 97.5),
    })
}

/// Everything a summary table shows of one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleSummary {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation; `None` for n = 1.
    pub sd: Option<f64>,
    /// [`t_ci95`]; `None` for n = 1.
    pub t_ci: Option<Interval>,
    /// [`bootstrap_ci95`] with the given resamples and seed.
    pub boot_ci: Interval,
}

/// Mean, standard deviation, t and bootstrap 95% intervals of one sample.
pub fn summarize(xs: &[f64], resamples: usize, seed: u64) -> Result<SampleSummary> {
    let mean = mean(xs)?;
    let (sd, t_ci) = if xs.len() >= 2 {
        (Some(std_dev(xs)?), Some(t_ci95(xs)?))
    } else {
        (None, None)
    };
    Ok(SampleSummary {
        n: xs.len(),
        mean,
        sd,
        t_ci,
        boot_ci: bootstrap_ci95(xs, resamples, seed)?,
    })
}
