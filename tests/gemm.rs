//! `cortical_kernels::gemm::matmul_tiles`: the AVX-512 tile product against exact and faer
//! results, on every shape class the tiles split into (full and partial vectors of rows, full
//! and partial tiles of columns), strided views, both accumulations, and the fallback.
use cortical_kernels::faer::linalg::matmul::matmul;
use cortical_kernels::faer::{Accum, Mat, MatRef, Par};
use cortical_kernels::gemm::{matmul_tiles, matmul_tiles_then, GemmScalar};
use cortical_kernels::team;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

fn random(rows: usize, cols: usize, seed: u64, integer: bool) -> Mat<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    Mat::from_fn(rows, cols, |_, _| {
        let u: f64 = rng.random::<f64>();
        if integer {
            (u * 17.0).floor() - 8.0
        } else {
            u * 2.0 - 1.0
        }
    })
}

fn to<T: GemmScalar + From<f32>>(m: &Mat<f64>) -> Mat<T> {
    Mat::from_fn(m.nrows(), m.ncols(), |i, j| T::from(m[(i, j)] as f32))
}

/// Shapes around every split: 1–4 vectors of rows and a partial one, 1–6 columns and more,
/// k from 1 up, in f64 (W = 8) and f32 (W = 16).
fn shapes() -> Vec<(usize, usize, usize)> {
    let mut v = Vec::new();
    for m in [1, 7, 8, 9, 16, 24, 31, 32, 33, 40, 48, 63, 64, 65, 80, 96] {
        for n in [1, 5, 6, 7, 12, 13, 64, 96] {
            for k in [1, 3, 64] {
                v.push((m, k, n));
            }
        }
    }
    v
}

/// Small integers: every product and sum is exact in either precision (|entries| ≤ 8,
/// k ≤ 96 terms), so whatever the order of the additions the result is the exact one.
fn exact_on_integers<T: GemmScalar + From<f32> + Into<f64>>() {
    for (t, &(m, k, n)) in shapes().iter().enumerate() {
        let a = random(m, k, 3 * t as u64, true);
        let b = random(k, n, 3 * t as u64 + 1, true);
        let c0 = random(m, n, 3 * t as u64 + 2, true);
        for (accum, alpha) in [(Accum::Replace, 1.0), (Accum::Add, 1.0), (Accum::Add, -0.5)] {
            let mut want = c0.clone();
            matmul(
                want.as_mut(),
                accum,
                a.as_ref(),
                b.as_ref(),
                alpha,
                Par::Seq,
            );
            let mut got = to::<T>(&c0);
            matmul_tiles(
                got.as_mut(),
                accum,
                to::<T>(&a).as_ref(),
                to::<T>(&b).as_ref(),
                T::from(alpha as f32),
            );
            for j in 0..n {
                for i in 0..m {
                    let g: f64 = got[(i, j)].into();
                    assert_eq!(
                        g,
                        want[(i, j)],
                        "{m}×{k}×{n}, ({i}, {j}), {accum:?}, α {alpha}"
                    );
                }
            }
        }
    }
}

#[test]
fn tiles_are_exact_on_integer_matrices_f64() {
    exact_on_integers::<f64>();
}

#[test]
fn tiles_are_exact_on_integer_matrices_f32() {
    exact_on_integers::<f32>();
}

/// Random entries in (−1, 1): within the classical bound |C − AB| ≤ γ_k |A||B| (γ_k ≈ k·u)
/// of the exact product (computed in f64 from the f32 inputs for f32), entry by entry.
#[test]
fn tiles_are_within_the_rounding_bound() {
    for (t, &(m, k, n)) in shapes().iter().enumerate() {
        let a = random(m, k, 100 + t as u64, false);
        let b = random(k, n, 200 + t as u64, false);
        let abs = |x: &Mat<f64>| Mat::from_fn(x.nrows(), x.ncols(), |i, j| x[(i, j)].abs());
        let bound = &abs(&a) * &abs(&b);
        // f64: against faer's product (both within γ_k of the exact one).
        let mut want = Mat::<f64>::zeros(m, n);
        matmul(
            want.as_mut(),
            Accum::Replace,
            a.as_ref(),
            b.as_ref(),
            1.0,
            Par::Seq,
        );
        let mut got = Mat::<f64>::zeros(m, n);
        matmul_tiles(got.as_mut(), Accum::Replace, a.as_ref(), b.as_ref(), 1.0);
        let g64 = 2.0 * (k as f64) * f64::EPSILON;
        // f32: against the f64 product of the same (rounded) inputs.
        let (af, bf) = (to::<f32>(&a), to::<f32>(&b));
        let a32 = Mat::from_fn(m, k, |i, j| af[(i, j)] as f64);
        let b32 = Mat::from_fn(k, n, |i, j| bf[(i, j)] as f64);
        let exact32 = &a32 * &b32;
        let mut got32 = Mat::<f32>::zeros(m, n);
        matmul_tiles(
            got32.as_mut(),
            Accum::Replace,
            af.as_ref(),
            bf.as_ref(),
            1.0,
        );
        let g32 = (k as f64 + 1.0) * f32::EPSILON as f64;
        for j in 0..n {
            for i in 0..m {
                let d = (got[(i, j)] - want[(i, j)]).abs();
                assert!(
                    d <= g64 * bound[(i, j)],
                    "f64 {m}×{k}×{n} ({i}, {j}): {d:e}"
                );
                let d = (got32[(i, j)] as f64 - exact32[(i, j)]).abs();
                assert!(
                    d <= g32 * bound[(i, j)],
                    "f32 {m}×{k}×{n} ({i}, {j}): {d:e}"
                );
            }
        }
    }
}

/// Blocks of larger matrices (column stride > rows) are read and written in place: the
/// entries around the block stay as they were; a transposed operand or a size past the tile
/// bound goes to faer, with the same result as faer's product.
#[test]
fn tiles_take_strided_blocks_and_fall_back_elsewhere() {
    let big_a = random(80, 70, 1, true);
    let big_b = random(70, 90, 2, true);
    let big_c0 = random(75, 95, 3, true);
    let (m, k, n) = (37, 29, 23);
    let a = big_a.as_ref().submatrix(5, 3, m, k);
    let b = big_b.as_ref().submatrix(2, 11, k, n);
    let mut c = big_c0.clone();
    matmul_tiles(c.as_mut().submatrix_mut(4, 7, m, n), Accum::Add, a, b, 2.0);
    let mut want = big_c0.clone();
    matmul(
        want.as_mut().submatrix_mut(4, 7, m, n),
        Accum::Add,
        a,
        b,
        2.0,
        Par::Seq,
    );
    assert!(c == want);

    let check = |a: MatRef<'_, f64>, b: MatRef<'_, f64>| {
        let mut got = Mat::<f64>::zeros(a.nrows(), b.ncols());
        let mut want = got.clone();
        matmul_tiles(got.as_mut(), Accum::Replace, a, b, 1.0);
        matmul(want.as_mut(), Accum::Replace, a, b, 1.0, Par::Seq);
        assert!(got == want, "{}×{}×{}", a.nrows(), a.ncols(), b.ncols());
    };
    check(
        big_a.as_ref().submatrix(0, 0, 40, 40).transpose(),
        big_b.as_ref().submatrix(0, 0, 40, 9),
    );
    let large = random(130, 130, 4, false);
    check(large.as_ref(), large.as_ref());
}

/// `matmul_tiles_then`: the product is `matmul_tiles`'s bit for bit, and `then` sees every
/// column exactly once, already written, as blocks whose first columns it is told, folded in
/// column order — on the tiles (n ≤ 96), and above them alone and on teams of 2 and 3 threads.
#[test]
fn matmul_tiles_then_sees_every_written_column_once() {
    for n in [40, 96, 130, 200] {
        let a = random(n, n, 900 + n as u64, false);
        let b = random(n, n, 901 + n as u64, false);
        let mut want = Mat::<f64>::zeros(n, n);
        matmul_tiles(want.as_mut(), Accum::Replace, a.as_ref(), b.as_ref(), 1.0);
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool");
            let mut got = Mat::<f64>::zeros(n, n);
            // Each block reports (first column, columns, Σ of its entries); folded in order.
            let blocks = pool.install(|| {
                team::with_team(threads, || {
                    matmul_tiles_then(
                        got.as_mut(),
                        Accum::Replace,
                        a.as_ref(),
                        b.as_ref(),
                        1.0,
                        &|j0, block: MatRef<'_, f64>| {
                            let sum: f64 = (0..block.ncols())
                                .map(|j| (0..n).map(|i| block[(i, j)]).sum::<f64>())
                                .sum();
                            vec![(j0, block.ncols(), sum)]
                        },
                        &|mut x, y| {
                            x.extend(y);
                            x
                        },
                    )
                })
            });
            assert!(
                got == want,
                "n = {n}, {threads} threads: not matmul_tiles's bits"
            );
            let mut next = 0;
            for &(j0, cols, sum) in &blocks {
                assert_eq!(j0, next, "n = {n}, {threads} threads: blocks {blocks:?}");
                let want_sum: f64 = (j0..j0 + cols)
                    .map(|j| (0..n).map(|i| want[(i, j)]).sum::<f64>())
                    .sum();
                assert_eq!(
                    sum, want_sum,
                    "n = {n}, {threads} threads: block at {j0} unwritten"
                );
                next += cols;
            }
            assert_eq!(next, n, "n = {n}, {threads} threads: blocks {blocks:?}");
            if threads > 1 && n > 96 {
                assert!(blocks.len() > 1, "n = {n}, {threads} threads: one block");
            }
        }
    }
}
