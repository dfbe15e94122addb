//! The LU and many-right-hand-side solve of `cortical_kernels::lu`: the register-tile kernels
//! against faer's routines on the same systems, and their edge cases.
//!
//! The tiles run on a CPU with AVX-512F or AVX2 + FMA, at most on the set `CORTICAL_TILES`
//! allows (`cortical_kernels::isa`); where they do not run, each test that needs them says it
//! skipped (CI runs this file once on the CPU's widest set and once with `CORTICAL_TILES=none`).
mod common;

use cortical_kernels::faer::{Mat, MatRef};
use cortical_kernels::lu::{
    LuKernel, LuScalar, LuSolver, PANEL_COLS, SOLVE_ALIASED_STRIDE_BYTES, SPLIT_SOLVE_MIN_N,
    SPLIT_SOLVE_MIN_N_FORK_JOIN,
};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const UNBLOCKED_MAX_N: usize = <f64 as LuScalar>::UNBLOCKED_MAX_N;

fn tiles_or_skip(test: &str) -> bool {
    let ok = LuSolver::<f64>::tiles_available();
    if !ok {
        println!(
            "{test}: skipped: LuKernel::Tiles does not run here \
             (a CPU without AVX-512F or AVX2 + FMA, or CORTICAL_TILES=none)"
        );
    }
    ok
}

fn normal(rows: usize, cols: usize, seed: u64) -> Mat<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    Mat::from_fn(rows, cols, |_, _| {
        let u1: f64 = rng.random::<f64>().max(1e-300);
        let u2: f64 = rng.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    })
}

fn norm_max<T: Copy + Into<f64>>(m: MatRef<'_, T>) -> f64 {
    let mut b = 0.0f64;
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            b = b.max(m[(i, j)].into().abs());
        }
    }
    b
}

/// `‖Q·X − P‖_max / (n ‖Q‖_max ‖X‖_max)` in f64, whatever the type solved in.
fn scaled_residual<T: Copy + Into<f64>>(
    q: MatRef<'_, T>,
    x: MatRef<'_, T>,
    p: MatRef<'_, T>,
) -> f64 {
    let f = |m: MatRef<'_, T>| Mat::<f64>::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)].into());
    let (q, x, p) = (f(q), f(x), f(p));
    let r = &q * &x - &p;
    let n = q.nrows().max(1) as f64;
    norm_max(r.as_ref()) / (n * norm_max(q.as_ref()) * norm_max(x.as_ref())).max(f64::MIN_POSITIVE)
}

fn solve_with<T: LuScalar>(kernel: LuKernel, q: &Mat<T>, p: &Mat<T>) -> (Mat<T>, Mat<T>) {
    let n = q.nrows();
    let mut s = LuSolver::<T>::with_kernel(n, kernel).expect("kernel available");
    assert_eq!(s.kernel(), kernel);
    let mut lu = q.clone();
    let mut x = p.clone();
    s.factor(lu.as_mut()).expect("shapes agree");
    s.solve(lu.as_ref(), x.as_mut()).expect("shapes agree");
    (lu, x)
}

/// The tiles' solution of Q·X = P and faer's: asserts the tiles' residual is backward stable
/// (a few units of u = 2^-53 ≈ 1.1e-16 per row, as faer's own), and returns the tiles'
/// solution, its scaled residual and its relative difference from faer's (0 when empty).
fn tiles_against_faer(q: &Mat<f64>, p: &Mat<f64>) -> (Mat<f64>, f64, f64) {
    let (n, m) = (q.nrows(), p.ncols());
    let (_, x) = solve_with(LuKernel::Tiles, q, p);
    let (_, x_faer) = solve_with(LuKernel::Faer, q, p);
    let res = scaled_residual(q.as_ref(), x.as_ref(), p.as_ref());
    let res_faer = scaled_residual(q.as_ref(), x_faer.as_ref(), p.as_ref());
    assert!(
        res <= 2e-15 && res <= 8.0 * res_faer.max(1e-17),
        "n = {n}, m = {m}: scaled residual {res:e} (faer {res_faer:e})"
    );
    let diff = if n > 0 && m > 0 {
        norm_max((&x - &x_faer).as_ref()) / norm_max(x_faer.as_ref())
    } else {
        0.0
    };
    (x, res, diff)
}

/// Every size from 0 to 70 and every multiple of 7 or 8 up to 40 past the f64 threshold of the
/// unblocked factorisation (full and partial tiles of 8 rows; blocked above 96), Gaussian systems
/// (partial pivoting does real work on them) with 1 to n right-hand sides: the tiles' solution has
/// a backward-stable residual, and agrees with faer's to what the system's conditioning allows
/// (both are partial-pivoting LU with the same pivots; they differ in the order of the roundings).
#[test]
fn tiles_solve_like_faer_at_every_size() {
    if !tiles_or_skip("tiles_solve_like_faer_at_every_size") {
        return;
    }
    let mut worst = (0.0f64, 0.0f64);
    for n in (0..=UNBLOCKED_MAX_N + 40).filter(|&n| n <= 70 || n % 7 == 0 || n % 8 == 0) {
        let q = normal(n, n, 11 + n as u64);
        for m in [1, 3, 8, 9, n] {
            let m = m.min(n);
            let p = normal(n, m, 500 + n as u64);
            let (_, res, diff) = tiles_against_faer(&q, &p);
            if n > 0 && m > 0 {
                // Gaussian matrices of these sizes have κ below 1e5 (checked: the largest
                // difference seen is printed below).
                assert!(
                    diff <= 1e-10,
                    "n = {n}, m = {m}: differs from faer by {diff:e}"
                );
                worst = (worst.0.max(res), worst.1.max(diff));
            }
        }
    }
    println!(
        "largest scaled residual {:e}, largest relative difference from faer {:e}",
        worst.0, worst.1
    );
}

/// f32 on the same systems: residuals of f32 size, and the f64 solution to f32 accuracy.
#[test]
fn tiles_solve_in_f32() {
    if !tiles_or_skip("tiles_solve_in_f32") {
        return;
    }
    // By panels from 193 on, solved by faer's triangular solves from 961 on (AVX2: 481).
    let lim = <f32 as LuScalar>::tiles_solve_max_n();
    let sizes = [1, 5, 15, 16, 17, 31, 33, 64, 95, 96, 97, 130, 192, 200, 257];
    for n in sizes.into_iter().chain([lim + 1, 600]) {
        let q = normal(n, n, 21 + n as u64);
        let p = normal(n, n, 600 + n as u64);
        let q32 = Mat::<f32>::from_fn(n, n, |i, j| q[(i, j)] as f32);
        let p32 = Mat::<f32>::from_fn(n, n, |i, j| p[(i, j)] as f32);
        let (_, x32) = solve_with(LuKernel::Tiles, &q32, &p32);
        let (_, x32_faer) = solve_with(LuKernel::Faer, &q32, &p32);
        let res = scaled_residual(q32.as_ref(), x32.as_ref(), p32.as_ref());
        let res_faer = scaled_residual(q32.as_ref(), x32_faer.as_ref(), p32.as_ref());
        assert!(
            res <= 1e-6 && res <= 8.0 * res_faer.max(1e-9),
            "n = {n}: f32 scaled residual {res:e} (faer {res_faer:e})"
        );
        let (_, x64) = solve_with(LuKernel::Faer, &q, &p);
        let x32_64 = Mat::<f64>::from_fn(n, n, |i, j| x32[(i, j)] as f64);
        let diff = norm_max((&x32_64 - &x64).as_ref()) / norm_max(x64.as_ref());
        assert!(
            diff <= 1e-2,
            "n = {n}: f32 solution off the f64 one by {diff:e}"
        );
    }
}

/// Systems that need the row exchanges: a zero in the first pivot position, and a tiny one
/// where elimination without pivoting loses everything (the classic [[ε, 1], [1, 1]]), in the
/// middle of a larger matrix too; and a permutation matrix, whose solve is exact.
#[test]
fn tiles_pivot_where_elimination_needs_it() {
    if !tiles_or_skip("tiles_pivot_where_elimination_needs_it") {
        return;
    }
    // [[ε, 1], [1, 1]] x = [1, 2]: x ≈ [1, 1]; without pivoting x₀ comes out 0.
    for eps in [0.0, 1e-20] {
        let q = Mat::<f64>::from_fn(2, 2, |i, j| if i == 0 && j == 0 { eps } else { 1.0 });
        let p = Mat::<f64>::from_fn(2, 1, |i, _| (i + 1) as f64);
        let (_, x) = solve_with(LuKernel::Tiles, &q, &p);
        assert!(
            (x[(0, 0)] - 1.0).abs() < 1e-15 && (x[(1, 0)] - 1.0).abs() < 1e-15,
            "ε = {eps}: x = [{}, {}]",
            x[(0, 0)],
            x[(1, 0)]
        );
    }
    // The same 2×2 block on rows/columns 9, 10 (the second tile) of an otherwise identity
    // matrix of size 20.
    let n = 20;
    let mut q = Mat::<f64>::identity(n, n);
    q[(9, 9)] = 1e-20;
    q[(9, 10)] = 1.0;
    q[(10, 9)] = 1.0;
    q[(10, 10)] = 1.0;
    let p = Mat::<f64>::from_fn(n, 1, |i, _| match i {
        9 => 1.0,
        10 => 2.0,
        _ => i as f64,
    });
    let (_, x) = solve_with(LuKernel::Tiles, &q, &p);
    for i in 0..n {
        let want = if i == 9 || i == 10 { 1.0 } else { i as f64 };
        assert!(
            (x[(i, 0)] - want).abs() < 1e-15,
            "row {i}: {} vs {want}",
            x[(i, 0)]
        );
    }
    // A permutation matrix: the solve only moves entries, so it is exact.
    let n = 37;
    let sigma: Vec<usize> = (0..n).map(|i| (i * 10 + 3) % n).collect();
    let q = Mat::<f64>::from_fn(n, n, |i, j| if sigma[i] == j { 1.0 } else { 0.0 });
    let p = normal(n, 5, 3);
    let (_, x) = solve_with(LuKernel::Tiles, &q, &p);
    for c in 0..5 {
        for i in 0..n {
            assert_eq!(x[(sigma[i], c)], p[(i, c)], "row {i}, column {c}");
        }
    }
}

/// The solve splits its right-hand sides over a team from n = 96 (`SPLIT_SOLVE_MIN_N`) and by
/// rayon's fork/join from 128 (`SPLIT_SOLVE_MIN_N_FORK_JOIN`): each column goes through the same
/// operations whichever block it is in, so 1, 2 and 3 threads give the same bits, on a team or
/// not.
#[test]
fn tiles_split_solve_is_bit_identical_to_one_thread() {
    if !tiles_or_skip("tiles_split_solve_is_bit_identical_to_one_thread") {
        return;
    }
    assert_eq!(SPLIT_SOLVE_MIN_N, 96);
    assert_eq!(SPLIT_SOLVE_MIN_N_FORK_JOIN, 128);
    for n in [96, 100, 127, 128, 131, 200] {
        let mut q = normal(n, n, 31 + n as u64);
        for i in 0..n {
            q[(i, i)] += 4.0 * (n as f64).sqrt();
        }
        let p = normal(n, n, 32);
        let run = |threads: usize, on_team: bool| {
            common::in_pool(threads, on_team, || solve_with(LuKernel::Tiles, &q, &p))
        };
        let (lu1, x1) = run(1, false);
        for threads in [2, 3] {
            for on_team in [false, true] {
                let (lu, x) = run(threads, on_team);
                let how = if on_team { "team" } else { "fork/join" };
                assert!(
                    lu == lu1,
                    "n = {n}, {threads} threads ({how}): factors differ"
                );
                assert!(
                    x == x1,
                    "n = {n}, {threads} threads ({how}): solution differs"
                );
            }
        }
        let res = scaled_residual(q.as_ref(), x1.as_ref(), p.as_ref());
        assert!(res <= 2e-15, "n = {n}: scaled residual {res:e}");
    }
}

/// Views that are not column-major (a transpose, reversed columns) go to faer for the
/// factorisation; factors or right-hand sides handed to the solve in such a layout are read
/// through a column-major copy: same solutions. Factors whose columns lie 4 KiB apart go to
/// faer's solve: the same solution to rounding.
#[test]
fn tiles_solver_accepts_strided_views() {
    if !tiles_or_skip("tiles_solver_accepts_strided_views") {
        return;
    }
    let n = 45;
    let q = normal(n, n, 41);
    let p = normal(n, n, 42);
    let (_, x) = solve_with(LuKernel::Tiles, &q, &p);

    let mut s = LuSolver::<f64>::with_kernel(n, LuKernel::Tiles).expect("tiles available");
    let mut qt = q.transpose().to_owned();
    s.factor(qt.as_mut().transpose_mut()).expect("shapes agree");
    let mut pt = p.transpose().to_owned();
    s.solve(qt.as_ref().transpose(), pt.as_mut().transpose_mut())
        .expect("shapes agree");
    let diff = norm_max((pt.transpose() - &x).as_ref()) / norm_max(x.as_ref());
    assert!(diff <= 1e-12, "strided factor and solve differ by {diff:e}");

    // Reversed columns (a negative column stride): faer factors; the solve of the reversed
    // system is the reversed-row solution.
    let mut qr = q.clone();
    s.factor(qr.as_mut().reverse_cols_mut())
        .expect("shapes agree");
    let mut xr = p.clone();
    s.solve(qr.as_ref().reverse_cols(), xr.as_mut())
        .expect("shapes agree");
    let x_rev = Mat::<f64>::from_fn(n, n, |i, j| x[(n - 1 - i, j)]);
    let diff = norm_max((&xr - &x_rev).as_ref()) / norm_max(x.as_ref());
    assert!(diff <= 1e-12, "reversed columns differ by {diff:e}");

    // Factors made column-major, handed back as a copy in row-major layout: same bits.
    let mut lu = q.clone();
    s.factor(lu.as_mut()).expect("shapes agree");
    let lu_rowmajor = lu.transpose().to_owned();
    let mut x2 = p.clone();
    s.solve(lu_rowmajor.as_ref().transpose(), x2.as_mut())
        .expect("shapes agree");
    assert!(x2 == x, "factors in another layout: not the same bits");

    // Contiguous factors, strided right-hand side only.
    let mut lu = q.clone();
    s.factor(lu.as_mut()).expect("shapes agree");
    let mut pt = p.transpose().to_owned();
    s.solve(lu.as_ref(), pt.as_mut().transpose_mut())
        .expect("shapes agree");
    assert!(
        pt.transpose() == x,
        "strided right-hand side: not the same bits"
    );

    // Factors in the top rows of a 512-row buffer: the tiles factor (the view is column-major),
    // and, the columns lying 4 KiB apart (`SOLVE_ALIASED_STRIDE_BYTES`), faer's triangular
    // solves read them with the tiles' row swaps: the same solution to rounding.
    let rows = SOLVE_ALIASED_STRIDE_BYTES / std::mem::size_of::<f64>();
    let mut tall = Mat::<f64>::from_fn(rows, n, |i, j| if i < n { q[(i, j)] } else { f64::NAN });
    s.factor(tall.as_mut().subrows_mut(0, n))
        .expect("shapes agree");
    let mut xa = p.clone();
    s.solve(tall.as_ref().subrows(0, n), xa.as_mut())
        .expect("shapes agree");
    let res = scaled_residual(q.as_ref(), xa.as_ref(), p.as_ref());
    let diff = norm_max((&xa - &x).as_ref()) / norm_max(x.as_ref());
    assert!(
        res <= 2e-15 && diff <= 1e-12,
        "factors 4 KiB apart: scaled residual {res:e}, differs by {diff:e}"
    );
}

/// A singular matrix (a zero pivot, in the first panel and in a later one) and a NaN entry: no
/// panic; the factorisation finishes and the solution is not finite, as LAPACK's getrf/getrs
/// would leave it. In one pass (n = 19), by panels (n = 150), and by panels with faer's solve
/// (n = 400).
#[test]
fn tiles_singular_and_nan_inputs_give_non_finite_solutions() {
    if !tiles_or_skip("tiles_singular_and_nan_inputs_give_non_finite_solutions") {
        return;
    }
    for (n, zero_col, nan_at) in [
        (19, 4, (7, 3)),
        (150, 4, (7, 3)),
        (150, 70, (140, 100)),
        (400, 390, (390, 200)),
    ] {
        let mut q = normal(n, n, 51);
        for i in 0..n {
            q[(i, zero_col)] = 0.0; // a zero column: a zero pivot at that step
        }
        let p = normal(n, 2, 52);
        let (_, x) = solve_with(LuKernel::Tiles, &q, &p);
        assert!(
            x.col_iter()
                .flat_map(|c| c.iter().copied().collect::<Vec<_>>())
                .any(|v| !v.is_finite()),
            "n = {n}, zero column {zero_col}: a finite solution"
        );

        let mut q = normal(n, n, 53);
        q[nan_at] = f64::NAN;
        let (_, x) = solve_with(LuKernel::Tiles, &q, &p);
        assert!(
            x.col_iter()
                .flat_map(|c| c.iter().copied().collect::<Vec<_>>())
                .any(|v| v.is_nan()),
            "n = {n}, NaN at {nan_at:?}: no NaN in the solution"
        );
    }
}

/// [`LuSolver::new`] picks the tiles at every n where the CPU has them (the solve's limit
/// decides only who solves), faer elsewhere; the per-type limits.
#[test]
fn new_picks_the_tiles_wherever_the_cpu_has_them() {
    fn check<T: LuScalar>() {
        let tiles = LuSolver::<T>::tiles_available();
        for n in [
            0,
            1,
            T::tiles_solve_max_n(),
            T::tiles_solve_max_n() + 1,
            300,
            700,
        ] {
            let want = if tiles {
                LuKernel::Tiles
            } else {
                LuKernel::Faer
            };
            assert_eq!(LuSolver::<T>::new(n).kernel(), want, "n = {n}");
        }
    }
    check::<f64>();
    check::<f32>();
    assert_eq!(<f64 as LuScalar>::TILES_SOLVE_MAX_N, 640);
    assert_eq!(<f32 as LuScalar>::TILES_SOLVE_MAX_N, 960);
    assert_eq!(<f64 as LuScalar>::TILES_SOLVE_MAX_N_AVX2, 240);
    assert_eq!(<f32 as LuScalar>::TILES_SOLVE_MAX_N_AVX2, 480);
    assert_eq!(<f64 as LuScalar>::UNBLOCKED_MAX_N, 96);
    assert_eq!(<f32 as LuScalar>::UNBLOCKED_MAX_N, 192);
}

/// Above `tiles_solve_max_n()` the tiles factor and faer's triangular solves solve, with the
/// tiles' row swaps handed to faer as one permutation: Gaussian systems at the limit and past
/// it, 1 to n right-hand sides (f32 past its limit: `tiles_solve_in_f32`). The residual is backward
/// stable (a wrong permutation would leave it of the order of the matrix), the solution agrees with
/// faer's own LU and solve to what the conditioning allows, and teams of 2 and 3 threads give the
/// bits of one.
#[test]
fn tiles_factor_with_faers_solve_above_the_tiles_solve_limit() {
    if !tiles_or_skip("tiles_factor_with_faers_solve_above_the_tiles_solve_limit") {
        return;
    }
    let lim64 = <f64 as LuScalar>::tiles_solve_max_n();
    for n in [lim64, lim64 + 1, lim64 + 33, 512] {
        let q = normal(n, n, 91 + n as u64);
        for m in [1, 37, n] {
            let p = normal(n, m, 92 + n as u64);
            let (x, _, diff) = tiles_against_faer(&q, &p);
            assert!(
                diff <= 1e-9,
                "n = {n}, m = {m}: differs from faer by {diff:e}"
            );
            if m == n {
                for threads in [2, 3] {
                    let (_, x_t) =
                        common::in_pool(threads, true, || solve_with(LuKernel::Tiles, &q, &p));
                    assert!(x_t == x, "n = {n}, team of {threads}: solution differs");
                }
            }
        }
    }
}

/// The blocked factorisation (n > 96 in f64: panels of `PANEL_COLS`, right-looking updates on
/// the team, the next panel factored while the others update) at sizes around the panel edges
/// and up to 512 (faer's solve above 640 on AVX-512, and at 512, whose columns are 4 KiB apart): L·U is a row permutation of Q to rounding (each row
/// of L·U matches a distinct row of Q within a few units of u·n·‖Q‖), |L| ≤ 1 (partial
/// pivoting), the solve's residual is backward stable, and a team of 2 or 3 threads gives the
/// bits of one (each column's updates do not depend on how the columns are split, nor on which
/// part factors the next panel).
#[test]
fn blocked_tiles_factor_is_a_row_permutation_of_q() {
    if !tiles_or_skip("blocked_tiles_factor_is_a_row_permutation_of_q") {
        return;
    }
    let nb = PANEL_COLS;
    for n in [
        UNBLOCKED_MAX_N + 1,
        4 * nb - 1,
        4 * nb,
        4 * nb + 1,
        161,
        8 * nb,
        300,
        384,
        512,
    ] {
        let q = normal(n, n, 71 + n as u64);
        let p = normal(n, 4, 72 + n as u64);
        let (lu, x) = solve_with(LuKernel::Tiles, &q, &p);
        let l = Mat::<f64>::from_fn(n, n, |i, j| match i.cmp(&j) {
            std::cmp::Ordering::Greater => lu[(i, j)],
            std::cmp::Ordering::Equal => 1.0,
            std::cmp::Ordering::Less => 0.0,
        });
        let u = Mat::<f64>::from_fn(n, n, |i, j| if i <= j { lu[(i, j)] } else { 0.0 });
        let largest_l = norm_max(l.as_ref());
        assert!(largest_l <= 1.0, "n = {n}: |L| reaches {largest_l}");
        let prod = &l * &u;
        let tol = 1e-13 * n as f64 * norm_max(q.as_ref());
        let mut used = vec![false; n];
        for i in 0..n {
            let row_dist = |r: usize| {
                (0..n)
                    .map(|j| (prod[(i, j)] - q[(r, j)]).abs())
                    .fold(0.0f64, f64::max)
            };
            let (r, d) = (0..n)
                .filter(|&r| !used[r])
                .map(|r| (r, row_dist(r)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .expect("a row left");
            assert!(
                d <= tol,
                "n = {n}: row {i} of L·U is {d:e} from every row of Q left"
            );
            used[r] = true;
        }
        let res = scaled_residual(q.as_ref(), x.as_ref(), p.as_ref());
        assert!(res <= 2e-15, "n = {n}: scaled residual {res:e}");
        for threads in [2, 3] {
            let (lu_t, x_t) =
                common::in_pool(threads, true, || solve_with(LuKernel::Tiles, &q, &p));
            assert!(lu_t == lu, "n = {n}, team of {threads}: factors differ");
            assert!(x_t == x, "n = {n}, team of {threads}: solution differs");
        }
    }
}
