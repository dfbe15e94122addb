//! src/stats against scipy / statsmodels / numpy values written by
//! `tests/data/stats/make_refs.py` into `tests/data/stats/refs.json`, plus properties that need
//! no reference (bootstrap behaviour, letter displays checked by hand, error handling).
//!
//! Tolerances, per class (relative unless said otherwise; "abs" only where the value is ~0):
//! * closed-form p-values and special functions: 1e-12 relative, or 1e-15 absolute for values
//!   below 1e-3 (a relative error of the tail functions is an absolute error of a log-front factor,
//!   see src/stats/special.rs — ≲ 1e-13 here);
//! * exact Mann–Whitney p-values: 1e-12 relative (ratios of exact integer counts here; sums of
//!   float pmf terms in scipy);
//! * statistics U and H: 1e-12 relative (U is exact; H is formed by the same operations as scipy);
//! * Holm: 1e-15 relative (one product and a running maximum: bitwise except for p·(m−k) rounding);
//! * t intervals: 1e-12 relative to the half-width (scipy's mean uses numpy's pairwise sum);
//! * bootstrap vs the Python re-implementation on the same resamples: 1e-12 relative;
//!   vs scipy.stats.bootstrap (different RNG): Monte-Carlo error, stated at the test;
//! * numpy's percentile rule: bitwise (its inputs and outputs are stored as strings, because
//!   serde_json's default float parser may be 1 ulp off — harmless for every other tolerance).
use std::sync::OnceLock;

use cortical_priors::stats::{self, special, Interval, MwuMethod};
use cortical_priors::Error;
use rand::SeedableRng;
use rand_core::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::Value;

fn refs() -> &'static Value {
    static R: OnceLock<Value> = OnceLock::new();
    R.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/stats/refs.json");
        serde_json::from_str(&std::fs::read_to_string(path).expect("refs.json is committed"))
            .expect("refs.json parses")
    })
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn fv(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(f).collect()
}

fn arr(v: &Value) -> &Vec<Value> {
    v.as_array().expect("array")
}

/// |got − want| ≤ rel·|want|, or ≤ abs when |want| < 1e-3 (see the tolerance table above).
fn close(got: f64, want: f64, rel: f64, abs: f64) -> bool {
    if got == want {
        return true;
    }
    let d = (got - want).abs();
    d <= rel * want.abs() || (want.abs() < 1e-3 && d <= abs)
}

#[track_caller]
fn assert_close(got: f64, want: f64, rel: f64, abs: f64, what: &str) {
    assert!(
        close(got, want, rel, abs),
        "{what}: got {got:e}, want {want:e} (rel err {:e})",
        ((got - want) / want).abs()
    );
}

// ------------------------------------------------------------------ special functions

#[test]
fn t_quantiles_match_scipy() {
    let cases = arr(&refs()["special"]["t_quantile"]);
    assert!(cases.len() > 1200);
    for c in cases {
        let (p, df, q) = (f(&c["p"]), f(&c["df"]), f(&c["q"]));
        // 1e-12 relative: the quantile is as accurate as the tail over the density.
        assert_close(
            special::t_quantile(p, df),
            q,
            1e-12,
            0.0,
            &format!("t_quantile({p}, {df})"),
        );
    }
}

#[test]
fn tails_and_log_gamma_match_scipy() {
    let s = &refs()["special"];
    for c in arr(&s["t_sf"]) {
        let (t, df) = (f(&c["t"]), f(&c["df"]));
        assert_close(
            special::t_sf(t, df),
            f(&c["sf"]),
            1e-12,
            1e-15,
            &format!("t_sf({t}, {df})"),
        );
    }
    for c in arr(&s["chi2_sf"]) {
        let (x, df) = (f(&c["x"]), f(&c["df"]));
        assert_close(
            special::chi2_sf(x, df),
            f(&c["sf"]),
            1e-12,
            1e-15,
            &format!("chi2_sf({x}, {df})"),
        );
    }
    for c in arr(&s["normal_sf"]) {
        let z = f(&c["z"]);
        assert_close(
            special::normal_sf(z),
            f(&c["sf"]),
            1e-12,
            1e-15,
            &format!("normal_sf({z})"),
        );
    }
    for c in arr(&s["ln_gamma"]) {
        let x = f(&c["x"]);
        // ln Γ crosses 0 at 1 and 2: absolute 2e-14 there (see special::ln_gamma).
        let want = f(&c["lgamma"]);
        let got = special::ln_gamma(x);
        assert!(
            (got - want).abs() <= 1e-14 * want.abs() + 2e-14,
            "ln_gamma({x}): {got} vs {want}"
        );
    }
}

// ------------------------------------------------------------------ t intervals

#[test]
fn t_intervals_match_scipy_for_n_2_to_50() {
    let cases = arr(&refs()["t_ci"]);
    assert_eq!(cases.len(), 49);
    for c in cases {
        let x = fv(&c["x"]);
        let ci = stats::t_ci95(&x).unwrap();
        let (lo, hi) = (f(&c["lo"]), f(&c["hi"]));
        let h = 0.5 * (hi - lo);
        let n = x.len();
        assert_close(stats::mean(&x).unwrap(), f(&c["mean"]), 1e-14, 0.0, "mean");
        assert_close(stats::std_dev(&x).unwrap(), f(&c["sd"]), 1e-13, 0.0, "sd");
        assert!(
            (ci.lo - lo).abs() <= 1e-12 * h,
            "n={n}: lo {} vs {lo}",
            ci.lo
        );
        assert!(
            (ci.hi - hi).abs() <= 1e-12 * h,
            "n={n}: hi {} vs {hi}",
            ci.hi
        );
    }
}

// ------------------------------------------------------------------ Mann–Whitney U

#[test]
fn mann_whitney_matches_scipy() {
    let cases = arr(&refs()["mwu"]);
    let mut exact = 0;
    let mut kinds = std::collections::BTreeSet::new();
    for (k, c) in cases.iter().enumerate() {
        let (x, y) = (fv(&c["x"]), fv(&c["y"]));
        let r = stats::mann_whitney_u(&x, &y).unwrap();
        let kind = c["kind"].as_str().unwrap();
        kinds.insert(kind.to_string());
        let what = format!("case {k} ({kind}, n = {}, {})", x.len(), y.len());
        // the method scipy's rule picks
        let want_exact = c["exact"].as_bool().unwrap();
        assert_eq!(r.method == MwuMethod::Exact, want_exact, "{what}: method");
        exact += usize::from(want_exact);
        assert_close(r.u, f(&c["u"]), 1e-12, 0.0, &format!("{what}: U"));
        assert_close(r.p, f(&c["p"]), 1e-12, 1e-15, &format!("{what}: p"));
    }
    assert!(exact >= 40, "{exact} exact cases");
    for k in [
        "exact-small",
        "exact-unbalanced",
        "asymptotic",
        "ties",
        "accuracy-ties",
        "all-equal",
    ] {
        assert!(kinds.contains(k), "no {k} case");
    }
}

#[test]
fn mann_whitney_u_is_of_the_first_sample_and_symmetric_in_p() {
    let x = [19.0, 22.0, 16.0, 29.0, 24.0];
    let y = [20.0, 11.0, 17.0, 12.0];
    let a = stats::mann_whitney_u(&x, &y).unwrap();
    let b = stats::mann_whitney_u(&y, &x).unwrap();
    assert_eq!(a.u + b.u, (x.len() * y.len()) as f64);
    assert_eq!(a.p, b.p);
    // scipy's documented example: U = 17, p = 2·7/C(9,4) = 1/9 (7 of the 126 splits have U ≤ 3)
    assert_eq!(a.u, 17.0);
    assert!((a.p - 1.0 / 9.0).abs() < 1e-16);
}

// ------------------------------------------------------------------ Kruskal–Wallis

#[test]
fn kruskal_wallis_matches_scipy() {
    let cases = arr(&refs()["kruskal"]);
    assert!(cases.len() >= 15);
    for (k, c) in cases.iter().enumerate() {
        let groups: Vec<Vec<f64>> = arr(&c["groups"]).iter().map(fv).collect();
        let (h, p) = stats::kruskal_wallis(&groups).unwrap();
        let what = format!("case {k} ({})", c["kind"]);
        assert_close(h, f(&c["h"]), 1e-12, 0.0, &format!("{what}: H"));
        assert_close(p, f(&c["p"]), 1e-12, 1e-15, &format!("{what}: p"));
    }
}

#[test]
fn kruskal_wallis_of_identical_values_is_nan_like_scipy() {
    let (h, p) = stats::kruskal_wallis(&[vec![0.625; 3], vec![0.625; 4]]).unwrap();
    assert!(h.is_nan() && p.is_nan());
}

// ------------------------------------------------------------------ Holm

#[test]
fn holm_matches_statsmodels() {
    for (k, c) in arr(&refs()["holm"]).iter().enumerate() {
        let p = fv(&c["p"]);
        let want = fv(&c["adj"]);
        let got = stats::holm(&p).unwrap();
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_close(*g, *w, 1e-15, 0.0, &format!("holm case {k} [{i}]"));
        }
    }
}

#[test]
fn holm_properties() {
    let p = [0.04, 0.01, 0.04, 0.9, 0.3];
    let a = stats::holm(&p).unwrap();
    // never below the raw value, capped at 1, monotone in the raw values, ties stay tied
    for i in 0..p.len() {
        assert!(a[i] >= p[i] && a[i] <= 1.0);
        for j in 0..p.len() {
            if p[i] <= p[j] {
                assert!(a[i] <= a[j]);
            }
        }
    }
    assert_eq!(a[0], a[2]);
    assert_eq!(stats::holm(&[]).unwrap(), Vec::<f64>::new());
}

// ------------------------------------------------------------------ pairwise + letters

#[test]
fn pairwise_matches_scipy_and_statsmodels() {
    for c in arr(&refs()["pairwise"]) {
        let labels: Vec<&str> = arr(&c["labels"])
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        let groups: Vec<(&str, Vec<f64>)> = labels
            .iter()
            .zip(arr(&c["groups"]))
            .map(|(l, g)| (*l, fv(g)))
            .collect();
        let pw = stats::pairwise_mwu_holm(&groups, 0.05).unwrap();
        let want = arr(&c["tests"]);
        assert_eq!(pw.tests.len(), want.len());
        for (t, w) in pw.tests.iter().zip(want) {
            assert_eq!(
                (t.a as u64, t.b as u64),
                (w["a"].as_u64().unwrap(), w["b"].as_u64().unwrap())
            );
            assert_close(t.u, f(&w["u"]), 1e-12, 0.0, "U");
            assert_close(t.p, f(&w["p"]), 1e-12, 1e-15, "p");
            assert_close(t.p_holm, f(&w["p_holm"]), 1e-12, 1e-15, "p_holm");
            assert_eq!(t.significant, t.p_holm <= 0.05);
        }
        check_letters(
            &pw.letters,
            &pw.tests
                .iter()
                .filter(|t| t.significant)
                .map(|t| (t.a, t.b))
                .collect::<Vec<_>>(),
        );
        // the generated data make "orth" (≈0.55) differ from "W*" (mostly 0.6875–0.75)
        let t = pw.test("W*", "orth").unwrap();
        assert!(t.significant, "{t:?}");
        assert!(pw
            .letters_of("W*")
            .unwrap()
            .chars()
            .all(|l| !pw.letters_of("orth").unwrap().contains(l)));
    }
}

/// A letter display is valid when two groups share a letter exactly when they are not different.
fn check_letters(letters: &[String], different: &[(usize, usize)]) {
    let k = letters.len();
    for i in 0..k {
        assert!(
            !letters[i].is_empty(),
            "group {i} has no letter: {letters:?}"
        );
        for j in i + 1..k {
            let share = letters[i].chars().any(|c| letters[j].contains(c));
            let diff = different.contains(&(i, j)) || different.contains(&(j, i));
            assert_eq!(
                share, !diff,
                "groups {i}, {j} in {letters:?} (different: {different:?})"
            );
        }
    }
}

#[test]
fn letters_on_hand_checked_cases() {
    let l = |k, d: &[(usize, usize)]| stats::compact_letters(k, d).unwrap();
    // nothing differs: one letter
    assert_eq!(l(3, &[]), ["a", "a", "a"]);
    // only the ends differ: the middle group bridges them
    assert_eq!(l(3, &[(0, 2)]), ["a", "ab", "b"]);
    // everything differs
    assert_eq!(l(3, &[(0, 1), (0, 2), (1, 2)]), ["a", "b", "c"]);
    // two blocks
    assert_eq!(
        l(4, &[(0, 2), (0, 3), (1, 2), (1, 3)]),
        ["a", "a", "b", "b"]
    );
    // one pair differs among four
    assert_eq!(l(4, &[(3, 0)]), ["a", "ab", "ab", "b"]);
    // a chain: neighbours alike, everything further apart differs
    let chain: Vec<(usize, usize)> = (0..5)
        .flat_map(|i| (i + 2..5).map(move |j| (i, j)))
        .collect();
    assert_eq!(l(5, &chain), ["a", "ab", "bc", "cd", "d"]);
    // a single group
    assert_eq!(l(1, &[]), ["a"]);
}

#[test]
fn letters_sweep_removes_redundant_letters() {
    // Octahedron: 3 disjoint different pairs among 6 groups. Insert-and-absorb leaves its 8
    // maximal cliques (triangles), but 4 triangles already cover every "not different" pair
    // (Piepho 2004's point for the sweep); the result must stay valid and use fewer letters.
    let diff = [(0, 1), (2, 3), (4, 5)];
    let letters = stats::compact_letters(6, &diff).unwrap();
    check_letters(&letters, &diff);
    let mut used: Vec<char> = letters.iter().flat_map(|s| s.chars()).collect();
    used.sort_unstable();
    used.dedup();
    assert!(used.len() < 8, "{letters:?}");
    // Many random designs stay valid.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
    for _ in 0..200 {
        let k = 2 + (rng.next_u64() % 9) as usize;
        let mut d = Vec::new();
        for i in 0..k {
            for j in i + 1..k {
                if rng.next_u64() % 3 == 0 {
                    d.push((i, j));
                }
            }
        }
        check_letters(&stats::compact_letters(k, &d).unwrap(), &d);
    }
}

// ------------------------------------------------------------------ bootstrap

#[test]
fn generator_stream_is_what_the_python_reference_reproduces() {
    // make_refs.py re-implements SplitMix64 seeding + xoshiro256++; if rand_xoshiro's seeding
    // ever changed, the bootstrap comparisons below would be meaningless — this says so first.
    let stream = refs()["bootstrap"]["stream"].as_object().unwrap();
    assert_eq!(stream.len(), 3);
    for (seed, outs) in stream {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed.parse().unwrap());
        for o in arr(outs) {
            assert_eq!(
                rng.next_u64(),
                o.as_str().unwrap().parse::<u64>().unwrap(),
                "seed {seed}"
            );
        }
    }
}

#[test]
fn bootstrap_matches_python_on_the_same_resamples() {
    for c in arr(&refs()["bootstrap"]["cases"]) {
        let name = c["name"].as_str().unwrap();
        let x = fv(&c["x"]);
        let b = c["resamples"].as_u64().unwrap() as usize;
        let seed = c["seed"].as_u64().unwrap();
        let means = stats::bootstrap_means(&x, b, seed).unwrap();
        for (i, w) in fv(&c["first_means"]).iter().enumerate() {
            assert_close(means[i], *w, 1e-15, 0.0, &format!("{name}: mean {i}"));
        }
        let ci = stats::bootstrap_ci95(&x, b, seed).unwrap();
        assert_close(ci.lo, f(&c["lo"]), 1e-12, 1e-15, &format!("{name}: lo"));
        assert_close(ci.hi, f(&c["hi"]), 1e-12, 1e-15, &format!("{name}: hi"));
    }
}

#[test]
fn percentile_rule_is_numpys() {
    let parse = |v: &Value| -> Vec<f64> {
        arr(v)
            .iter()
            .map(|s| s.as_str().expect("repr string").parse().expect("a float"))
            .collect()
    };
    for c in arr(&refs()["bootstrap"]["percentile"]) {
        let x = parse(&c["x"]);
        for (q, v) in fv(&c["q"]).iter().zip(parse(&c["v"])) {
            // same operations as numpy: equal to the last bit
            assert_eq!(stats::percentile(&x, *q).unwrap(), v, "n={} q={q}", x.len());
        }
    }
}

#[test]
fn bootstrap_agrees_with_scipy_within_monte_carlo_error() {
    // Different generators, so the bounds differ by Monte-Carlo error only. The 2.5% quantile of
    // B = 10 000 bootstrap means has standard deviation ≈ √(q(1−q)/B)/φ(1.96) · SE ≈ 0.027·SE
    // (SE the plug-in standard error); the difference of two independent estimates ≈ 0.038·SE.
    // 0.2·SE is > 5 of those standard deviations.
    let s = &refs()["bootstrap"]["scipy"];
    let x = fv(&s["x"]);
    let se = f(&s["se"]);
    let ci = stats::bootstrap_ci95(&x, stats::BOOTSTRAP_RESAMPLES, 2026).unwrap();
    assert!(
        (ci.lo - f(&s["lo"])).abs() < 0.2 * se,
        "{ci:?} vs scipy {s}"
    );
    assert!(
        (ci.hi - f(&s["hi"])).abs() < 0.2 * se,
        "{ci:?} vs scipy {s}"
    );
}

#[test]
fn bootstrap_properties() {
    let x = [0.625, 0.5625, 0.6875, 0.625, 0.75, 0.625, 0.5];
    let m = stats::mean(&x).unwrap();
    for seed in 0..5 {
        let ci = stats::bootstrap_ci95(&x, 2000, seed).unwrap();
        assert!(
            ci.contains(m) && ci.lo < ci.hi,
            "seed {seed}: {ci:?} vs mean {m}"
        );
        // deterministic in the seed
        assert_eq!(ci, stats::bootstrap_ci95(&x, 2000, seed).unwrap());
    }
    // ... and the seed matters (the intervals themselves may coincide: these means live on a
    // lattice of step 1/112)
    assert_ne!(
        stats::bootstrap_means(&x, 2000, 1).unwrap(),
        stats::bootstrap_means(&x, 2000, 2).unwrap()
    );
    // constant data: zero width at the value
    let c = stats::bootstrap_ci95(&[0.625; 9], 500, 3).unwrap();
    assert_eq!(
        c,
        Interval {
            lo: 0.625,
            hi: 0.625
        }
    );
}

#[test]
fn bootstrap_approaches_the_t_interval_for_large_n() {
    // n = 400 normal values: the percentile interval is ≈ mean ± 1.96·SE·√((n−1)/n), the t
    // interval mean ± 1.966·SE. Their gap (≈ 0.004·SE) plus Monte-Carlo error (sd ≈ 0.027·SE per
    // bound, see above) and the sample's skewness (O(1/√n) of SE) stay well below 0.15·SE.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(77);
    let x: Vec<f64> = (0..400)
        .map(|_| {
            // Box–Muller from two uniforms in (0, 1]
            let u1 = ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
            let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            0.7 + 0.05 * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })
        .collect();
    let se = stats::std_dev(&x).unwrap() / 20.0;
    let t = stats::t_ci95(&x).unwrap();
    let b = stats::bootstrap_ci95(&x, stats::BOOTSTRAP_RESAMPLES, 1).unwrap();
    assert!((t.lo - b.lo).abs() < 0.15 * se, "{t:?} vs {b:?}, se {se}");
    assert!((t.hi - b.hi).abs() < 0.15 * se, "{t:?} vs {b:?}, se {se}");
}

#[test]
fn summarize_agrees_with_the_parts() {
    let x = [0.625, 0.5625, 0.6875, 0.625];
    let s = stats::summarize(&x, 1000, 4).unwrap();
    assert_eq!(s.n, 4);
    assert_eq!(s.mean, stats::mean(&x).unwrap());
    assert_eq!(s.t_ci, Some(stats::t_ci95(&x).unwrap()));
    assert_eq!(s.boot_ci, stats::bootstrap_ci95(&x, 1000, 4).unwrap());
    let one = stats::summarize(&[0.5], 10, 0).unwrap();
    assert_eq!((one.sd, one.t_ci, one.boot_ci.lo), (None, None, 0.5));
}

// ------------------------------------------------------------------ bad input

fn invalid_names(r: Result<impl std::fmt::Debug, Error>, what: &str) {
    match r {
        Err(Error::Invalid { what: w, .. }) => assert!(w.contains(what), "{w} should name {what}"),
        other => panic!("expected Invalid naming {what}, got {other:?}"),
    }
}

#[test]
fn bad_input_is_an_error_naming_the_argument() {
    invalid_names(stats::mean(&[]), "xs");
    invalid_names(stats::t_ci95(&[1.0]), "xs");
    invalid_names(stats::t_ci95(&[1.0, f64::NAN]), "xs");
    invalid_names(stats::bootstrap_ci95(&[1.0], 0, 1), "resamples");
    invalid_names(stats::bootstrap_ci95(&[f64::INFINITY], 10, 1), "xs");
    invalid_names(stats::percentile(&[1.0], 101.0), "pct");
    invalid_names(stats::mann_whitney_u(&[], &[1.0]), "x");
    invalid_names(stats::mann_whitney_u(&[1.0], &[f64::NAN]), "y");
    invalid_names(stats::kruskal_wallis(&[vec![1.0, 2.0]]), "groups");
    invalid_names(stats::kruskal_wallis(&[vec![1.0], vec![]]), "groups[1]");
    invalid_names(
        stats::kruskal_wallis(&[vec![1.0], vec![2.0, f64::NAN]]),
        "groups[1]",
    );
    invalid_names(stats::holm(&[0.1, f64::NAN]), "pvalues[1]");
    invalid_names(stats::holm(&[1.5]), "pvalues[0]");
    invalid_names(
        stats::pairwise_mwu_holm(&[("a", vec![1.0])], 0.05),
        "groups",
    );
    invalid_names(
        stats::pairwise_mwu_holm(&[("a", vec![1.0]), ("b", vec![])], 0.05),
        "groups[1] (b)",
    );
    invalid_names(
        stats::pairwise_mwu_holm(&[("a", vec![1.0]), ("b", vec![2.0])], 1.0),
        "alpha",
    );
    invalid_names(stats::compact_letters(0, &[]), "n_groups");
    invalid_names(stats::compact_letters(3, &[(0, 3)]), "different[0]");
    invalid_names(stats::compact_letters(3, &[(1, 1)]), "different[0]");
}
