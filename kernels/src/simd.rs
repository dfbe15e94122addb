//! Module `simd`: not implemented yet.

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
