//! Thin strided GEMM entry points over row-major flat slices.
//!
//! The RNN kernels keep their tensors as row-major flat slices (`[rows, cols]`, row stride =
//! `cols`), which is what callers hold and what makes "all steps at once" a plain reshape. faer
//! views describe such a slice, or its transpose, without copying, so every product the kernels
//! need is one call here.
//!
//! Why faer and not matrixmultiply: faer's x86 GEMM (private-gemm-x86) has AVX-512
//! micro-kernels picked at run time and takes its parallelism per call (`Par`), while
//! matrixmultiply 0.3 tops out at AVX2+FMA and sizes one global thread pool from
//! `MATMUL_NUM_THREADS`. Measured on the 2-core AVX-512 machine at the RNN's shapes
//! (`benches/rnn.rs`, group `gemm`), faer is ahead; [`sgemm_matrixmultiply`] stays so that the
//! bench can keep showing that comparison.
use crate::team;
use faer::traits::RealField;
use faer::{Accum, MatMut, MatRef, Par};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// Element types the GEMM entry points accept: `f32` (the training path) and `f64` (the twin
/// used for finite-difference checks).
pub trait GemmScalar: RealField + Copy + Send + Sync + sealed::Sealed {
    /// Largest dimension for which [`matmul_tiles`] uses the crate's register tiles: 96 in f64,
    /// 64 in f32. Measured on AVX-512 against faer's sequential product (square, 2026-12-03
    /// 22:20 UTC, best of 50-call batches, two runs): f64 n = 32 0.85–0.90 → 0.68–0.71 µs, 48
    /// 2.17–2.20 → 2.23, 64 5.52 → 5.19–5.21, 80 10.5–10.6 → 10.2–10.3, 96 17.7–17.9 →
    /// 17.2–17.3; at 128 and 256 even, at 512 twice as slow (no packing); f32 n = 32 0.56 → 0.37,
    /// 48 1.26 → 1.11, 64 2.64–2.85 → 2.58–2.59, 80 4.77–4.87 → 4.79–4.81, 96 8.13 → 8.14 (no
    /// gain above 64). The same limits hold on AVX2 + FMA (AMD EPYC Zen 3, a scratch program,
    /// best of 10-call batches over 0.5 s, 2026-12-04 17:00 UTC, faer → tiles): f64 n = 32 1.72 → 1.42 µs, 48
    /// 5.02 → 4.50, 64 11.95 → 10.67 (49 GFLOP/s, the core's FMA peak measured at 49–50), 96
    /// 36.8 → 35.7; f32 n = 32 1.15 → 0.72, 48 2.60 → 2.23, 64 5.91 → 5.33, 80 and 96 even.
    const TILES_MAX_N: usize;
    #[doc(hidden)]
    /// [`matmul_tiles`] for this type: false (nothing written) where the tiles do not apply.
    fn tiles(
        dst: MatMut<'_, Self>,
        accum: Accum,
        lhs: MatRef<'_, Self>,
        rhs: MatRef<'_, Self>,
        alpha: Self,
    ) -> bool;
}

macro_rules! gemm_scalar {
    ($t:ty, $max:expr) => {
        impl GemmScalar for $t {
            const TILES_MAX_N: usize = $max;
            fn tiles(
                dst: MatMut<'_, $t>,
                accum: Accum,
                lhs: MatRef<'_, $t>,
                rhs: MatRef<'_, $t>,
                alpha: $t,
            ) -> bool {
                let (m, n, k) = (dst.nrows(), dst.ncols(), lhs.ncols());
                let isa = crate::isa::tiles_isa();
                let Some(isa) = isa.filter(|_| fits_tiles(dst.as_ref(), lhs, rhs)) else {
                    return false;
                };
                #[cfg(target_arch = "x86_64")]
                {
                    use crate::isa::TileIsa;
                    use crate::lanes::{Avx2, Avx512, Raw};
                    use tiles::Matmul;
                    let (a, b) = (
                        Raw::new(lhs.as_ptr() as *mut $t, lhs.col_stride()),
                        Raw::new(rhs.as_ptr() as *mut $t, rhs.col_stride()),
                    );
                    let c = Raw::new(dst.as_ptr_mut(), dst.col_stride());
                    let add = accum == Accum::Add;
                    // SAFETY: the instruction set was detected; the views are column-major with
                    // the shapes checked above, and `dst` (a unique borrow) overlaps neither
                    // operand.
                    unsafe {
                        match isa {
                            TileIsa::Avx512 => Avx512::matmul(a, b, c, m, k, n, alpha, add),
                            TileIsa::Avx2 => Avx2::matmul(a, b, c, m, k, n, alpha, add),
                        }
                    }
                    true
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    let _ = (dst, accum, alpha, isa);
                    false
                }
            }
        }
    };
}
gemm_scalar!(f32, 64);
gemm_scalar!(f64, 96);

#[cfg(target_arch = "x86_64")]
pub(crate) mod tiles;

/// Whether the shapes and layouts suit the register tiles (every dimension at most
/// [`GemmScalar::TILES_MAX_N`], operands agreeing, all three column-major); the CPU's
/// instruction set is checked apart ([`crate::isa::tiles_isa`]).
fn fits_tiles<T: GemmScalar>(dst: MatRef<'_, T>, lhs: MatRef<'_, T>, rhs: MatRef<'_, T>) -> bool {
    let (m, n, k) = (dst.nrows(), dst.ncols(), lhs.ncols());
    m.max(n).max(k) <= T::TILES_MAX_N
        && lhs.nrows() == m
        && rhs.nrows() == k
        && rhs.ncols() == n
        && column_major(dst)
        && column_major(lhs)
        && column_major(rhs)
}

/// Rows contiguous, columns at a stride of at least the column length (what a column-major
/// matrix or a block of one has): the layout the register tiles read in place.
pub(crate) fn column_major<T>(m: MatRef<'_, T>) -> bool {
    m.nrows() == 0
        || m.ncols() == 0
        || (m.row_stride() == 1 && m.col_stride() >= m.nrows() as isize)
}

/// `dst ← alpha·lhs·rhs` (`Accum::Replace`) or `dst += alpha·lhs·rhs` (`Accum::Add`): on the
/// crate's register tiles (`gemm/tiles.rs`) where every dimension is at most
/// [`GemmScalar::TILES_MAX_N`], the views are column-major and the CPU has AVX-512F or AVX2 +
/// FMA ([`crate::isa::tiles_isa`]: detected at run time, narrowed by `CORTICAL_TILES`); otherwise
/// [`matmul_on_team`]. Each entry of a tile product is Σ_k lhs_ik·rhs_kj in increasing k, one
/// FMA per term, then times alpha (plus dst): the bits do not depend on the split of the columns.
/// Inside a team ([`crate::team`]) a tile product splits its columns over the team too, in blocks
/// of at least [`TILES_MIN_PART_COLS`].
pub fn matmul_tiles<T: GemmScalar>(
    dst: MatMut<'_, T>,
    accum: Accum,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    alpha: T,
) {
    matmul_tiles_then(dst, accum, lhs, rhs, alpha, &|_, _| (), &|(), ()| ());
}

/// Fewest columns of a tile product's block on a team (a block is one thread's share). Two
/// blocks a thread of at least 16 columns measured no different (expm n = 64 / 96 and Fréchet
/// n = 96 on a team of two, Zen 3, best of 0.5 s, 2026-12-04 22:02 UTC).
pub const TILES_MIN_PART_COLS: usize = 24;

/// [`matmul_tiles`], then `then(j0, block)` on each block of columns of the result as soon as
/// it is written, on the thread that wrote it (on the tiles outside a team, once on all of
/// `dst`), the blocks' values folded by `combine` in column order: a pass over the product that
/// reads it while it is in that core's cache, without a section of its own.
pub fn matmul_tiles_then<T: GemmScalar, R: Send>(
    dst: MatMut<'_, T>,
    accum: Accum,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    alpha: T,
    then: &(impl Fn(usize, MatRef<'_, T>) -> R + Sync),
    combine: &(impl Fn(R, R) -> R + Sync),
) -> R {
    if crate::isa::tiles_isa().is_some() && fits_tiles(dst.as_ref(), lhs, rhs) {
        let on_tiles = |block: MatMut<'_, T>, rhs_block: MatRef<'_, T>| {
            let ran = T::tiles(block, accum, lhs, rhs_block, alpha);
            debug_assert!(ran, "a block of columns fits the tiles as the whole did");
        };
        by_column_blocks(dst, rhs, TILES_MIN_PART_COLS, &on_tiles, then, combine)
    } else {
        matmul_on_team_then(dst, accum, lhs, rhs, alpha, then, combine)
    }
}

/// `product(block, rhs_block)` on blocks of `dst`'s columns (with the matching columns of
/// `rhs`), split over the calling thread's team ([`crate::team`]) in blocks of at least
/// `min_cols` columns (one block outside a team), then `then(j0, block)` on each block by the
/// thread that wrote it, the blocks' values folded by `combine` in column order: how the tile
/// products and faer's products split a product over a team.
fn by_column_blocks<T: Send + Sync, R: Send>(
    dst: MatMut<'_, T>,
    rhs: MatRef<'_, T>,
    min_cols: usize,
    product: &(impl Fn(MatMut<'_, T>, MatRef<'_, T>) + Sync),
    then: &(impl Fn(usize, MatRef<'_, T>) -> R + Sync),
    combine: &(impl Fn(R, R) -> R + Sync),
) -> R {
    let n = dst.ncols();
    let parts = team::team_size().min(n / min_cols);
    if parts <= 1 {
        let mut dst = dst;
        product(dst.as_mut(), rhs);
        return then(0, dst.as_ref());
    }
    let block = |j0: usize, mut block: MatMut<'_, T>| {
        let rhs_block = rhs.subcols(j0, block.ncols());
        product(block.as_mut(), rhs_block);
        then(j0, block.as_ref())
    };
    team::map_split_even(n, parts, dst, |m, j| m.split_at_col_mut(j), &block, combine)
}

/// Row-major `[rows, cols]` view of a flat slice (length must be `rows·cols`).
#[inline]
pub fn rm<T: GemmScalar>(s: &[T], rows: usize, cols: usize) -> MatRef<'_, T> {
    MatRef::from_row_major_slice(s, rows, cols)
}

/// Row-major `[rows, cols]` mutable view of a flat slice (length must be `rows·cols`).
#[inline]
pub fn rm_mut<T: GemmScalar>(s: &mut [T], rows: usize, cols: usize) -> MatMut<'_, T> {
    MatMut::from_row_major_slice_mut(s, rows, cols)
}

/// `dst ← a·b` (`Accum::Replace`) or `dst += a·b` (`Accum::Add`).
///
/// Shapes must agree (`a`: m×k, `b`: k×n, `dst`: m×n); faer panics with the shapes otherwise.
#[inline]
pub fn gemm<T: GemmScalar>(
    dst: MatMut<'_, T>,
    accum: Accum,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    par: Par,
) {
    faer::linalg::matmul::matmul(dst, accum, a, b, T::one_impl(), par);
}

/// `dst ← alpha·lhs·rhs` (`Accum::Replace`) or `dst += alpha·lhs·rhs` (`Accum::Add`), the
/// columns of `dst` split over the calling thread's team ([`crate::team`]), each block one
/// sequential faer product of at least 16 columns; outside a team, one sequential product.
/// Every column comes out as the whole sequential product computes it (`tests/team.rs`, shapes
/// from 7×5×3 to 301×97×133).
///
/// Shapes must agree (`lhs`: m×k, `rhs`: k×n, `dst`: m×n); faer panics with the shapes
/// otherwise.
pub fn matmul_on_team<T: RealField>(
    dst: MatMut<'_, T>,
    accum: Accum,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    alpha: T,
) {
    matmul_on_team_then(dst, accum, lhs, rhs, alpha, &|_, _| (), &|(), ()| ());
}

/// [`matmul_on_team`], then `then(j0, block)` on each block right after its product, on the
/// same thread (see [`matmul_tiles_then`]).
fn matmul_on_team_then<T: RealField, R: Send>(
    dst: MatMut<'_, T>,
    accum: Accum,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    alpha: T,
    then: &(impl Fn(usize, MatRef<'_, T>) -> R + Sync),
    combine: &(impl Fn(R, R) -> R + Sync),
) -> R {
    // Blocks of at least 16 columns: on a few columns faer picks kernels whose order of
    // additions depends on the block's width (a 7×5×3 product split 1 + 2 changed bits).
    const MIN_COLS: usize = 16;
    let on_faer = |block: MatMut<'_, T>, rhs_block: MatRef<'_, T>| {
        faer::linalg::matmul::matmul(block, accum, lhs, rhs_block, alpha.clone(), Par::Seq);
    };
    by_column_blocks(dst, rhs, MIN_COLS, &on_faer, then, combine)
}

/// Parallelism for one product of `flops` floating-point operations.
///
/// Below the threshold the fork/join of a rayon split costs more than the second core brings:
/// the per-step products of a small RNN (n = 100, B = 32: 0.6 MFLOP, a few µs) run faster on
/// one core, while n ≥ 256, B = 128 (≥ 17 MFLOP per step) gains from both.
#[inline]
pub fn auto_par(flops: usize) -> Par {
    const PAR_MIN_FLOPS: usize = 4_000_000;
    if flops >= PAR_MIN_FLOPS && rayon::current_num_threads() > 1 {
        Par::rayon(0)
    } else {
        Par::Seq
    }
}

/// `c ← alpha·a·b + beta·c` through matrixmultiply's `sgemm`, for row-major flat slices, with
/// `a` read as its transpose when `trans_a` (stored `[k, m]`) and `b` when `trans_b` (stored
/// `[n, k]`). Kept for the GEMM comparison in the bench; the kernels use [`gemm`].
///
/// # Panics
/// If a slice is shorter than its shape needs.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_matrixmultiply(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    trans_a: bool,
    b: &[f32],
    trans_b: bool,
    beta: f32,
    c: &mut [f32],
) {
    assert!(
        a.len() >= m * k,
        "sgemm_matrixmultiply: a has length {} < m·k = {}",
        a.len(),
        m * k
    );
    assert!(
        b.len() >= k * n,
        "sgemm_matrixmultiply: b has length {} < k·n = {}",
        b.len(),
        k * n
    );
    assert!(
        c.len() >= m * n,
        "sgemm_matrixmultiply: c has length {} < m·n = {}",
        c.len(),
        m * n
    );
    let (rsa, csa) = if trans_a {
        (1, m as isize)
    } else {
        (k as isize, 1)
    };
    let (rsb, csb) = if trans_b {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    // SAFETY: the asserts above bound every index m·k, k·n, m·n the strides can reach.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}
