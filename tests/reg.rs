//! Regularizers and communicability (kernels::reg) against
//! - a plain reference written here: Taylor-series expm with scaling and squaring, the adjoint
//!   Fréchet derivative from the block identity exp([[Xᵀ, G], [0, Xᵀ]]) = [[·, L(Xᵀ, G)], [0, ·]],
//!   and the pullback through S^-1/2 written out entry by entry;
//! - central finite differences of the kernels' own values (f64, W away from 0);
//! - scipy.linalg.expm on the real MICrONS connectomes (tests/data/communicability_*.bin, made by
//!   tests/data/make_communicability_reference.py: A = counts, rows presynaptic, ε = 1e-10).
use cortical_priors::kernels::emd::sort_samples;
use cortical_priors::kernels::faer::{Mat, MatRef};
use cortical_priors::kernels::reg::{
    communicability, communicability_vjp, emd_comm, l1, l1_distance, l1_distance_comm, CsrMask,
    Mask, RegWorkspace,
};
use cortical_priors::kernels::KernelError;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::path::PathBuf;

// ---------------------------------------------------------------------------------------------
// plain reference
// ---------------------------------------------------------------------------------------------

fn matmul(a: &Mat<f64>, b: &Mat<f64>) -> Mat<f64> {
    let n = a.nrows();
    Mat::from_fn(n, b.ncols(), |i, j| {
        (0..a.ncols()).map(|k| a[(i, k)] * b[(k, j)]).sum()
    })
}

/// exp(A) by a 30-term Taylor series after scaling ‖A‖₁ below 1/2, then squaring.
fn expm_taylor(a: &Mat<f64>) -> Mat<f64> {
    let n = a.nrows();
    let norm = (0..n)
        .map(|j| (0..n).map(|i| a[(i, j)].abs()).sum::<f64>())
        .fold(0.0, f64::max);
    let s = if norm > 0.5 {
        (norm / 0.5).log2().ceil() as i32
    } else {
        0
    };
    let a = Mat::from_fn(n, n, |i, j| a[(i, j)] / 2f64.powi(s));
    let mut term = Mat::from_fn(n, n, |i, j| if i == j { 1.0 } else { 0.0 });
    let mut sum = term.clone();
    for k in 1..30 {
        term = matmul(&term, &a);
        term = Mat::from_fn(n, n, |i, j| term[(i, j)] / k as f64);
        sum = Mat::from_fn(n, n, |i, j| sum[(i, j)] + term[(i, j)]);
    }
    for _ in 0..s {
        sum = matmul(&sum, &sum);
    }
    sum
}

fn scaled(a: &Mat<f64>, eps: f64) -> (Mat<f64>, Vec<f64>) {
    let n = a.nrows();
    let s: Vec<f64> = (0..n)
        .map(|i| 1.0 / ((0..n).map(|j| a[(i, j)].abs()).sum::<f64>() + eps).sqrt())
        .collect();
    (Mat::from_fn(n, n, |i, j| a[(i, j)].abs() * s[i] * s[j]), s)
}

fn comm_ref(a: &Mat<f64>, eps: f64) -> Mat<f64> {
    let (x, _) = scaled(a, eps);
    let mut c = expm_taylor(&x);
    for i in 0..a.nrows() {
        c[(i, i)] = 0.0;
    }
    c
}

/// ∂⟨G, C(A)⟩/∂A written out: L(Xᵀ, G̃) from the 2N×2N block exponential, then the product
/// rule through X_kl = A_kl s_k s_l with s_k = (Σ_l A_kl + ε)^-1/2.
fn comm_vjp_ref(a: &Mat<f64>, eps: f64, g: &Mat<f64>) -> Mat<f64> {
    let n = a.nrows();
    let (x, s) = scaled(a, eps);
    let gt = Mat::from_fn(n, n, |i, j| if i == j { 0.0 } else { g[(i, j)] });
    let big = Mat::from_fn(2 * n, 2 * n, |i, j| match (i < n, j < n) {
        (true, true) => x[(j, i)],
        (true, false) => gt[(i, j - n)],
        (false, false) => x[(j - n, i - n)],
        (false, true) => 0.0,
    });
    let e = expm_taylor(&big);
    let y = Mat::from_fn(n, n, |i, j| e[(i, j + n)]);
    let mut grad = Mat::zeros(n, n);
    for k in 0..n {
        for l in 0..n {
            // direct: ∂X_kl/∂A_kl
            let mut v = y[(k, l)] * s[k] * s[l];
            // through s_k (row k of X and column k of X)
            let ds = -0.5 * s[k].powi(3);
            for j in 0..n {
                v += y[(k, j)] * a[(k, j)] * ds * s[j];
            }
            for i in 0..n {
                v += y[(i, k)] * a[(i, k)] * s[i] * ds;
            }
            grad[(k, l)] = v;
        }
    }
    grad
}

fn random_w(rng: &mut Xoshiro256PlusPlus, n: usize, signed: bool) -> Mat<f64> {
    // |w| in [0.05, 1]: far enough from the kink of |·| for the finite-difference steps below.
    Mat::from_fn(n, n, |_, _| {
        let m = rng.random_range(0.05..1.0);
        if signed && rng.random_bool(0.5) {
            -m
        } else {
            m
        }
    })
}

fn random_d(rng: &mut Xoshiro256PlusPlus, n: usize) -> Mat<f64> {
    Mat::from_fn(n, n, |i, j| {
        if i == j {
            0.0
        } else {
            rng.random_range(0.1..2.0)
        }
    })
}

fn max_rel(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    let scale = (0..b.ncols())
        .flat_map(|j| (0..b.nrows()).map(move |i| (i, j)))
        .map(|(i, j)| b[(i, j)].abs())
        .fold(0.0, f64::max);
    let mut m = 0.0f64;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            m = m.max((a[(i, j)] - b[(i, j)]).abs());
        }
    }
    m / scale.max(f64::MIN_POSITIVE)
}

/// Entries to probe by finite differences: all for small N, a fixed random subset otherwise.
fn probes(rng: &mut Xoshiro256PlusPlus, n: usize) -> Vec<(usize, usize)> {
    if n <= 6 {
        (0..n).flat_map(|i| (0..n).map(move |j| (i, j))).collect()
    } else {
        (0..24)
            .map(|_| (rng.random_range(0..n), rng.random_range(0..n)))
            .collect()
    }
}

fn check_fd(
    name: &str,
    w: &Mat<f64>,
    grad: &Mat<f64>,
    pts: &[(usize, usize)],
    h: f64,
    tol: f64,
    mut value: impl FnMut(&Mat<f64>) -> f64,
) {
    let scale = (0..w.ncols())
        .flat_map(|j| (0..w.nrows()).map(move |i| (i, j)))
        .map(|(i, j)| grad[(i, j)].abs())
        .fold(0.0, f64::max);
    for &(i, j) in pts {
        let mut wp = w.clone();
        let mut wm = w.clone();
        wp[(i, j)] += h;
        wm[(i, j)] -= h;
        let fd = (value(&wp) - value(&wm)) / (2.0 * h);
        assert!(
            (fd - grad[(i, j)]).abs() <= tol * scale.max(1e-12),
            "{name}: ∂/∂W[{i},{j}] = {} but finite differences give {fd} (scale {scale})",
            grad[(i, j)]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// communicability
// ---------------------------------------------------------------------------------------------

#[test]
fn communicability_matches_plain_reference() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    for &n in &[1usize, 5, 17, 40] {
        let mut a = random_w(&mut rng, n, false);
        // some empty rows and zero entries, as in a connectome
        for j in 0..n {
            a[(n / 2, j)] = 0.0;
            a[(j, j)] = 0.0;
        }
        // ε = 1e-2 keeps the empty row well conditioned, so the Taylor reference is exact to
        // rounding; ε = 1e-10 on empty rows (‖X‖ ~ 1e5) is checked against scipy on real data.
        let c = communicability(a.as_ref(), 1e-2).unwrap();
        let r = comm_ref(&a, 1e-2);
        let err = max_rel(c.as_ref(), r.as_ref());
        assert!(err <= 1e-12, "n = {n}: {err}");
        for i in 0..n {
            assert_eq!(c[(i, i)], 0.0);
        }
        // f32 agrees to single precision where no row is empty. (With an empty row the ε = 1e-10
        // scaling makes ‖X‖ ~ 1e5 and f32 keeps only ~1e-2 relative accuracy: compute C_emp of
        // sparse connectomes in f64.)
        let mut full = random_w(&mut rng, n, false);
        for i in 0..n {
            full[(i, i)] = 0.0;
        }
        let r = comm_ref(&full, 1e-10);
        let a32 = Mat::from_fn(n, n, |i, j| full[(i, j)] as f32);
        let c32 = communicability(a32.as_ref(), 1e-10f32).unwrap();
        let c32 = Mat::from_fn(n, n, |i, j| c32[(i, j)] as f64);
        let err = max_rel(c32.as_ref(), r.as_ref());
        assert!(n == 1 || err <= 1e-5, "f32, n = {n}: {err}");
    }
}

#[test]
fn communicability_vjp_matches_reference_and_finite_differences() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
    for &n in &[2usize, 5, 13, 30] {
        let a = random_w(&mut rng, n, false);
        let g = Mat::from_fn(n, n, |_, _| rng.random_range(-1.0..1.0));
        let (c, grad) = communicability_vjp(a.as_ref(), 1e-10, g.as_ref()).unwrap();
        let r = comm_vjp_ref(&a, 1e-10, &g);
        assert!(max_rel(c.as_ref(), comm_ref(&a, 1e-10).as_ref()) <= 1e-12);
        assert!(
            max_rel(grad.as_ref(), r.as_ref()) <= 1e-10,
            "n = {n}: {}",
            max_rel(grad.as_ref(), r.as_ref())
        );
        let pts = probes(&mut rng, n);
        check_fd("communicability_vjp", &a, &grad, &pts, 1e-6, 1e-7, |a| {
            let c = communicability(a.as_ref(), 1e-10).unwrap();
            (0..n)
                .flat_map(|i| (0..n).map(move |j| (i, j)))
                .map(|(i, j)| g[(i, j)] * c[(i, j)])
                .sum()
        });
    }
}

// ---------------------------------------------------------------------------------------------
// regularizers
// ---------------------------------------------------------------------------------------------

#[test]
fn l1_and_l1_distance_values_and_gradients() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    for &(n, signed) in &[(5usize, false), (5, true), (23, true), (40, false)] {
        let w = random_w(&mut rng, n, signed);
        let d = random_d(&mut rng, n);
        let lam = 0.3;
        let mut g = Mat::zeros(n, n);
        let v = l1(w.as_ref(), lam, None, g.as_mut()).unwrap();
        let want: f64 = (0..n)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .map(|(i, j)| lam * w[(i, j)].abs())
            .sum();
        assert!((v - want).abs() <= 1e-13 * want);
        let pts = probes(&mut rng, n);
        // Both terms are linear on |w| ≥ 0.05, so a large step only reduces rounding error.
        check_fd("l1", &w, &g, &pts, 1e-3, 1e-9, |w| {
            let mut t = Mat::zeros(n, n);
            l1(w.as_ref(), lam, None, t.as_mut()).unwrap()
        });
        // accumulation: a second call on the same buffer doubles it
        let g1 = g.clone();
        l1(w.as_ref(), lam, None, g.as_mut()).unwrap();
        assert!(
            max_rel(
                g.as_ref(),
                Mat::from_fn(n, n, |i, j| 2.0 * g1[(i, j)]).as_ref()
            ) <= 1e-15
        );

        let mut g = Mat::zeros(n, n);
        let v = l1_distance(w.as_ref(), d.as_ref(), lam, None, g.as_mut()).unwrap();
        let want: f64 = (0..n)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .map(|(i, j)| lam * w[(i, j)].abs() * d[(i, j)])
            .sum();
        assert!((v - want).abs() <= 1e-13 * want);
        check_fd("l1_distance", &w, &g, &pts, 1e-3, 1e-9, |w| {
            let mut t = Mat::zeros(n, n);
            l1_distance(w.as_ref(), d.as_ref(), lam, None, t.as_mut()).unwrap()
        });
        // transposed (strided) views take the scalar path and agree
        let mut gt = Mat::zeros(n, n);
        let vt = l1_distance(w.transpose(), d.transpose(), lam, None, gt.as_mut()).unwrap();
        assert!((vt - v).abs() <= 1e-12 * v);
        assert!(max_rel(gt.transpose(), g.as_ref()) <= 1e-15);
    }
    // subgradient at 0 is 0
    let w = Mat::from_fn(3, 3, |i, j| if i == j { 0.0 } else { 1.0 });
    let mut g = Mat::zeros(3, 3);
    l1(w.as_ref(), 1.0, None, g.as_mut()).unwrap();
    assert_eq!(g[(1, 1)], 0.0);
    assert_eq!(g[(0, 1)], 1.0);
}

#[test]
fn l1_distance_comm_matches_reference_and_finite_differences() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
    for &(n, signed) in &[
        (5usize, false),
        (5, true),
        (12, true),
        (31, false),
        (40, true),
    ] {
        let w = random_w(&mut rng, n, signed);
        let d = random_d(&mut rng, n);
        let (lam, eps) = (0.3, 1e-10);
        let mut ws = RegWorkspace::new(n);
        let mut g = Mat::zeros(n, n);
        let v =
            l1_distance_comm(w.as_ref(), d.as_ref(), lam, eps, None, g.as_mut(), &mut ws).unwrap();
        // plain reference: value, and gradient = direct term + sign(W) ⊙ VJP(G = λ|W|⊙D)
        let a = Mat::from_fn(n, n, |i, j| w[(i, j)].abs());
        let c = comm_ref(&a, eps);
        let want: f64 = (0..n)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .map(|(i, j)| lam * a[(i, j)] * d[(i, j)] * c[(i, j)])
            .sum();
        assert!((v - want).abs() <= 1e-12 * want, "{v} vs {want}");
        let gc = Mat::from_fn(n, n, |i, j| lam * a[(i, j)] * d[(i, j)]);
        let vjp = comm_vjp_ref(&a, eps, &gc);
        let gref = Mat::from_fn(n, n, |i, j| {
            w[(i, j)].signum() * (lam * d[(i, j)] * c[(i, j)] + vjp[(i, j)])
        });
        assert!(
            max_rel(g.as_ref(), gref.as_ref()) <= 1e-10,
            "n = {n}: {}",
            max_rel(g.as_ref(), gref.as_ref())
        );
        assert!(max_rel(ws.communicability(), c.as_ref()) <= 1e-12);
        let pts = probes(&mut rng, n);
        check_fd("l1_distance_comm", &w, &g, &pts, 1e-6, 1e-7, |w| {
            let mut t = Mat::zeros(n, n);
            l1_distance_comm(w.as_ref(), d.as_ref(), lam, eps, None, t.as_mut(), &mut ws).unwrap()
        });
    }
}

#[test]
fn emd_comm_matches_reference_and_finite_differences() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    for &(n, signed) in &[(5usize, false), (6, true), (19, true), (40, false)] {
        let w = random_w(&mut rng, n, signed);
        let (lam, eps) = (0.1, 1e-10);
        // target: communicability of another random non-negative matrix (N² values, N zeros)
        let other = random_w(&mut rng, n, false);
        let c_emp = comm_ref(&other, eps);
        let flat: Vec<f64> = (0..n)
            .flat_map(|j| (0..n).map(move |i| (i, j)))
            .map(|(i, j)| c_emp[(i, j)])
            .collect();
        let sorted = sort_samples(&flat).unwrap();
        let mut ws = RegWorkspace::new(n);
        let mut g = Mat::zeros(n, n);
        let v = emd_comm(w.as_ref(), &sorted, lam, eps, g.as_mut(), &mut ws).unwrap();
        // plain reference: sort both, mean |difference|, sign per rank → G, then the VJP
        let a = Mat::from_fn(n, n, |i, j| w[(i, j)].abs());
        let c = comm_ref(&a, eps);
        let mut idx: Vec<(usize, usize)> =
            (0..n).flat_map(|j| (0..n).map(move |i| (i, j))).collect();
        idx.sort_by(|p, q| c[*p].partial_cmp(&c[*q]).unwrap());
        let nn = (n * n) as f64;
        let want: f64 = idx
            .iter()
            .zip(&sorted)
            .map(|(p, s)| (c[*p] - s).abs())
            .sum::<f64>()
            * lam
            / nn;
        assert!((v - want).abs() <= 1e-12 * want, "{v} vs {want}");
        let mut gc = Mat::zeros(n, n);
        for (p, s) in idx.iter().zip(&sorted) {
            let diff: f64 = c[*p] - s;
            gc[*p] = if diff == 0.0 {
                0.0
            } else {
                lam * diff.signum() / nn
            };
        }
        let vjp = comm_vjp_ref(&a, eps, &gc);
        let gref = Mat::from_fn(n, n, |i, j| w[(i, j)].signum() * vjp[(i, j)]);
        assert!(
            max_rel(g.as_ref(), gref.as_ref()) <= 1e-10,
            "n = {n}: {}",
            max_rel(g.as_ref(), gref.as_ref())
        );
        let pts = probes(&mut rng, n);
        check_fd("emd_comm", &w, &g, &pts, 1e-7, 1e-6, |w| {
            let mut t = Mat::zeros(n, n);
            emd_comm(w.as_ref(), &sorted, lam, eps, t.as_mut(), &mut ws).unwrap()
        });
    }
}

// ---------------------------------------------------------------------------------------------
// masks
// ---------------------------------------------------------------------------------------------

#[test]
fn masks_restrict_the_support() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(6);
    let n = 24;
    let w = random_w(&mut rng, n, true);
    let d = random_d(&mut rng, n);
    let keep = Mat::from_fn(n, n, |_, _| rng.random_bool(0.2));
    let csr = CsrMask::from_dense(keep.as_ref()).unwrap();
    assert_eq!(
        csr.nnz(),
        (0..n)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .filter(|&p| keep[p])
            .count()
    );
    let wm = Mat::from_fn(n, n, |i, j| if keep[(i, j)] { w[(i, j)] } else { 0.0 });
    let lam = 0.3;
    // l1 and l1_distance: masked = unmasked on W ⊙ M (sign(0) = 0 leaves the rest untouched)
    let mut g_ref = Mat::zeros(n, n);
    let v_ref = l1_distance(wm.as_ref(), d.as_ref(), lam, None, g_ref.as_mut()).unwrap();
    for mask in [Mask::Dense(keep.as_ref()), Mask::Csr(&csr)] {
        let mut g = Mat::zeros(n, n);
        let v = l1_distance(w.as_ref(), d.as_ref(), lam, Some(&mask), g.as_mut()).unwrap();
        assert!((v - v_ref).abs() <= 1e-13 * v_ref);
        assert!(max_rel(g.as_ref(), g_ref.as_ref()) <= 1e-15);
        let mut g = Mat::zeros(n, n);
        let mut g1 = Mat::zeros(n, n);
        let v = l1(w.as_ref(), lam, Some(&mask), g.as_mut()).unwrap();
        let v1 = l1(wm.as_ref(), lam, None, g1.as_mut()).unwrap();
        assert!((v - v1).abs() <= 1e-13 * v1);
        assert!(max_rel(g.as_ref(), g1.as_ref()) <= 1e-15);
    }
    // l1_distance_comm: the mask restricts the sum, C still sees all of W; dense = CSR, and
    // the gradient still matches finite differences.
    let eps = 1e-10;
    let mut ws = RegWorkspace::new(n);
    let mut gd = Mat::zeros(n, n);
    let mut gc = Mat::zeros(n, n);
    let vd = l1_distance_comm(
        w.as_ref(),
        d.as_ref(),
        lam,
        eps,
        Some(&Mask::Dense(keep.as_ref())),
        gd.as_mut(),
        &mut ws,
    )
    .unwrap();
    let vc = l1_distance_comm(
        w.as_ref(),
        d.as_ref(),
        lam,
        eps,
        Some(&Mask::Csr(&csr)),
        gc.as_mut(),
        &mut ws,
    )
    .unwrap();
    let c = comm_ref(&Mat::from_fn(n, n, |i, j| w[(i, j)].abs()), eps);
    let want: f64 = (0..n)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .filter(|&p| keep[p])
        .map(|p| lam * w[p].abs() * d[p] * c[p])
        .sum();
    assert!((vd - want).abs() <= 1e-12 * want && (vc - want).abs() <= 1e-12 * want);
    assert!(max_rel(gd.as_ref(), gc.as_ref()) <= 1e-14);
    let pts = probes(&mut rng, n);
    check_fd("masked l1_distance_comm", &w, &gc, &pts, 1e-6, 1e-7, |w| {
        let mut t = Mat::zeros(n, n);
        l1_distance_comm(
            w.as_ref(),
            d.as_ref(),
            lam,
            eps,
            Some(&Mask::Csr(&csr)),
            t.as_mut(),
            &mut ws,
        )
        .unwrap()
    });
    // validation of CSR patterns
    assert!(CsrMask::try_new(2, vec![0, 1, 2], vec![1, 0]).is_ok());
    assert!(CsrMask::try_new(2, vec![0, 2, 1], vec![0, 1]).is_err());
    assert!(CsrMask::try_new(2, vec![0, 1, 2], vec![2, 0]).is_err());
    assert!(CsrMask::try_new(2, vec![0, 2, 2], vec![1, 1]).is_err());
    assert!(CsrMask::try_new(2, vec![0, 1], vec![1]).is_err());
}

#[test]
fn bad_input_is_a_typed_error() {
    let w = Mat::from_fn(3, 3, |i, j| (i + j) as f64 + 1.0);
    let mut g = Mat::zeros(3, 3);
    let mut g2 = Mat::<f64>::zeros(2, 3);
    let d4 = Mat::<f64>::zeros(4, 4);
    assert!(matches!(
        l1(w.as_ref(), 1.0, None, g2.as_mut()),
        Err(KernelError::DimensionMismatch { what: "grad", .. })
    ));
    assert!(matches!(
        l1_distance(w.as_ref(), d4.as_ref(), 1.0, None, g.as_mut()),
        Err(KernelError::DimensionMismatch { what: "d", .. })
    ));
    let rect = Mat::<f64>::zeros(2, 3);
    assert!(matches!(
        communicability(rect.as_ref(), 1e-10),
        Err(KernelError::NotSquare { .. })
    ));
    let neg = Mat::from_fn(2, 2, |i, j| if i == j { -1.0 } else { 1.0 });
    assert!(matches!(
        communicability(neg.as_ref(), 1e-10),
        Err(KernelError::InvalidWeights { .. })
    ));
    let zero = Mat::<f64>::zeros(2, 2);
    assert!(matches!(
        communicability(zero.as_ref(), 0.0),
        Err(KernelError::InvalidWeights { .. })
    ));
    assert!(communicability(zero.as_ref(), 1e-10).is_ok());
    let nan = Mat::from_fn(2, 2, |i, _| if i == 1 { f64::NAN } else { 1.0 });
    assert!(matches!(
        communicability(nan.as_ref(), 1e-10),
        Err(KernelError::NonFinite { .. })
    ));
    let mut ws = RegWorkspace::new(3);
    assert!(matches!(
        emd_comm(w.as_ref(), &[0.0; 8], 0.1, 1e-10, g.as_mut(), &mut ws),
        Err(KernelError::DimensionMismatch {
            what: "c_emp_sorted",
            ..
        })
    ));
    let mut unsorted = [0.0; 9];
    unsorted[0] = 1.0;
    assert!(emd_comm(w.as_ref(), &unsorted, 0.1, 1e-10, g.as_mut(), &mut ws).is_err());
    let keep = Mat::from_fn(2, 2, |_, _| true);
    assert!(matches!(
        l1(
            w.as_ref(),
            1.0,
            Some(&Mask::Dense(keep.as_ref())),
            g.as_mut()
        ),
        Err(KernelError::DimensionMismatch { what: "mask", .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// real fields against scipy
// ---------------------------------------------------------------------------------------------

fn data_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("CORTICAL_DATA") {
        return Some(PathBuf::from(p));
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/microns");
    p.is_dir().then_some(p)
}

/// Test-local reader of the seed's connectome CSV (header `,0,1,…`, index column first).
fn read_connectome(path: &std::path::Path) -> Mat<f64> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let n = lines.next().unwrap().split(',').count() - 1;
    let mut a = Mat::zeros(n, n);
    for (i, line) in lines.enumerate() {
        let mut parts = line.split(',');
        assert_eq!(
            parts.next().unwrap().trim().parse::<usize>().unwrap(),
            i,
            "{}",
            path.display()
        );
        for (j, x) in parts.enumerate() {
            a[(i, j)] = x.trim().parse::<f64>().unwrap();
        }
    }
    a
}

fn read_reference(field: &str, n: usize) -> Mat<f64> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/data/communicability_{field}.bin"));
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len() % 12, 0);
    let mut c = Mat::zeros(n, n);
    for rec in bytes.chunks_exact(12) {
        let i = u16::from_le_bytes([rec[0], rec[1]]) as usize;
        let j = u16::from_le_bytes([rec[2], rec[3]]) as usize;
        c[(i, j)] = f64::from_le_bytes(rec[4..12].try_into().unwrap());
    }
    c
}

#[test]
fn communicability_of_real_connectomes_matches_scipy() {
    let Some(dir) = data_dir() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but the MICrONS data directory is missing (set CORTICAL_DATA)");
        }
        eprintln!("skipped: no MICrONS data (../shared/data/microns or $CORTICAL_DATA)");
        return;
    };
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/communicability_ref.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let eps = meta["eps"].as_f64().unwrap();
    assert_eq!(eps, 1e-10);
    for field in ["5_3_8", "6_6_2"] {
        let info = &meta["fields"][field];
        let n = info["n"].as_u64().unwrap() as usize;
        let path = dir.join(field).join(format!("connectome_{field}.csv"));
        if !path.is_file() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true but {} is missing", path.display());
            }
            eprintln!("skipped: {} not found", path.display());
            continue;
        }
        let a = read_connectome(&path);
        assert_eq!(a.nrows(), n);
        let c = communicability(a.as_ref(), eps).unwrap();
        let r = read_reference(field, n);
        // relative Frobenius error, and every entry scipy found exactly 0 is ≈ 0 here too
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for j in 0..n {
            for i in 0..n {
                num += (c[(i, j)] - r[(i, j)]).powi(2);
                den += r[(i, j)].powi(2);
            }
        }
        let err = (num / den).sqrt();
        assert!(
            err <= 1e-12,
            "{field}: relative Frobenius error vs scipy {err:e}"
        );
        assert!((den.sqrt() - info["c_frobenius"].as_f64().unwrap()).abs() <= 1e-9 * den.sqrt());
        // a CSR mask of the connectome's synapses has exactly its non-zeros
        let csr = CsrMask::from_nonzeros(a.as_ref()).unwrap();
        assert_eq!(csr.nnz() as u64, info["connectome_nnz"].as_u64().unwrap());
    }
}
