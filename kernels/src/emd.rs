//! 1-D Wasserstein-1 distance (earth mover's distance) and its subgradients.
//!
//! W1(u, v) = ∫ |F_u(x) − F_v(x)| dx, the CDF-difference form that
//! `scipy.stats.wasserstein_distance` evaluates: both samples are sorted, the merged sample
//! points split the line into intervals, and on each interval the two (weighted) empirical CDFs
//! are constant. Cost O((m + n) log(m + n)), dominated by the two sorts.
//!
//! # Sorting
//! Values are mapped to order-preserving unsigned integer keys (IEEE bits with the sign folded
//! in: negative numbers bit-inverted, non-negative ones with the top bit set) and sorted by an
//! MSD radix sort: the first digit is taken just below the bits on which every key agrees (the
//! minimum and maximum key tell where that is), each bucket is split by the next digit into a
//! scratch buffer and back (ping-pong, no copy passes), and a bucket of at most [`SMALL_SORT`]
//! elements is finished by a comparison sort while it sits in L1. Digits are up to 11 bits
//! (2048 counters, in L1), narrower for short buckets; a digit every key of a bucket shares is
//! skipped without moving anything. It replaced an LSD radix sort whose six full scatter
//! passes over 8 MB missed the cache at 10⁶ doubles (README, benchmarks). The sort is stable
//! (ties keep index order), which fixes which of several equal samples receives which part of
//! the gradient. Keys sort `-0.0` before `+0.0`; they compare equal as values, so the distance
//! does not depend on it.
//!
//! # Gradient
//! The returned subgradient with respect to the sample *values* is that of the monotone
//! (north-west corner) coupling γ of the sorted samples:
//! ∂W1/∂u_i = Σ_j γ_ij · sign(u_i − v_j), ∂W1/∂v_j = Σ_i γ_ij · sign(v_j − u_i),
//! with γ built from the normalized weights (1/m, 1/n for the unweighted form). Sample i of u
//! owns the quantile levels [F_u⁻(u_i), F_u⁻(u_i) + a_i) in stable sorted order; the part of
//! that level range where the v-quantile is strictly below u_i counts +, strictly above −,
//! and the part where the v-quantile *equals* u_i (an exact tie) counts 0 — the element
//! sign(0) = 0 of the subdifferential, which is what autodiff through the sorted-quantile form
//! (POT's `wasserstein_1d` under torch, where d|x|/dx at 0 is 0) gives. Weights are treated as
//! constants (no gradient with respect to weights).
//!
//! For the unweighted form every level is an integer multiple of 1/(m·n), so levels are kept as
//! exact integers (in f64, exact below 2^53) and the gradient has no rounding at all.
//!
//! # Bad input
//! Empty samples, non-finite values, weights that are negative, non-finite or all zero, and
//! mismatched lengths make the `try_*` functions and the [`Wasserstein1d`] methods return a
//! [`KernelError`]; the plain functions return NaN (and fill gradient outputs with NaN) instead.
//! Nothing panics on bad input.
//!
//! # Precision
//! Internally all level and interval arithmetic is f64, also for f32 samples (the f32 input
//! converts exactly); only the result is rounded to `T`.
use crate::KernelError;

/// Buckets of at most this many elements are finished by a comparison sort (in L1, it beats
/// another radix level's counting).
pub const SMALL_SORT: usize = 384;

/// From this many elements on each side, the two samples are sorted at the same time on the
/// rayon pool (`rayon::join`): each sort is then long enough (≈ 0.2 ms) to hide the cost of
/// waking a worker. Inside a pool that is already busy (runs in parallel), `join` simply runs
/// both on the calling thread.
pub const PAR_SORT_MIN: usize = 1 << 13;

/// `(a(), b())`, the two on the rayon pool at once when `par`.
fn join_if<A: Send, B: Send>(
    par: bool,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    if par {
        rayon::join(a, b)
    } else {
        (a(), b())
    }
}

/// Widest radix digit: 2048 counters (8 KiB) stay in L1.
const MAX_DIGIT_BITS: u32 = 11;
const MAX_BUCKETS: usize = 1 << MAX_DIGIT_BITS;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// Scalar types the EMD kernels accept: `f32` and `f64` (sealed).
pub trait EmdScalar:
    sealed::Sealed + Copy + PartialOrd + Send + Sync + std::fmt::Debug + 'static
{
    /// The order-preserving unsigned key type (`u32` for f32, `u64` for f64).
    #[doc(hidden)]
    type Key: RadixKey;
    #[doc(hidden)]
    const NAN: Self;
    #[doc(hidden)]
    fn to_f64(self) -> f64;
    #[doc(hidden)]
    fn from_f64(x: f64) -> Self;
    #[doc(hidden)]
    fn to_key(self) -> Self::Key;
    #[doc(hidden)]
    fn from_key(k: Self::Key) -> Self;
    #[doc(hidden)]
    fn is_finite(self) -> bool;
}

impl EmdScalar for f64 {
    type Key = u64;
    const NAN: Self = f64::NAN;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to_key(self) -> u64 {
        let b = self.to_bits();
        // Negative: flip all bits (reverses their order); non-negative: set the sign bit.
        b ^ ((((b as i64) >> 63) as u64) | (1 << 63))
    }
    #[inline(always)]
    fn from_key(k: u64) -> Self {
        f64::from_bits(k ^ (!(((k as i64) >> 63) as u64) | (1 << 63)))
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
}

impl EmdScalar for f32 {
    type Key = u32;
    const NAN: Self = f32::NAN;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to_key(self) -> u32 {
        let b = self.to_bits();
        b ^ ((((b as i32) >> 31) as u32) | (1 << 31))
    }
    #[inline(always)]
    fn from_key(k: u32) -> Self {
        f32::from_bits(k ^ (!(((k as i32) >> 31) as u32) | (1 << 31)))
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
}

/// An unsigned radix key (`u32` or `u64`).
#[doc(hidden)]
pub trait RadixKey: Copy + Default + Ord + Send + Sync + std::fmt::Debug + 'static {
    const BITS: u32;
    fn as_u64(self) -> u64;
}
impl RadixKey for u32 {
    const BITS: u32 = 32;
    #[inline(always)]
    fn as_u64(self) -> u64 {
        self as u64
    }
}
impl RadixKey for u64 {
    const BITS: u32 = 64;
    #[inline(always)]
    fn as_u64(self) -> u64 {
        self
    }
}

/// Something the radix sort moves: a bare key, or a key with the index it came from.
trait RadixItem: Copy + Default {
    fn key(&self) -> u64;
    /// Sorts a short slice into the order the radix sort gives: ascending key, and equal keys
    /// in the order they arrived (bare keys: indistinguishable; keyed: by index, which is
    /// their arrival order because every radix pass is stable).
    fn small_sort(a: &mut [Self]);
}

impl<K: RadixKey> RadixItem for K {
    #[inline(always)]
    fn key(&self) -> u64 {
        self.as_u64()
    }
    fn small_sort(a: &mut [Self]) {
        a.sort_unstable();
    }
}

#[derive(Clone, Copy, Default, Debug)]
struct Keyed<K> {
    key: K,
    idx: u32,
}

impl<K: RadixKey> RadixItem for Keyed<K> {
    #[inline(always)]
    fn key(&self) -> u64 {
        self.key.as_u64()
    }
    fn small_sort(a: &mut [Self]) {
        a.sort_unstable_by_key(|x| (x.key, x.idx));
    }
}

/// The smallest and largest key of a sample.
#[derive(Clone, Copy, Debug)]
struct KeyRange {
    lo: u64,
    hi: u64,
}

impl KeyRange {
    /// The range of no keys, which [`Self::with`] widens.
    const EMPTY: Self = KeyRange {
        lo: u64::MAX,
        hi: 0,
    };

    #[cfg(test)]
    fn of<I: RadixItem>(a: &[I]) -> Self {
        a.iter().fold(Self::EMPTY, |r, x| r.with(x.key()))
    }

    #[inline(always)]
    fn with(self, k: u64) -> Self {
        KeyRange {
            lo: self.lo.min(k),
            hi: self.hi.max(k),
        }
    }
}

/// Stable MSD radix sort of `a` by `key()`, whose keys lie in `range`; `tmp` is scratch (grown
/// as needed, never shrunk or cleared). The sorted data ends in `a`.
fn radix_sort<I: RadixItem>(a: &mut [I], tmp: &mut Vec<I>, range: KeyRange) {
    let n = a.len();
    if n <= SMALL_SORT {
        I::small_sort(a);
        return;
    }
    // Only the bits below the highest one where the extremes differ vary among the keys.
    let bits = u64::BITS - (range.lo ^ range.hi).leading_zeros();
    if tmp.len() < n {
        tmp.resize(n, I::default());
    }
    msd_sort(a, &mut tmp[..n], bits, false);
}

/// Digit width for a bucket of `n` elements: about n/16 counters, at most 2048.
#[inline]
fn digit_bits(n: usize) -> u32 {
    (usize::BITS - n.leading_zeros())
        .saturating_sub(4)
        .clamp(4, MAX_DIGIT_BITS)
}

/// Sorts the elements of `data` (keys may differ only in bits `[0, bits)`), with `other` (same
/// length) as the second buffer. The result ends in `other` when `into_other`, else in `data`;
/// the buffer not holding it is left as scratch. Each level scatters into the other buffer,
/// so the levels alternate (ping-pong) and no level copies back.
fn msd_sort<I: RadixItem>(data: &mut [I], other: &mut [I], mut bits: u32, into_other: bool) {
    let mut counts = [0u32; MAX_BUCKETS + 1];
    loop {
        if data.len() <= SMALL_SORT || bits == 0 {
            if into_other {
                other.copy_from_slice(data);
                I::small_sort(other);
            } else {
                I::small_sort(data);
            }
            return;
        }
        match distribute(data, other, bits, &mut counts) {
            Some((nb, shift)) => {
                for w in counts[..=nb].windows(2) {
                    let (lo, hi) = (w[0] as usize, w[1] as usize);
                    match hi - lo {
                        0 => {}
                        // A bucket of one is sorted where it landed, in `other`.
                        1 if !into_other => data[lo] = other[lo],
                        1 => {}
                        _ => msd_sort(&mut other[lo..hi], &mut data[lo..hi], shift, !into_other),
                    }
                }
                return;
            }
            None => bits -= digit_bits(data.len()).min(bits),
        }
    }
}

/// One stable counting pass on the digit just below bit `bits`: scatters `src` into `dst` and
/// leaves the bucket starts in `counts[..=nb]` (`counts[nb]` = len). Returns the number of
/// buckets and the bits still varying inside one, or `None`, moving nothing, when every key
/// has the same digit.
#[inline]
fn distribute<I: RadixItem>(
    src: &[I],
    dst: &mut [I],
    bits: u32,
    counts: &mut [u32; MAX_BUCKETS + 1],
) -> Option<(usize, u32)> {
    let width = digit_bits(src.len()).min(bits);
    let shift = bits - width;
    let nb = 1usize << width;
    let mask = (nb as u64) - 1;
    let digit = |x: &I| ((x.key() >> shift) & mask) as usize;
    let c = &mut counts[..=nb];
    c.fill(0);
    // Bucket d is counted in c[d + 1] …
    for x in src {
        c[digit(x) + 1] += 1;
    }
    if c[digit(&src[0]) + 1] as usize == src.len() {
        return None;
    }
    // … and c[d + 1] becomes bucket d's start, its cursor for the scatter. Once every element
    // is placed, the cursor has reached bucket d + 1's start: c[..=nb] then holds the bucket
    // boundaries (c[0] = 0, c[nb] = len).
    let mut sum = 0u32;
    for v in c[1..].iter_mut() {
        let t = *v;
        *v = sum;
        sum += t;
    }
    assert_eq!(dst.len(), src.len());
    for x in src {
        let o = &mut c[digit(x) + 1];
        dst[*o as usize] = *x;
        *o += 1;
    }
    Some((nb, shift))
}

/// Converts `x` to keys in `keys`, failing on the first non-finite value.
/// Converts `x` to keys in `keys` and returns their range, failing on a non-finite value.
fn fill_keys<T: EmdScalar>(
    x: &[T],
    what: &'static str,
    keys: &mut Vec<T::Key>,
) -> Result<KeyRange, KernelError> {
    // The radix sort counts in u32.
    check_len(x.len(), what)?;
    let mut range = KeyRange::EMPTY;
    keys.clear();
    keys.extend(x.iter().map(|&v| {
        let k = v.to_key();
        range = range.with(k.as_u64());
        k
    }));
    finite_range(x, what, range)
}

/// Like [`fill_keys`], each key paired with its index.
fn fill_keyed<T: EmdScalar>(
    x: &[T],
    what: &'static str,
    items: &mut Vec<Keyed<T::Key>>,
) -> Result<KeyRange, KernelError> {
    check_len(x.len(), what)?;
    let mut range = KeyRange::EMPTY;
    items.clear();
    items.extend(x.iter().enumerate().map(|(i, &v)| {
        let k = v.to_key();
        range = range.with(k.as_u64());
        Keyed {
            key: k,
            idx: i as u32,
        }
    }));
    finite_range(x, what, range)
}

/// `range` if every value of `x` is finite: their keys lie strictly between the keys of −∞ and
/// +∞, and NaNs (of either sign) fall outside. Otherwise the error naming the first culprit.
fn finite_range<T: EmdScalar>(
    x: &[T],
    what: &'static str,
    range: KeyRange,
) -> Result<KeyRange, KernelError> {
    let below = T::from_f64(f64::NEG_INFINITY).to_key().as_u64();
    let above = T::from_f64(f64::INFINITY).to_key().as_u64();
    if below < range.lo && range.hi < above {
        Ok(range)
    } else {
        check_finite(x, what).map(|()| range)
    }
}

fn check_finite<T: EmdScalar>(x: &[T], what: &'static str) -> Result<(), KernelError> {
    // A branch-free fold vectorizes; the index is looked up only on the error path.
    let all = x.iter().fold(true, |acc, v| acc & v.is_finite());
    if all {
        return Ok(());
    }
    let (index, value) = x
        .iter()
        .enumerate()
        .find(|(_, v)| !v.is_finite())
        .map(|(i, v)| (i, v.to_f64()))
        .unwrap_or((0, f64::NAN));
    Err(KernelError::NonFinite { what, index, value })
}

fn check_nonempty(len: usize, what: &'static str) -> Result<(), KernelError> {
    if len == 0 {
        Err(KernelError::Empty { what })
    } else {
        Ok(())
    }
}

fn check_len(len: usize, what: &'static str) -> Result<(), KernelError> {
    if len > u32::MAX as usize {
        return Err(KernelError::DimensionMismatch {
            what,
            expected: format!("at most {} samples", u32::MAX),
            got: len.to_string(),
        });
    }
    Ok(())
}

fn check_same_len(what: &'static str, expected: usize, got: usize) -> Result<(), KernelError> {
    if expected != got {
        return Err(KernelError::DimensionMismatch {
            what,
            expected: expected.to_string(),
            got: got.to_string(),
        });
    }
    Ok(())
}

/// Validates weights and writes their normalized cumulative sums in sorted order:
/// `cum[i] = (w_0 + … + w_{i−1}) / total` over `order`, `cum[0] = 0`, `cum[len] = 1`.
/// Summation is sequential in sorted order and each prefix is divided by the total, exactly as
/// scipy does, so the CDF values match scipy's bit for bit.
fn fill_cum_weights<T: EmdScalar>(
    w: &[T],
    order: &[Keyed<T::Key>],
    what: &'static str,
    cum: &mut Vec<f64>,
) -> Result<(), KernelError> {
    for (i, &x) in w.iter().enumerate() {
        let x = x.to_f64();
        if !x.is_finite() {
            return Err(KernelError::NonFinite {
                what,
                index: i,
                value: x,
            });
        }
        if x < 0.0 {
            return Err(KernelError::InvalidWeights {
                what,
                reason: format!("weight {x} at index {i} is negative"),
            });
        }
    }
    cum.clear();
    cum.reserve(order.len() + 1);
    cum.push(0.0);
    let mut s = 0.0f64;
    for it in order {
        s += w[it.idx as usize].to_f64();
        cum.push(s);
    }
    if s <= 0.0 {
        return Err(KernelError::InvalidWeights {
            what,
            reason: "all weights are zero".into(),
        });
    }
    if !s.is_finite() {
        return Err(KernelError::InvalidWeights {
            what,
            reason: format!("weights sum to {s}"),
        });
    }
    for c in cum.iter_mut() {
        *c /= s;
    }
    Ok(())
}

/// CDF levels of one side during the merge walk: `level(i)` is the mass of the first `i`
/// sorted samples, in units where the total mass is `total()`.
trait Levels {
    fn level(&self, i: usize) -> f64;
}

/// Unweighted: level(i) = i · scale, an exact integer in f64 (scale = size of the other side).
struct Uniform(f64);
impl Levels for Uniform {
    #[inline(always)]
    fn level(&self, i: usize) -> f64 {
        i as f64 * self.0
    }
}

/// Weighted: normalized cumulative weights.
struct Cum<'a>(&'a [f64]);
impl Levels for Cum<'_> {
    #[inline(always)]
    fn level(&self, i: usize) -> f64 {
        self.0[i]
    }
}

/// Gradient targets of the merge walk: sorted-position → original index, and the output.
struct GradOut<'a, T> {
    order: &'a [u32],
    out: &'a mut [T],
}

/// The merge walk over two sorted samples (each followed by a +∞ sentinel). Returns
/// ∫|F_u − F_v| in level units; when gradient outputs are given, also writes the coupling
/// subgradient (in level units divided by `total`) at the original indices.
#[inline(always)]
fn merge_walk<T: EmdScalar, LU: Levels, LV: Levels>(
    su: &[f64],
    sv: &[f64],
    lu: &LU,
    lv: &LV,
    total: f64,
    mut grad: Option<(GradOut<'_, T>, GradOut<'_, T>)>,
) -> f64 {
    let m = su.len() - 1;
    let n = sv.len() - 1;
    let inv_total = 1.0 / total;
    let (mut i, mut k) = (0usize, 0usize);
    let mut acc = 0.0f64;
    let mut prev = su[0].min(sv[0]);
    for _ in 0..m + n {
        let (x, y) = (su[i], sv[k]);
        // Ties take u first: when a u sample is processed, sv[..k] are exactly the v samples
        // strictly below it; when a v sample is processed, su[..i] are those at or below it.
        let take_u = x <= y;
        let z = if take_u { x } else { y };
        acc += (lu.level(i) - lv.level(k)).abs() * (z - prev);
        prev = z;
        if let Some((gu, gv)) = grad.as_mut() {
            if take_u {
                let (a, b) = (lu.level(i), lu.level(i + 1));
                let below = lv.level(k);
                // v mass at or below u_i: look past v samples tied with it (rare).
                let mut k2 = k;
                while k2 < n && sv[k2] == x {
                    k2 += 1;
                }
                let above = lv.level(k2);
                let w = b - a;
                let g = (below - a).clamp(0.0, w) - (b - above).clamp(0.0, w);
                gu.out[gu.order[i] as usize] = T::from_f64(g * inv_total);
            } else {
                let (c, d) = (lv.level(k), lv.level(k + 1));
                let at_or_below = lu.level(i);
                let mut i2 = i;
                while i2 > 0 && su[i2 - 1] == y {
                    i2 -= 1;
                }
                let below = lu.level(i2);
                let w = d - c;
                let g = (below - c).clamp(0.0, w) - (d - at_or_below).clamp(0.0, w);
                gv.out[gv.order[k] as usize] = T::from_f64(g * inv_total);
            }
        }
        i += take_u as usize;
        k += (!take_u) as usize;
    }
    acc
}

/// Σ|f(a_r) − f(b_r)| for two equally long sorted slices (of values, or of keys read through
/// `f`), with independent partial sums (pairwise-ish accumulation that also lets the compiler
/// vectorize).
fn sum_abs_diff<E: Copy>(a: &[E], b: &[E], f: impl Fn(E) -> f64) -> f64 {
    const L: usize = 8;
    let mut acc = [0.0f64; L];
    let ca = a.chunks_exact(L);
    let cb = b.chunks_exact(L);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..L {
            acc[l] += (f(x[l]) - f(y[l])).abs();
        }
    }
    let mut tail = 0.0;
    for (&x, &y) in ra.iter().zip(rb) {
        tail += (f(x) - f(y)).abs();
    }
    let mut s = tail;
    for v in acc {
        s += v;
    }
    s
}

/// Reusable workspace for repeated W1 evaluations (the training loop compares vectors of the
/// same length every step): all buffers are kept between calls, so after the first call of a
/// given size nothing is allocated.
#[derive(Debug, Default, Clone)]
pub struct Wasserstein1d<T: EmdScalar> {
    u: SortedSide<T>,
    v: SortedSide<T>,
}

/// One sample, sorted, with the scratch that sorting it needs.
#[derive(Debug, Default, Clone)]
struct SortedSide<T: EmdScalar> {
    keys: Vec<T::Key>,
    keys_tmp: Vec<T::Key>,
    items: Vec<Keyed<T::Key>>,
    items_tmp: Vec<Keyed<T::Key>>,
    /// Sorted values as f64, with a +∞ sentinel at the end.
    sorted: Vec<f64>,
    /// `order[r]` = original index of the r-th smallest value (argsort only).
    order: Vec<u32>,
    /// Normalized cumulative weights in sorted order (weighted forms only).
    cum: Vec<f64>,
}

impl<T: EmdScalar> SortedSide<T> {
    fn new() -> Self {
        Self {
            keys: Vec::new(),
            keys_tmp: Vec::new(),
            items: Vec::new(),
            items_tmp: Vec::new(),
            sorted: Vec::new(),
            order: Vec::new(),
            cum: Vec::new(),
        }
    }

    /// Sorts the keys of `x` into `keys` (values only, no argsort).
    fn sort_values(&mut self, x: &[T], what: &'static str) -> Result<(), KernelError> {
        check_nonempty(x.len(), what)?;
        let range = fill_keys(x, what, &mut self.keys)?;
        radix_sort(&mut self.keys, &mut self.keys_tmp, range);
        Ok(())
    }

    /// `sorted` from the keys left by [`Self::sort_values`].
    fn values_from_keys(&mut self) {
        self.sorted.clear();
        self.sorted
            .extend(self.keys.iter().map(|&k| T::from_key(k).to_f64()));
        self.sorted.push(f64::INFINITY);
    }

    /// Argsort of `x`: sorted values into `sorted`, original indices into `order`.
    fn sort_indexed(&mut self, x: &[T], what: &'static str) -> Result<(), KernelError> {
        check_nonempty(x.len(), what)?;
        let range = fill_keyed(x, what, &mut self.items)?;
        radix_sort(&mut self.items, &mut self.items_tmp, range);
        self.sorted.clear();
        self.sorted
            .extend(self.items.iter().map(|it| T::from_key(it.key).to_f64()));
        self.sorted.push(f64::INFINITY);
        self.order.clear();
        self.order.extend(self.items.iter().map(|it| it.idx));
        Ok(())
    }
}

impl<T: EmdScalar> Wasserstein1d<T> {
    /// An empty workspace; buffers grow on first use.
    pub fn new() -> Self {
        Self {
            u: SortedSide::new(),
            v: SortedSide::new(),
        }
    }

    /// Argsort of both samples, the two at once from [`PAR_SORT_MIN`] elements on. An error
    /// names `u` before `v`.
    fn sort_both_indexed(&mut self, u: &[T], v: &[T]) -> Result<(), KernelError> {
        let (ru, rv) = join_if(
            u.len().min(v.len()) >= PAR_SORT_MIN,
            || self.u.sort_indexed(u, "u"),
            || self.v.sort_indexed(v, "v"),
        );
        ru.and(rv)
    }

    /// W1 between the empirical distributions of `u` and `v` (uniform weights).
    pub fn distance(&mut self, u: &[T], v: &[T]) -> Result<T, KernelError> {
        let (ru, rv) = join_if(
            u.len().min(v.len()) >= PAR_SORT_MIN,
            || self.u.sort_values(u, "u"),
            || self.v.sort_values(v, "v"),
        );
        ru.and(rv)?;
        Ok(T::from_f64(self.walk_uniform()))
    }

    /// W1 with (not necessarily normalized) non-negative weights.
    pub fn distance_weighted(
        &mut self,
        u: &[T],
        u_w: &[T],
        v: &[T],
        v_w: &[T],
    ) -> Result<T, KernelError> {
        self.prepare_weighted(u, u_w, v, v_w)?;
        let d = merge_walk::<T, _, _>(
            &self.u.sorted,
            &self.v.sorted,
            &Cum(&self.u.cum),
            &Cum(&self.v.cum),
            1.0,
            None,
        );
        Ok(T::from_f64(d))
    }

    /// W1 (uniform weights) and its subgradient with respect to every sample value, written
    /// (not accumulated) into `grad_u` (length of `u`) and `grad_v` (length of `v`).
    pub fn distance_grad(
        &mut self,
        u: &[T],
        v: &[T],
        grad_u: &mut [T],
        grad_v: &mut [T],
    ) -> Result<T, KernelError> {
        check_same_len("grad_u", u.len(), grad_u.len())?;
        check_same_len("grad_v", v.len(), grad_v.len())?;
        self.sort_both_indexed(u, v)?;
        let (m, n) = (u.len(), v.len());
        if m == n {
            // Equal sizes: the monotone coupling pairs ranks, γ = 1/n on the diagonal.
            let inv = 1.0 / n as f64;
            for r in 0..n {
                let s = sign(self.u.sorted[r] - self.v.sorted[r]) * inv;
                grad_u[self.u.order[r] as usize] = T::from_f64(s);
                grad_v[self.v.order[r] as usize] = T::from_f64(-s);
            }
            return Ok(T::from_f64(
                sum_abs_diff(&self.u.sorted[..n], &self.v.sorted[..n], |x| x) * inv,
            ));
        }
        let gu = GradOut {
            order: &self.u.order,
            out: grad_u,
        };
        let gv = GradOut {
            order: &self.v.order,
            out: grad_v,
        };
        let total = m as f64 * n as f64;
        let d = merge_walk(
            &self.u.sorted,
            &self.v.sorted,
            &Uniform(n as f64),
            &Uniform(m as f64),
            total,
            Some((gu, gv)),
        );
        Ok(T::from_f64(d / total))
    }

    /// Weighted W1 and its subgradient with respect to the sample values (weights are constants).
    #[allow(clippy::too_many_arguments)]
    pub fn distance_grad_weighted(
        &mut self,
        u: &[T],
        u_w: &[T],
        v: &[T],
        v_w: &[T],
        grad_u: &mut [T],
        grad_v: &mut [T],
    ) -> Result<T, KernelError> {
        check_same_len("grad_u", u.len(), grad_u.len())?;
        check_same_len("grad_v", v.len(), grad_v.len())?;
        self.prepare_weighted(u, u_w, v, v_w)?;
        let gu = GradOut {
            order: &self.u.order,
            out: grad_u,
        };
        let gv = GradOut {
            order: &self.v.order,
            out: grad_v,
        };
        let d = merge_walk(
            &self.u.sorted,
            &self.v.sorted,
            &Cum(&self.u.cum),
            &Cum(&self.v.cum),
            1.0,
            Some((gu, gv)),
        );
        Ok(T::from_f64(d))
    }

    /// W1 (uniform weights, equal sizes) between `u` and a sample `v_sorted` that is already
    /// sorted ascending (e.g. by [`sort_samples`], once, for a constant target), and the
    /// subgradient with respect to `u`, *added* (`+=`) to `grad_u` scaled by `scale`.
    ///
    /// This is the training-loop form: the constant side is never re-sorted, and the gradient
    /// lands directly in an accumulator. Returns `scale · W1`.
    pub fn distance_grad_presorted_acc(
        &mut self,
        u: &[T],
        v_sorted: &[T],
        scale: T,
        grad_u: &mut [T],
    ) -> Result<T, KernelError> {
        check_same_len("v_sorted", u.len(), v_sorted.len())?;
        check_same_len("grad_u", u.len(), grad_u.len())?;
        check_sorted(v_sorted, "v_sorted")?;
        self.u.sort_indexed(u, "u")?;
        let n = u.len();
        let scale = scale.to_f64();
        let g = scale / n as f64;
        let mut acc = [0.0f64; 4];
        for (r, (&a, &b)) in self.u.sorted[..n].iter().zip(v_sorted).enumerate() {
            let d = a - b.to_f64();
            acc[r & 3] += d.abs();
            let dst = &mut grad_u[self.u.order[r] as usize];
            *dst = T::from_f64(dst.to_f64() + sign(d) * g);
        }
        Ok(T::from_f64((acc[0] + acc[1] + (acc[2] + acc[3])) * g))
    }

    fn prepare_weighted(
        &mut self,
        u: &[T],
        u_w: &[T],
        v: &[T],
        v_w: &[T],
    ) -> Result<(), KernelError> {
        check_same_len("u_weights", u.len(), u_w.len())?;
        check_same_len("v_weights", v.len(), v_w.len())?;
        self.sort_both_indexed(u, v)?;
        fill_cum_weights(u_w, &self.u.items, "u_weights", &mut self.u.cum)?;
        fill_cum_weights(v_w, &self.v.items, "v_weights", &mut self.v.cum)?;
        Ok(())
    }

    /// Value-only walk with uniform weights, after [`SortedSide::sort_values`] on both sides.
    /// Equal sizes pair ranks straight from the sorted keys; otherwise the merge walk runs on
    /// the values.
    fn walk_uniform(&mut self) -> f64 {
        let (m, n) = (self.u.keys.len(), self.v.keys.len());
        if m == n {
            return sum_abs_diff(&self.u.keys, &self.v.keys, |k| T::from_key(k).to_f64())
                / n as f64;
        }
        self.u.values_from_keys();
        self.v.values_from_keys();
        let total = m as f64 * n as f64;
        merge_walk::<T, _, _>(
            &self.u.sorted,
            &self.v.sorted,
            &Uniform(n as f64),
            &Uniform(m as f64),
            total,
            None,
        ) / total
    }
}

#[inline(always)]
fn sign(d: f64) -> f64 {
    if d > 0.0 {
        1.0
    } else if d < 0.0 {
        -1.0
    } else {
        0.0
    }
}

fn check_sorted<T: EmdScalar>(x: &[T], what: &'static str) -> Result<(), KernelError> {
    check_finite(x, what)?;
    if let Some(i) = x.windows(2).position(|w| w[0] > w[1]) {
        return Err(KernelError::DimensionMismatch {
            what,
            expected: "values sorted ascending".into(),
            got: format!("{:?} > {:?} at index {}", x[i], x[i + 1], i),
        });
    }
    Ok(())
}

/// `x` sorted ascending, after checking it is non-empty and finite (for the constant side of
/// [`Wasserstein1d::distance_grad_presorted_acc`]).
pub fn sort_samples<T: EmdScalar>(x: &[T]) -> Result<Vec<T>, KernelError> {
    check_nonempty(x.len(), "samples")?;
    let mut keys = Vec::new();
    let range = fill_keys(x, "samples", &mut keys)?;
    radix_sort(&mut keys, &mut Vec::new(), range);
    Ok(keys.into_iter().map(T::from_key).collect())
}

/// W1 between the empirical distributions of `u` and `v` (uniform weights), exactly
/// `scipy.stats.wasserstein_distance(u, v)`. NaN on bad input (see [`try_wasserstein_1d`]).
pub fn wasserstein_1d<T: EmdScalar>(u: &[T], v: &[T]) -> T {
    try_wasserstein_1d(u, v).unwrap_or(T::NAN)
}

/// [`wasserstein_1d`] with a typed error for empty or non-finite samples.
pub fn try_wasserstein_1d<T: EmdScalar>(u: &[T], v: &[T]) -> Result<T, KernelError> {
    Wasserstein1d::new().distance(u, v)
}

/// Weighted W1 (weights need not be normalized), exactly
/// `scipy.stats.wasserstein_distance(u, v, u_w, v_w)`. NaN on bad input.
pub fn wasserstein_1d_weighted<T: EmdScalar>(u: &[T], u_w: &[T], v: &[T], v_w: &[T]) -> T {
    try_wasserstein_1d_weighted(u, u_w, v, v_w).unwrap_or(T::NAN)
}

/// [`wasserstein_1d_weighted`] with a typed error for empty or non-finite samples, weights
/// that are negative, non-finite or all zero, and length mismatches.
pub fn try_wasserstein_1d_weighted<T: EmdScalar>(
    u: &[T],
    u_w: &[T],
    v: &[T],
    v_w: &[T],
) -> Result<T, KernelError> {
    Wasserstein1d::new().distance_weighted(u, u_w, v, v_w)
}

/// W1 (uniform weights) and its subgradient with respect to every sample value (module docs),
/// written into `grad_u` and `grad_v`. On bad input returns NaN and fills both (where their
/// lengths allow) with NaN.
pub fn wasserstein_1d_grad<T: EmdScalar>(
    u: &[T],
    v: &[T],
    grad_u: &mut [T],
    grad_v: &mut [T],
) -> T {
    match try_wasserstein_1d_grad(u, v, grad_u, grad_v) {
        Ok(d) => d,
        Err(_) => {
            grad_u.fill(T::NAN);
            grad_v.fill(T::NAN);
            T::NAN
        }
    }
}

/// [`wasserstein_1d_grad`] with a typed error.
pub fn try_wasserstein_1d_grad<T: EmdScalar>(
    u: &[T],
    v: &[T],
    grad_u: &mut [T],
    grad_v: &mut [T],
) -> Result<T, KernelError> {
    Wasserstein1d::new().distance_grad(u, v, grad_u, grad_v)
}

/// Weighted W1 and its subgradient with respect to the sample values. NaN (and NaN gradients)
/// on bad input.
pub fn wasserstein_1d_grad_weighted<T: EmdScalar>(
    u: &[T],
    u_w: &[T],
    v: &[T],
    v_w: &[T],
    grad_u: &mut [T],
    grad_v: &mut [T],
) -> T {
    match try_wasserstein_1d_grad_weighted(u, u_w, v, v_w, grad_u, grad_v) {
        Ok(d) => d,
        Err(_) => {
            grad_u.fill(T::NAN);
            grad_v.fill(T::NAN);
            T::NAN
        }
    }
}

/// [`wasserstein_1d_grad_weighted`] with a typed error.
pub fn try_wasserstein_1d_grad_weighted<T: EmdScalar>(
    u: &[T],
    u_w: &[T],
    v: &[T],
    v_w: &[T],
    grad_u: &mut [T],
    grad_v: &mut [T],
) -> Result<T, KernelError> {
    Wasserstein1d::new().distance_grad_weighted(u, u_w, v, v_w, grad_u, grad_v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_preserve_order_and_round_trip() {
        let xs = [-f64::MAX, -3.5, -1e-300, -0.0, 0.0, 1e-300, 2.0, f64::MAX];
        for w in xs.windows(2) {
            assert!(w[0].to_key() < w[1].to_key(), "{w:?}");
        }
        for &x in &xs {
            assert_eq!(f64::from_key(x.to_key()).to_bits(), x.to_bits());
            assert_eq!(
                f32::from_key((x as f32).to_key()).to_bits(),
                (x as f32).to_bits()
            );
        }
    }

    #[test]
    fn radix_sort_matches_comparison_sort() {
        let mut s = 0x9E3779B97F4A7C15u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        // Wide-range values of both signs; a few distinct values (deep ties, digits skipped);
        // one outlier among equal values (a lopsided first split); normal-like magnitudes.
        let shapes: [fn(u64) -> f64; 4] = [
            |r| (r as i64) as f64 * 1e-15,
            |r| (r % 5) as f64 - 2.0,
            |r| if r % 997 == 0 { 1e300 } else { 0.25 },
            |r| ((r >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 3.0,
        ];
        for &n in &[0usize, 1, 7, SMALL_SORT, SMALL_SORT + 1, 5000, 70_000] {
            for shape in shapes {
                let xs: Vec<f64> = (0..n).map(|_| shape(next())).collect();
                let mut keys: Vec<u64> = xs.iter().map(|x| x.to_key()).collect();
                let range = KeyRange::of(&keys);
                radix_sort(&mut keys, &mut Vec::new(), range);
                let got: Vec<f64> = keys.into_iter().map(f64::from_key).collect();
                let mut want = xs.clone();
                want.sort_by(|a, b| a.partial_cmp(b).unwrap());
                assert_eq!(got, want, "n = {n}");

                // Keyed (argsort) is stable: equal keys keep index order; f32 keys too.
                let xf: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
                let mut items: Vec<Keyed<u32>> = xf
                    .iter()
                    .enumerate()
                    .map(|(i, x)| Keyed {
                        key: x.to_key(),
                        idx: i as u32,
                    })
                    .collect();
                let range = KeyRange::of(&items);
                radix_sort(&mut items, &mut Vec::new(), range);
                let mut want_idx: Vec<u32> = (0..n as u32).collect();
                want_idx.sort_by(|&a, &b| xf[a as usize].total_cmp(&xf[b as usize]));
                let got_idx: Vec<u32> = items.iter().map(|it| it.idx).collect();
                assert_eq!(got_idx, want_idx, "n = {n}");
            }
        }
    }
}
