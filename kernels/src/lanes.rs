//! One AVX-512 register as lanes of `f64` or `f32` ([`Lane`]) and a column-major matrix as a
//! base pointer and column stride ([`Raw`]): what the register-tile kernels of
//! `lu/avx512.rs` and `gemm/avx512.rs` are written in, kept here so that neither kernel
//! module depends on the other for them. x86-64 only; every method needs AVX-512F at run
//! time ([`crate::simd::has_avx512f`]).
use std::arch::x86_64::*;

/// One AVX-512 register of `Self` and the lane operations the tiles need.
///
/// # Safety
/// Every method must only be called on a CPU with AVX-512F ([`crate::simd::has_avx512f`]);
/// pointer arguments must be valid for the lanes the mask selects.
pub unsafe trait Lane:
    Copy + PartialOrd + std::ops::Neg<Output = Self> + Send + Sync + 'static
{
    type V: Copy;
    /// Lanes per register.
    const W: usize;
    /// The mask of lanes `[lo, hi)` (as a `u32`; narrowed by the methods).
    #[inline(always)]
    fn mask(lo: usize, hi: usize) -> u32 {
        let hi = hi.min(Self::W) as u32;
        let lo = (lo as u32).min(hi);
        ((1u32 << hi) - 1) & !((1u32 << lo) - 1)
    }
    unsafe fn load(m: u32, p: *const Self) -> Self::V;
    unsafe fn store(m: u32, p: *mut Self, v: Self::V);
    unsafe fn splat(x: Self) -> Self::V;
    /// `c − a·b`, one rounding.
    unsafe fn fnmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a·b + c`, one rounding.
    unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// Every lane set to lane `k` of `v`.
    unsafe fn lane(v: Self::V, k: usize) -> Self::V;
    /// `|x|` of the lanes in `m` loaded from `p` (0 elsewhere), and the mask of those lanes
    /// in `m` that are not NaN.
    unsafe fn load_abs(m: u32, p: *const Self) -> (Self::V, u32);
    /// `max(a, b)` in the lanes of `k`, `src` in the others.
    unsafe fn mask_max(src: Self::V, k: u32, a: Self::V, b: Self::V) -> Self::V;
    /// The largest lane.
    unsafe fn reduce_max(v: Self::V) -> Self;
    /// The lanes in `m` where `a == b`.
    unsafe fn eq_mask(m: u32, a: Self::V, b: Self::V) -> u32;
    fn abs(self) -> Self;
    fn zero() -> Self;
    fn one() -> Self;
    fn div(self, d: Self) -> Self;
    fn is_zero(self) -> bool;
    /// `|self|` is at least the smallest positive normal number (its reciprocal is finite).
    fn is_normal_size(self) -> bool;
    fn is_nan(self) -> bool;
}

/// The scalar half of [`Lane`], the same for f64 and f32.
macro_rules! scalar_ops {
    ($t:ty) => {
        #[inline(always)]
        fn abs(self) -> $t {
            <$t>::abs(self)
        }
        #[inline(always)]
        fn zero() -> $t {
            0.0
        }
        #[inline(always)]
        fn one() -> $t {
            1.0
        }
        #[inline(always)]
        fn div(self, d: $t) -> $t {
            self / d
        }
        #[inline(always)]
        fn is_zero(self) -> bool {
            self == 0.0
        }
        #[inline(always)]
        fn is_normal_size(self) -> bool {
            self.abs() >= <$t>::MIN_POSITIVE
        }
        #[inline(always)]
        fn is_nan(self) -> bool {
            <$t>::is_nan(self)
        }
    };
}

unsafe impl Lane for f64 {
    type V = __m512d;
    const W: usize = 8;
    #[inline(always)]
    unsafe fn load(m: u32, p: *const f64) -> __m512d {
        _mm512_maskz_loadu_pd(m as __mmask8, p)
    }
    #[inline(always)]
    unsafe fn store(m: u32, p: *mut f64, v: __m512d) {
        _mm512_mask_storeu_pd(p, m as __mmask8, v)
    }
    #[inline(always)]
    unsafe fn splat(x: f64) -> __m512d {
        _mm512_set1_pd(x)
    }
    #[inline(always)]
    unsafe fn fnmadd(a: __m512d, b: __m512d, c: __m512d) -> __m512d {
        _mm512_fnmadd_pd(a, b, c)
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m512d, b: __m512d, c: __m512d) -> __m512d {
        _mm512_fmadd_pd(a, b, c)
    }
    #[inline(always)]
    unsafe fn mul(a: __m512d, b: __m512d) -> __m512d {
        _mm512_mul_pd(a, b)
    }
    #[inline(always)]
    unsafe fn lane(v: __m512d, k: usize) -> __m512d {
        _mm512_permutexvar_pd(_mm512_set1_epi64(k as i64), v)
    }
    #[inline(always)]
    unsafe fn load_abs(m: u32, p: *const f64) -> (__m512d, u32) {
        let v = _mm512_abs_pd(_mm512_maskz_loadu_pd(m as __mmask8, p));
        (
            v,
            _mm512_mask_cmp_pd_mask::<_CMP_ORD_Q>(m as __mmask8, v, v) as u32,
        )
    }
    #[inline(always)]
    unsafe fn mask_max(src: __m512d, k: u32, a: __m512d, b: __m512d) -> __m512d {
        _mm512_mask_max_pd(src, k as __mmask8, a, b)
    }
    #[inline(always)]
    unsafe fn reduce_max(v: __m512d) -> f64 {
        _mm512_reduce_max_pd(v)
    }
    #[inline(always)]
    unsafe fn eq_mask(m: u32, a: __m512d, b: __m512d) -> u32 {
        _mm512_mask_cmp_pd_mask::<_CMP_EQ_OQ>(m as __mmask8, a, b) as u32
    }
    scalar_ops!(f64);
}

unsafe impl Lane for f32 {
    type V = __m512;
    const W: usize = 16;
    #[inline(always)]
    unsafe fn load(m: u32, p: *const f32) -> __m512 {
        _mm512_maskz_loadu_ps(m as __mmask16, p)
    }
    #[inline(always)]
    unsafe fn store(m: u32, p: *mut f32, v: __m512) {
        _mm512_mask_storeu_ps(p, m as __mmask16, v)
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m512 {
        _mm512_set1_ps(x)
    }
    #[inline(always)]
    unsafe fn fnmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
        _mm512_fnmadd_ps(a, b, c)
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
        _mm512_fmadd_ps(a, b, c)
    }
    #[inline(always)]
    unsafe fn mul(a: __m512, b: __m512) -> __m512 {
        _mm512_mul_ps(a, b)
    }
    #[inline(always)]
    unsafe fn lane(v: __m512, k: usize) -> __m512 {
        _mm512_permutexvar_ps(_mm512_set1_epi32(k as i32), v)
    }
    #[inline(always)]
    unsafe fn load_abs(m: u32, p: *const f32) -> (__m512, u32) {
        let v = _mm512_abs_ps(_mm512_maskz_loadu_ps(m as __mmask16, p));
        (
            v,
            _mm512_mask_cmp_ps_mask::<_CMP_ORD_Q>(m as __mmask16, v, v) as u32,
        )
    }
    #[inline(always)]
    unsafe fn mask_max(src: __m512, k: u32, a: __m512, b: __m512) -> __m512 {
        _mm512_mask_max_ps(src, k as __mmask16, a, b)
    }
    #[inline(always)]
    unsafe fn reduce_max(v: __m512) -> f32 {
        _mm512_reduce_max_ps(v)
    }
    #[inline(always)]
    unsafe fn eq_mask(m: u32, a: __m512, b: __m512) -> u32 {
        _mm512_mask_cmp_ps_mask::<_CMP_EQ_OQ>(m as __mmask16, a, b) as u32
    }
    scalar_ops!(f32);
}

/// A column-major matrix: base pointer and column stride (rows are contiguous).
#[derive(Clone, Copy)]
pub struct Raw<T> {
    pub ptr: *mut T,
    pub ld: usize,
}

impl<T> Raw<T> {
    /// The view at `ptr` with column stride `col_stride` (a faer view's, ≥ 0 for the layouts
    /// the tiles take).
    pub fn new(ptr: *mut T, col_stride: isize) -> Self {
        Raw {
            ptr,
            ld: col_stride.max(0) as usize,
        }
    }

    #[inline(always)]
    pub(crate) unsafe fn at(self, i: usize, j: usize) -> *mut T {
        self.ptr.add(i + j * self.ld)
    }

    /// The view whose entry (0, 0) is this one's (i, j).
    #[inline(always)]
    pub(crate) unsafe fn offset(self, i: usize, j: usize) -> Self {
        let ld = self.ld;
        Raw {
            ptr: self.at(i, j),
            ld,
        }
    }
}
