//! 1-D Wasserstein-1 against scipy.stats.wasserstein_distance and POT+torch autograd
//! (tests/data/w1.json, a copy of ../shared/reference/w1.json), scipy's docstring examples,
//! metric properties, and finite differences of the subgradient.
use cortical_priors::kernels::emd::{
    self, sort_samples, try_wasserstein_1d, try_wasserstein_1d_grad, try_wasserstein_1d_weighted,
    wasserstein_1d, wasserstein_1d_grad, wasserstein_1d_grad_weighted, wasserstein_1d_weighted,
    Wasserstein1d,
};
use cortical_priors::kernels::KernelError;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::Value;

fn vecf(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/w1.json"))
        .unwrap();
    let root: Value = serde_json::from_str(&text).unwrap();
    root["cases"].as_array().unwrap().clone()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
}

fn has_ties(u: &[f64], v: &[f64]) -> bool {
    let mut all: Vec<f64> = u.iter().chain(v).copied().collect();
    all.sort_by(|a, b| a.partial_cmp(b).unwrap());
    all.windows(2).any(|w| w[0] == w[1])
}

#[test]
fn reference_values_and_gradients() {
    let cases = cases();
    assert!(cases.len() >= 15);
    let mut grads_checked = 0;
    let mut ws = Wasserstein1d::<f64>::new();
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let (u, v) = (vecf(&c["u"]), vecf(&c["v"]));
        let want = c["w1"].as_f64().unwrap();
        let weights = c
            .get("u_weights")
            .map(|uw| (vecf(uw), vecf(&c["v_weights"])));
        let (mut gu, mut gv) = (vec![0.0; u.len()], vec![0.0; v.len()]);
        let (got, got_g) = match &weights {
            None => (
                wasserstein_1d(&u, &v),
                wasserstein_1d_grad(&u, &v, &mut gu, &mut gv),
            ),
            Some((uw, vw)) => (
                wasserstein_1d_weighted(&u, uw, &v, vw),
                wasserstein_1d_grad_weighted(&u, uw, &v, vw, &mut gu, &mut gv),
            ),
        };
        assert!(rel(got, want) <= 1e-12, "{name}: {got} vs scipy {want}");
        assert!(
            rel(got_g, want) <= 1e-12,
            "{name} (grad path): {got_g} vs scipy {want}"
        );
        // The reused workspace gives the same numbers.
        let again = match &weights {
            None => ws.distance(&u, &v).unwrap(),
            Some((uw, vw)) => ws.distance_weighted(&u, uw, &v, vw).unwrap(),
        };
        assert_eq!(again.to_bits(), got.to_bits(), "{name}");
        if let (Some(ru), Some(rv)) = (c.get("grad_u"), c.get("grad_v")) {
            if has_ties(&u, &v) {
                continue;
            }
            for (g, r) in gu.iter().zip(vecf(ru)).chain(gv.iter().zip(vecf(rv))) {
                assert!(
                    (g - r).abs() <= 1e-10 * r.abs().max(1.0),
                    "{name}: grad {g} vs autograd {r}"
                );
            }
            grads_checked += 1;
        }
    }
    assert!(
        grads_checked >= 12,
        "only {grads_checked} gradient cases checked"
    );
}

#[test]
fn scipy_docstring_examples() {
    assert_eq!(wasserstein_1d(&[0.0, 1.0, 3.0], &[5.0, 6.0, 8.0]), 5.0);
    assert_eq!(
        wasserstein_1d_weighted(&[0.0, 1.0], &[3.0, 1.0], &[0.0, 1.0], &[2.0, 2.0]),
        0.25
    );
    let w = wasserstein_1d_weighted(
        &[3.4, 3.9, 7.5, 7.8],
        &[1.4, 0.9, 3.1, 7.2],
        &[4.5, 1.4],
        &[3.2, 3.5],
    );
    assert!(rel(w, 4.078_133_143_804_786) <= 1e-14, "{w}");
    // f32 too (computed in f64 internally, rounded once).
    let w32 = wasserstein_1d_weighted(
        &[3.4f32, 3.9, 7.5, 7.8],
        &[1.4, 0.9, 3.1, 7.2],
        &[4.5, 1.4],
        &[3.2, 3.5],
    );
    assert!(rel(w32 as f64, 4.078_133_143_804_786) <= 1e-6, "{w32}");
}

#[test]
fn tie_gradient_is_the_zero_sign_element() {
    // u = v exactly: W1 = 0 and every sample sits on a tie, so the chosen subgradient is 0.
    let u = [0.5, -1.0, 2.0, 2.0];
    let (mut gu, mut gv) = ([9.0; 4], [9.0; 4]);
    assert_eq!(wasserstein_1d_grad(&u, &u, &mut gu, &mut gv), 0.0);
    assert_eq!(gu, [0.0; 4]);
    assert_eq!(gv, [0.0; 4]);
    // Unequal sizes, partial tie: u = [0, 1], v = [1]. u_0 = 0 is matched to v = 1 (−1/2);
    // u_1 = 1 ties with its partner (0). v's levels: half against u_0 (+1/2), half tied.
    let (mut gu, mut gv) = ([9.0; 2], [9.0; 1]);
    assert_eq!(
        wasserstein_1d_grad(&[0.0, 1.0], &[1.0], &mut gu, &mut gv),
        0.5
    );
    assert_eq!(gu, [-0.5, 0.0]);
    assert_eq!(gv, [0.5]);
}

fn random_vec(rng: &mut Xoshiro256PlusPlus, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

#[test]
fn metric_properties() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    for trial in 0..40 {
        let (m, n, p) = (1 + trial % 9 * 37, 1 + trial % 7 * 101, 1 + trial % 5 * 600);
        let u = random_vec(&mut rng, m, -2.0, 3.0);
        let v = random_vec(&mut rng, n, -1.0, 1.0);
        let z = random_vec(&mut rng, p, -5.0, 0.0);
        let duv = wasserstein_1d(&u, &v);
        let dvu = wasserstein_1d(&v, &u);
        assert!(duv > 0.0);
        assert!(rel(duv, dvu) <= 1e-13, "symmetry {duv} {dvu}");
        assert_eq!(wasserstein_1d(&u, &u), 0.0);
        // translation invariance and positive homogeneity
        let t = 1.75;
        let ut: Vec<f64> = u.iter().map(|x| x + t).collect();
        let vt: Vec<f64> = v.iter().map(|x| x + t).collect();
        assert!(rel(wasserstein_1d(&ut, &vt), duv) <= 1e-12);
        let s = 3.25;
        let us: Vec<f64> = u.iter().map(|x| x * s).collect();
        let vs: Vec<f64> = v.iter().map(|x| x * s).collect();
        assert!(rel(wasserstein_1d(&us, &vs), s * duv) <= 1e-12);
        // triangle inequality
        let duz = wasserstein_1d(&u, &z);
        let dzv = wasserstein_1d(&z, &v);
        assert!(duv <= duz + dzv + 1e-12, "triangle {duv} > {duz} + {dzv}");
        // uniform weights reproduce the unweighted distance; scaling the weights changes nothing
        let uw = vec![0.3; m];
        let vw = vec![7.0; n];
        assert!(rel(wasserstein_1d_weighted(&u, &uw, &v, &vw), duv) <= 1e-12);
        // duplicating every sample leaves the distribution unchanged
        let uu: Vec<f64> = u.iter().chain(&u).copied().collect();
        assert!(rel(wasserstein_1d(&uu, &v), duv) <= 1e-12);
        // the order of the samples is irrelevant
        let mut ur = u.clone();
        ur.reverse();
        assert!(rel(wasserstein_1d(&ur, &v), duv) <= 1e-13);
    }
}

#[test]
fn equal_size_is_mean_abs_sorted_difference() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    for &n in &[1usize, 100, 511, 512, 4096] {
        let u = random_vec(&mut rng, n, -1.0, 1.0);
        let v = random_vec(&mut rng, n, 0.0, 2.0);
        let (mut a, mut b) = (u.clone(), v.clone());
        a.sort_by(|x, y| x.partial_cmp(y).unwrap());
        b.sort_by(|x, y| x.partial_cmp(y).unwrap());
        let want = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f64>() / n as f64;
        assert!(rel(wasserstein_1d(&u, &v), want) <= 1e-12);
        // presorted training form: accumulates scale·grad, returns scale·W1
        let vs = sort_samples(&v).unwrap();
        assert_eq!(vs, b);
        let mut ws = Wasserstein1d::new();
        let mut acc = vec![1.0; n];
        let got = ws
            .distance_grad_presorted_acc(&u, &vs, 0.5, &mut acc)
            .unwrap();
        assert!(rel(got, 0.5 * want) <= 1e-12);
        let (mut gu, mut gv) = (vec![0.0; n], vec![0.0; n]);
        wasserstein_1d_grad(&u, &v, &mut gu, &mut gv);
        for (x, g) in acc.iter().zip(&gu) {
            assert!((x - (1.0 + 0.5 * g)).abs() <= 1e-15);
        }
    }
}

#[test]
fn f32_matches_f64() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(8);
    for &(m, n) in &[(3usize, 5usize), (700, 700), (1000, 1999)] {
        let u: Vec<f32> = (0..m).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let v: Vec<f32> = (0..n).map(|_| rng.random_range(-0.5f32..2.0)).collect();
        let u64_: Vec<f64> = u.iter().map(|&x| x as f64).collect();
        let v64: Vec<f64> = v.iter().map(|&x| x as f64).collect();
        let d64 = wasserstein_1d(&u64_, &v64);
        let d32 = wasserstein_1d(&u, &v);
        assert_eq!(d32, d64 as f32);
        let (mut gu, mut gv) = (vec![0f32; m], vec![0f32; n]);
        let (mut hu, mut hv) = (vec![0f64; m], vec![0f64; n]);
        wasserstein_1d_grad(&u, &v, &mut gu, &mut gv);
        wasserstein_1d_grad(&u64_, &v64, &mut hu, &mut hv);
        for (a, b) in gu.iter().zip(&hu).chain(gv.iter().zip(&hv)) {
            assert_eq!(*a, *b as f32);
        }
    }
}

/// Central differences of W1 in each sample value, weighted and not. Without ties W1 is
/// piecewise linear in each value, so a step smaller than the gap to the nearest other sample
/// gives the exact derivative up to rounding.
#[test]
fn gradient_matches_central_differences() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(21);
    for &(m, n, weighted) in &[
        (5usize, 5usize, false),
        (7, 4, false),
        (13, 29, false),
        (6, 9, true),
        (20, 20, true),
    ] {
        let u = random_vec(&mut rng, m, -1.0, 1.0);
        let v = random_vec(&mut rng, n, -0.5, 1.5);
        let uw = random_vec(&mut rng, m, 0.1, 2.0);
        let vw = random_vec(&mut rng, n, 0.1, 2.0);
        let f = |u: &[f64], v: &[f64]| {
            if weighted {
                wasserstein_1d_weighted(u, &uw, v, &vw)
            } else {
                wasserstein_1d(u, v)
            }
        };
        let (mut gu, mut gv) = (vec![0.0; m], vec![0.0; n]);
        if weighted {
            wasserstein_1d_grad_weighted(&u, &uw, &v, &vw, &mut gu, &mut gv);
        } else {
            wasserstein_1d_grad(&u, &v, &mut gu, &mut gv);
        }
        let mut all: Vec<f64> = u.iter().chain(&v).copied().collect();
        all.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let gap = all
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(f64::INFINITY, f64::min);
        let h = gap / 4.0;
        for i in 0..m {
            let (mut up, mut um) = (u.clone(), u.clone());
            up[i] += h;
            um[i] -= h;
            let fd = (f(&up, &v) - f(&um, &v)) / (2.0 * h);
            assert!((fd - gu[i]).abs() <= 1e-7, "u[{i}] fd {fd} vs {}", gu[i]);
        }
        for j in 0..n {
            let (mut vp, mut vm) = (v.clone(), v.clone());
            vp[j] += h;
            vm[j] -= h;
            let fd = (f(&u, &vp) - f(&u, &vm)) / (2.0 * h);
            assert!((fd - gv[j]).abs() <= 1e-7, "v[{j}] fd {fd} vs {}", gv[j]);
        }
    }
}

#[test]
fn bad_input_is_a_typed_error_or_nan() {
    let e = try_wasserstein_1d::<f64>(&[], &[1.0]);
    assert!(matches!(e, Err(KernelError::Empty { what: "u" })), "{e:?}");
    let e = try_wasserstein_1d(&[1.0, f64::NAN], &[1.0]);
    assert!(
        matches!(
            e,
            Err(KernelError::NonFinite {
                what: "u",
                index: 1,
                ..
            })
        ),
        "{e:?}"
    );
    let e = try_wasserstein_1d(&[1.0], &[f64::INFINITY]);
    assert!(
        matches!(
            e,
            Err(KernelError::NonFinite {
                what: "v",
                index: 0,
                ..
            })
        ),
        "{e:?}"
    );
    // Either end of the key order: NaNs of both signs, both infinities, f32 and f64, in long
    // samples (past the comparison-sort cutoff) with the culprit last.
    for bad in [f64::NAN, -f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut u: Vec<f64> = (0..1000).map(|i| i as f64 - 500.0).collect();
        u[999] = bad;
        let e = try_wasserstein_1d(&[0.5], &u);
        assert!(
            matches!(
                e,
                Err(KernelError::NonFinite {
                    what: "v",
                    index: 999,
                    ..
                })
            ),
            "{bad}: {e:?}"
        );
        let uf: Vec<f32> = u.iter().map(|&x| x as f32).collect();
        let e = try_wasserstein_1d(&uf, &[0.5]);
        assert!(
            matches!(
                e,
                Err(KernelError::NonFinite {
                    what: "u",
                    index: 999,
                    ..
                })
            ),
            "{bad}: {e:?}"
        );
    }
    let e = try_wasserstein_1d_weighted(&[1.0, 2.0], &[1.0, -1.0], &[1.0], &[1.0]);
    assert!(
        matches!(
            e,
            Err(KernelError::InvalidWeights {
                what: "u_weights",
                ..
            })
        ),
        "{e:?}"
    );
    let e = try_wasserstein_1d_weighted(&[1.0, 2.0], &[1.0, 1.0], &[1.0], &[0.0]);
    assert!(
        matches!(
            e,
            Err(KernelError::InvalidWeights {
                what: "v_weights",
                ..
            })
        ),
        "{e:?}"
    );
    let e = try_wasserstein_1d_weighted(&[1.0, 2.0], &[1.0], &[1.0], &[1.0]);
    assert!(
        matches!(
            e,
            Err(KernelError::DimensionMismatch {
                what: "u_weights",
                ..
            })
        ),
        "{e:?}"
    );
    let e = try_wasserstein_1d_weighted(&[1.0], &[f64::NAN], &[1.0], &[1.0]);
    assert!(
        matches!(
            e,
            Err(KernelError::NonFinite {
                what: "u_weights",
                ..
            })
        ),
        "{e:?}"
    );
    let (mut gu, mut gv) = ([0.0; 1], [0.0; 2]);
    let e = try_wasserstein_1d_grad(&[1.0, 2.0], &[1.0, 3.0], &mut gu, &mut gv);
    assert!(
        matches!(
            e,
            Err(KernelError::DimensionMismatch { what: "grad_u", .. })
        ),
        "{e:?}"
    );
    let msg = try_wasserstein_1d(&[0.0, f64::NAN], &[1.0])
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains('u') && msg.contains("NaN") && msg.contains('1'),
        "{msg}"
    );
    let mut ws = Wasserstein1d::new();
    let e = ws.distance_grad_presorted_acc(&[1.0, 2.0], &[2.0, 1.0], 1.0, &mut [0.0; 2]);
    assert!(
        matches!(
            e,
            Err(KernelError::DimensionMismatch {
                what: "v_sorted",
                ..
            })
        ),
        "{e:?}"
    );

    assert!(wasserstein_1d::<f32>(&[], &[]).is_nan());
    assert!(wasserstein_1d_weighted(&[1.0f64], &[0.0], &[1.0], &[1.0]).is_nan());
    let (mut gu, mut gv) = ([0.0; 2], [0.0; 1]);
    assert!(wasserstein_1d_grad(&[1.0, f64::NAN], &[0.0], &mut gu, &mut gv).is_nan());
    assert!(gu.iter().chain(&gv).all(|g| g.is_nan()));
    assert!(emd::sort_samples::<f64>(&[]).is_err());
}

/// W1 and its subgradient from the monotone coupling's definition (the quantile form, not the
/// kernel's CDF walk): in stable sorted order, u's rank r owns the quantile levels
/// [r·n, (r+1)·n) and v's rank q owns [q·m, (q+1)·m), in integer units of 1/(mn). γ_rq is the
/// overlap of the two; W1 = Σ γ_rq |u_r − v_q| and ∂W1/∂u_r = Σ_q γ_rq sign(u_r − v_q), with
/// sign(0) = 0 (the documented element at ties).
fn coupling_reference(u: &[f64], v: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
    let argsort = |x: &[f64]| {
        let mut o: Vec<usize> = (0..x.len()).collect();
        o.sort_by(|&a, &b| x[a].partial_cmp(&x[b]).unwrap());
        o
    };
    let (m, n) = (u.len(), v.len());
    let (ou, ov) = (argsort(u), argsort(v));
    let (mut w1, mut gu, mut gv) = (0.0, vec![0.0; m], vec![0.0; n]);
    let (mut r, mut q) = (0usize, 0usize);
    while r < m && q < n {
        let (u_end, v_end) = ((r + 1) * n, (q + 1) * m);
        let gamma = (u_end.min(v_end) - (r * n).max(q * m)) as f64 / (m * n) as f64;
        let d = u[ou[r]] - v[ov[q]];
        w1 += gamma * d.abs();
        let s = if d > 0.0 {
            1.0
        } else if d < 0.0 {
            -1.0
        } else {
            0.0
        };
        gu[ou[r]] += s * gamma;
        gv[ov[q]] -= s * gamma;
        if u_end <= v_end {
            r += 1;
        }
        if v_end <= u_end {
            q += 1;
        }
    }
    (w1, gu, gv)
}

/// Samples long enough to be sorted two at once (`emd::PAR_SORT_MIN`), through one reused
/// workspace, against [`coupling_reference`]; ties included (values on a coarse grid) so the
/// stable order matters. Errors still name `u` first.
#[test]
fn large_samples_sorted_at_once_match_the_coupling() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(31);
    let mut ws = Wasserstein1d::new();
    let big = emd::PAR_SORT_MIN;
    for &(m, n) in &[(big, big), (big + 17, 3 * big), (5, 7), (2 * big, 2 * big)] {
        let grid = |x: f64| (x * 64.0).round() / 64.0;
        let u: Vec<f64> = (0..m).map(|_| grid(rng.random_range(-1.0..1.0))).collect();
        let v: Vec<f64> = (0..n).map(|_| grid(rng.random_range(-0.5..2.0))).collect();
        let (want, hu, hv) = coupling_reference(&u, &v);
        assert!(rel(ws.distance(&u, &v).unwrap(), want) <= 1e-12, "{m}x{n}");
        let (mut gu, mut gv) = (vec![0.0; m], vec![0.0; n]);
        let d = ws.distance_grad(&u, &v, &mut gu, &mut gv).unwrap();
        assert!(rel(d, want) <= 1e-12, "{m}x{n}");
        for (a, b) in gu.iter().zip(&hu).chain(gv.iter().zip(&hv)) {
            assert!((a - b).abs() <= 1e-15, "{m}x{n}: {a} vs {b}");
        }
    }
    let mut u = vec![0.0; big];
    let mut v = vec![0.0; big];
    u[big - 1] = f64::NAN;
    v[0] = f64::INFINITY;
    let e = ws.distance(&u, &v);
    assert!(
        matches!(e, Err(KernelError::NonFinite { what: "u", .. })),
        "{e:?}"
    );
}
