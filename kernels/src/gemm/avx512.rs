//! `C ← α·A·B` or `C ← α·A·B + C` on AVX-512 register tiles, for the small column-major
//! products of the matrix exponential (n ≤ [`super::GemmScalar::TILES_MAX_N`]), where faer's GEMM
//! reached 80% of one core's FMA peak (94.6 of 118 GFLOP/s at n = 64, 2026-12-03).
//!
//! One tile is 4 vectors of rows (32 in f64, 64 in f32) by 6 columns: 24 accumulators, so
//! that each k step issues 24 FMAs against 4 vector loads of A and 6 broadcasts of B, and the
//! FMAs' latency is hidden three times over. A and B are read in place (no packing: at these
//! sizes the operands stay in L1/L2). Each entry of C is the sum over k in increasing order,
//! one FMA per term, then scaled by α (and added to C); a column of C comes out the same
//! whichever tile, block or thread computes it.
use crate::lanes::{Lane, Raw};

/// Vectors of rows per tile.
const RV: usize = 4;
/// Columns per tile.
const NC: usize = 6;

/// One tile: rows `i0..i0+rows` (`rows ≤ R·W`), columns `j0..j0+N`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<T: Lane, const R: usize, const N: usize>(
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
    let masks: [u32; R] = std::array::from_fn(|v| T::mask(0, rows.saturating_sub(v * w)));
    let mut acc = [[T::splat(T::zero()); R]; N];
    let cols: [*const T; N] = std::array::from_fn(|j| b.at(0, j0 + j) as *const T);
    for kk in 0..k {
        let av: [T::V; R] = std::array::from_fn(|v| T::load(masks[v], a.at(i0 + v * w, kk)));
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
unsafe fn row_block<T: Lane, const R: usize>(
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
        tile::<T, R, NC>(a, b, c, k, i0, rows, j, alpha, add);
        j += NC;
    }
    match n - j {
        0 => {}
        1 => tile::<T, R, 1>(a, b, c, k, i0, rows, j, alpha, add),
        2 => tile::<T, R, 2>(a, b, c, k, i0, rows, j, alpha, add),
        3 => tile::<T, R, 3>(a, b, c, k, i0, rows, j, alpha, add),
        4 => tile::<T, R, 4>(a, b, c, k, i0, rows, j, alpha, add),
        _ => tile::<T, R, 5>(a, b, c, k, i0, rows, j, alpha, add),
    }
}

/// `c ← alpha·a·b` (`add` false) or `c ← alpha·a·b + c` for the m×k `a`, k×n `b`, m×n `c`,
/// all column-major (unit row stride, column stride ≥ rows).
///
/// # Safety
/// AVX-512F must be available; the views must be valid for their shapes and strides, and
/// `c` must not overlap `a` or `b`.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn matmul<T: Lane>(
    a: Raw<T>,
    b: Raw<T>,
    c: Raw<T>,
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    add: bool,
) {
    // Row blocks of at most RV vectors, as even as whole vectors allow (48 rows in f64: two
    // blocks of 3 vectors rather than 4 + 2, whose second tile would hold 12 accumulators).
    let vectors = m.div_ceil(T::W);
    let blocks = vectors.div_ceil(RV);
    let mut i0 = 0;
    for blk in 0..blocks {
        let v = vectors * (blk + 1) / blocks - vectors * blk / blocks;
        let r = (v * T::W).min(m - i0);
        match v {
            4 => row_block::<T, 4>(a, b, c, k, i0, r, n, alpha, add),
            3 => row_block::<T, 3>(a, b, c, k, i0, r, n, alpha, add),
            2 => row_block::<T, 2>(a, b, c, k, i0, r, n, alpha, add),
            _ => row_block::<T, 1>(a, b, c, k, i0, r, n, alpha, add),
        }
        i0 += r;
    }
}
