//! Dense LU with partial pivoting and its solve with many right-hand sides — the one linear
//! system of the Padé step in [`crate::expm`] ((V − U)·R = U + V, and the Fréchet path's second
//! right-hand side).
//!
//! Two kernels ([`LuKernel`]), picked by [`LuSolver::new`]:
//!
//! - **On a CPU with AVX-512F or AVX2 + FMA: the crate's own LU on register tiles at every n,
//!   and its solve on the tiles up to [`LuScalar::TILES_SOLVE_MAX_N`] (640 in f64, 960 in f32,
//!   except where the factors' columns lie a multiple of [`SOLVE_ALIASED_STRIDE_BYTES`] apart,
//!   f64 n = 512)** (`lu/tiles.rs`), the LU left-looking in one pass up to [`LuScalar::UNBLOCKED_MAX_N`]
//!   (96 in f64, 192 in f32) and by panels above (next bullets); above the solve's limit,
//!   faer's triangular solves on the tiles' factors (third bullet). The one-pass LU: at these
//!   sizes faer's general routines spend most of their time outside arithmetic (its LU ran at 5–10
//!   GFLOP/s at n = 32–64, its products at about 70). Measured by a scratch program timing
//!   `LuSolver::with_kernel` on the same Gaussian system (f64, one thread, each time including a
//!   copy of the matrix, medians of 11 rounds, two runs, 2026-12-03 14:12 UTC), faer → tiles: LU
//!   n = 32 4.5–5.7 → 2.3–2.8 µs, n = 64 18.6–23.3 → 10.7–12.9 µs, n = 96 41.8–45.7 → 27.6–32.6 µs;
//!   solve with n right-hand sides n = 32 4.8–6.2 → 2.9–4.0 µs, n = 64 19.8–24.8 → 16.8–20.5 µs,
//!   n = 96 about even (52.6 → 48.6–59.6 µs); at n = 128 the tiles lost (LU 108–147 µs against
//!   76–113), hence its threshold. In f32 (16 rows per tile; same program, 14:20 UTC): LU n = 64
//!   15.3–15.5 → 8.1–8.2 µs, n = 128 60.1–60.6 → 68.1–69.1 µs, n = 192 144.9–152.3 → 139.3–142.5
//!   µs, n = 256 281.6–290.8 → 469.9–556.9 µs; solve n = 64 14.6–15.1 → 11.7–11.8 µs, n = 128
//!   67.9–130.5 → 58.2–89.1 µs, n = 192 263.9–267.7 → 238.6–245.1 µs, n = 256 about even — the
//!   tiles up to 192 there; f32 expm and Fréchet derivative with the tiles against faer's (two
//!   builds run alternately, ‖A‖₁ = 1, minima of 15 rounds over five rounds each, 14:35–14:36 UTC,
//!   a noisy stretch): expm n = 64 52.8–87.1 → 39.4–45.3 µs, n = 128 207–287 → 171–201 µs, n = 192
//!   495–737 → 424–498 µs; Fréchet n = 64 96.9–140 → 77.8–105 µs, n = 128 380–538 → 339–439 µs,
//!   n = 192 968–1414 → 880–1233 µs. Inside expm (interleaved runs of two builds, 14:16 UTC,
//!   minimum over 15 rounds): n = 32 ‖A‖₁ = 1 20.7 → 16.5 µs, n = 64 88.6 → 74.9 µs, n = 96 226 →
//!   201 µs; ‖A‖₁ = 50 n = 32 35.3 → 31.1 µs, n = 64 154.6 → 139.0 µs; the Fréchet derivative
//!   n = 32 39.0 → 33.1 µs, n = 64 196.5 → 176.9 µs. Accuracy: on the 39 reference cases of
//!   `tests/expm.rs` with a non-zero error, expm's relative error with the tiles over that with
//!   faer's LU has geometric mean 1.01 (from 0.11 to 2.4 per case: the order of the roundings
//!   differs, not their number).
//! - **n > 96 in f64, > 192 in f32: the tiles' LU by panels of [`PANEL_COLS`] columns**,
//!   right-looking:
//!   each panel factored by the one-pass LU, its row swaps applied to the other columns as one
//!   permutation (its cycles), and the columns to its right updated (L₁₁⁻¹ on the solve's
//!   tiles, A₂₂ −= L₂₁·U₁₂ on the GEMM tiles of `gemm/tiles.rs`) split over the call's team,
//!   with a look-ahead of one panel: the part that updates the next panel's columns factors that
//!   panel while the other parts update the rest (the same bits; on a team of two the LU alone at
//!   n = 192–512 7–15% faster, expm within its noise: `LOOKAHEAD_LEAD_COLS` in `lu/tiles.rs` has
//!   the measurements). The one-pass LU had lost to faer's from n = 128 (above); by panels, a
//!   scratch program (`LuSolver::new` before and after, best of 50-call batches, each including a
//!   copy of the matrix, 2026-12-04 02:35 UTC) measured the factorisation on one thread n = 97 28.5
//!   → 17.6 µs, 128 50.6 → 34.1, 192 130 → 99.5, 256 301 → 233, 312 408 → 337, 384 720 → 645 µs,
//!   and the solve (the tiles' now) n = 128 74.3 → 61.5, 256 345 → 293, 384 879 → 1072 µs (slower
//!   at 384 alone; expm at 384 still gained, below). Inside expm, where the team splits the updates
//!   (a team of two made that isolated loop's factorisation slower, n = 256 269 against 233 µs —
//!   its copy of the matrix runs on one core — but expm faster: n = 256 1315–1325 µs against
//!   1347–1373 with the updates on one core, ≈ 02:22 UTC), two builds run alternately (best of
//!   20-call batches over 2 s, paired bench inputs, 02:33–02:35 UTC) gave: expm ‖A‖₁ = 1 n = 128
//!   262–263 → 234–242 µs, 256 1498–1502 → 1315–1323, 312 2528–2561 → 2318–2326, 384 4623–4888 →
//!   4279–4492; ‖A‖₁ = 50 n = 128 428–429 → 394, 256 2695–2726 → 2522–2528; the Fréchet derivative
//!   ‖A‖₁ = 1 n = 128 675 → 618–619, 256 4271–4300 → 4020–4044; at n = 512 (faer's routines in
//!   both) 10.88 and 10.84–10.95 ms. The panels' LU is not bit-identical to the one-pass LU (the
//!   trailing update sums L₂₁·U₁₂ over the panel before subtracting it) nor to faer's;
//!   `tests/lu.rs` checks that L·U is a row permutation of the matrix, |L| ≤ 1, backward-stable
//!   residuals, and the same bits on teams of 1–3 threads. In f32 (the training's regularizer;
//!   fields of N = 193 and 312 among the seed's data), non-negative A with ‖A‖₁ = 5, two builds
//!   alternating (best of 10-call batches over 1.5 s, 02:58–02:59 UTC), faer's LU and solve → the
//!   panels: expm n = 193 532–533 → 454–459 µs, 256 973–982 → 840–848, 312 1653–1676 → 1443–1444,
//!   400 3207–3213 → 2818–2873, 512 6557–6896 → 5938–5965, 650 12764–13175 → 12907–13234 (no gain:
//!   hence 512); the Fréchet derivative n = 193 1150–1167 → 1076, 256 2221–2250 → 2027–2061, 312
//!   3968–4022 → 3623–3681, 400 7764–7843 → 7337–7374, 512 16080–16226 → 15086–15845, 650
//!   33396–34480 → 34256–34340.
//! - **Above [`LuScalar::TILES_SOLVE_MAX_N`], the panels' LU and faer's triangular solves**:
//!   the tiles' solve sweeps all of L and U once per group of right-hand sides, which at these
//!   sizes no longer stay in a core's L2, while faer's solve is blocked; faer's LU, on the other
//!   hand, lost to the panels at every size measured. The limits on AVX-512 are those of the
//!   solve by blocks (2026-12-05; below). Before, tile by tile (a scratch program, `LuSolver`
//!   on a team of two, best of 20 calls, Gaussian systems, 2026-12-04 13:35 UTC; factor faer →
//!   tiles, solve with n right-hand sides tiles / faer): f64 n = 384 818 → 670 µs, solve 1081 / 904;
//!   448 1212 → 955, 2270 / 1396; 512 1956 → 1406, 4983 / 2334; 650 3425 → 2556, 9945 /
//!   4077; 800 5750 → 4474, 18331 / 6836; f32 n = 512 1226 → 861, 1630 / 1318; 650 2046 →
//!   1602, 3046 / 2225. The tiles' row swaps go to faer as one permutation. Inside expm
//!   (two builds alternating, best of 10-call batches over 1.5 s, paired bench inputs and
//!   Gaussian A, 13:40–13:41 UTC), faer's LU and solve → this: f64 ‖A‖₁ = 1 n = 400
//!   5.77–5.95 → 5.34–5.52 ms, 512 12.10–12.26 → 11.02–11.55, 650 23.3–23.8 → 22.3–22.9;
//!   ‖A‖₁ = 50 n = 512 21.9–23.6 → 21.1–22.9; f32 non-negative ‖A‖₁ = 5 n = 650 13.98–14.62 →
//!   12.80–13.58 ms. Moving the solve's limit itself (f64 320 against 384, f32 448 against
//!   512) changed expm at n = 352–512 by less than the noise (13:39 UTC), and the limits were
//!   384 and 512.
//!
//!   By blocks of one GEMM tile's rows (as on AVX2, next bullet; 2026-12-05, the Xeon), the tiles'
//!   solve matched or beat its tile-by-tile form at every size and beat faer's up to f64 n = 624
//!   (level at 640–650) and f32 n = 960 (a scratch program, `LuSolver` with n right-hand sides on
//!   the same Gaussian system, best of 1.5 s of calls). One thread, two alternating rounds (06:09
//!   UTC), tile by tile → by blocks: f64 n = 32 1.5 → 1.5 µs, 64 9.3–9.5 → 8.6, 96 26.2–28.8 →
//!   23.4–25.2, 128 58.4–65.1 → 53.4–53.8, 192 185–207 → 178, 256 427–476 → 379–380; f32 n = 32 1.0
//!   → 1.1, 64 5.5–5.7 → 5.7 (one block either way: only the groups of right-hand sides differ), 96
//!   15.6–16.5 → 15.0, 128 34 → 31.3, 192 103–104 → 91–92, 256 230 → 207. A team of two
//!   (05:56–06:01 UTC), tile by tile / by blocks / faer: f64 n = 256 241 / 213 / 297 µs, 384 783 /
//!   675 / 821, 448 1696 / 1112 / 1398, 464 — / 1267 / 1384, 480 — / 1395 / 1528, 504 — / 1696 /
//!   1745, 576 — / 2499 / 2555, 600 — / 3157 / 3216, 624 — / 3206 / 3553, 640 — / 3513 / 3478, 650
//!   — / 3770 / 3747, 768 — / 7668 / 7004, 1000 — / 15872 / 13261 — hence 640 in f64; f32 n = 128
//!   27.4 / 24.8 / 34.5, 256 157 / 129 / 197, 512 1041 / 863 / 1269, 650 2791 / 1921 / 2181, 800
//!   6056 / 3684 / 3961, 960 — / 6055 / 6592 — hence 960. At f64 n = 512 the columns of the factors
//!   are 4 KiB apart and the tiles lost (2455 / 2074 µs): see [`SOLVE_ALIASED_STRIDE_BYTES`].
//! - **On AVX2 + FMA (no AVX-512) the same kernels on 4-double (8-float) vectors**, tiles of
//!   at most 8 columns; the solve by blocks of one GEMM tile's rows (8 in f64, 16 in f32) with
//!   the products between blocks on the GEMM tiles (`lu/tiles.rs`), handed to faer above
//!   [`LuScalar::TILES_SOLVE_MAX_N_AVX2`] (f64 240, f32 480; the measurements are that
//!   constant's). Measured on an AMD EPYC (Zen 3) guest (a scratch program,
//!   `LuSolver::with_kernel`, best of 10-call batches over 0.5 s, 2026-12-04 16:30–17:00 UTC),
//!   tiles / faer: f64 factor on one thread n = 32 2.0 / 3.9 µs, 64 10.0 / 15.9, 96 29.1 /
//!   38.5, 128 64 / 75, 192 177 / 200, 256 469 / 446, 384 1413 / 1275, 512 5653 / 4264; on a
//!   team of two (faer's LU stays sequential) n = 128 61 / 75, 192 171 / 202, 256 315 / 446,
//!   384 834 / 1268, 512 2819 / 3416 — hence the tiles' LU at every n there too; f32 factor
//!   n = 64 6.4 / 13.7, 128 30.3 / 91.9, 256 210 / 279.
//! - **On other CPUs, faer's partial-pivoting LU** (sequential) and triangular solves.
//!
//! What this module decides besides is how the two calls use the cores, measured on the
//! 2-core machine (scratch program timing faer's `lu_in_place` and `solve_in_place` at
//! n = 64–512, f64, minimum of five rounds, 2026-11-28 18:10 UTC):
//! - faer's factorisation runs on one core at every size: its parallel LU was slower than its
//!   sequential one at every n measured (n = 128 215 µs vs 127 µs, 256 1.23 ms vs 459 µs,
//!   312 1.81 vs 1.28 ms, 512 4.72 vs 3.86 ms) — its panel steps are too thin to share. The
//!   tiles' LU by panels shares each panel's updates with the team (above).
//! - The solve with n right-hand sides splits the right-hand sides into one block of columns
//!   per thread, each solved sequentially on its own core: the columns are independent, so
//!   nothing is shared but the factors. Against faer's parallel solve: n = 128 132 µs vs
//!   199 µs, 256 0.70–0.83 ms vs 1.14 ms, 312 1.42–1.53 vs 2.16 ms, 512 4.0–4.9 vs 6.0 ms; at
//!   n = 96 it gains nothing over one core (62–76 µs vs 64 µs), hence
//!   [`SPLIT_SOLVE_MIN_N_FORK_JOIN`] (128). Inside a kernel call that holds a team of threads
//!   ([`crate::team`], as expm does) the blocks go to the team, from [`SPLIT_SOLVE_MIN_N`]
//!   (96); otherwise to rayon.
//!
//! With either kernel every column goes through the same sequence of operations whichever block
//! it is in, so the result is bit-identical to one sequential solve of all columns
//! (`tests/expm.rs` for faer's, `tests/lu.rs` for the tiles). With faer's, expm's
//! results are those of the previous faer-parallel LU and solve (a scratch program hashing
//! every output bit on 600 inputs, n = 1–300). Inside expm the two changes together measured,
//! in an in-process interleaved A/B against the previous code (a scratch program linking both,
//! alternating them on the same input, 18:22 and 18:40 UTC; old/new time per pair, median):
//! ‖A‖₁ = 1 n = 128 1.12×, 256 1.09×, 312 1.10×, 512 1.07×; ‖A‖₁ = 50 (four squarings)
//! 1.04–1.07×; the Fréchet derivative 1.09–1.10× at n = 128–312, 1.03× at 512. In f32, the
//! training path, where the LU and solve are a larger share: expm n = 128 1.46×, the Fréchet
//! derivative n = 128 1.35×, n = 312 1.24× (‖A‖₁ = 1) and 1.11× (‖A‖₁ = 50).
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::lu::partial_pivoting::{factor, solve};
use faer::perm::PermRef;
use faer::traits::RealField;
use faer::{MatMut, MatRef, Par};

use crate::error::KernelError;
use crate::gemm::column_major;
use crate::team::{self, MAX_PARTS};

#[cfg(target_arch = "x86_64")]
pub(crate) mod tiles;

/// Size from which [`LuSolver::solve`] splits the right-hand sides over the calling kernel's
/// team ([`crate::team`]; expm holds one from `expm::PAR_MIN_N`, also 96). On the AVX-512 Xeon
/// (two builds alternating, best of 1 s of calls, 2026-12-05 07:05 UTC), splitting from 96
/// instead of 128 (and in blocks of 48 columns instead of 64): f64 expm, ‖A‖₁ = 1, n = 96
/// 112.8–123.0 → 109.1–120.3 µs, 104 163.7–182.7 → 157.2–169.9, 120 234.6–244.6 → 215.8–219.4;
/// the Fréchet derivative n = 96 334.7–349.6 → 330.5–342.9, 120 650–689 → 596–642; f32 expm
/// (non-negative, ‖A‖₁ = 5) n = 96 103.6–109.5 → 100.1–103.5.
pub const SPLIT_SOLVE_MIN_N: usize = 96;

/// Size from which [`LuSolver::solve`] splits the right-hand sides outside a team, by rayon's
/// fork/join, whose wake-up of a sleeping worker costs more than the split gains below it:
/// back-to-back solves of one system (a scratch program, median of 1 s of calls, 07:07 UTC)
/// split from 96 took 49.7–51.3 µs at n = 96 and 64.4–64.8 at 112 against 28.5–28.9 and
/// 46.9–47.1 unsplit.
pub const SPLIT_SOLVE_MIN_N_FORK_JOIN: usize = 128;

/// Fewest right-hand sides per block of a split solve (48: n = 96–127 split in two; faer's
/// solve gives the bits of one sequential solve on such blocks, `tests/expm.rs`).
const MIN_BLOCK_COLS: usize = 48;

/// Which code factors and solves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LuKernel {
    /// The crate's own LU on register tiles (`lu/tiles.rs`), and its solve there up to
    /// [`LuScalar::TILES_SOLVE_MAX_N`] (faer's triangular solves on the same factors above):
    /// x86-64 with AVX-512F or AVX2 + FMA ([`crate::isa::tiles_isa`]: detected at run time,
    /// narrowed by `CORTICAL_TILES`).
    Tiles,
    /// faer's partial-pivoting LU and triangular solves.
    Faer,
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// Columns per panel of the blocked tile factorisation (n > [`LuScalar::UNBLOCKED_MAX_N`]).
/// 32 and 48 measured alike inside expm at n = 128–312 (f64), 64 slower at 128.
pub const PANEL_COLS: usize = 32;

/// Element types [`LuSolver`] factors: `f32` and `f64`.
pub trait LuScalar: RealField + Copy + Send + Sync + 'static + sealed::Sealed {
    /// Largest n whose solve [`LuKernel::Tiles`] runs on the tiles on AVX-512; above it (and
    /// where the factors' columns lie a multiple of [`SOLVE_ALIASED_STRIDE_BYTES`] apart),
    /// faer's triangular solves read the tiles' factors: 640 in f64, 960 in f32 (see the module
    /// docs).
    const TILES_SOLVE_MAX_N: usize;
    /// The same limit on AVX2 + FMA: 240 in f64, 480 in f32. There the tiles' solve runs by
    /// blocks of one GEMM tile's rows, the products between blocks on the GEMM tiles, because
    /// tile by tile (one vector of rows by at most 8 columns) it was bound by loads and lost to
    /// faer's from f64 n = 48. Solve with n right-hand sides, split over two threads from
    /// n = 128 (a scratch program, `LuSolver::with_kernel`, the least of 5–7 rounds of best of
    /// 10-call batches, AMD EPYC Zen 3, 2026-12-04 18:48–18:51 UTC), faer / tile by tile / by
    /// blocks: f64 n = 32 5.0 / 4.5 / 3.4 µs, 48 12.7 / 13.4 / 8.8, 64 25.1 / 30.1 / 18.6,
    /// 96 71.8 / 95.4 / 52.6; faer / by blocks n = 128 95–138 / 95–107, 160 266 / 192, 176
    /// 215–321 / 191–234, 192 308–365 / 235–325, 224 570 / 430, 240 490 / 424, 256 585–649 /
    /// 620–803, 288 793 / 685, 312 989 / 1073; f32 faer / tile by tile / by blocks n = 64 19.3
    /// / 17.2 / 13.9, 128 99 / 85 / 60, 192 260 / 268 / 165, 384 1072 / 1844 / 866; faer / by
    /// blocks 448 1469–2083 / 1278–1476, 480 1755 / 1534, 512 2190–2805 / 2454–3142 (the
    /// power-of-two sizes lose; the limits stop below them).
    const TILES_SOLVE_MAX_N_AVX2: usize;
    /// The solve's limit on this CPU's instruction set ([`LuScalar::TILES_SOLVE_MAX_N`] or
    /// [`LuScalar::TILES_SOLVE_MAX_N_AVX2`]; 0 where the tiles do not run).
    fn tiles_solve_max_n() -> usize {
        match crate::isa::tiles_isa() {
            Some(crate::isa::TileIsa::Avx512) => Self::TILES_SOLVE_MAX_N,
            Some(crate::isa::TileIsa::Avx2) => Self::TILES_SOLVE_MAX_N_AVX2,
            None => 0,
        }
    }
    /// Largest n the tiles factor in one left-looking pass; above it they factor by panels of
    /// [`PANEL_COLS`] with right-looking updates (96 in f64, 192 in f32).
    const UNBLOCKED_MAX_N: usize;
    #[doc(hidden)]
    /// Whether [`LuKernel::Tiles`] runs for this type on this CPU.
    fn tiles_available() -> bool;
    #[doc(hidden)]
    /// Factor with the tile kernels; `a` n×n with unit row stride, `scratch` of
    /// [`blocked_scratch_len`]`(n)`.
    fn tiles_factor(
        a: MatMut<'_, Self>,
        piv: &mut [usize],
        rdiag: &mut [Self],
        scratch: &mut [usize],
    );
    #[doc(hidden)]
    /// Solve with the tile kernels; `x` with n rows and unit row stride.
    fn tiles_solve(lu: MatRef<'_, Self>, piv: &[usize], rdiag: &[Self], x: MatMut<'_, Self>);
}

macro_rules! lu_scalar {
    ($t:ty, $max:expr, $max_avx2:expr, $unblocked:expr) => {
        impl LuScalar for $t {
            const TILES_SOLVE_MAX_N: usize = $max;
            const TILES_SOLVE_MAX_N_AVX2: usize = $max_avx2;
            const UNBLOCKED_MAX_N: usize = $unblocked;
            fn tiles_available() -> bool {
                crate::isa::tiles_isa().is_some()
            }
            fn tiles_factor(
                a: MatMut<'_, $t>,
                piv: &mut [usize],
                rdiag: &mut [$t],
                scratch: &mut [usize],
            ) {
                let n = a.nrows();
                assert!(
                    Self::tiles_available()
                        && a.ncols() == n
                        && piv.len() == n
                        && rdiag.len() == n
                        && scratch.len() >= blocked_scratch_len(n)
                        && column_major(a.as_ref()),
                    "LuKernel::Tiles: not available, or a is not n×n column-major"
                );
                #[cfg(target_arch = "x86_64")]
                {
                    use crate::isa::TileIsa;
                    use crate::lanes::{Avx2, Avx512, Lane, Raw};
                    use tiles::LuTiles;
                    /// The factorisation on the instruction set `I`.
                    ///
                    /// # Safety
                    /// `I` available; `raw` n×n column-major, `piv` and `rdiag` of length n,
                    /// `scratch` of `blocked_scratch_len(n)`.
                    unsafe fn on<I: LuTiles>(
                        raw: Raw<$t>,
                        n: usize,
                        piv: &mut [usize],
                        rdiag: &mut [$t],
                        scratch: &mut [usize],
                    ) where
                        $t: Lane<I>,
                    {
                        if n <= <$t as LuScalar>::UNBLOCKED_MAX_N {
                            I::factor(raw, n, piv);
                        } else {
                            tiles::factor_blocked::<$t, I>(raw, n, PANEL_COLS, piv, scratch);
                        }
                        tiles::reciprocal_diagonal::<$t, I>(raw, rdiag);
                    }
                    let raw = Raw::new(a.as_ptr_mut(), a.col_stride());
                    // SAFETY: the instruction set was detected (checked above); `a` is n×n with
                    // unit row stride and column stride `col_stride()` (≥ n for a column-major
                    // view), valid for the view's life.
                    unsafe {
                        match crate::isa::tiles_isa() {
                            Some(TileIsa::Avx512) => on::<Avx512>(raw, n, piv, rdiag, scratch),
                            Some(TileIsa::Avx2) => on::<Avx2>(raw, n, piv, rdiag, scratch),
                            None => unreachable!("checked above"),
                        }
                    }
                }
            }
            fn tiles_solve(lu: MatRef<'_, $t>, piv: &[usize], rdiag: &[$t], x: MatMut<'_, $t>) {
                let n = lu.nrows();
                assert!(
                    Self::tiles_available()
                        && lu.ncols() == n
                        && x.nrows() == n
                        && piv.len() == n
                        && rdiag.len() == n
                        && column_major(lu)
                        && column_major(x.as_ref()),
                    "LuKernel::Tiles: not available, or lu / x not column-major with n rows"
                );
                #[cfg(target_arch = "x86_64")]
                {
                    use crate::isa::TileIsa;
                    use crate::lanes::{Avx2, Avx512, Raw};
                    use tiles::LuTiles;
                    let m = x.ncols();
                    let lu_raw = Raw::new(lu.as_ptr() as *mut $t, lu.col_stride());
                    let x_raw = Raw::new(x.as_ptr_mut(), x.col_stride());
                    // SAFETY: as in `tiles_factor`; the solve only reads `lu`.
                    unsafe {
                        match crate::isa::tiles_isa() {
                            Some(TileIsa::Avx512) => Avx512::solve(lu_raw, n, piv, x_raw, m, rdiag),
                            Some(TileIsa::Avx2) => Avx2::solve(lu_raw, n, piv, x_raw, m, rdiag),
                            None => unreachable!("checked above"),
                        }
                    }
                }
            }
        }
    };
}
lu_scalar!(f64, 640, 240, 96);
lu_scalar!(f32, 960, 480, 192);

/// Scratch of the blocked tile factorisation for an n×n matrix: the panel swaps' composite
/// permutation (n) and its cycles (at most n moved rows and n / 2 cycles).
pub(crate) fn blocked_scratch_len(n: usize) -> usize {
    2 * n + n / 2 + 1
}

/// Row permutation and scratch for factoring an n×n matrix in place and solving with up to n
/// right-hand sides; allocates only in [`LuSolver::new`].
pub struct LuSolver<T> {
    n: usize,
    kernel: LuKernel,
    /// faer's row permutation and its inverse ([`LuKernel::Faer`], and the tiles' swaps as
    /// one permutation where faer's solve reads the tiles' factors: `tiles_solve_suits`).
    perm: Vec<usize>,
    perm_inv: Vec<usize>,
    /// LAPACK-style pivots, 1 / U's diagonal and the blocked factorisation's scratch
    /// ([`LuKernel::Tiles`]).
    piv: Vec<usize>,
    rdiag: Vec<T>,
    panel_scratch: Vec<usize>,
    /// faer's scratch, one buffer per block of right-hand sides (the first also serves the
    /// LU); their number is the solve's number of blocks for either kernel, and the tiles hand
    /// views that are not column-major to faer.
    stacks: Vec<MemBuffer>,
    /// The kernel of the last factorisation, which its solves must use.
    factored_by: LuKernel,
}

impl<T: LuScalar> LuSolver<T> {
    /// Scratch for n×n systems, with [`LuKernel::Tiles`] where the CPU has it, faer
    /// otherwise. The solve will use up to `min(rayon threads, n / 48)` blocks from
    /// n = [`SPLIT_SOLVE_MIN_N`] on (the thread count read here, once): on the calling
    /// kernel's team from there, by rayon's fork/join from [`SPLIT_SOLVE_MIN_N_FORK_JOIN`].
    pub fn new(n: usize) -> Self {
        let kernel = if T::tiles_available() {
            LuKernel::Tiles
        } else {
            LuKernel::Faer
        };
        Self::build(n, kernel)
    }

    /// As [`LuSolver::new`] with the kernel chosen by the caller (to compare the two).
    ///
    /// Errors: [`KernelError::Unsupported`] if `kernel` is [`LuKernel::Tiles`] and this
    /// CPU has neither AVX-512F nor AVX2 + FMA (see [`LuSolver::tiles_available`]).
    pub fn with_kernel(n: usize, kernel: LuKernel) -> Result<Self, KernelError> {
        if kernel == LuKernel::Tiles && !T::tiles_available() {
            return Err(KernelError::Unsupported {
                what: "LuSolver::with_kernel: LuKernel::Tiles",
                reason: "needs a CPU with AVX-512F or AVX2 + FMA",
            });
        }
        Ok(Self::build(n, kernel))
    }

    fn build(n: usize, kernel: LuKernel) -> Self {
        let blocks = if n >= SPLIT_SOLVE_MIN_N {
            rayon::current_num_threads()
                .min(n / MIN_BLOCK_COLS)
                .clamp(1, MAX_PARTS)
        } else {
            1
        };
        // faer's scratch per block: the first serves the LU and a solve of all n columns in one
        // block (fewer than the split's minimum, or n below it); the others the widest block
        // `for_column_blocks` makes, ⌈n / blocks⌉ columns, or fewer than 2·MIN_BLOCK_COLS when
        // a narrower right-hand side is split into fewer blocks.
        let cols = n.div_ceil(blocks).max(2 * MIN_BLOCK_COLS).min(n);
        let solve_req = solve::solve_in_place_scratch::<usize, T>(n, cols, Par::Seq);
        let whole_req = solve::solve_in_place_scratch::<usize, T>(n, n, Par::Seq);
        let lu_req = factor::lu_in_place_scratch::<usize, T>(n, n, Par::Seq, Default::default());
        let stacks = (0..blocks)
            .map(|b| {
                MemBuffer::new(if b == 0 {
                    lu_req.or(whole_req)
                } else {
                    solve_req
                })
            })
            .collect();
        // The identity until the first factorisation, so that the permutation is always valid.
        LuSolver {
            n,
            kernel,
            perm: (0..n).collect(),
            perm_inv: (0..n).collect(),
            piv: (0..n).collect(),
            rdiag: vec![T::one_impl(); n],
            panel_scratch: if kernel == LuKernel::Tiles {
                vec![0; blocked_scratch_len(n)]
            } else {
                Vec::new()
            },
            stacks,
            factored_by: kernel,
        }
    }

    /// Whether [`LuKernel::Tiles`] runs on this CPU for `T`.
    pub fn tiles_available() -> bool {
        T::tiles_available()
    }

    /// The size this solver is allocated for.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The kernel this solver runs.
    pub fn kernel(&self) -> LuKernel {
        self.kernel
    }

    /// Factor `q` in place: on return its strict lower triangle holds L (unit diagonal implied)
    /// and its upper triangle U, with the row permutation kept here for [`LuSolver::solve`].
    ///
    /// Errors: [`KernelError::DimensionMismatch`] if `q` is not n×n (nothing is written).
    pub fn factor(&mut self, q: MatMut<'_, T>) -> Result<(), KernelError> {
        let n = self.n;
        if q.nrows() != n || q.ncols() != n {
            return Err(KernelError::DimensionMismatch {
                what: "LuSolver::factor: q",
                expected: format!("{n}×{n} (the solver's size)"),
                got: format!("{}×{}", q.nrows(), q.ncols()),
            });
        }
        // The tiles read column-major views in place; any other view goes to faer.
        self.factored_by = if column_major(q.as_ref()) {
            self.kernel
        } else {
            LuKernel::Faer
        };
        match self.factored_by {
            LuKernel::Tiles => {
                T::tiles_factor(q, &mut self.piv, &mut self.rdiag, &mut self.panel_scratch);
            }
            LuKernel::Faer => {
                factor::lu_in_place(
                    q,
                    &mut self.perm,
                    &mut self.perm_inv,
                    Par::Seq,
                    MemStack::new(&mut self.stacks[0]),
                    Default::default(),
                );
            }
        }
        Ok(())
    }

    /// Solve `q·X = rhs` in place, `lu` holding the factors [`LuSolver::factor`] left in `q`.
    ///
    /// Errors: [`KernelError::DimensionMismatch`] if `lu` is not n×n, or `rhs` has not n rows
    /// or more than n columns (nothing is written).
    pub fn solve(&mut self, lu: MatRef<'_, T>, rhs: MatMut<'_, T>) -> Result<(), KernelError> {
        let n = self.n;
        if lu.nrows() != n || lu.ncols() != n {
            return Err(KernelError::DimensionMismatch {
                what: "LuSolver::solve: lu",
                expected: format!("{n}×{n} (the solver's size)"),
                got: format!("{}×{}", lu.nrows(), lu.ncols()),
            });
        }
        if rhs.nrows() != n || rhs.ncols() > n {
            return Err(KernelError::DimensionMismatch {
                what: "LuSolver::solve: rhs",
                expected: format!("{n} rows and at most {n} columns"),
                got: format!("{}×{}", rhs.nrows(), rhs.ncols()),
            });
        }
        // Outside a team, split only where fork/join's wake-up pays.
        let split_min = if team::team_size() > 1 {
            SPLIT_SOLVE_MIN_N
        } else {
            SPLIT_SOLVE_MIN_N_FORK_JOIN
        };
        let stacks = if n >= split_min {
            &mut self.stacks[..]
        } else {
            &mut self.stacks[..1]
        };
        let solve_by = match self.factored_by {
            LuKernel::Tiles if !tiles_solve_suits::<T>(n, lu.col_stride()) => {
                // faer's solve takes the tiles' row swaps as one permutation and its inverse.
                pivots_to_permutation(&self.piv, &mut self.perm, &mut self.perm_inv);
                LuKernel::Faer
            }
            k => k,
        };
        match solve_by {
            LuKernel::Tiles => {
                // Factors handed back in another layout than they were made in: read a copy.
                let owned;
                let lu = if column_major(lu) {
                    lu
                } else {
                    owned = lu.to_owned();
                    owned.as_ref()
                };
                let (piv, rdiag) = (&self.piv[..], &self.rdiag[..]);
                for_column_blocks(rhs, stacks, |x, _| {
                    if !column_major(x.as_ref()) {
                        // Not column-major (strided rows, reversed columns): solve a copy.
                        let mut c = x.to_owned();
                        T::tiles_solve(lu, piv, rdiag, c.as_mut());
                        let mut x = x;
                        x.copy_from(&c);
                    } else {
                        T::tiles_solve(lu, piv, rdiag, x)
                    }
                });
            }
            LuKernel::Faer => {
                let perm = PermRef::new_checked(&self.perm, &self.perm_inv, n);
                // L and U share the factored matrix: the unit-lower solve reads only the strict
                // lower triangle and the upper solve only the upper one.
                for_column_blocks(rhs, stacks, |x, stack| {
                    solve::solve_in_place(lu, lu, perm, x, Par::Seq, MemStack::new(stack))
                });
            }
        }
        Ok(())
    }
}

/// Column strides (in bytes) at multiples of which the tiles' solve hands over to faer's: each
/// step of its tiles reads the next column of L or U, and columns 4 KiB apart fall in the same
/// set of the L1 and L2 caches, so the panel a block re-reads for every tile of right-hand
/// sides no longer stays in cache. On the AVX-512 Xeon (a scratch program, `LuSolver` on a
/// team of two, best of 1.5 s of calls, 2026-12-05 05:57–06:01 UTC), tiles / faer: f64 n = 504
/// 1696 / 1745 µs, 512 2455 / 2074, 520 1849 / 1964, 1024 29082 / 15792; f32 n = 960 6055 /
/// 6592, 1024 13358 / 9338. The rule holds on AVX2 too, where the limits already stop below
/// such sizes (only factors inside a taller matrix reach it) and where the power-of-two sizes
/// lost as well ([`LuScalar::TILES_SOLVE_MAX_N_AVX2`]).
pub const SOLVE_ALIASED_STRIDE_BYTES: usize = 4096;

/// Whether the tiles solve an n×n system whose factors' columns are `col_stride` entries apart:
/// n within this CPU's limit ([`LuScalar::tiles_solve_max_n`]) and the stride not a multiple
/// of [`SOLVE_ALIASED_STRIDE_BYTES`].
fn tiles_solve_suits<T: LuScalar>(n: usize, col_stride: isize) -> bool {
    let bytes = col_stride.unsigned_abs() * std::mem::size_of::<T>();
    n <= T::tiles_solve_max_n() && (bytes == 0 || !bytes.is_multiple_of(SOLVE_ALIASED_STRIDE_BYTES))
}

/// The row permutation `perm` (row i of P·A is row `perm[i]` of A) and its inverse that the
/// LAPACK-style swaps `piv` (row k exchanged with row `piv[k]`, k = 0, 1, … in order) make.
fn pivots_to_permutation(piv: &[usize], perm: &mut [usize], perm_inv: &mut [usize]) {
    for (i, p) in perm.iter_mut().enumerate() {
        *p = i;
    }
    for (k, &p) in piv.iter().enumerate() {
        perm.swap(k, p);
    }
    for (i, &p) in perm.iter().enumerate() {
        perm_inv[p] = i;
    }
}

/// `f(block, its scratch)` on even column blocks of `rhs`, one per scratch buffer but none of
/// fewer than [`MIN_BLOCK_COLS`] columns (so a narrow `rhs` is one block), in parallel: on the
/// team of the calling kernel when there is one ([`crate::team`]), otherwise by rayon
/// fork/join; on all of `rhs` when there is one block. Every block ends with at most
/// ⌈n / stacks⌉ columns, or fewer than 2·[`MIN_BLOCK_COLS`] where `rhs` is too narrow for a
/// block per buffer, and one block (all of `rhs`) gets the first buffer: what
/// [`LuSolver::new`] sized faer's scratch for (before 2026-12-05 it sized every buffer for
/// ⌈n / stacks⌉ columns, and faer's solve of 100 right-hand sides of an n = 128 system on two
/// threads ran out of scratch and panicked). The floor on the width keeps the
/// bits of one sequential solve: faer's triangular solve takes other kernels for a few
/// right-hand sides (4 columns of an n = 512 system split 1 + 1 + 2 over a team of three
/// changed bits of the solution).
fn for_column_blocks<T: Send>(
    rhs: MatMut<'_, T>,
    stacks: &mut [MemBuffer],
    f: impl Fn(MatMut<'_, T>, &mut MemBuffer) + Sync,
) {
    let cols = rhs.ncols();
    let blocks = stacks.len().min(cols / MIN_BLOCK_COLS).max(1);
    if blocks == 1 {
        return f(rhs, &mut stacks[0]);
    }
    let cols_of = team::split_even(cols, blocks, rhs, |m, j| m.split_at_col_mut(j));
    let mut parts: [Option<(MatMut<'_, T>, &mut MemBuffer)>; MAX_PARTS] = Default::default();
    for ((part, piece), stack) in parts.iter_mut().zip(cols_of).zip(stacks.iter_mut()) {
        *part = piece.map(|(_, x)| (x, stack));
    }
    team::for_each_part(&mut parts[..blocks], |_, part| {
        if let Some((x, stack)) = part.take() {
            f(x, stack)
        }
    });
}

#[cfg(test)]
mod tests {
    use super::pivots_to_permutation;

    /// The swaps applied one by one to the row labels give the permutation, and `perm_inv`
    /// undoes it: on every pivot sequence of length 4 (each `piv[k] ≥ k`, as partial pivoting
    /// makes them) and on a longer one.
    #[test]
    fn pivots_become_the_permutation_the_swaps_make() {
        let mut seqs: Vec<Vec<usize>> = Vec::new();
        for p0 in 0..4 {
            for p1 in 1..4 {
                for p2 in 2..4 {
                    seqs.push(vec![p0, p1, p2, 3]);
                }
            }
        }
        seqs.push(vec![5, 9, 2, 3, 11, 5, 8, 7, 8, 9, 11, 11]);
        for piv in seqs {
            let n = piv.len();
            let mut rows: Vec<usize> = (0..n).collect();
            for (k, &p) in piv.iter().enumerate() {
                rows.swap(k, p);
            }
            let (mut perm, mut perm_inv) = (vec![usize::MAX; n], vec![usize::MAX; n]);
            pivots_to_permutation(&piv, &mut perm, &mut perm_inv);
            assert_eq!(perm, rows, "pivots {piv:?}");
            for i in 0..n {
                assert_eq!(perm_inv[perm[i]], i, "pivots {piv:?}");
            }
        }
    }
}
