//! Functional measures from spike trains (METHOD.md §2): Pearson correlation of binned counts
//! and the spike time tiling coefficient (STTC, Cutts & Eglen 2014).
//!
//! Both follow elephant 1.2.1 (`BinnedSpikeTrain` + `correlation_coefficient`,
//! `spike_time_tiling_coefficient`) convention for convention, so that the stored elephant
//! matrices in `reference/functional/` are reproduced to ~1e-13:
//!
//! * binning: bin index `floor(t · (1/bin))`, except that a value whose fractional part is
//!   ≥ 1 − 1e-8 is moved into the next bin (elephant's `round_binning_errors`, tolerance 1e-8);
//!   the number of bins is `t_stop / bin` under the same rule; spikes outside `[0, t_stop]`
//!   and in bins ≥ the number of bins are dropped;
//! * STTC: a spike of A is "tiled" by B if `|a − b| ≤ dt` for some spike b of B (inclusive);
//!   `T_A` is the length of the union of the `[a − dt, a + dt]` windows, clipped to
//!   `[t_start, t_stop]`, over `t_stop − t_start`; a half whose denominator `1 − P·T` is zero
//!   counts as 1; an empty train gives NaN (diagonal included).
//!
//! One elephant detail is *not* the textbook definition: elephant 1.2.1 tests tiling with
//! `np.isclose(a, b, atol=dt)`, whose default `rtol = 1e-5` widens the window to
//! `dt + 1e-5·|b|` (60 ms at t = 6000 s, far wider than dt = 5 ms). [`sttc_matrix`] implements
//! the definition (`rtol = 0`); [`sttc_matrix_rtol`] with [`ELEPHANT_ISCLOSE_RTOL`] reproduces
//! elephant exactly. On the MICrONS spikes the two agree: deconvolved events sit on the
//! 6.3 Hz frame grid, so two spikes are either coincident or ≥ 0.15 s apart.
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat};
use rayon::prelude::*;
use std::borrow::Cow;

/// elephant's binning tolerance (`BinnedSpikeTrain(tolerance=1e-8)`).
const BIN_TOLERANCE: f64 = 1e-8;

/// The relative tolerance numpy's `isclose` adds to elephant 1.2.1's STTC window.
pub const ELEPHANT_ISCLOSE_RTOL: f64 = 1e-5;

/// Recording span as the seed used it: `t_stop` = last spike of any train + 0.1 s
/// (METHOD.md §2). Returns NaN when no train has a finite spike.
pub fn recording_stop(spikes: &[Vec<f64>]) -> f64 {
    let last = spikes
        .iter()
        .flat_map(|s| s.iter().copied())
        .filter(|t| t.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    if last.is_finite() {
        last + 0.1
    } else {
        f64::NAN
    }
}

/// elephant's `round_binning_errors`: truncation, but a value within the tolerance below the
/// next integer belongs to that integer (spikes that sit on a bin edge up to rounding).
fn round_binning(x: f64) -> f64 {
    if x % 1.0 >= 1.0 - BIN_TOLERANCE {
        (x + 0.5).trunc()
    } else {
        x.trunc()
    }
}

/// Number of bins and sorted bin indices per train, by elephant's rule (module docs);
/// `None` when `bin`/`t_stop` are not finite and positive or give fewer than one bin.
fn bin_indices(spikes: &[Vec<f64>], bin: f64, t_stop: f64) -> Option<(u64, Vec<Vec<u64>>)> {
    if !(bin.is_finite() && bin > 0.0 && t_stop.is_finite() && t_stop > 0.0) {
        return None;
    }
    let n_bins_f = round_binning(t_stop / bin);
    if !(n_bins_f >= 1.0 && n_bins_f < u32::MAX as f64) {
        return None;
    }
    let n_bins = n_bins_f as u64;
    let scale = 1.0 / bin;
    let bins = spikes
        .iter()
        .map(|train| {
            let mut b: Vec<u64> = train
                .iter()
                .copied()
                .filter(|&t| t >= 0.0 && t <= t_stop)
                .map(|t| round_binning(t * scale) as u64)
                .filter(|&b| b < n_bins)
                .collect();
            b.sort_unstable();
            b
        })
        .collect();
    Some((n_bins, bins))
}

/// Spike counts in `bin`-second bins over `[0, t_stop)`, one row per bin and one column per
/// train (samples × features, the input of the graphical lasso), binned exactly as
/// [`pearson_binned`] bins. Invalid `bin`/`t_stop` give a 0×N matrix.
pub fn binned_counts(spikes: &[Vec<f64>], bin: f64, t_stop: f64) -> Mat<f64> {
    let Some((n_bins, bins)) = bin_indices(spikes, bin, t_stop) else {
        return Mat::zeros(0, spikes.len());
    };
    let mut x = Mat::<f64>::zeros(n_bins as usize, spikes.len());
    for (j, b) in bins.iter().enumerate() {
        for &k in b {
            x[(k as usize, j)] += 1.0;
        }
    }
    x
}

/// Pearson correlation of spike counts in `bin`-second bins over `[0, t_stop)`, N×N.
///
/// Counts per bin follow elephant's binning (see the module docs). The covariance is
/// `XXᵀ − n nᵀ / L` (L bins, n spike counts), with `XXᵀ` from a GEMM over the occupied bins
/// only, in chunks (the counts are integers, so the GEMM is exact in any summation order).
/// The diagonal is exactly 1; a train with no spike in range (zero variance) gives a NaN row
/// and column, diagonal included. Invalid arguments (`bin` or `t_stop` not finite and
/// positive, or fewer than two bins) give an all-NaN matrix.
pub fn pearson_binned(spikes: &[Vec<f64>], bin: f64, t_stop: f64) -> Mat<f64> {
    let n = spikes.len();
    let Some((n_bins, bins)) = bin_indices(spikes, bin, t_stop).filter(|(l, _)| *l >= 2) else {
        return Mat::from_fn(n, n, |_, _| f64::NAN);
    };
    let counts: Vec<f64> = bins.iter().map(|b| b.len() as f64).collect();

    // Columns where no train fires add nothing to XXᵀ: only the union of occupied bins is
    // materialized (≤ 40 k frames for a MICrONS recording instead of ~317 k bins).
    let mut occupied: Vec<u64> = bins.iter().flatten().copied().collect();
    occupied.sort_unstable();
    occupied.dedup();

    const CHUNK: usize = 4096;
    let mut gram = Mat::<f64>::zeros(n, n);
    let mut cursor = vec![0usize; n];
    let mut x = Mat::<f64>::zeros(n, CHUNK.min(occupied.len()).max(1));
    for cols in occupied.chunks(CHUNK) {
        let k = cols.len();
        let last = *cols.last().expect("chunks are non-empty");
        x.fill(0.0);
        for (i, b) in bins.iter().enumerate() {
            let mut c = 0usize;
            while cursor[i] < b.len() && b[cursor[i]] <= last {
                let v = b[cursor[i]];
                while cols[c] < v {
                    c += 1;
                }
                x[(i, c)] += 1.0;
                cursor[i] += 1;
            }
        }
        let xk = x.as_ref().subcols(0, k);
        matmul(
            gram.as_mut(),
            Accum::Add,
            xk,
            xk.transpose(),
            1.0,
            faer::get_global_parallelism(),
        );
    }

    // elephant: res = XXᵀ − n_i n_j / L (n_i n_j an exact integer product), then
    // res / (sqrt(res_ii) sqrt(res_jj)).
    let l = n_bins as f64;
    let cov = Mat::from_fn(n, n, |i, j| gram[(i, j)] - (counts[i] * counts[j]) / l);
    let sd: Vec<f64> = (0..n)
        .map(|i| {
            let v = cov[(i, i)];
            if v > 0.0 {
                v.sqrt()
            } else {
                f64::NAN
            }
        })
        .collect();
    Mat::from_fn(n, n, |i, j| {
        if sd[i].is_nan() || sd[j].is_nan() {
            f64::NAN
        } else if i == j {
            1.0
        } else {
            cov[(i, j)] / (sd[i] * sd[j])
        }
    })
}

/// Spike time tiling coefficient matrix (Cutts & Eglen 2014), exact definition (rtol = 0).
///
/// Symmetric N×N; the diagonal is 1 for a non-empty train; an empty train (after dropping
/// spikes outside `[t_start, t_stop]` and non-finite times) gives a NaN row and column.
/// Unsorted trains are sorted on a copy. `dt` not finite and positive, or
/// `t_stop ≤ t_start`, give an all-NaN matrix. See [`sttc_matrix_rtol`] for elephant's
/// tolerance.
pub fn sttc_matrix(spikes: &[Vec<f64>], dt: f64, t_start: f64, t_stop: f64) -> Mat<f64> {
    sttc_matrix_rtol(spikes, dt, t_start, t_stop, 0.0)
}

/// STTC matrix where "b tiles a" means `|a − b| ≤ dt + rtol·|b|`, numpy `isclose`'s test.
/// `rtol = ELEPHANT_ISCLOSE_RTOL` reproduces elephant 1.2.1; `rtol = 0` is [`sttc_matrix`].
/// A negative or non-finite `rtol` gives an all-NaN matrix.
///
/// Each train's `T` is computed once; each pair costs O(n_A + n_B) (two pointers over sorted
/// trains); rows of the lower triangle run in parallel.
pub fn sttc_matrix_rtol(
    spikes: &[Vec<f64>],
    dt: f64,
    t_start: f64,
    t_stop: f64,
    rtol: f64,
) -> Mat<f64> {
    let n = spikes.len();
    let valid = dt.is_finite()
        && dt > 0.0
        && t_start.is_finite()
        && t_stop.is_finite()
        && t_stop > t_start
        && rtol.is_finite()
        && rtol >= 0.0;
    if !valid {
        return Mat::from_fn(n, n, |_, _| f64::NAN);
    }
    let trains: Vec<Cow<'_, [f64]>> = spikes
        .iter()
        .map(|s| prepare_train(s, t_start, t_stop))
        .collect();
    let tiling: Vec<f64> = trains
        .iter()
        .map(|s| tiling_fraction(s, dt, t_start, t_stop))
        .collect();
    let rows: Vec<Vec<f64>> = (0..n)
        .into_par_iter()
        .map(|i| {
            (0..=i)
                .map(|j| sttc_from_parts(&trains[j], &trains[i], tiling[j], tiling[i], dt, rtol))
                .collect()
        })
        .collect();
    let mut out = Mat::<f64>::zeros(n, n);
    for (i, row) in rows.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            out[(i, j)] = v;
            out[(j, i)] = v;
        }
    }
    out
}

/// STTC of one pair (exact definition, rtol = 0); NaN if either train is empty.
pub fn sttc_pair(a: &[f64], b: &[f64], dt: f64, t_start: f64, t_stop: f64) -> f64 {
    let m = sttc_matrix(&[a.to_vec(), b.to_vec()], dt, t_start, t_stop);
    m[(1, 0)]
}

/// Drops times outside `[t_start, t_stop]` (and NaN); sorts only when needed.
fn prepare_train(s: &[f64], t_start: f64, t_stop: f64) -> Cow<'_, [f64]> {
    let in_range = |t: &f64| *t >= t_start && *t <= t_stop;
    let sorted = s.windows(2).all(|w| w[0] <= w[1]);
    if sorted && s.iter().all(in_range) {
        return Cow::Borrowed(s);
    }
    let mut v: Vec<f64> = s.iter().copied().filter(in_range).collect();
    v.sort_unstable_by(f64::total_cmp);
    Cow::Owned(v)
}

/// `T`: the fraction of `[t_start, t_stop]` covered by the union of `[t − dt, t + dt]`,
/// clipped to the recording (elephant's `run_t`: gaps ≤ 2dt count in full, longer gaps 2dt,
/// and each end at most dt). NaN for an empty train.
fn tiling_fraction(s: &[f64], dt: f64, t_start: f64, t_stop: f64) -> f64 {
    let (Some(&first), Some(&last)) = (s.first(), s.last()) else {
        return f64::NAN;
    };
    let mut covered = 0.0;
    for w in s.windows(2) {
        let d = w[1] - w[0];
        covered += if d <= 2.0 * dt { d } else { 2.0 * dt };
    }
    let head = first - t_start;
    covered += if head < dt { head } else { dt };
    let tail = t_stop - last;
    covered += if tail < dt { tail } else { dt };
    covered / (t_stop - t_start)
}

/// `P`: the fraction of `a`'s spikes within `dt + rtol·|b|` of some spike `b` of `other`
/// (numpy's `abs(a − b) <= atol + rtol·abs(b)`, evaluated the same way).
///
/// Two pointers: `j` skips the spikes of `other` that lie too far *before* `a`; as `a` grows
/// that prefix only grows. The first remaining spike is the closest candidate at or after the
/// window's lower end, so `a` is tiled iff it is close to that one.
fn tiled_fraction(a: &[f64], other: &[f64], dt: f64, rtol: f64) -> f64 {
    let close = |x: f64, y: f64| (x - y).abs() <= dt + rtol * y.abs();
    let mut j = 0usize;
    let mut tiled = 0usize;
    for &x in a {
        while j < other.len() && other[j] < x && !close(x, other[j]) {
            j += 1;
        }
        if j < other.len() && close(x, other[j]) {
            tiled += 1;
        }
    }
    tiled as f64 / a.len() as f64
}

/// elephant's `spike_time_tiling_coefficient(spiketrain_i, spiketrain_j)` with
/// A = j and B = i, including its zero-denominator cases.
fn sttc_from_parts(a: &[f64], b: &[f64], ta: f64, tb: f64, dt: f64, rtol: f64) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    let pa = tiled_fraction(a, b, dt, rtol);
    let pb = tiled_fraction(b, a, dt, rtol);
    let (left, right) = (pa * tb == 1.0, pb * ta == 1.0);
    if left && right {
        1.0
    } else if left {
        0.5 + 0.5 * (pb - ta) / (1.0 - pb * ta)
    } else if right {
        0.5 + 0.5 * (pa - tb) / (1.0 - pa * tb)
    } else {
        0.5 * (pa - tb) / (1.0 - pa * tb) + 0.5 * (pb - ta) / (1.0 - pb * ta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiling_of_isolated_and_clipped_spikes() {
        // Two isolated spikes: 4·dt covered; one at the start edge: dt.
        let t = tiling_fraction(&[1.0, 5.0], 0.1, 0.0, 10.0);
        assert!((t - 0.04).abs() < 1e-15);
        let t = tiling_fraction(&[0.0], 0.1, 0.0, 10.0);
        assert!((t - 0.01).abs() < 1e-15);
        // Overlapping windows count their union once.
        let t = tiling_fraction(&[1.0, 1.05], 0.1, 0.0, 10.0);
        assert!((t - 0.025).abs() < 1e-15);
    }

    #[test]
    fn tiled_fraction_is_inclusive_and_rtol_widens() {
        let a = [1.0, 2.0, 3.0];
        let b = [1.5, 3.25];
        assert_eq!(tiled_fraction(&a, &b, 0.5, 0.0), 1.0);
        // exactly dt apart (dyadic, so exact) counts
        assert_eq!(tiled_fraction(&a, &b, 0.25, 0.0), 1.0 / 3.0);
        assert_eq!(tiled_fraction(&a, &b, 0.2, 0.0), 0.0);
        // rtol·|b| = 0.1·3.25 widens the window around 3.25 to reach 3.0
        assert_eq!(tiled_fraction(&a, &b, 0.2, 0.1), 1.0 / 3.0);
    }

    #[test]
    fn identical_trains_and_empty_trains() {
        let s = vec![vec![1.0, 2.0, 7.5], vec![], vec![1.0, 2.0, 7.5]];
        let m = sttc_matrix(&s, 0.01, 0.0, 10.0);
        assert_eq!(m[(0, 0)], 1.0);
        assert_eq!(m[(0, 2)], 1.0);
        assert!(m[(1, 1)].is_nan() && m[(0, 1)].is_nan() && m[(2, 1)].is_nan());
        let bad = sttc_matrix(&s, -1.0, 0.0, 10.0);
        assert!(bad[(0, 0)].is_nan());
    }

    #[test]
    fn binning_moves_edge_values_up() {
        assert_eq!(round_binning(2.999_999_999_5), 3.0);
        assert_eq!(round_binning(2.5), 2.0);
    }
}
