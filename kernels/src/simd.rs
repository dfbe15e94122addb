//! pulp-dispatched element-wise loops.
//!
//! The RNN's element-wise passes (bias + activation after each step's GEMM, the activation
//! derivative times the incoming gradient in BPTT, the bias gradient's column sums) are
//! memory-bound and cheap next to the GEMMs — unless the activation is a scalar libm `tanh`
//! call per element, which at n = 512, B = 128, T = 100 would cost as much as the products.
//! So the f32 path evaluates tanh as a vectorized rational approximation and every loop runs
//! on the widest SIMD pulp is built for that the CPU offers: AVX2+FMA by default, AVX-512 when
//! the crate's `avx512` feature (pulp's `x86-v4`) is on.
//!
//! The f64 twin exists for the finite-difference checks of the RNN kernels; it uses plain
//! loops and libm `tanh`, because its accuracy matters there and its speed does not.
use crate::rnn::Activation;
use pulp::{Arch, Simd, WithSimd};

mod sealed_act {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// Element types with element-wise RNN loops: `f32` (SIMD) and `f64` (plain loops).
pub trait ActScalar: Copy + Send + Sync + 'static + sealed_act::Sealed {
    /// Every row `r` of `z` (`[rows, bias.len()]`): `z[r] ← act(z[r] + bias)`.
    fn bias_act_rows(act: Activation, bias: &[Self], z: &mut [Self]);
    /// `g[i] ← g[i] · act'(·)` where the derivative is expressed through the activation's
    /// *output* `h[i]` (relu: `h > 0`; tanh: `1 − h²`), so the forward pass stores no
    /// pre-activations.
    fn act_grad_mul(act: Activation, h: &[Self], g: &mut [Self]);
    /// `out[j] += Σ_r x[r, j]` for `x` of shape `[rows, out.len()]`.
    fn add_col_sums(x: &[Self], out: &mut [Self]);
}

/// `z[r] ← act(z[r] + bias)` for every row `r` of `z` (`[rows, bias.len()]`).
///
/// # Panics
/// If `z.len()` is not a multiple of `bias.len()` (an empty `bias` needs an empty `z`).
pub fn bias_act_rows<T: ActScalar>(act: Activation, bias: &[T], z: &mut [T]) {
    check_rows("bias_act_rows", "z", z.len(), bias.len());
    T::bias_act_rows(act, bias, z)
}

/// `g ← g ⊙ act'(h)`, the derivative taken through the activation's output `h`.
///
/// # Panics
/// If `h` and `g` differ in length.
pub fn act_grad_mul<T: ActScalar>(act: Activation, h: &[T], g: &mut [T]) {
    assert!(
        h.len() == g.len(),
        "act_grad_mul: h has length {} but g has length {}",
        h.len(),
        g.len()
    );
    T::act_grad_mul(act, h, g)
}

/// `out[j] += Σ_r x[r, j]` for `x` of shape `[rows, out.len()]`.
///
/// # Panics
/// If `x.len()` is not a multiple of `out.len()`.
pub fn add_col_sums<T: ActScalar>(x: &[T], out: &mut [T]) {
    check_rows("add_col_sums", "x", x.len(), out.len());
    T::add_col_sums(x, out)
}

fn check_rows(func: &str, what: &str, len: usize, cols: usize) {
    let ok = if cols == 0 {
        len == 0
    } else {
        len.is_multiple_of(cols)
    };
    assert!(
        ok,
        "{func}: {what} has length {len}, not a multiple of the row length {cols}"
    );
}

// Rational minimax approximation of tanh on [-7.9053, 7.9053] (Eigen's `ptanh_float`,
// numerator of degree 13, denominator of degree 6). Beyond the clamp tanh rounds to ±1 in f32;
// the error inside is a few ulp, far below what training can see.
const TANH_CLAMP: f32 = 7.905_311;
const TANH_A: [f32; 7] = [
    4.893_524_6e-3,
    6.372_619_3e-4,
    1.485_722_4e-5,
    5.122_297e-8,
    -8.604_672e-11,
    2.000_188e-13,
    -2.760_768_5e-16,
];
const TANH_B: [f32; 4] = [4.893_525e-3, 2.268_434_6e-3, 1.185_347_1e-4, 1.198_258_4e-6];

#[inline(always)]
fn tanh_f32s<S: Simd>(simd: S, x: S::f32s) -> S::f32s {
    // Operand order keeps NaN: x86 max/min return their *second* operand when either is NaN.
    let x = simd.max_f32s(simd.splat_f32s(-TANH_CLAMP), x);
    let x = simd.min_f32s(simd.splat_f32s(TANH_CLAMP), x);
    let x2 = simd.mul_f32s(x, x);
    let mut p = simd.splat_f32s(TANH_A[6]);
    for &a in TANH_A[..6].iter().rev() {
        p = simd.mul_add_f32s(p, x2, simd.splat_f32s(a));
    }
    p = simd.mul_f32s(p, x);
    let mut q = simd.splat_f32s(TANH_B[3]);
    for &b in TANH_B[..3].iter().rev() {
        q = simd.mul_add_f32s(q, x2, simd.splat_f32s(b));
    }
    simd.div_f32s(p, q)
}

#[inline(always)]
fn relu_f32s<S: Simd>(simd: S, x: S::f32s) -> S::f32s {
    // max(0, x) with x second, so NaN passes through instead of becoming 0.
    simd.max_f32s(simd.splat_f32s(0.0), x)
}

struct BiasAct<'a> {
    act: Activation,
    bias: &'a [f32],
    z: &'a mut [f32],
}

impl WithSimd for BiasAct<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Self { act, bias, z } = self;
        let n = bias.len();
        if n == 0 {
            return;
        }
        let (b_head, b_tail) = S::as_simd_f32s(bias);
        let b_tail = simd.partial_load_f32s(b_tail);
        // One loop per activation, so the choice is not re-made per element.
        macro_rules! rows {
            ($f:ident) => {
                for row in z.chunks_exact_mut(n) {
                    let (z_head, z_tail) = S::as_mut_simd_f32s(row);
                    for (zv, bv) in z_head.iter_mut().zip(b_head) {
                        *zv = $f(simd, simd.add_f32s(*zv, *bv));
                    }
                    if !z_tail.is_empty() {
                        let v = simd.add_f32s(simd.partial_load_f32s(z_tail), b_tail);
                        simd.partial_store_f32s(z_tail, $f(simd, v));
                    }
                }
            };
        }
        match act {
            Activation::Relu => rows!(relu_f32s),
            Activation::Tanh => rows!(tanh_f32s),
        }
    }
}

struct ActGradMul<'a> {
    act: Activation,
    h: &'a [f32],
    g: &'a mut [f32],
}

impl WithSimd for ActGradMul<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Self { act, h, g } = self;
        let (h_head, h_tail) = S::as_simd_f32s(h);
        let (g_head, g_tail) = S::as_mut_simd_f32s(g);
        let zero = simd.splat_f32s(0.0);
        let one = simd.splat_f32s(1.0);
        // relu' is taken as 0 at h = 0, as TensorFlow/Keras do.
        let relu =
            |hv: S::f32s, gv: S::f32s| simd.select_f32s(simd.greater_than_f32s(hv, zero), gv, zero);
        let tanh =
            |hv: S::f32s, gv: S::f32s| simd.mul_f32s(gv, simd.sub_f32s(one, simd.mul_f32s(hv, hv)));
        macro_rules! run {
            ($f:ident) => {{
                for (gv, hv) in g_head.iter_mut().zip(h_head) {
                    *gv = $f(*hv, *gv);
                }
                if !g_tail.is_empty() {
                    let v = $f(
                        simd.partial_load_f32s(h_tail),
                        simd.partial_load_f32s(g_tail),
                    );
                    simd.partial_store_f32s(g_tail, v);
                }
            }};
        }
        match act {
            Activation::Relu => run!(relu),
            Activation::Tanh => run!(tanh),
        }
    }
}

struct AddColSums<'a> {
    x: &'a [f32],
    out: &'a mut [f32],
}

impl WithSimd for AddColSums<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Self { x, out } = self;
        let n = out.len();
        if n == 0 {
            return;
        }
        let (o_head, o_tail) = S::as_mut_simd_f32s(out);
        let mut acc_tail = simd.partial_load_f32s(o_tail);
        for row in x.chunks_exact(n) {
            let (r_head, r_tail) = S::as_simd_f32s(row);
            for (ov, rv) in o_head.iter_mut().zip(r_head) {
                *ov = simd.add_f32s(*ov, *rv);
            }
            if !r_tail.is_empty() {
                acc_tail = simd.add_f32s(acc_tail, simd.partial_load_f32s(r_tail));
            }
        }
        simd.partial_store_f32s(o_tail, acc_tail);
    }
}

impl ActScalar for f32 {
    fn bias_act_rows(act: Activation, bias: &[f32], z: &mut [f32]) {
        Arch::new().dispatch(BiasAct { act, bias, z })
    }
    fn act_grad_mul(act: Activation, h: &[f32], g: &mut [f32]) {
        Arch::new().dispatch(ActGradMul { act, h, g })
    }
    fn add_col_sums(x: &[f32], out: &mut [f32]) {
        Arch::new().dispatch(AddColSums { x, out })
    }
}

impl ActScalar for f64 {
    fn bias_act_rows(act: Activation, bias: &[f64], z: &mut [f64]) {
        if bias.is_empty() {
            return;
        }
        for row in z.chunks_exact_mut(bias.len()) {
            for (v, &b) in row.iter_mut().zip(bias) {
                let s = *v + b;
                *v = match act {
                    // `if` rather than `max` so NaN passes through, as in the f32 path.
                    Activation::Relu => {
                        if s < 0.0 {
                            0.0
                        } else {
                            s
                        }
                    }
                    Activation::Tanh => s.tanh(),
                };
            }
        }
    }
    fn act_grad_mul(act: Activation, h: &[f64], g: &mut [f64]) {
        for (gv, &hv) in g.iter_mut().zip(h) {
            *gv = match act {
                Activation::Relu => {
                    if hv > 0.0 {
                        *gv
                    } else {
                        0.0
                    }
                }
                Activation::Tanh => *gv * (1.0 - hv * hv),
            };
        }
    }
    fn add_col_sums(x: &[f64], out: &mut [f64]) {
        if out.is_empty() {
            return;
        }
        for row in x.chunks_exact(out.len()) {
            for (o, &v) in out.iter_mut().zip(row) {
                *o += v;
            }
        }
    }
}

// ---- masked sums (reg) ----
//
// The regularizers' element-wise passes over one contiguous column of W (and of D, C and the
// gradient): the penalty value and the direct part of its subgradient in a single read of each
// operand. The sums return f64 although each lane accumulates in the element type: a column is
// at most a few hundred elements split over 8–16 lanes, and the columns' partial sums are then
// added in f64 by the caller, which keeps f32 totals of N² ≈ 4·10⁵ terms accurate.
pub use masked_sums::MaskedSum;

mod masked_sums {
    use pulp::{Arch, Simd, WithSimd};

    mod sealed {
        pub trait Sealed {}
        impl Sealed for f32 {}
        impl Sealed for f64 {}
    }

    /// Element types of the regularizers' SIMD loops (`f32`, `f64`). Every function returns the
    /// value term and *adds* λ·(factor)·sign(w) to `g`, with sign(0) = 0 (the subgradient of
    /// |w| at 0 chosen by the regularizers). Slices must have equal lengths (checked by the
    /// callers in `reg`; extra elements of a longer slice are ignored).
    pub trait MaskedSum: Copy + Send + Sync + 'static + sealed::Sealed {
        /// Σ|w_i|; g_i += λ·sign(w_i).
        fn abs_sum_acc(lambda: Self, w: &[Self], g: &mut [Self]) -> f64;
        /// Σ|w_i|·d_i; g_i += λ·d_i·sign(w_i).
        fn abs_dot_acc(lambda: Self, w: &[Self], d: &[Self], g: &mut [Self]) -> f64;
        /// Σ|w_i|·d_i·c_i; g_i += λ·d_i·c_i·sign(w_i).
        fn abs_dot2_acc(lambda: Self, w: &[Self], d: &[Self], c: &[Self], g: &mut [Self]) -> f64;
    }

    macro_rules! masked_sum_impl {
        ($t:ty, $as_simd:ident, $as_mut_simd:ident, $splat:ident, $add:ident, $sub:ident,
         $mul:ident, $abs:ident, $fma:ident, $gt:ident, $lt:ident, $select:ident, $reduce:ident) => {
            impl MaskedSum for $t {
                #[inline]
                fn abs_sum_acc(lambda: $t, w: &[$t], g: &mut [$t]) -> f64 {
                    struct K<'a>($t, &'a [$t], &'a mut [$t]);
                    impl WithSimd for K<'_> {
                        type Output = f64;
                        #[inline(always)]
                        fn with_simd<S: Simd>(self, s: S) -> f64 {
                            let K(lambda, w, g) = self;
                            let n = w.len().min(g.len());
                            let (w, g) = (&w[..n], &mut g[..n]);
                            let (wh, wt) = S::$as_simd(w);
                            let (gh, gt) = S::$as_mut_simd(g);
                            let (lam, neg, zero) =
                                (s.$splat(lambda), s.$splat(-lambda), s.$splat(0.0));
                            let mut acc = zero;
                            for (&x, y) in wh.iter().zip(gh.iter_mut()) {
                                acc = s.$add(acc, s.$abs(x));
                                let sg = s.$select(
                                    s.$gt(x, zero),
                                    lam,
                                    s.$select(s.$lt(x, zero), neg, zero),
                                );
                                *y = s.$add(*y, sg);
                            }
                            let mut tail = 0.0 as $t;
                            for (&x, y) in wt.iter().zip(gt.iter_mut()) {
                                tail += x.abs();
                                *y += sgn(x) * lambda;
                            }
                            s.$reduce(acc) as f64 + tail as f64
                        }
                    }
                    Arch::new().dispatch(K(lambda, w, g))
                }

                #[inline]
                fn abs_dot_acc(lambda: $t, w: &[$t], d: &[$t], g: &mut [$t]) -> f64 {
                    struct K<'a>($t, &'a [$t], &'a [$t], &'a mut [$t]);
                    impl WithSimd for K<'_> {
                        type Output = f64;
                        #[inline(always)]
                        fn with_simd<S: Simd>(self, s: S) -> f64 {
                            let K(lambda, w, d, g) = self;
                            let n = w.len().min(d.len()).min(g.len());
                            let (w, d, g) = (&w[..n], &d[..n], &mut g[..n]);
                            let (wh, wt) = S::$as_simd(w);
                            let (dh, dt) = S::$as_simd(d);
                            let (gh, gt) = S::$as_mut_simd(g);
                            let (lam, zero) = (s.$splat(lambda), s.$splat(0.0));
                            let mut acc = zero;
                            for ((&x, &dd), y) in wh.iter().zip(dh).zip(gh.iter_mut()) {
                                acc = s.$fma(s.$abs(x), dd, acc);
                                let ld = s.$mul(lam, dd);
                                let sg = s.$sub(
                                    s.$select(s.$gt(x, zero), ld, zero),
                                    s.$select(s.$lt(x, zero), ld, zero),
                                );
                                *y = s.$add(*y, sg);
                            }
                            let mut tail = 0.0 as $t;
                            for ((&x, &dd), y) in wt.iter().zip(dt).zip(gt.iter_mut()) {
                                tail += x.abs() * dd;
                                *y += sgn(x) * lambda * dd;
                            }
                            s.$reduce(acc) as f64 + tail as f64
                        }
                    }
                    Arch::new().dispatch(K(lambda, w, d, g))
                }

                #[inline]
                fn abs_dot2_acc(lambda: $t, w: &[$t], d: &[$t], c: &[$t], g: &mut [$t]) -> f64 {
                    struct K<'a>($t, &'a [$t], &'a [$t], &'a [$t], &'a mut [$t]);
                    impl WithSimd for K<'_> {
                        type Output = f64;
                        #[inline(always)]
                        fn with_simd<S: Simd>(self, s: S) -> f64 {
                            let K(lambda, w, d, c, g) = self;
                            let n = w.len().min(d.len()).min(c.len()).min(g.len());
                            let (w, d, c, g) = (&w[..n], &d[..n], &c[..n], &mut g[..n]);
                            let (wh, wt) = S::$as_simd(w);
                            let (dh, dt) = S::$as_simd(d);
                            let (ch, ct) = S::$as_simd(c);
                            let (gh, gt) = S::$as_mut_simd(g);
                            let (lam, zero) = (s.$splat(lambda), s.$splat(0.0));
                            let mut acc = zero;
                            for (((&x, &dd), &cc), y) in
                                wh.iter().zip(dh).zip(ch).zip(gh.iter_mut())
                            {
                                let dc = s.$mul(dd, cc);
                                acc = s.$fma(s.$abs(x), dc, acc);
                                let ldc = s.$mul(lam, dc);
                                let sg = s.$sub(
                                    s.$select(s.$gt(x, zero), ldc, zero),
                                    s.$select(s.$lt(x, zero), ldc, zero),
                                );
                                *y = s.$add(*y, sg);
                            }
                            let mut tail = 0.0 as $t;
                            for (((&x, &dd), &cc), y) in
                                wt.iter().zip(dt).zip(ct).zip(gt.iter_mut())
                            {
                                tail += x.abs() * (dd * cc);
                                *y += sgn(x) * (lambda * (dd * cc));
                            }
                            s.$reduce(acc) as f64 + tail as f64
                        }
                    }
                    Arch::new().dispatch(K(lambda, w, d, c, g))
                }
            }
        };
    }

    /// sign(x) with sign(0) = 0, exactly as the vector lanes compute it (NaN also gives 0 there;
    /// the NaN then shows in the returned value instead).
    #[inline(always)]
    fn sgn<T: Into<f64> + Copy + FromF64>(x: T) -> T {
        let v: f64 = x.into();
        T::from_f64((v > 0.0) as u8 as f64 - (v < 0.0) as u8 as f64)
    }

    trait FromF64 {
        fn from_f64(x: f64) -> Self;
    }
    impl FromF64 for f32 {
        #[inline(always)]
        fn from_f64(x: f64) -> Self {
            x as f32
        }
    }
    impl FromF64 for f64 {
        #[inline(always)]
        fn from_f64(x: f64) -> Self {
            x
        }
    }

    masked_sum_impl!(
        f32,
        as_simd_f32s,
        as_mut_simd_f32s,
        splat_f32s,
        add_f32s,
        sub_f32s,
        mul_f32s,
        abs_f32s,
        mul_add_f32s,
        greater_than_f32s,
        less_than_f32s,
        select_f32s,
        reduce_sum_f32s
    );
    masked_sum_impl!(
        f64,
        as_simd_f64s,
        as_mut_simd_f64s,
        splat_f64s,
        add_f64s,
        sub_f64s,
        mul_f64s,
        abs_f64s,
        mul_add_f64s,
        greater_than_f64s,
        less_than_f64s,
        select_f64s,
        reduce_sum_f64s
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tanh_f32_is_within_a_few_ulp_of_libm() {
        // Dense grid over the clamp range and beyond, both signs, plus the tiny-argument region
        // where a relative error would show.
        let mut xs: Vec<f32> = (-12_000..=12_000).map(|i| i as f32 * 1e-3).collect();
        xs.extend((1..200).map(|i| 1e-6 * i as f32));
        xs.extend((1..200).map(|i| -1e-6 * i as f32));
        let mut z = xs.clone();
        bias_act_rows(Activation::Tanh, &[0.0f32; 1], &mut z);
        for (&x, &t) in xs.iter().zip(&z) {
            let exact = (x as f64).tanh();
            let err = (t as f64 - exact).abs();
            // 4 ulp relative near 0, 2^-23 absolute elsewhere.
            let tol = (4.0 * f32::EPSILON as f64 * exact.abs()).max(f32::EPSILON as f64 * 0.5);
            assert!(
                err <= tol,
                "tanh({x}) = {t}, libm {exact}, error {err:e} > {tol:e}"
            );
            assert!(t.abs() <= 1.0, "tanh({x}) = {t} leaves [-1, 1]");
        }
    }

    #[test]
    fn nan_passes_through_both_activations() {
        for act in [Activation::Relu, Activation::Tanh] {
            // 37 columns: both the SIMD body and the partial tail see the NaN.
            let mut z = vec![1.0f32; 37];
            z[3] = f32::NAN;
            z[36] = f32::NAN;
            bias_act_rows(act, &[0.5f32; 37], &mut z);
            assert!(
                z[3].is_nan() && z[36].is_nan(),
                "{act:?} swallowed NaN: {z:?}"
            );
            let mut z = vec![1.0f64; 3];
            z[1] = f64::NAN;
            bias_act_rows(act, &[0.0f64; 3], &mut z);
            assert!(z[1].is_nan(), "{act:?} f64 swallowed NaN");
        }
    }

    #[test]
    fn f32_loops_match_f64_loops_on_odd_lengths() {
        for n in [1usize, 7, 16, 33] {
            let rows = 5;
            let bias: Vec<f32> = (0..n).map(|j| (j as f32 * 0.37).sin()).collect();
            let z: Vec<f32> = (0..rows * n)
                .map(|i| (i as f32 * 0.91).cos() * 3.0)
                .collect();
            for act in [Activation::Relu, Activation::Tanh] {
                let mut a = z.clone();
                bias_act_rows(act, &bias, &mut a);
                let b64: Vec<f64> = bias.iter().map(|&v| v as f64).collect();
                let mut b: Vec<f64> = z.iter().map(|&v| v as f64).collect();
                bias_act_rows(act, &b64, &mut b);
                for (x, y) in a.iter().zip(&b) {
                    assert!((*x as f64 - y).abs() < 1e-6, "{act:?} n={n}: {x} vs {y}");
                }
                let mut g: Vec<f32> = (0..rows * n).map(|i| i as f32 - 7.5).collect();
                let mut g64: Vec<f64> = g.iter().map(|&v| v as f64).collect();
                act_grad_mul(act, &a, &mut g);
                let a64: Vec<f64> = a.iter().map(|&v| v as f64).collect();
                act_grad_mul(act, &a64, &mut g64);
                for (x, y) in g.iter().zip(&g64) {
                    assert!(
                        (*x as f64 - y).abs() < 1e-4 * y.abs().max(1.0),
                        "{act:?} grad n={n}: {x} vs {y}"
                    );
                }
            }
            let mut s = vec![1.0f32; n];
            add_col_sums(&z, &mut s);
            for (j, &v) in s.iter().enumerate() {
                let want: f64 = 1.0 + (0..rows).map(|r| z[r * n + j] as f64).sum::<f64>();
                assert!((v as f64 - want).abs() < 1e-5, "col sum {j}: {v} vs {want}");
            }
        }
    }
}
