#![no_main]
//! Fuzz target `emd`: arbitrary samples and weights (finite or not, any sizes). The kernels must
//! never panic; on accepted input W1 is ≥ 0 and finite, symmetric in (u, v), and the gradient
//! is finite with every entry bounded by its sample's normalized weight; repeating every
//! sample k times (long enough for the radix sort) leaves W1 unchanged.
use arbitrary::Arbitrary;
use cortical_kernels::emd::{
    try_wasserstein_1d_grad, try_wasserstein_1d_grad_weighted, try_wasserstein_1d_weighted,
    wasserstein_1d, SMALL_SORT,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    u: Vec<f64>,
    v: Vec<f64>,
    u_w: Vec<f64>,
    v_w: Vec<f64>,
    weighted: bool,
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300)
}

fuzz_target!(|inp: Input| {
    let Input {
        u,
        v,
        u_w,
        v_w,
        weighted,
    } = inp;
    let (mut gu, mut gv) = (vec![0.0; u.len()], vec![0.0; v.len()]);
    let (mut hu, mut hv) = (vec![0.0; v.len()], vec![0.0; u.len()]);
    let (d, e) = if weighted {
        (
            try_wasserstein_1d_grad_weighted(&u, &u_w, &v, &v_w, &mut gu, &mut gv),
            try_wasserstein_1d_grad_weighted(&v, &v_w, &u, &u_w, &mut hu, &mut hv),
        )
    } else {
        (
            try_wasserstein_1d_grad(&u, &v, &mut gu, &mut gv),
            try_wasserstein_1d_grad(&v, &u, &mut hu, &mut hv),
        )
    };
    // The plain function never panics either.
    let _ = wasserstein_1d(&u, &v);
    match (d, e) {
        (Ok(d), Ok(e)) => {
            // Values span at most ~3.6e308, so W1 can overflow to +inf only for absurd ranges.
            let span = u.iter().chain(&v).fold(0.0f64, |m, x| m.max(x.abs()));
            assert!(d >= 0.0, "W1 = {d}");
            if span < 1e300 {
                assert!(d.is_finite(), "W1 = {d}");
                assert!(close(d, e), "not symmetric: {d} vs {e}");
            }
            assert!(
                gu.iter()
                    .chain(&gv)
                    .all(|g| g.is_finite() && g.abs() <= 1.0 + 1e-12),
                "{gu:?} {gv:?}"
            );
            if !weighted {
                let wd =
                    try_wasserstein_1d_weighted(&u, &vec![1.0; u.len()], &v, &vec![1.0; v.len()])
                        .unwrap();
                if span < 1e300 {
                    assert!(close(d, wd), "uniform weights {wd} vs unweighted {d}");
                    // Repeating every sample k times leaves both distributions unchanged; the
                    // long copies take the radix path (past SMALL_SORT), with many ties.
                    let tile = |x: &[f64]| -> Vec<f64> {
                        let k = 1 + 2 * SMALL_SORT / x.len();
                        x.iter().cycle().take(k * x.len()).copied().collect()
                    };
                    let big = wasserstein_1d(&tile(&u), &tile(&v));
                    assert!(close(d, big), "tiled samples {big} vs {d}");
                }
            }
        }
        (Err(_), Err(_)) => {}
        (a, b) => panic!("validity must not depend on the argument order: {a:?} vs {b:?}"),
    }
});
