//! The packed-right-hand-side GEMM (`cortical_kernels::packed`) against a plain f64 triple loop:
//! every edge of the AVX-512 tiling (rows 1–9 and 17 around the 8-row tile, columns around the
//! 16/48-column vectors and panels, `k` around the 256-row slab, `k = 0`), row strides above the
//! row length, a transposed right-hand side, `Accum::Add` and `Replace`, the columns past `n`
//! left alone, the bits unchanged when the rows are split over several calls, and the bits of
//! the documented order of operations replayed in scalar code. Each check runs on both layouts:
//! the panels of the AVX-512 or AVX2 kernel (where the CPU has AVX-512F or AVX2 + FMA;
//! otherwise `pack` also builds the plain one) and the plain copy the fallback path hands to
//! faer.
use cortical_kernels::faer::{Accum, MatRef, Par};
use cortical_kernels::packed::{self, gemm_at_b, gemm_packed_rhs, PackedRhs, KC};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

fn uniform(rng: &mut Xoshiro256PlusPlus, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| ((rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0)
        .collect()
}

/// `c` (row stride `ldc`, computed from `c0`) against the f64 triple loop over `a(i, l)` and
/// `b(l, j)`, element by element, with the forward error bound of a dot product of length k:
/// |ĉ − c| ≤ (k + 2)·u·(|c₀| + Σ|a||b|); and the floats past each row's n columns untouched.
#[allow(clippy::too_many_arguments)]
fn verify(
    what: &str,
    (m, k, n, ldc): (usize, usize, usize, usize),
    accum: Accum,
    a: impl Fn(usize, usize) -> f32,
    b: impl Fn(usize, usize) -> f32,
    c0: &[f32],
    c: &[f32],
) {
    let u = f32::EPSILON as f64 / 2.0;
    for i in 0..m {
        for j in 0..n {
            let (mut exact, mut mag) = (0.0f64, 0.0f64);
            for l in 0..k {
                let t = a(i, l) as f64 * b(l, j) as f64;
                exact += t;
                mag += t.abs();
            }
            let base = if accum == Accum::Add {
                c0[i * ldc + j] as f64
            } else {
                0.0
            };
            let want = base + exact;
            let bound = (k as f64 + 2.0) * u * (base.abs() + mag) + f64::MIN_POSITIVE;
            let got = c[i * ldc + j] as f64;
            assert!(
                (got - want).abs() <= bound,
                "{what}: c[{i},{j}] = {got}, want {want} (error {:e} > bound {bound:e})",
                (got - want).abs()
            );
        }
        // Columns n..ldc of the row (and the floats past the last row) stay untouched.
        let end = if i + 1 == m { c.len() } else { (i + 1) * ldc };
        for j in i * ldc + n..end {
            assert_eq!(
                c[j].to_bits(),
                c0[j].to_bits(),
                "{what}: c[{j}] past the row was written"
            );
        }
    }
}

/// One product `c (+)= a·b` checked element by element against the f64 triple loop, with the
/// forward error bound of a dot product of length k: |ĉ − c| ≤ (k + 2)·u·(|c₀| + Σ|a||b|).
#[allow(clippy::too_many_arguments)]
fn check(
    m: usize,
    k: usize,
    n: usize,
    lda: usize,
    ldc: usize,
    accum: Accum,
    trans: bool,
    seed: u64,
) {
    check_layout(m, k, n, lda, ldc, accum, trans, seed, false);
    check_layout(m, k, n, lda, ldc, accum, trans, seed, true);
}

/// `plain`: pack for the fallback (faer) path instead of the AVX-512 panels.
#[allow(clippy::too_many_arguments)]
fn check_layout(
    m: usize,
    k: usize,
    n: usize,
    lda: usize,
    ldc: usize,
    accum: Accum,
    trans: bool,
    seed: u64,
    plain: bool,
) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let a = uniform(&mut rng, m.saturating_sub(1) * lda + k);
    // b is k × n; stored as n × k row-major when the test packs its transpose view.
    let b = uniform(&mut rng, k * n);
    let bv = if trans {
        MatRef::from_row_major_slice(&b, n, k).transpose()
    } else {
        MatRef::from_row_major_slice(&b, k, n)
    };
    let c0 = uniform(&mut rng, m.saturating_sub(1) * ldc + n + 3);
    let mut c = c0.clone();
    let mut p = PackedRhs::new();
    if plain {
        p.pack_plain(bv);
    } else {
        p.pack(bv);
    }
    assert_eq!((p.k(), p.n()), (k, n));
    gemm_packed_rhs(&mut c, ldc, accum, &a, lda, m, &p);
    let what =
        format!("m={m} k={k} n={n} lda={lda} ldc={ldc} {accum:?} trans={trans} plain={plain}");
    verify(
        &what,
        (m, k, n, ldc),
        accum,
        |i, l| a[i * lda + l],
        |l, j| bv[(l, j)],
        &c0,
        &c,
    );
}

#[test]
fn matches_the_triple_loop_on_every_tile_edge() {
    let mut seed = 0;
    for &m in &[1, 2, 7, 8, 9, 17] {
        for &k in &[1, 5, 256, 257] {
            for &n in &[1, 15, 16, 17, 33, 47, 48, 49, 97] {
                for accum in [Accum::Replace, Accum::Add] {
                    seed += 1;
                    check(m, k, n, k, n, accum, false, seed);
                }
            }
        }
    }
}

#[test]
fn strides_transposes_and_the_rnn_shapes() {
    let cases = [
        // (m, k, n, lda, ldc)
        (64, 312, 312, 312, 312),
        (64, 512, 512, 512, 512),
        (37, 100, 100, 103, 131),
        (9, 600, 50, 611, 64),
    ];
    for (s, &(m, k, n, lda, ldc)) in cases.iter().enumerate() {
        for trans in [false, true] {
            check(m, k, n, lda, ldc, Accum::Add, trans, 1000 + s as u64);
        }
    }
}

#[test]
fn empty_inner_dimension_zeroes_or_keeps_c() {
    for accum in [Accum::Replace, Accum::Add] {
        check(5, 0, 20, 0, 20, accum, false, 7);
    }
    // m = 0 and n = 0 touch nothing.
    let p = PackedRhs::new();
    let mut c = [1.0f32; 4];
    gemm_packed_rhs(&mut c, 0, Accum::Replace, &[], 0, 3, &p);
    gemm_packed_rhs(&mut c, 4, Accum::Replace, &[], 0, 0, &p);
    assert_eq!(c, [1.0; 4]);
}

/// A row's result depends only on that row: the RNN splits the batch over threads this way.
/// (faer's GEMM, the fallback where neither kernel runs, does not promise it.)
#[test]
fn splitting_the_rows_changes_no_bit() {
    if !packed::kernel_available() {
        eprintln!(
            "skipped: the packed kernels do not run here \
             (a CPU without AVX-512F or AVX2 + FMA, or CORTICAL_TILES=none): faer's GEMM runs"
        );
        return;
    }
    let (m, k, n) = (45, 300, 230);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    let a = uniform(&mut rng, m * k);
    let b = uniform(&mut rng, k * n);
    let c0 = uniform(&mut rng, m * n);
    let mut p = PackedRhs::new();
    p.pack(MatRef::from_row_major_slice(&b, k, n));
    let mut whole = c0.clone();
    gemm_packed_rhs(&mut whole, n, Accum::Add, &a, k, m, &p);
    let mut parts = c0.clone();
    for (r0, r1) in [(0, 18), (18, 19), (19, 45)] {
        gemm_packed_rhs(
            &mut parts[r0 * n..r1 * n],
            n,
            Accum::Add,
            &a[r0 * k..r1 * k],
            k,
            r1 - r0,
            &p,
        );
    }
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&whole), bits(&parts));
}

/// Repacking a different shape into the same `PackedRhs` forgets the old one.
#[test]
fn repacking_reuses_the_buffer_for_a_new_shape() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    let mut p = PackedRhs::new();
    let big = uniform(&mut rng, 300 * 200);
    p.pack(MatRef::from_row_major_slice(&big, 300, 200));
    let (k, n) = (20, 33);
    let small = uniform(&mut rng, k * n);
    p.pack(MatRef::from_row_major_slice(&small, k, n));
    let a = uniform(&mut rng, 3 * k);
    let mut c = vec![0.0f32; 3 * n];
    gemm_packed_rhs(&mut c, n, Accum::Replace, &a, k, 3, &p);
    let mut fresh = PackedRhs::new();
    fresh.pack(MatRef::from_row_major_slice(&small, k, n));
    let mut c2 = vec![0.0f32; 3 * n];
    gemm_packed_rhs(&mut c2, n, Accum::Replace, &a, k, 3, &fresh);
    assert_eq!(c, c2);
}

#[test]
#[should_panic(expected = "gemm_packed_rhs: a has length 10 < (m − 1)·lda + k = 11")]
fn short_a_panics_naming_it() {
    let mut p = PackedRhs::new();
    p.pack(MatRef::from_row_major_slice(&[0.0f32; 6], 3, 2));
    gemm_packed_rhs(&mut [0.0; 8], 2, Accum::Replace, &[0.0; 10], 4, 3, &p);
}

/// `c (+)= aᵀ·b` checked against the f64 triple loop (same bound as `check`), sequential and on
/// a two-thread pool (which must give the same bits: each element of c is summed in one order).
#[allow(clippy::too_many_arguments)]
fn check_at_b(
    k: usize,
    m: usize,
    n: usize,
    lda: usize,
    ldb: usize,
    ldc: usize,
    accum: Accum,
    seed: u64,
) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let a = uniform(&mut rng, k.saturating_sub(1) * lda + m);
    let b = uniform(&mut rng, k.saturating_sub(1) * ldb + n);
    let c0 = uniform(&mut rng, m.saturating_sub(1) * ldc + n + 3);
    let run = |par: Par| {
        let mut c = c0.clone();
        gemm_at_b(&mut c, ldc, accum, &a, lda, &b, ldb, k, m, n, par);
        c
    };
    let c = run(Par::Seq);
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(|| run(Par::rayon(2)));
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&c),
        bits(&two),
        "k={k} m={m} n={n}: two threads changed bits"
    );
    let what = format!("aᵀ·b k={k} m={m} n={n} {accum:?}");
    verify(
        &what,
        (m, k, n, ldc),
        accum,
        |i, l| a[l * lda + i],
        |l, j| b[l * ldb + j],
        &c0,
        &c,
    );
}

#[test]
fn transposed_product_matches_the_triple_loop() {
    let mut seed = 500;
    for &k in &[0, 1, 257, 600] {
        for &m in &[1, 7, 8, 9, 17] {
            for &n in &[1, 16, 17, 48, 49, 97] {
                for accum in [Accum::Replace, Accum::Add] {
                    seed += 1;
                    check_at_b(k, m, n, m, n, n, accum, seed);
                }
            }
        }
    }
    // Row strides above the row lengths, and the backward pass's shape (k = T·B, m = n).
    check_at_b(300, 33, 70, 41, 75, 90, Accum::Add, 9);
    check_at_b(1300, 130, 130, 130, 130, 130, Accum::Add, 10);
}

#[test]
#[should_panic(expected = "gemm_at_b: b has length 20 < (rows − 1)·stride + cols = 21")]
fn short_b_panics_naming_it() {
    // k = 3, m = 2, n = 7: b needs 2·7 + 7 = 21 floats.
    gemm_at_b(
        &mut [0.0; 14],
        7,
        Accum::Replace,
        &[0.0; 6],
        2,
        &[0.0; 20],
        7,
        3,
        2,
        7,
        Par::Seq,
    );
}

/// A clone of a packing gives the same products (its buffer is aligned on its own).
#[test]
fn a_cloned_packing_gives_the_same_bits() {
    let (m, k, n) = (9, 40, 50);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    let a = uniform(&mut rng, m * k);
    let b = uniform(&mut rng, k * n);
    let mut p = PackedRhs::new();
    p.pack(MatRef::from_row_major_slice(&b, k, n));
    let clones: Vec<PackedRhs> = (0..8).map(|_| p.clone()).collect();
    let mut want = vec![0.0f32; m * n];
    gemm_packed_rhs(&mut want, n, Accum::Replace, &a, k, m, &p);
    for q in &clones {
        let mut c = vec![0.0f32; m * n];
        gemm_packed_rhs(&mut c, n, Accum::Replace, &a, k, m, q);
        assert_eq!(c, want);
    }
}

/// Releasing the per-thread buffers between calls changes no bit (the next call allocates
/// them again): `gemm_at_b`'s slab, and the RNN's packed `W_rec`.
#[test]
fn released_buffers_give_the_same_bits() {
    use cortical_kernels::packed::release_slab_buffer;
    use cortical_kernels::rnn::{forward, release_thread_buffers, Activation, Dims};
    let (k, m, n) = (300, 20, 40);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(13);
    let a = uniform(&mut rng, k * m);
    let b = uniform(&mut rng, k * n);
    let at_b = || {
        let mut c = vec![0.0f32; m * n];
        gemm_at_b(&mut c, n, Accum::Replace, &a, m, &b, n, k, m, n, Par::Seq);
        c
    };
    let first = at_b();
    release_slab_buffer();
    assert_eq!(first, at_b());

    let d = Dims {
        steps: 4,
        batch: 3,
        input: 2,
        hidden: 70,
    };
    let x = uniform(&mut rng, d.steps * d.batch * d.input);
    let w_in = uniform(&mut rng, d.input * d.hidden);
    let w_rec: Vec<f32> = uniform(&mut rng, d.hidden * d.hidden)
        .iter()
        .map(|v| v * 0.1)
        .collect();
    let bias = uniform(&mut rng, d.hidden);
    let run = || {
        let mut h = vec![0.0f32; (d.steps + 1) * d.batch * d.hidden];
        forward(d, Activation::Tanh, &x, &w_in, &w_rec, &bias, &mut h);
        h
    };
    let h1 = run();
    release_thread_buffers();
    assert_eq!(h1, run());
}

/// The documented arithmetic, replayed in scalar code: per slab of `KC` rows of `k`, the sum
/// `Σ a_il·b_lj` in increasing `l` by fused multiply-adds from zero, then added to `c` (or
/// written, for the first slab of an `Accum::Replace`). The kernels must give exactly these
/// bits, on AVX-512 and on AVX2 alike.
fn replay(
    (m, k, n): (usize, usize, usize),
    accum: Accum,
    a: impl Fn(usize, usize) -> f32,
    b: impl Fn(usize, usize) -> f32,
    c0: &[f32],
    ldc: usize,
) -> Vec<f32> {
    let mut c = c0.to_vec();
    for i in 0..m {
        for j in 0..n {
            let mut x = c0[i * ldc + j];
            for k0 in (0..k).step_by(KC) {
                let mut s = 0.0f32;
                for l in k0..(k0 + KC).min(k) {
                    s = a(i, l).mul_add(b(l, j), s);
                }
                x = if k0 == 0 && accum == Accum::Replace {
                    s
                } else {
                    x + s
                };
            }
            if k == 0 && accum == Accum::Replace {
                x = 0.0;
            }
            c[i * ldc + j] = x;
        }
    }
    c
}

#[test]
fn the_kernels_give_the_bits_of_the_documented_order() {
    if !packed::kernel_available() {
        eprintln!(
            "skipped: the packed kernels do not run here \
             (a CPU without AVX-512F or AVX2 + FMA, or CORTICAL_TILES=none): faer's GEMM runs"
        );
        return;
    }
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let mut seed = 900;
    for &(m, k, n) in &[
        (1, 1, 1),
        (7, 257, 49),
        (13, 600, 97),
        (45, 300, 230),
        (6, 512, 16),
    ] {
        for accum in [Accum::Replace, Accum::Add] {
            seed += 1;
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            let a = uniform(&mut rng, m * k);
            let b = uniform(&mut rng, k * n);
            let c0 = uniform(&mut rng, m * n);
            let mut p = PackedRhs::new();
            p.pack(MatRef::from_row_major_slice(&b, k, n));
            let mut c = c0.clone();
            gemm_packed_rhs(&mut c, n, accum, &a, k, m, &p);
            let want = replay(
                (m, k, n),
                accum,
                |i, l| a[i * k + l],
                |l, j| b[l * n + j],
                &c0,
                n,
            );
            assert_eq!(bits(&c), bits(&want), "A·B m={m} k={k} n={n} {accum:?}");
            // Aᵀ·B with the same a read as k × m.
            let at = uniform(&mut rng, k * m);
            let mut c = c0.clone();
            gemm_at_b(&mut c, n, accum, &at, m, &b, n, k, m, n, Par::Seq);
            let want = replay(
                (m, k, n),
                accum,
                |i, l| at[l * m + i],
                |l, j| b[l * n + j],
                &c0,
                n,
            );
            assert_eq!(bits(&c), bits(&want), "Aᵀ·B m={m} k={k} n={n} {accum:?}");
        }
    }
}
