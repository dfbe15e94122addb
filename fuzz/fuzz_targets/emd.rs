#![no_main]
//! Fuzz target `emd`: arbitrary samples and weights (finite or not, any sizes). The kernels must
//! never panic; on accepted input W1 is ≥ 0 and finite, symmetric in (u, v), and the gradient
//! is finite with every entry bounded by its sample's normalized weight.
use arbitrary::Arbitrary;
use cortical_kernels::emd::{
    try_wasserstein_1d_grad, try_wasserstein_1d_grad_weighted, try_wasserstein_1d_weighted,
    wasserstein_1d,
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
                }
            }
        }
        (Err(_), Err(_)) => {}
        (a, b) => panic!("validity must not depend on the argument order: {a:?} vs {b:?}"),
    }
});
