//! Rank tests: Kruskal–Wallis across groups and the two-sided Mann–Whitney U test, both as
//! scipy 1.17 computes them.
use std::cmp::Ordering;

use super::{check_sample, invalid, special};
use crate::error::Result;

/// Average ranks (1-based; tied values share the mean of their ranks, scipy's
/// `rankdata(method='average')`) and the sizes of the tie groups (every distinct value's count,
/// 1 included). Values must not be NaN (a NaN is ranked as equal to its neighbours).
pub fn average_ranks(values: &[f64]) -> (Vec<f64>, Vec<usize>) {
    let n = values.len();
    let mut idx: Vec<usize> = (0..n).collect();
    // partial_cmp, not total_cmp: −0.0 and 0.0 are one value to a rank test.
    idx.sort_by(|&a, &b| values[a].partial_cmp(&values[b]).unwrap_or(Ordering::Equal));
    let mut ranks = vec![0.0; n];
    let mut ties = Vec::new();
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && values[idx[j]] == values[idx[i]] {
            j += 1;
        }
        // positions i..j (0-based) hold ranks i+1..=j, mean (i+1+j)/2
        let r = (i + 1 + j) as f64 / 2.0;
        for &k in &idx[i..j] {
            ranks[k] = r;
        }
        ties.push(j - i);
        i = j;
    }
    (ranks, ties)
}

/// Σ(t³ − t) over the tie groups.
fn tie_term(ties: &[usize]) -> f64 {
    ties.iter()
        .map(|&t| {
            let t = t as f64;
            t * t * t - t
        })
        .sum()
}

/// Kruskal–Wallis H test across `groups` (≥ 2, each non-empty and finite): returns (H, p).
///
/// H = [12/(N(N+1)) · Σ R_i²/n_i − 3(N+1)] / [1 − Σ(t³−t)/(N³−N)] (tie-corrected),
/// p = P(χ²_{k−1} > H), exactly as `scipy.stats.kruskal`. When every value is equal the tie correction is 0 and,
/// like scipy, H and p are NaN (no evidence either way; not an error).
pub fn kruskal_wallis<S: AsRef<[f64]>>(groups: &[S]) -> Result<(f64, f64)> {
    if groups.len() < 2 {
        return Err(invalid(
            "groups",
            format!(
                "Kruskal–Wallis needs at least 2 groups, got {}",
                groups.len()
            ),
        ));
    }
    let mut all = Vec::new();
    for (g, xs) in groups.iter().enumerate() {
        check_sample(&format!("groups[{g}]"), xs.as_ref())?;
        all.extend_from_slice(xs.as_ref());
    }
    let (ranks, ties) = average_ranks(&all);
    let total = all.len() as f64;
    let correction = 1.0 - tie_term(&ties) / (total * total * total - total);
    // Σ R_i²/n_i, in group order as scipy sums it (rank sums are exact: half-integers).
    let mut ssbn = 0.0;
    let mut start = 0;
    for xs in groups {
        let n = xs.as_ref().len();
        let r: f64 = ranks[start..start + n].iter().sum();
        ssbn += r * r / n as f64;
        start += n;
    }
    let h = (12.0 / (total * (total + 1.0)) * ssbn - 3.0 * (total + 1.0)) / correction;
    if !h.is_finite() {
        return Ok((f64::NAN, f64::NAN));
    }
    Ok((h, special::chi2_sf(h, (groups.len() - 1) as f64)))
}

/// How [`mann_whitney_u`] computed its p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MwuMethod {
    /// The exact null distribution of U (no ties, the smaller sample ≤ 8).
    Exact,
    /// The normal approximation with tie and continuity corrections.
    Asymptotic,
}

/// Result of [`mann_whitney_u`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MwuResult {
    /// U of the first sample: R_x − n_x(n_x+1)/2 (scipy's `statistic`).
    pub u: f64,
    /// Two-sided p-value.
    pub p: f64,
    pub method: MwuMethod,
}

/// Two-sided Mann–Whitney U test of `x` against `y` (each non-empty and finite), as
/// `scipy.stats.mannwhitneyu(x, y)` with its defaults (`alternative='two-sided'`,
/// `use_continuity=True`, `method='auto'`).
///
/// The method follows scipy 1.17's `_mwu_choose_method` (read from its source; its docstring
/// words it slightly differently): the normal approximation when **both** samples have more
/// than 8 values or when there is **any** tie among the pooled values; the exact null
/// distribution otherwise, i.e. when there are no ties and at least one sample has ≤ 8 values
/// (the other may be large).
///
/// * Exact: with U = max(U_x, U_y), p = 2·P(U ≥ U_obs) = 2·#{U ≤ n_x n_y − U_obs}/C(n_x+n_y, n_x),
///   the counts being the coefficients of the Gaussian binomial [n_x+n_y choose n_x]_q, built as
///   Π_{i=1..m} (1−q^{n+i})/(1−q^i) truncated at the degree needed, in exact `i128` integers
///   whenever C(n_x+n_y, n_x) < 10³⁷ (always, unless the larger sample has ≳ 2·10⁵ values; then
///   in `f64`).
/// * Asymptotic: z = (U − n_x n_y/2 − ½)/σ with σ² = n_x n_y/12 · ((N+1) − Σ(t³−t)/(N(N−1))),
///   p = 2·P(Z > z).
///
/// p is clipped to [0, 1] (at U = n_x n_y/2 the doubled tail exceeds 1). When all pooled values
/// are equal, σ = 0 and p = 1.
pub fn mann_whitney_u(x: &[f64], y: &[f64]) -> Result<MwuResult> {
    check_sample("x", x)?;
    check_sample("y", y)?;
    let (n1, n2) = (x.len(), y.len());
    let mut all = Vec::with_capacity(n1 + n2);
    all.extend_from_slice(x);
    all.extend_from_slice(y);
    let (ranks, ties) = average_ranks(&all);
    let r1: f64 = ranks[..n1].iter().sum();
    let (f1, f2) = (n1 as f64, n2 as f64);
    let u1 = r1 - f1 * (f1 + 1.0) / 2.0;
    let u2 = f1 * f2 - u1;
    let u = u1.max(u2);
    let any_tie = ties.iter().any(|&t| t > 1);
    let (p, method) = if (n1 > 8 && n2 > 8) || any_tie {
        let n = f1 + f2;
        let s = (f1 * f2 / 12.0 * ((n + 1.0) - tie_term(&ties) / (n * (n - 1.0)))).sqrt();
        let z = (u - f1 * f2 / 2.0 - 0.5) / s;
        (2.0 * special::normal_sf(z), MwuMethod::Asymptotic)
    } else {
        // U has no ties here, so it is an integer.
        let kc = (n1 * n2) as u64 - u as u64;
        (2.0 * exact_cdf(n1, n2, kc as usize), MwuMethod::Exact)
    };
    Ok(MwuResult {
        u: u1,
        p: p.clamp(0.0, 1.0),
        method,
    })
}

/// P(U ≤ k) under the null for samples of sizes n1, n2 without ties.
fn exact_cdf(n1: usize, n2: usize, k: usize) -> f64 {
    let (m, n) = (n1.min(n2), n1.max(n2));
    // C(n+m, m) decides whether exact integers fit (each coefficient is at most that).
    let total: f64 = (1..=m).map(|i| (n + i) as f64 / i as f64).product();
    if total < 1e37 {
        // C(n+i, i) = C(n+i−1, i−1)·(n+i)/i, exact at every step; the product before the
        // division is at most 8·10³⁷ < 2¹²⁷.
        let mut exact_total: i128 = 1;
        for i in 1..=m {
            exact_total = exact_total * (n + i) as i128 / i as i128;
        }
        let c = gaussian_binomial_i128(m, n, k);
        let below: i128 = c.iter().sum();
        below as f64 / exact_total as f64
    } else {
        let c = gaussian_binomial_f64(m, n, k);
        c.iter().sum::<f64>() / total
    }
}

/// Coefficients 0..=kmax of the Gaussian binomial [n+m choose m]_q: the number of ways U (of the
/// smaller sample, size m) takes each value. Each factor (1−q^{n+i}) is a subtraction at a lag,
/// each 1/(1−q^i) a running sum at a lag; truncation is exact because both only look back.
fn gaussian_binomial_i128(m: usize, n: usize, kmax: usize) -> Vec<i128> {
    let mut c = vec![0_i128; kmax + 1];
    c[0] = 1;
    for i in 1..=m {
        let lag = n + i;
        for k in (lag..=kmax).rev() {
            c[k] -= c[k - lag];
        }
        for k in i..=kmax {
            c[k] += c[k - i];
        }
    }
    c
}

/// As [`gaussian_binomial_i128`] in floating point, for sizes whose counts overflow `i128`.
fn gaussian_binomial_f64(m: usize, n: usize, kmax: usize) -> Vec<f64> {
    let mut c = vec![0.0; kmax + 1];
    c[0] = 1.0;
    for i in 1..=m {
        let lag = n + i;
        for k in (lag..=kmax).rev() {
            c[k] -= c[k - lag];
        }
        for k in i..=kmax {
            c[k] += c[k - i];
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_binomial_counts_subsets() {
        // [5 choose 2]_q = 1 + q + 2q² + 2q³ + 2q⁴ + q⁵ + q⁶ (10 subsets in all).
        assert_eq!(gaussian_binomial_i128(2, 3, 6), vec![1, 1, 2, 2, 2, 1, 1]);
        // Brute force for m = 4, n = 7: U = Σ ranks of the m-subset of 1..=11 − m(m+1)/2.
        let (m, n) = (4, 7);
        let mut brute = vec![0_i128; m * n + 1];
        for mask in 0_u32..(1 << (m + n)) {
            if mask.count_ones() as usize == m {
                let s: usize = (0..m + n)
                    .filter(|b| mask >> b & 1 == 1)
                    .map(|b| b + 1)
                    .sum();
                brute[s - m * (m + 1) / 2] += 1;
            }
        }
        assert_eq!(gaussian_binomial_i128(m, n, m * n), brute);
    }

    #[test]
    fn float_counts_match_integer_counts() {
        // The f64 path (only taken beyond i128) against exact counts where both work.
        for &(m, n) in &[(8, 60), (5, 300), (3, 2000)] {
            let k = m * n / 2;
            let exact: Vec<f64> = gaussian_binomial_i128(m, n, k)
                .iter()
                .map(|&c| c as f64)
                .collect();
            let float = gaussian_binomial_f64(m, n, k);
            let (se, sf) = (exact.iter().sum::<f64>(), float.iter().sum::<f64>());
            assert!((se - sf).abs() <= 1e-12 * se, "m={m} n={n}: {se} vs {sf}");
            // the far tail too
            let t = m * n / 6;
            let (te, tf) = (
                exact[..t].iter().sum::<f64>(),
                float[..t].iter().sum::<f64>(),
            );
            assert!(
                (te - tf).abs() <= 1e-12 * te,
                "m={m} n={n} tail: {te} vs {tf}"
            );
        }
    }

    #[test]
    fn ranks_average_ties() {
        let (r, t) = average_ranks(&[3.0, 1.0, 3.0, 2.0, -0.0, 0.0]);
        assert_eq!(r, vec![5.5, 3.0, 5.5, 4.0, 1.5, 1.5]);
        assert_eq!(t, vec![2, 1, 1, 2]);
    }
}
