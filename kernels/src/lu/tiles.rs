//! LU with partial pivoting and its many-right-hand-side solve on register tiles (AVX-512F, or
//! AVX2 + FMA: [`crate::lanes::Isa`]): the LU at every n
//! (by panels above [`super::LuScalar::UNBLOCKED_MAX_N`]), the solve up to
//! [`super::LuScalar::TILES_SOLVE_MAX_N`], where faer's general routines spend most of their
//! time outside arithmetic or (the LU) in thin panel steps.
//!
//! Both are left-looking and work on tiles of one vector of rows (`W` = 8 rows in f64, 16 in
//! f32 on AVX-512; 4 and 8 on AVX2) by up to 16 columns held in registers (8 on AVX2, whose 16
//! registers would not hold 16 accumulators; the LU's panels are `W` columns wide, the solve's
//! groups of right-hand sides 48 columns, in tiles of 16 and 8 columns: on AVX-512, 16
//! accumulators keep the FMA units busier than 8, solve n = 64 9.45 → 8.85 µs tile by tile):
//!
//! - [`lower_tile`]: `X[R, C] −= L[R, K]·X[K, C]`, then optionally the unit-lower triangle
//!   `L[R, R]⁻¹` applied in registers (a lane broadcast per step, no store/reload between the
//!   steps). It is the forward substitution of the solve, the U rows of each panel of the LU,
//!   and the update of the panel's rows below it.
//! - [`upper_tile`]: `X[R, C] −= U[R, K]·X[K, C]` for the rows below `R`, then `U[R, R]⁻¹` by
//!   back substitution in registers, each step multiplying by the pivot's reciprocal (as
//!   OpenBLAS's and BLIS's trsm kernels do; one rounding more than a division per entry).
//!
//! The solve runs by blocks of one GEMM tile's rows ([`sweeps`]; 32 rows in f64 on AVX-512, 8
//! on AVX2): a block's product with the rows solved before it on the GEMM tiles, then its own
//! triangle by the tiles above, in groups of 48 right-hand sides. Tile by tile (each tile's
//! products with all the rows before it in its own registers) it was bound by loads: on AVX2 a
//! vector and 8 broadcasts per 8 FMAs, and it lost to faer's solve from f64 n = 48 (by blocks
//! f64 n = 64 25.1 → 18.6 µs against faer's; `LuScalar::TILES_SOLVE_MAX_N_AVX2`'s doc); on
//! AVX-512 a vector and 16 broadcasts per 16 FMAs, and by blocks measured as fast or faster at
//! every size (`LuScalar::TILES_SOLVE_MAX_N`'s doc; one thread, f64 n = 64 9.3–9.5 → 8.6 µs,
//! f32 n = 128 34 → 31.3).
//!
//! In [`LuTiles::factor`] each entry is updated in the order of classic Gaussian elimination (k = 0, 1,
//! …, as the right-looking algorithm would), and a column of right-hand sides goes through the
//! same operations whichever tile of columns it is in, so a solve split over threads by columns
//! gives the bits of one sequential solve.
//!
//! Above [`super::LuScalar::UNBLOCKED_MAX_N`], [`factor_blocked`] runs [`LuTiles::factor_panel`] (the
//! same left-looking pass on a tall panel of [`super::PANEL_COLS`] columns) and updates the
//! columns right of each panel on the team: its swaps as one permutation, U₁₂ by
//! [`lower_tile`], A₂₂ −= L₂₁·U₁₂ by the GEMM tiles. Each column's operations do not depend on
//! which part of the team updates it, so the factors are the same bits on any team.
//!
//! The pivots are LAPACK's: `piv[k]` is the row swapped with row `k` at step `k`, swapped across
//! the whole row at once; the pivot is the first entry of largest magnitude (a NaN is never
//! chosen over a number, and a column of NaNs keeps its diagonal). A zero pivot is kept and its
//! column left unscaled, as LAPACK's getrf does: the factorisation finishes, and the solve,
//! multiplying by the pivot's reciprocal (±Inf), gives non-finite entries.
use crate::gemm::tiles::Matmul;
use crate::lanes::{Avx2, Avx512, Isa, Lane, Raw};

/// `X[r0.., c0..c0+NC] −= L[r0.., k0..k1]·X[k0..k1, c0..c0+NC]` for the `rb ≤ W` rows from `r0`,
/// then, if `tri`, `X[R, C] ← L[R, R]⁻¹·X[R, C]` with L unit lower (its strict lower part read
/// from the column block `r0..r0+rb` of `l`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn lower_tile<T: Lane<I>, I: Isa, const NC: usize>(
    l: Raw<T>,
    x: Raw<T>,
    r0: usize,
    rb: usize,
    k0: usize,
    k1: usize,
    tri: bool,
    c0: usize,
) {
    let m = T::mask(0, rb);
    let mut acc = [T::splat(T::zero()); NC];
    for (c, a) in acc.iter_mut().enumerate() {
        *a = T::load(m, x.at(r0, c0 + c));
    }
    for k in k0..k1 {
        let lv = T::load(m, l.at(r0, k));
        for (c, a) in acc.iter_mut().enumerate() {
            *a = T::fnmadd(lv, T::splat(*x.at(k, c0 + c)), *a);
        }
    }
    if tri {
        for k in 0..rb.saturating_sub(1) {
            let lv = T::load(T::mask(k + 1, rb), l.at(r0, r0 + k));
            for a in acc.iter_mut() {
                *a = T::fnmadd(lv, T::lane(*a, k), *a);
            }
        }
    }
    for (c, a) in acc.iter().enumerate() {
        T::store(m, x.at(r0, c0 + c), *a);
    }
}

/// `X[r0.., C] −= U[r0.., r0+rb..n]·X[r0+rb..n, C]` for the `rb ≤ W` rows from `r0`, then
/// `X[R, C] ← U[R, R]⁻¹·X[R, C]` by back substitution, `rdiag[i]` being `1 / U[r0+i, r0+i]`.
#[inline(always)]
unsafe fn upper_tile<T: Lane<I>, I: Isa, const NC: usize>(
    u: Raw<T>,
    x: Raw<T>,
    r0: usize,
    rb: usize,
    n: usize,
    rdiag: &[T],
    c0: usize,
) {
    let m = T::mask(0, rb);
    let mut acc = [T::splat(T::zero()); NC];
    for (c, a) in acc.iter_mut().enumerate() {
        *a = T::load(m, x.at(r0, c0 + c));
    }
    for k in r0 + rb..n {
        let uv = T::load(m, u.at(r0, k));
        for (c, a) in acc.iter_mut().enumerate() {
            *a = T::fnmadd(uv, T::splat(*x.at(k, c0 + c)), *a);
        }
    }
    // Step k leaves lane k alone (U's column is loaded with lanes k.. masked off) and later
    // steps only touch lanes below it, so lane k keeps the value step k scaled, and one
    // product by the reciprocal diagonal at the end gives every x_k as step k did.
    for k in (0..rb).rev() {
        let r = T::splat(rdiag[k]);
        let uv = T::load(T::mask(0, k), u.at(r0, r0 + k));
        for a in acc.iter_mut() {
            *a = T::fnmadd(uv, T::mul(T::lane(*a, k), r), *a);
        }
    }
    let rd = T::load(m, rdiag.as_ptr());
    for (c, a) in acc.iter().enumerate() {
        T::store(m, x.at(r0, c0 + c), T::mul(*a, rd));
    }
}

/// Runs `$tile::<T, I, NC>(args…, c)` over the columns `c0..c0 + nc`: tiles of 16 columns
/// (where `I::LU_COLS_16`), then of 8, then one tile of the remaining 1–7 (each width a
/// compile-time `NC`).
macro_rules! over_columns {
    ($tile:ident::<$t:ty, $i:ty>($($arg:expr),*), $c0:expr, $nc:expr) => {{
        let mut c = $c0;
        let end = $c0 + $nc;
        while <$i as Isa>::LU_COLS_16 && end - c >= 16 {
            $tile::<$t, $i, 16>($($arg,)* c);
            c += 16;
        }
        while end - c >= 8 {
            $tile::<$t, $i, 8>($($arg,)* c);
            c += 8;
        }
        match end - c {
            0 => {}
            1 => $tile::<$t, $i, 1>($($arg,)* c),
            2 => $tile::<$t, $i, 2>($($arg,)* c),
            3 => $tile::<$t, $i, 3>($($arg,)* c),
            4 => $tile::<$t, $i, 4>($($arg,)* c),
            5 => $tile::<$t, $i, 5>($($arg,)* c),
            6 => $tile::<$t, $i, 6>($($arg,)* c),
            _ => $tile::<$t, $i, 7>($($arg,)* c),
        }
    }};
}

/// [`lower_tile`] on the `nc` columns from `c0`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn lower_cols<T: Lane<I>, I: Isa>(
    l: Raw<T>,
    x: Raw<T>,
    r0: usize,
    rb: usize,
    k0: usize,
    k1: usize,
    tri: bool,
    c0: usize,
    nc: usize,
) {
    over_columns!(lower_tile::<T, I>(l, x, r0, rb, k0, k1, tri), c0, nc)
}

/// [`upper_tile`] on the `nc` columns from `c0`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn upper_cols<T: Lane<I>, I: Isa>(
    u: Raw<T>,
    x: Raw<T>,
    r0: usize,
    rb: usize,
    n: usize,
    rdiag: &[T],
    c0: usize,
    nc: usize,
) {
    over_columns!(upper_tile::<T, I>(u, x, r0, rb, n, rdiag), c0, nc)
}

/// `c[i] −= x·l[i]` for `i < len`.
#[inline(always)]
unsafe fn axpy<T: Lane<I>, I: Isa>(x: T, l: *const T, c: *mut T, len: usize) {
    let xv = T::splat(x);
    let mut i = 0;
    while i < len {
        let m = T::mask(0, len - i);
        T::store(
            m,
            c.add(i),
            T::fnmadd(T::load(m, l.add(i)), xv, T::load(m, c.add(i))),
        );
        i += T::W;
    }
}

/// `c[i] ← c[i]·r` for `i < len`.
#[inline(always)]
unsafe fn scale<T: Lane<I>, I: Isa>(r: T, c: *mut T, len: usize) {
    let rv = T::splat(r);
    let mut i = 0;
    while i < len {
        let m = T::mask(0, len - i);
        T::store(m, c.add(i), T::mul(T::load(m, c.add(i)), rv));
        i += T::W;
    }
}

/// The index of the first entry of largest magnitude among `x[..len]` (`len ≥ 1`), NaNs left
/// out (0 when all are NaN): a NaN is never chosen over a number. On more than 2W entries, one
/// vector pass for the largest magnitude and one for its first position (n = 64: the LU
/// 6.4 → 5.65 µs); on fewer, where that measured slower (n = 32), a scalar loop.
#[inline(always)]
unsafe fn first_largest_abs<T: Lane<I>, I: Isa>(x: *const T, len: usize) -> usize {
    let w = T::W;
    if len <= 2 * w {
        let (mut p, mut best) = (0, (*x).abs());
        for i in 1..len {
            let v = (*x.add(i)).abs();
            if v > best || (best.is_nan() && !v.is_nan()) {
                best = v;
                p = i;
            }
        }
        return p;
    }
    let mut best = T::splat(T::zero());
    let mut any = false;
    let mut i = 0;
    while i < len {
        let (v, numbers) = T::load_abs(T::mask(0, len - i), x.add(i));
        best = T::mask_max(best, numbers, best, v);
        any |= numbers != 0;
        i += w;
    }
    if !any {
        return 0;
    }
    let best = T::splat(T::reduce_max(best));
    let mut i = 0;
    while i < len {
        let (v, _) = T::load_abs(T::mask(0, len - i), x.add(i));
        let hit = T::eq_mask(T::mask(0, len - i), v, best);
        if hit != 0 {
            return i + hit.trailing_zeros() as usize;
        }
        i += w;
    }
    unreachable!("the largest magnitude is one of the entries")
}

/// Factor the n×n matrix `a` in place (L strictly below the diagonal with unit diagonal implied,
/// U on and above it), recording the pivots in `piv` (length n): [`factor_panel_on`] on all of it.
///
/// # Safety
/// `I`'s instruction set must be available; `a` must be valid for n×n entries at column stride `a.ld ≥ n`.
#[inline(always)]
unsafe fn factor_on<T: Lane<I>, I: Isa>(a: Raw<T>, n: usize, piv: &mut [usize]) {
    factor_panel_on::<T, I>(a, n, n, piv)
}

/// Factor the m×nb panel `a` (m ≥ nb) in place, left-looking by panels of `W` columns: on return
/// its top nb×nb block holds L₁₁ (unit lower) and U₁₁, the rows below L₂₁, and `piv[k]` (length
/// nb) is the row, counted from the panel's top, swapped with row `k` at step `k`. Rows are
/// swapped across the panel's nb columns only.
///
/// # Safety
/// `I`'s instruction set must be available; `a` must be valid for m×nb entries at column stride `a.ld ≥ m`.
#[inline(always)]
unsafe fn factor_panel_on<T: Lane<I>, I: Isa>(a: Raw<T>, m: usize, nb: usize, piv: &mut [usize]) {
    assert!(piv.len() == nb && nb <= m);
    let w = T::W;
    let mut p0 = 0;
    while p0 < nb {
        let pb = w.min(nb - p0);
        // The panel's rows above it: U[0..p0, P] = L⁻¹ A, one tile of rows at a time.
        let mut r0 = 0;
        while r0 < p0 {
            lower_cols::<T, I>(a, a, r0, w, 0, r0, true, p0, pb);
            r0 += w;
        }
        // The panel's own rows and those below: every update from the columns left of it.
        let mut r = p0;
        while r < m {
            lower_cols::<T, I>(a, a, r, w.min(m - r), 0, p0, false, p0, pb);
            r += w;
        }
        // The panel itself, unblocked.
        for (j, pj) in piv.iter_mut().enumerate().skip(p0).take(pb) {
            let col = a.at(0, j);
            let p = j + first_largest_abs::<T, I>(col.add(j), m - j);
            *pj = p;
            if p != j {
                for c in 0..nb {
                    std::ptr::swap(a.at(j, c), a.at(p, c));
                }
            }
            let d = *col.add(j);
            let below = m - j - 1;
            if !d.is_zero() {
                if d.is_normal_size() {
                    scale::<T, I>(T::one().div(d), col.add(j + 1), below);
                } else {
                    for i in j + 1..m {
                        *col.add(i) = (*col.add(i)).div(d);
                    }
                }
            }
            for c in j + 1..p0 + pb {
                let cc = a.at(0, c);
                axpy::<T, I>(*cc.add(j), col.add(j + 1), cc.add(j + 1), below);
            }
        }
        p0 += pb;
    }
}

/// What the parts of a [`factor_blocked`] section share — the n×n matrix, the next panel's
/// pivots: each part writes its own columns (part 0 the pivots) only, and all read the current
/// panel, which no part writes.
#[derive(Clone, Copy)]
struct Shared<P>(P);
// SAFETY: see the type's doc; the parts' columns are disjoint.
unsafe impl<P> Sync for Shared<P> {}
unsafe impl<P> Send for Shared<P> {}

/// Fewest trailing columns per part of a [`factor_blocked`] section.
const MIN_PART_COLS: usize = 24;

/// How many fewer columns of the trailing update the part that factors the next panel takes in a
/// [`factor_blocked`] section than each other part: what a 32-column panel's factorisation
/// costs in update columns, about. The LU alone on a team of two (a scratch program, best of
/// 3 s of calls, Gaussian systems, three rounds, 2026-12-04 14:38 UTC), without the look-ahead
/// → with it, lead 64: n = 128 32–35 → 33–35 µs, 192 104–112 → 96–98, 256 239–245 → 224–227,
/// 384 586–634 → 537–587, 512 1338–1372 → 1130–1191 µs (lead 96 alike; 0 and 128 worse at
/// 256 or 512, and the next panel's part sharing the rest with two parts per thread, claimed as
/// threads came free, slower at 512 than no look-ahead: 1434–1605 µs, as the columns then move
/// between the cores' caches).
const LOOKAHEAD_LEAD_COLS: usize = 64;

/// Right-looking blocked LU of the n×n matrix `a` with panels of `nb` columns, with a look-ahead
/// of one panel: after the first panel, each section of the team ([`crate::team`]) applies the
/// current panel's row swaps (as one permutation: its cycles, one load and one store per moved
/// entry) and its updates — U₁₂ = L₁₁⁻¹A₁₂ by [`lower_tile`], A₂₂ −= L₂₁·U₁₂ by the GEMM tiles
/// (`gemm/tiles.rs`) — to the columns right of it, and the swaps to those left of it; part 0
/// first updates the next panel's columns and factors that panel by [`LuTiles::factor_panel`], and takes
/// [`LOOKAHEAD_LEAD_COLS`] fewer of the other columns, so that the panel's sequential
/// factorisation overlaps the other parts' updates. Every column goes through the same operations
/// in the same order as without the look-ahead, whichever part or thread runs it. The factors and
/// pivots are LAPACK getrf's (row `k` swapped with `piv[k]` across the whole row), up to the order
/// of the additions. `scratch` holds [`super::blocked_scratch_len`]`(n)` entries.
///
/// # Safety
/// `I`'s instruction set must be available; `a` must be valid for n×n entries at column stride `a.ld ≥ n`.
pub unsafe fn factor_blocked<T: Lane<I>, I: LuTiles>(
    a: Raw<T>,
    n: usize,
    nb: usize,
    piv: &mut [usize],
    scratch: &mut [usize],
) {
    assert!(piv.len() == n && nb > 0 && scratch.len() >= super::blocked_scratch_len(n));
    let (src, cycles) = scratch.split_at_mut(n);
    for (i, s) in src.iter_mut().enumerate() {
        *s = i;
    }
    let sh = Shared(a);
    if n == 0 {
        return;
    }
    let mut pb = nb.min(n);
    I::factor_panel(a, n, pb, &mut piv[..pb]);
    let mut p0 = 0;
    while p0 < n {
        let c0 = p0 + pb;
        let len = permutation_cycles(&piv[p0..c0], p0, src, cycles);
        let cycles = &cycles[..len];
        // The next panel (columns c0..c0 + qb), then the rest of the right (from d0).
        let qb = nb.min(n - c0);
        let d0 = c0 + qb;
        let rest = n - d0;
        // Part 0 updates and factors the next panel and takes LOOKAHEAD_LEAD_COLS fewer of the
        // rest than each other part; the left columns are split evenly. Outside a team there is
        // one part, run on this thread.
        let parts = crate::team::team_size()
            .min(rest.max(p0) / MIN_PART_COLS)
            .clamp(1, crate::team::MAX_PARTS);
        let first = rest.saturating_sub((parts - 1) * LOOKAHEAD_LEAD_COLS) / parts;
        let share = |k: usize| {
            if k == 0 {
                (d0, d0 + first)
            } else {
                let left = rest - first;
                let k = k - 1;
                let others = parts - 1;
                (
                    d0 + first + left * k / others,
                    d0 + first + left * (k + 1) / others,
                )
            }
        };
        let next_piv = Shared(piv[c0..d0].as_mut_ptr());
        let run = |part: usize| {
            let (a, next_piv) = (sh, next_piv);
            // SAFETY: `I` checked by the caller. Part 0 alone writes columns c0..d0 (and
            // the next panel's pivots); each part alone writes its share of 0..p0 and d0..n;
            // all read the current panel p0..c0, which no part writes.
            unsafe {
                let (l0, l1) = (p0 * part / parts, p0 * (part + 1) / parts);
                permute_rows(a.0, cycles, l0, l1);
                if part == 0 && qb > 0 {
                    permute_rows(a.0, cycles, c0, d0);
                    I::update_trailing(a.0, n, p0, pb, c0, d0);
                    let piv = std::slice::from_raw_parts_mut(next_piv.0, qb);
                    I::factor_panel(a.0.offset(c0, c0), n - c0, qb, piv);
                }
                let (r0, r1) = share(part);
                if r1 > r0 {
                    permute_rows(a.0, cycles, r0, r1);
                    I::update_trailing(a.0, n, p0, pb, r0, r1);
                }
            }
        };
        let mut items = [(); crate::team::MAX_PARTS];
        crate::team::for_each_part(&mut items[..parts], |part, _| run(part));
        for p in &mut piv[c0..d0] {
            *p += c0;
        }
        p0 = c0;
        pb = qb;
    }
}

/// The swaps `rows k0 + k ↔ piv[k]` in order as the cycles of the permutation they make:
/// written to `cycles` as `[len, i₀, i₁, …]` per cycle, meaning new row i_j = old row i_{j+1}
/// (and the last ← the first); returns the length used. `src` is the identity on entry and on
/// return.
fn permutation_cycles(piv: &[usize], k0: usize, src: &mut [usize], cycles: &mut [usize]) -> usize {
    for (k, &p) in piv.iter().enumerate() {
        src.swap(k0 + k, p);
    }
    let mut len = 0;
    // Only rows k0.. and the pivots' rows can have moved.
    let mut visit = |i: usize, src: &mut [usize], cycles: &mut [usize]| {
        if src[i] == i {
            return;
        }
        let start = len;
        len += 1;
        let mut j = i;
        while src[j] != j {
            cycles[len] = j;
            len += 1;
            j = std::mem::replace(&mut src[j], j);
        }
        cycles[start] = len - start - 1;
    };
    for (k, &p) in piv.iter().enumerate() {
        visit(k0 + k, src, cycles);
        visit(p, src, cycles);
    }
    len
}

/// Applies the row permutation `cycles` ([`permutation_cycles`]) to the columns `lo..hi`.
#[inline(always)]
unsafe fn permute_rows<T: Copy>(a: Raw<T>, cycles: &[usize], lo: usize, hi: usize) {
    for c in lo..hi {
        let col = a.at(0, c);
        let mut q = 0;
        while q < cycles.len() {
            let len = cycles[q];
            let rows = &cycles[q + 1..q + 1 + len];
            let first = *col.add(rows[0]);
            for w in rows.windows(2) {
                *col.add(w[0]) = *col.add(w[1]);
            }
            *col.add(rows[len - 1]) = first;
            q += len + 1;
        }
    }
}

/// For the columns `lo..hi` right of the panel at `p0` (`pb` columns), its rows already swapped:
/// U₁₂ = L₁₁⁻¹A₁₂, then A₂₂ −= L₂₁·U₁₂.
#[inline(always)]
unsafe fn update_trailing_on<T: Lane<I>, I: Matmul>(
    a: Raw<T>,
    n: usize,
    p0: usize,
    pb: usize,
    lo: usize,
    hi: usize,
) {
    let w = T::W;
    let mut r = p0;
    while r < p0 + pb {
        lower_cols::<T, I>(a, a, r, w.min(p0 + pb - r), p0, r, true, lo, hi - lo);
        r += w;
    }
    let below = n - p0 - pb;
    if below > 0 {
        I::matmul(
            a.offset(p0 + pb, p0),
            a.offset(p0, lo),
            a.offset(p0 + pb, lo),
            below,
            pb,
            hi - lo,
            -T::one(),
            true,
        );
    }
}

/// Solve `A·X = B` in place for the `m` columns of `x` (n rows, column stride `x.ld`), `lu` and
/// `piv` from [`LuTiles::factor`] (or [`factor_blocked`]), `rdiag` the reciprocals of U's
/// diagonal ([`reciprocal_diagonal`]).
///
/// # Safety
/// `I`'s instruction set must be available; `lu` valid for n×n, `x` for n×m.
#[inline(always)]
unsafe fn solve_on<T: Lane<I>, I: LuTiles>(
    lu: Raw<T>,
    n: usize,
    piv: &[usize],
    x: Raw<T>,
    m: usize,
    rdiag: &[T],
) {
    debug_assert!(piv.len() == n && rdiag.len() == n);
    let w = T::W;
    // Column groups: the group's right-hand sides stay in cache through both sweeps. 48
    // columns (8 GEMM tiles; 6 of the solve's 8-column tiles on AVX2, 3 of its 16-column tiles
    // on AVX-512) measured as well as 96 and better than 24 on AVX2 (f64 n = 64, least of 5
    // rounds: 18.6, 18.1, 19.0 µs; 8 columns 22.4 in a single earlier round), and within the
    // noise of 24 and 96 on AVX-512 (f64 n = 64, 256, 448, one thread, 2026-12-05: n = 256
    // 378–422 µs with 48 in two runs, 378 with 24, 382 with 96; f32 n = 64 against 32 and 64). The
    // blocks are one GEMM tile's rows: on AVX-512 two or eight vectors of rows instead of four
    // measured slower at f64 n = 64–256 (n = 256 417 and 437 against 378 µs), eight faster
    // only from n = 448.
    let (group, block) = (48, I::GEMM_ROW_VECTORS * w);
    let mut c0 = 0;
    while c0 < m {
        let nc = group.min(m - c0);
        for (k, &p) in piv.iter().enumerate() {
            if p != k {
                for c in c0..c0 + nc {
                    std::ptr::swap(x.at(k, c), x.at(p, c));
                }
            }
        }
        sweeps::<T, I>(lu, n, x, rdiag, c0, nc, block);
        c0 += nc;
    }
}

/// The forward and back substitutions of [`solve_on`] on the columns `c0..c0 + nc`, by blocks
/// of `nb` rows (a multiple of `W`): a block's product with the rows solved before it on the
/// GEMM tiles (`X[B] −= L[B, 0..b0]·X[0..b0]`, at the products' rate), then the block's own
/// triangle tile by tile of `W` rows, each tile's products with the block's rows before it in
/// its own registers. With `nb ≥ n` that is one block: the tile-by-tile solve, no GEMM. Each
/// entry's operations depend on n and nb only, not on the columns' grouping or split.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn sweeps<T: Lane<I>, I: LuTiles>(
    lu: Raw<T>,
    n: usize,
    x: Raw<T>,
    rdiag: &[T],
    c0: usize,
    nc: usize,
    nb: usize,
) {
    let w = T::W;
    let mut b0 = 0;
    while b0 < n {
        let b1 = (b0 + nb).min(n);
        if b0 > 0 {
            let (l, xb) = (lu.offset(b0, 0), x.offset(b0, c0));
            I::matmul(l, x.offset(0, c0), xb, b1 - b0, b0, nc, -T::one(), true);
        }
        let mut r0 = b0;
        while r0 < b1 {
            lower_cols::<T, I>(lu, x, r0, w.min(b1 - r0), b0, r0, true, c0, nc);
            r0 += w;
        }
        b0 = b1;
    }
    // Back substitution, bottom block first (the last block may be partial).
    let mut b1 = n;
    while b1 > 0 {
        let b0 = (b1 - 1) / nb * nb;
        if b1 < n {
            let (u, xb) = (lu.offset(b0, b1), x.offset(b0, c0));
            I::matmul(
                u,
                x.offset(b1, c0),
                xb,
                b1 - b0,
                n - b1,
                nc,
                -T::one(),
                true,
            );
        }
        let mut r_end = b1;
        while r_end > b0 {
            let r0 = (r_end - 1) / w * w;
            upper_cols::<T, I>(lu, x, r0, r_end - r0, b1, &rdiag[r0..r_end], c0, nc);
            r_end = r0;
        }
        b1 = b0;
    }
}

/// The entry points for one instruction set, each the generic routine with that set's
/// features enabled.
///
/// # Safety (every method)
/// The instruction set must be available; the views must be valid as the routine states.
pub trait LuTiles: Matmul {
    /// Factor the n×n matrix `a` in place (L strictly below the diagonal with unit diagonal
    /// implied, U on and above it), recording the pivots in `piv` (length n): the panel
    /// factorisation on all of it. `a` must be valid for n×n entries at column stride ≥ n.
    ///
    /// # Safety
    /// See the trait.
    unsafe fn factor<T: Lane<Self>>(a: Raw<T>, n: usize, piv: &mut [usize]);
    /// See [`factor_panel_on`].
    ///
    /// # Safety
    /// See the trait.
    unsafe fn factor_panel<T: Lane<Self>>(a: Raw<T>, m: usize, nb: usize, piv: &mut [usize]);
    /// See [`update_trailing_on`].
    ///
    /// # Safety
    /// See the trait.
    unsafe fn update_trailing<T: Lane<Self>>(
        a: Raw<T>,
        n: usize,
        p0: usize,
        pb: usize,
        lo: usize,
        hi: usize,
    );
    /// See [`solve_on`].
    ///
    /// # Safety
    /// See the trait.
    unsafe fn solve<T: Lane<Self>>(
        lu: Raw<T>,
        n: usize,
        piv: &[usize],
        x: Raw<T>,
        m: usize,
        rdiag: &[T],
    );
}

macro_rules! lu_tiles_for {
    ($isa:ty, $features:literal) => {
        impl LuTiles for $isa {
            #[target_feature(enable = $features)]
            unsafe fn factor<T: Lane<Self>>(a: Raw<T>, n: usize, piv: &mut [usize]) {
                factor_on::<T, Self>(a, n, piv)
            }
            #[target_feature(enable = $features)]
            unsafe fn factor_panel<T: Lane<Self>>(
                a: Raw<T>,
                m: usize,
                nb: usize,
                piv: &mut [usize],
            ) {
                factor_panel_on::<T, Self>(a, m, nb, piv)
            }
            #[target_feature(enable = $features)]
            unsafe fn update_trailing<T: Lane<Self>>(
                a: Raw<T>,
                n: usize,
                p0: usize,
                pb: usize,
                lo: usize,
                hi: usize,
            ) {
                update_trailing_on::<T, Self>(a, n, p0, pb, lo, hi)
            }
            #[target_feature(enable = $features)]
            unsafe fn solve<T: Lane<Self>>(
                lu: Raw<T>,
                n: usize,
                piv: &[usize],
                x: Raw<T>,
                m: usize,
                rdiag: &[T],
            ) {
                solve_on::<T, Self>(lu, n, piv, x, m, rdiag)
            }
        }
    };
}
lu_tiles_for!(Avx512, "avx512f");
lu_tiles_for!(Avx2, "avx2,fma");

/// `rdiag[i] ← 1 / U[i, i]` for the solves.
///
/// # Safety
/// `lu` valid for `rdiag.len()` diagonal entries.
pub unsafe fn reciprocal_diagonal<T: Lane<I>, I: Isa>(lu: Raw<T>, rdiag: &mut [T]) {
    for (i, r) in rdiag.iter_mut().enumerate() {
        *r = T::one().div(*lu.at(i, i));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pivot rule on one entry at a time, as LAPACK's i?amax with NaNs passed over.
    fn first_largest_abs_scalar<T: Copy + Into<f64>>(x: &[T]) -> usize {
        let mut p = 0;
        let mut best: f64 = x[0].into().abs();
        for (i, &v) in x.iter().enumerate().skip(1) {
            let v: f64 = v.into().abs();
            if v > best || (best.is_nan() && !v.is_nan()) {
                best = v;
                p = i;
            }
        }
        p
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn vector_avx512<T: Lane<Avx512>>(x: &[T]) -> usize {
        first_largest_abs::<T, Avx512>(x.as_ptr(), x.len())
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn vector_avx2<T: Lane<Avx2>>(x: &[T]) -> usize {
        first_largest_abs::<T, Avx2>(x.as_ptr(), x.len())
    }

    /// Columns of every length from 1 to 80 (the vector passes from 2W + 1 on, partial last
    /// vectors) with ties, NaNs (some columns all NaN), infinities, zeros and −0: the same index
    /// as the scalar rule, in f64 and f32, on each instruction set this CPU has.
    fn check<T: Lane<Avx512> + Lane<Avx2> + Into<f64>>(from: impl Fn(f64) -> T) {
        let avx512 = std::is_x86_feature_detected!("avx512f");
        let avx2 = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
        if !avx512 && !avx2 {
            println!("pivot_search_is_the_scalar_rule: skipped: this CPU has neither AVX-512F nor AVX2 + FMA");
            return;
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut vector_path = 0;
        for len in 1..=80 {
            for trial in 0..40 {
                let x: Vec<T> = (0..len)
                    .map(|_| {
                        let r = next();
                        from(match (trial % 5, r % 16) {
                            (0, _) => f64::NAN,
                            (1, 0..=7) => f64::NAN,
                            (_, 0) => f64::INFINITY,
                            (_, 1) => f64::NEG_INFINITY,
                            (_, 2) => -0.0,
                            (_, 3..=5) => -3.0,
                            (_, 6..=8) => 3.0,
                            _ => ((r >> 8) % 1000) as f64 / 999.0 - 0.5,
                        })
                    })
                    .collect();
                let want = first_largest_abs_scalar(&x);
                if avx512 {
                    // SAFETY: AVX-512F checked above.
                    let got = unsafe { vector_avx512(&x) };
                    assert_eq!(got, want, "AVX-512: len {len}, trial {trial}");
                    vector_path += usize::from(len > 2 * <T as Lane<Avx512>>::W);
                }
                if avx2 {
                    // SAFETY: AVX2 and FMA checked above.
                    let got = unsafe { vector_avx2(&x) };
                    assert_eq!(got, want, "AVX2: len {len}, trial {trial}");
                    vector_path += usize::from(len > 2 * <T as Lane<Avx2>>::W);
                }
            }
        }
        assert!(vector_path > 0);
    }

    /// The cycles of a panel's swaps move every entry where the swaps one by one would, for
    /// random pivot sequences (repeats, pivots on the diagonal, rows shared by two swaps), and
    /// leave `src` the identity.
    #[test]
    fn permutation_cycles_are_the_swaps_in_order() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        let n = 70;
        let mut src: Vec<usize> = (0..n).collect();
        let mut cycles = vec![0; crate::lu::blocked_scratch_len(n)];
        for trial in 0..500 {
            let k0 = next(n);
            let pb = 1 + next(n - k0);
            let piv: Vec<usize> = (0..pb).map(|k| k0 + k + next(n - k0 - k)).collect();
            let mut want: Vec<f64> = (0..n).map(|i| i as f64).collect();
            for (k, &p) in piv.iter().enumerate() {
                want.swap(k0 + k, p);
            }
            let len = permutation_cycles(&piv, k0, &mut src, &mut cycles);
            let mut got: Vec<f64> = (0..n).map(|i| i as f64).collect();
            // SAFETY: one column of n rows; `permute_rows` needs no vector instructions.
            unsafe { permute_rows(Raw::new(got.as_mut_ptr(), n as isize), &cycles[..len], 0, 1) };
            assert_eq!(got, want, "trial {trial}: k0 {k0}, pivots {piv:?}");
            assert!(
                src.iter().enumerate().all(|(i, &s)| s == i),
                "trial {trial}"
            );
        }
    }

    #[test]
    fn pivot_search_is_the_scalar_rule() {
        check::<f64>(|v| v);
        check::<f32>(|v| v as f32);
    }
}
