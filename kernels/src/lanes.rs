//! One vector register as lanes of `f64` or `f32` ([`Lane`]), for each instruction set the
//! register-tile kernels are written for ([`Isa`]: AVX-512F, or AVX2 with FMA), and a
//! column-major matrix as a base pointer and column stride ([`Raw`]): what the tile kernels of
//! `lu/tiles.rs`, `gemm/tiles.rs` and `packed.rs` are written in, kept here so that no kernel
//! module depends on another for them. x86-64 only; every method needs its instruction set at run
//! time ([`crate::isa::tiles_isa`]).
//!
//! Lane masks are `u32` bit sets on both sets (AVX2 turns them into vector masks). Each lane
//! operation rounds as its scalar counterpart does, so a kernel written once performs the same
//! operations on each entry with either set; only the tiles' shapes differ ([`Isa`]'s constants).
use std::arch::x86_64::*;

/// An instruction set the tile kernels are written for, and the shapes of their tiles on it
/// (sized to its register file).
pub trait Isa: Copy + Send + Sync + 'static {
    /// Vectors of rows per GEMM tile (of 6 columns): 4 on AVX-512 (24 accumulators of 32
    /// registers), 2 on AVX2 (12 of 16).
    const GEMM_ROW_VECTORS: usize;
    /// Whether the LU's and the solve's tiles go up to 16 columns (AVX-512; 16 accumulators) or
    /// stop at 8 (AVX2).
    const LU_COLS_16: bool;
    /// Rows per tile of the packed f32 product (`crate::packed`): 8 on AVX-512, 6 on AVX2.
    const PACKED_ROWS: usize;
    /// Columns per tile of the packed f32 product: a whole 48-column panel on AVX-512 (three
    /// vectors: 24 accumulators), 16 on AVX2 (two vectors: 12).
    const PACKED_COLS: usize;
}

/// AVX-512F.
#[derive(Clone, Copy, Debug)]
pub struct Avx512;
/// AVX2 with FMA.
#[derive(Clone, Copy, Debug)]
pub struct Avx2;

impl Isa for Avx512 {
    const GEMM_ROW_VECTORS: usize = 4;
    const LU_COLS_16: bool = true;
    const PACKED_ROWS: usize = 8;
    const PACKED_COLS: usize = 48;
}

impl Isa for Avx2 {
    const GEMM_ROW_VECTORS: usize = 2;
    const LU_COLS_16: bool = false;
    const PACKED_ROWS: usize = 6;
    const PACKED_COLS: usize = 16;
}

/// One register of `Self` on the instruction set `I` and the lane operations the tiles need.
///
/// # Safety
/// Every method must only be called on a CPU with `I`'s instruction set
/// ([`crate::isa::tiles_isa`]); pointer arguments must be valid for the lanes the mask selects.
pub unsafe trait Lane<I: Isa>:
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
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// Every lane set to lane `k` of `v`.
    unsafe fn lane(v: Self::V, k: usize) -> Self::V;
    /// `|x|` of the lanes in `m` loaded from `p` (0 elsewhere), and the mask of those lanes
    /// in `m` that are not NaN.
    unsafe fn load_abs(m: u32, p: *const Self) -> (Self::V, u32);
    /// `max(a, b)` in the lanes of `k`, `src` in the others (neither `a` nor `b` NaN there).
    unsafe fn mask_max(src: Self::V, k: u32, a: Self::V, b: Self::V) -> Self::V;
    /// The largest lane (none NaN).
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

/// The scalar half of [`Lane`], the same for f64 and f32 on every instruction set.
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

unsafe impl Lane<Avx512> for f64 {
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
    unsafe fn add(a: __m512d, b: __m512d) -> __m512d {
        _mm512_add_pd(a, b)
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

unsafe impl Lane<Avx512> for f32 {
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
    unsafe fn add(a: __m512, b: __m512) -> __m512 {
        _mm512_add_ps(a, b)
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

/// The AVX2 vector mask (all ones in a lane of `m`, zeros elsewhere) of the 64-bit lanes of `m`.
#[inline(always)]
unsafe fn mask_pd(m: u32) -> __m256i {
    let bits = _mm256_setr_epi64x(1, 2, 4, 8);
    _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_set1_epi64x(m as i64), bits), bits)
}

/// The AVX2 vector mask of the 32-bit lanes of `m`.
#[inline(always)]
unsafe fn mask_ps(m: u32) -> __m256i {
    let bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(m as i32), bits), bits)
}

unsafe impl Lane<Avx2> for f64 {
    type V = __m256d;
    const W: usize = 4;
    #[inline(always)]
    unsafe fn load(m: u32, p: *const f64) -> __m256d {
        if m & 0xf == 0xf {
            _mm256_loadu_pd(p)
        } else {
            _mm256_maskload_pd(p, mask_pd(m))
        }
    }
    #[inline(always)]
    unsafe fn store(m: u32, p: *mut f64, v: __m256d) {
        if m & 0xf == 0xf {
            _mm256_storeu_pd(p, v)
        } else {
            _mm256_maskstore_pd(p, mask_pd(m), v)
        }
    }
    #[inline(always)]
    unsafe fn splat(x: f64) -> __m256d {
        _mm256_set1_pd(x)
    }
    #[inline(always)]
    unsafe fn fnmadd(a: __m256d, b: __m256d, c: __m256d) -> __m256d {
        _mm256_fnmadd_pd(a, b, c)
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m256d, b: __m256d, c: __m256d) -> __m256d {
        _mm256_fmadd_pd(a, b, c)
    }
    #[inline(always)]
    unsafe fn mul(a: __m256d, b: __m256d) -> __m256d {
        _mm256_mul_pd(a, b)
    }
    #[inline(always)]
    unsafe fn add(a: __m256d, b: __m256d) -> __m256d {
        _mm256_add_pd(a, b)
    }
    #[inline(always)]
    unsafe fn lane(v: __m256d, k: usize) -> __m256d {
        // Lane k of four doubles is the floats 2k, 2k + 1.
        let idx = _mm256_set1_epi64x((((2 * k + 1) as i64) << 32) | (2 * k) as i64);
        _mm256_castps_pd(_mm256_permutevar8x32_ps(_mm256_castpd_ps(v), idx))
    }
    #[inline(always)]
    unsafe fn load_abs(m: u32, p: *const f64) -> (__m256d, u32) {
        let v = _mm256_andnot_pd(_mm256_set1_pd(-0.0), <Self as Lane<Avx2>>::load(m, p));
        let ord = _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_ORD_Q>(v, v)) as u32;
        (v, ord & m & 0xf)
    }
    #[inline(always)]
    unsafe fn mask_max(src: __m256d, k: u32, a: __m256d, b: __m256d) -> __m256d {
        _mm256_blendv_pd(src, _mm256_max_pd(a, b), _mm256_castsi256_pd(mask_pd(k)))
    }
    #[inline(always)]
    unsafe fn reduce_max(v: __m256d) -> f64 {
        let h = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd::<1>(v));
        _mm_cvtsd_f64(_mm_max_pd(h, _mm_unpackhi_pd(h, h)))
    }
    #[inline(always)]
    unsafe fn eq_mask(m: u32, a: __m256d, b: __m256d) -> u32 {
        _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_EQ_OQ>(a, b)) as u32 & m & 0xf
    }
    scalar_ops!(f64);
}

unsafe impl Lane<Avx2> for f32 {
    type V = __m256;
    const W: usize = 8;
    #[inline(always)]
    unsafe fn load(m: u32, p: *const f32) -> __m256 {
        if m & 0xff == 0xff {
            _mm256_loadu_ps(p)
        } else {
            _mm256_maskload_ps(p, mask_ps(m))
        }
    }
    #[inline(always)]
    unsafe fn store(m: u32, p: *mut f32, v: __m256) {
        if m & 0xff == 0xff {
            _mm256_storeu_ps(p, v)
        } else {
            _mm256_maskstore_ps(p, mask_ps(m), v)
        }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m256 {
        _mm256_set1_ps(x)
    }
    #[inline(always)]
    unsafe fn fnmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
        _mm256_fnmadd_ps(a, b, c)
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
        _mm256_fmadd_ps(a, b, c)
    }
    #[inline(always)]
    unsafe fn mul(a: __m256, b: __m256) -> __m256 {
        _mm256_mul_ps(a, b)
    }
    #[inline(always)]
    unsafe fn add(a: __m256, b: __m256) -> __m256 {
        _mm256_add_ps(a, b)
    }
    #[inline(always)]
    unsafe fn lane(v: __m256, k: usize) -> __m256 {
        _mm256_permutevar8x32_ps(v, _mm256_set1_epi32(k as i32))
    }
    #[inline(always)]
    unsafe fn load_abs(m: u32, p: *const f32) -> (__m256, u32) {
        let v = _mm256_andnot_ps(_mm256_set1_ps(-0.0), <Self as Lane<Avx2>>::load(m, p));
        let ord = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_ORD_Q>(v, v)) as u32;
        (v, ord & m & 0xff)
    }
    #[inline(always)]
    unsafe fn mask_max(src: __m256, k: u32, a: __m256, b: __m256) -> __m256 {
        _mm256_blendv_ps(src, _mm256_max_ps(a, b), _mm256_castsi256_ps(mask_ps(k)))
    }
    #[inline(always)]
    unsafe fn reduce_max(v: __m256) -> f32 {
        let h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        _mm_cvtss_f32(_mm_max_ss(h, _mm_shuffle_ps::<1>(h, h)))
    }
    #[inline(always)]
    unsafe fn eq_mask(m: u32, a: __m256, b: __m256) -> u32 {
        _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(a, b)) as u32 & m & 0xff
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
