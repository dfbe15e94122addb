//! `C ← α·A·B` or `C ← α·A·B + C` on register tiles, for the small column-major products of
//! the matrix exponential (n ≤ [`super::GemmScalar::TILES_MAX_N`]), on AVX-512 (where faer's
//! GEMM reached 80% of one core's FMA peak: 94.6 of 118 GFLOP/s at n = 64, 2026-12-03) or AVX2
//! + FMA.
//!
//! One tile is `I::GEMM_ROW_VECTORS` vectors of rows (AVX-512: 4, i.e. 32 rows in f64, 64 in
//! f32; AVX2: 2, i.e. 8 or 16 rows) by 6 columns: 24 (AVX-512) or 12 (AVX2) accumulators, so
//! that each k step issues that many FMAs against a few vector loads of A and 6 broadcasts of
//! B, and the FMAs' latency is hidden. A and B are read in place (no packing: at these sizes
//! the operands stay in L1/L2). Each entry of C is the sum over k in increasing order, one FMA
//! per term, then scaled by α (and added to C); a column of C comes out the same whichever
//! tile, block or thread computes it, and on either instruction set.
use crate::lanes::{Avx2, Avx512, Isa, Lane, Raw};

/// Columns per tile.
const NC: usize = 6;

/// One tile: rows `i0..i0+rows` (`rows ≤ R·W`; `FULL`: `rows = R·W`, so that no load or
/// store needs a mask, which AVX2 would emulate), columns `j0..j0+N`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<T: Lane<I>, I: Isa, const R: usize, const N: usize, const FULL: bool>(
    a: Raw<T>,
    b: Raw<T>,
    c: Raw<T>,
    k: usize,
    i0: usize,
    rows: usize,
    j0: usize,
    alpha: T,
    add: bool,
) {
    let w = T::W;
    let masks: [u32; R] = if FULL {
        [T::mask(0, w); R]
    } else {
        std::array::from_fn(|v| T::mask(0, rows.saturating_sub(v * w)))
    };
    let mut acc = [[T::splat(T::zero()); R]; N];
    let cols: [*const T; N] = std::array::from_fn(|j| b.at(0, j0 + j) as *const T);
    for kk in 0..k {
        // A loop, not `array::from_fn`: a closure that the compiler does not inline runs
        // without the caller's target features, and its intrinsics become calls (seen on AVX2).
        let mut av = [T::splat(T::zero()); R];
        for (v, x) in av.iter_mut().enumerate() {
            *x = T::load(masks[v], a.at(i0 + v * w, kk));
        }
        for (accj, col) in acc.iter_mut().zip(&cols) {
            let bj = T::splat(*col.add(kk));
            for (x, &ai) in accj.iter_mut().zip(&av) {
                *x = T::fmadd(ai, bj, *x);
            }
        }
    }
    let al = T::splat(alpha);
    for (j, accj) in acc.iter().enumerate() {
        for (v, x) in accj.iter().enumerate() {
            let p = c.at(i0 + v * w, j0 + j);
            let out = if add {
                T::fmadd(*x, al, T::load(masks[v], p))
            } else {
                T::mul(*x, al)
            };
            T::store(masks[v], p, out);
        }
    }
}

/// The tiles over the `n` columns from `j0` for rows `i0..i0+rows` (`rows ≤ R·W`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn row_block<T: Lane<I>, I: Isa, const R: usize>(
    a: Raw<T>,
    b: Raw<T>,
    c: Raw<T>,
    k: usize,
    i0: usize,
    rows: usize,
    n: usize,
    alpha: T,
    add: bool,
) {
    if rows == R * T::W {
        row_tiles::<T, I, R, true>(a, b, c, k, i0, rows, n, alpha, add)
    } else {
        row_tiles::<T, I, R, false>(a, b, c, k, i0, rows, n, alpha, add)
    }
}

/// [`row_block`] with `FULL` fixed (see [`tile`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn row_tiles<T: Lane<I>, I: Isa, const R: usize, const FULL: bool>(
    a: Raw<T>,
    b: Raw<T>,
    c: Raw<T>,
    k: usize,
    i0: usize,
    rows: usize,
    n: usize,
    alpha: T,
    add: bool,
) {
    let mut j = 0;
    while n - j >= NC {
        tile::<T, I, R, NC, FULL>(a, b, c, k, i0, rows, j, alpha, add);
        j += NC;
    }
    match n - j {
        0 => {}
        1 => tile::<T, I, R, 1, FULL>(a, b, c, k, i0, rows, j, alpha, add),
        2 => tile::<T, I, R, 2, FULL>(a, b, c, k, i0, rows, j, alpha, add),
        3 => tile::<T, I, R, 3, FULL>(a, b, c, k, i0, rows, j, alpha, add),
        4 => tile::<T, I, R, 4, FULL>(a, b, c, k, i0, rows, j, alpha, add),
        _ => tile::<T, I, R, 5, FULL>(a, b, c, k, i0, rows, j, alpha, add),
    }
}

/// `c ← alpha·a·b` (`add` false) or `c ← alpha·a·b + c` for the m×k `a`, k×n `b`, m×n `c`,
/// all column-major (unit row stride, column stride ≥ rows), on the instruction set `I`.
///
/// # Safety
/// `I`'s instruction set must be available; the views must be valid for their shapes and
/// strides, and `c` must not overlap `a` or `b`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn matmul_on<T: Lane<I>, I: Isa>(
    a: Raw<T>,
    b: Raw<T>,
    c: Raw<T>,
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    add: bool,
) {
    // Row blocks of at most GEMM_ROW_VECTORS vectors, as even as whole vectors allow (48 rows
    // in f64 on AVX-512: two blocks of 3 vectors rather than 4 + 2, whose second tile would
    // hold 12 accumulators).
    let rv = I::GEMM_ROW_VECTORS;
    let vectors = m.div_ceil(T::W);
    let blocks = vectors.div_ceil(rv);
    let mut i0 = 0;
    for blk in 0..blocks {
        let v = vectors * (blk + 1) / blocks - vectors * blk / blocks;
        let r = (v * T::W).min(m - i0);
        // v ≤ rv; the guards, constant for each instruction set, let the compiler drop the
        // arms wider than the set's tiles (AVX2's rv = 2 would otherwise carry 3- and 4-vector
        // blocks that never run).
        match v {
            4 if rv >= 4 => row_block::<T, I, 4>(a, b, c, k, i0, r, n, alpha, add),
            3 if rv >= 3 => row_block::<T, I, 3>(a, b, c, k, i0, r, n, alpha, add),
            2 => row_block::<T, I, 2>(a, b, c, k, i0, r, n, alpha, add),
            _ => row_block::<T, I, 1>(a, b, c, k, i0, r, n, alpha, add),
        }
        i0 += r;
    }
}

/// [`matmul_on`] for one instruction set, its features enabled.
pub trait Matmul: Isa {
    /// See [`matmul_on`].
    ///
    /// # Safety
    /// As [`matmul_on`].
    #[allow(clippy::too_many_arguments)]
    unsafe fn matmul<T: Lane<Self>>(
        a: Raw<T>,
        b: Raw<T>,
        c: Raw<T>,
        m: usize,
        k: usize,
        n: usize,
        alpha: T,
        add: bool,
    );
}

macro_rules! matmul_for {
    ($isa:ty, $features:literal) => {
        impl Matmul for $isa {
            #[target_feature(enable = $features)]
            #[allow(clippy::too_many_arguments)]
            unsafe fn matmul<T: Lane<Self>>(
                a: Raw<T>,
                b: Raw<T>,
                c: Raw<T>,
                m: usize,
                k: usize,
                n: usize,
                alpha: T,
                add: bool,
            ) {
                matmul_on::<T, Self>(a, b, c, m, k, n, alpha, add)
            }
        }
    };
}
matmul_for!(Avx512, "avx512f");
matmul_for!(Avx2, "avx2,fma");
