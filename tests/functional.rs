//! Functional measures (METHOD.md §2) against elephant 1.2.1.
//!
//! * synthetic trains with edge cases (tests/data/functional/, made by gen_functional.py):
//!   elephant's STTC (numpy isclose rtol) via `sttc_matrix_rtol`, the exact definition via
//!   `sttc_matrix`, elephant's `correlation_coefficient` via `pearson_binned`;
//! * every field of ../shared/reference/functional: the recomputation from the stored spikes
//!   equals elephant to 1e-9, and its distance to the seed's stored matrices is printed.
use cortical_priors::priors::functional::{
    pearson_binned, sttc_matrix, sttc_matrix_rtol, ELEPHANT_ISCLOSE_RTOL,
};
use faer::Mat;
use serde_json::Value;

fn matrix(v: &Value) -> Mat<f64> {
    let rows = v.as_array().expect("matrix rows");
    let n = rows.len();
    Mat::from_fn(n, n, |i, j| rows[i][j].as_f64().unwrap_or(f64::NAN))
}

/// Max |a − b| over entries, NaN positions required to coincide.
fn max_diff(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    assert_eq!((a.nrows(), a.ncols()), (b.nrows(), b.ncols()));
    let mut m = 0.0f64;
    for i in 0..a.nrows() {
        for j in 0..a.ncols() {
            let (x, y) = (a[(i, j)], b[(i, j)]);
            assert_eq!(
                x.is_nan(),
                y.is_nan(),
                "NaN pattern differs at ({i}, {j}): {x} vs {y}"
            );
            if !x.is_nan() {
                m = m.max((x - y).abs());
            }
        }
    }
    m
}

#[test]
fn synthetic_trains_match_elephant_and_the_definition() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/functional/synthetic_functional.json"
    ))
    .expect("tests/data/functional/synthetic_functional.json");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("valid JSON");
    let mut rtol_mattered = false;
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let spikes: Vec<Vec<f64>> = c["spikes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                t.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect()
            })
            .collect();
        let (dt, t0, t1) = (
            c["dt"].as_f64().unwrap(),
            c["t_start"].as_f64().unwrap(),
            c["t_stop"].as_f64().unwrap(),
        );
        let el = matrix(&c["sttc_elephant"]);
        let ex = matrix(&c["sttc_exact"]);
        let ours_el = sttc_matrix_rtol(&spikes, dt, t0, t1, ELEPHANT_ISCLOSE_RTOL);
        let ours_ex = sttc_matrix(&spikes, dt, t0, t1);
        let d_el = max_diff(&ours_el, &el);
        let d_ex = max_diff(&ours_ex, &ex);
        println!("{name}: STTC vs elephant {d_el:.2e}, vs exact definition {d_ex:.2e}");
        assert!(d_el < 1e-12, "{name}: STTC differs from elephant by {d_el}");
        assert!(
            d_ex < 1e-12,
            "{name}: STTC differs from the definition by {d_ex}"
        );
        rtol_mattered |= max_diff(&el, &ex) > 1e-3;
        if let Some(bin) = c.get("bin").and_then(Value::as_f64) {
            let corr = pearson_binned(&spikes, bin, t1);
            let mut want = matrix(&c["corr_elephant"]);
            // elephant leaves res_ii / (sqrt(res_ii))² on the diagonal (1 up to rounding);
            // ours is exactly 1 by contract.
            for i in 0..want.nrows() {
                if !want[(i, i)].is_nan() {
                    assert!((want[(i, i)] - 1.0).abs() < 1e-12);
                    want[(i, i)] = 1.0;
                }
            }
            let d = max_diff(&corr, &want);
            println!("{name}: Pearson vs elephant {d:.2e}");
            assert!(d < 1e-12, "{name}: Pearson differs from elephant by {d}");
        }
    }
    // The cases must exercise elephant's isclose tolerance, or the rtol variant is untested.
    assert!(rtol_mattered);
}

#[test]
fn sttc_is_symmetric_with_unit_diagonal_and_invariant_to_order() {
    let spikes = vec![
        vec![0.5, 0.1, 3.0, 2.2],
        vec![0.105, 2.9, 7.0],
        vec![4.0, 4.001, 9.99],
    ];
    let m = sttc_matrix(&spikes, 0.01, 0.0, 10.0);
    for i in 0..3 {
        assert_eq!(m[(i, i)], 1.0);
        for j in 0..3 {
            assert_eq!(m[(i, j)], m[(j, i)]);
            assert!((-1.0..=1.0).contains(&m[(i, j)]));
        }
    }
    let mut sorted = spikes.clone();
    sorted[0].sort_by(f64::total_cmp);
    assert_eq!(max_diff(&m, &sttc_matrix(&sorted, 0.01, 0.0, 10.0)), 0.0);
}
