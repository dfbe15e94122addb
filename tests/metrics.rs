//! Metrics of METHOD.md §6 against independent implementations:
//! * tests/data/graph.json — copy of ../shared/reference/graph.json (networkx 3.6, bctpy 0.6,
//!   scipy gaussian_kde);
//! * tests/data/metrics_extra.json — made by tests/data/make_metrics_extra.py (networkx 3.6.1,
//!   scipy 1.17): graphs full of exact ΔQ ties for CNM, and an N = 312 weight matrix;
//!
//! plus properties that hold whatever the implementation.
use cortical_priors::kernels::faer::Mat;
use cortical_priors::metrics::{
    binarize_top_decile, characteristic_path_length, clustering_coefficients, cnm_communities,
    degree_assortativity, global_efficiency, mean_clustering, modularity, modularity_cnm,
    path_stats, quantile_linear, small_world, small_worldness, topology, weight_entropy, Graph,
};
use serde_json::Value;

use common::{f64s, load_json as load};

mod common;

fn communities(v: &Value) -> Vec<Vec<usize>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect()
        })
        .collect()
}

fn mat(n: usize, w: &[f64]) -> Mat<f64> {
    Mat::from_fn(n, n, |i, j| w[i * n + j])
}

fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol * want.abs().max(1.0),
        "{what}: got {got:e}, want {want:e}, diff {:e}",
        got - want
    );
}

fn graph_from_edges(case: &Value) -> Graph {
    let n = case["n"].as_u64().unwrap() as usize;
    let edges: Vec<(usize, usize)> = case["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e[0].as_u64().unwrap() as usize,
                e[1].as_u64().unwrap() as usize,
            )
        })
        .collect();
    Graph::from_edges(n, &edges).unwrap()
}

#[test]
fn reference_graphs_every_metric() {
    let data = load("graph.json");
    let cases = data["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let n = case["n"].as_u64().unwrap() as usize;
        let w = f64s(&case["w"]);
        let g = binarize_top_decile(mat(n, &w).as_ref()).unwrap();
        // the binary graph itself, entry for entry
        let want: Vec<u8> = case["binary"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u8)
            .collect();
        assert_eq!(g.to_dense(), want, "{name}: binary graph");

        let (q, label) = modularity_cnm(&g);
        let comm = cnm_communities(&g);
        assert_eq!(
            comm,
            communities(&case["communities_cnm"]),
            "{name}: CNM partition and its order"
        );
        for (ci, c) in comm.iter().enumerate() {
            assert!(c.iter().all(|&i| label[i] == ci));
        }
        // same operations as networkx: equal to the last bit in practice; 1e-12 leaves room
        close(
            q,
            case["modularity_cnm"].as_f64().unwrap(),
            1e-12,
            &format!("{name}: Q"),
        );
        close(
            degree_assortativity(&g),
            case["degree_assortativity"].as_f64().unwrap(),
            1e-12,
            &format!("{name}: r"),
        );
        close(
            mean_clustering(&g),
            case["clustering_bu_mean"].as_f64().unwrap(),
            1e-12,
            &format!("{name}: C"),
        );
        close(
            characteristic_path_length(&g),
            case["characteristic_path_length"].as_f64().unwrap(),
            1e-12,
            &format!("{name}: L"),
        );
        close(
            global_efficiency(&g),
            case["global_efficiency_bin"].as_f64().unwrap(),
            1e-12,
            &format!("{name}: E"),
        );
        close(
            weight_entropy(&w),
            case["kde_entropy_bits"].as_f64().unwrap(),
            1e-12,
            &format!("{name}: entropy"),
        );
    }
}

#[test]
fn extra_references_cnm_ties_and_n312() {
    let data = load("metrics_extra.json");
    for case in data["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let n = case["n"].as_u64().unwrap() as usize;
        let g = graph_from_edges(case);
        if let Some(w) = case.get("w") {
            let w = f64s(w);
            let gw = binarize_top_decile(mat(n, &w).as_ref()).unwrap();
            assert_eq!(gw, g, "{name}: binary graph");
            close(
                weight_entropy(&w),
                case["kde_entropy_bits"].as_f64().unwrap(),
                1e-12,
                &format!("{name}: entropy"),
            );
        }
        assert_eq!(
            cnm_communities(&g),
            communities(&case["communities_cnm"]),
            "{name}: CNM"
        );
        close(
            modularity_cnm(&g).0,
            case["modularity_cnm"].as_f64().unwrap(),
            1e-12,
            &format!("{name}: Q"),
        );
        match case["degree_assortativity"].as_f64() {
            Some(r) => close(degree_assortativity(&g), r, 1e-12, &format!("{name}: r")),
            None => assert!(
                degree_assortativity(&g).is_nan(),
                "{name}: regular graph has undefined r"
            ),
        }
        close(
            mean_clustering(&g),
            case["clustering_mean"].as_f64().unwrap(),
            1e-12,
            &format!("{name}: C"),
        );
        if let Some(l) = case["characteristic_path_length"].as_f64() {
            close(
                characteristic_path_length(&g),
                l,
                1e-12,
                &format!("{name}: L"),
            );
        }
        close(
            global_efficiency(&g),
            case["global_efficiency"].as_f64().unwrap(),
            1e-12,
            &format!("{name}: E"),
        );
    }
}

#[test]
fn quantile_matches_numpy_linear() {
    // np.quantile([1, 2, 3, 4], 0.9) = 3.7; np.quantile([5, 1, 3], 0.5) = 3; ends are exact
    assert!((quantile_linear(&[4.0, 1.0, 3.0, 2.0], 0.9) - 3.7).abs() < 1e-15);
    assert_eq!(quantile_linear(&[5.0, 1.0, 3.0], 0.5), 3.0);
    assert_eq!(quantile_linear(&[5.0, 1.0, 3.0], 1.0), 5.0);
    assert_eq!(quantile_linear(&[5.0, 1.0, 3.0], 0.0), 1.0);
    assert!(quantile_linear(&[], 0.5).is_nan());
    assert!(quantile_linear(&[1.0, f64::NAN], 0.5).is_nan());
}

#[test]
fn binarize_is_strict_and_symmetric() {
    // 5×5: 21 zeros and 10, 20, 30, 100 → virtual index 24·0.9 = 21.6 → 20 − (20 − 10)·0.4 = 16
    let mut w = Mat::<f64>::zeros(5, 5);
    w[(0, 1)] = 10.0; // below the threshold
    w[(3, 2)] = -20.0; // one direction is enough, and the sign does not matter
    w[(2, 4)] = 30.0;
    w[(1, 1)] = 100.0; // a self-loop counts in the quantile, not in the graph
    let g = binarize_top_decile(w.as_ref()).unwrap();
    assert!(g.has_edge(2, 3) && g.has_edge(3, 2) && g.has_edge(4, 2));
    assert!(!g.has_edge(0, 1) && !g.has_edge(1, 1));
    assert_eq!(g.num_edges(), 2);
    // an entry equal to the threshold is not an edge ("exceeds")
    let w = Mat::from_fn(2, 2, |_, _| 1.0);
    assert_eq!(binarize_top_decile(w.as_ref()).unwrap().num_edges(), 0);
    // errors name the problem
    let e = binarize_top_decile(Mat::<f64>::zeros(2, 3).as_ref())
        .unwrap_err()
        .to_string();
    assert!(e.contains("2×3"), "{e}");
    let mut w = Mat::<f64>::zeros(3, 3);
    w[(1, 2)] = f64::NAN;
    let e = binarize_top_decile(w.as_ref()).unwrap_err().to_string();
    assert!(e.contains("(1, 2)") && e.contains("NaN"), "{e}");
}

#[test]
fn modularity_properties() {
    // a single community has Q = 0
    let g = Graph::from_edges(5, &[(0, 1), (1, 2), (2, 3), (3, 4), (4, 0), (0, 2)]).unwrap();
    assert_eq!(modularity(&g, &[vec![0, 1, 2, 3, 4]]), 0.0);
    // two disjoint triangles: CNM finds them, Q = 2·(3/6 − (6/12)²) = 0.5
    let g = Graph::from_edges(6, &[(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5)]).unwrap();
    assert_eq!(cnm_communities(&g), vec![vec![0, 1, 2], vec![3, 4, 5]]);
    assert!((modularity_cnm(&g).0 - 0.5).abs() < 1e-15);
    // an edgeless graph: singletons, Q undefined
    let g = Graph::empty(3);
    assert_eq!(cnm_communities(&g), vec![vec![0], vec![1], vec![2]]);
    assert!(modularity_cnm(&g).0.is_nan());
}

#[test]
fn assortativity_of_a_star_is_minus_one() {
    let edges: Vec<(usize, usize)> = (1..9).map(|i| (0, i)).collect();
    let g = Graph::from_edges(9, &edges).unwrap();
    assert_eq!(degree_assortativity(&g), -1.0);
    // two disjoint copies of a star are still perfectly disassortative
    let mut edges: Vec<(usize, usize)> = (1..5).map(|i| (0, i)).collect();
    edges.extend((6..10).map(|i| (5, i)));
    assert_eq!(
        degree_assortativity(&Graph::from_edges(10, &edges).unwrap()),
        -1.0
    );
}

#[test]
fn clustering_and_paths_on_known_graphs() {
    // complete graph K5: C = 1, L = 1, E = 1
    let edges: Vec<(usize, usize)> = (0..5)
        .flat_map(|i| (i + 1..5).map(move |j| (i, j)))
        .collect();
    let k5 = Graph::from_edges(5, &edges).unwrap();
    assert_eq!(mean_clustering(&k5), 1.0);
    assert_eq!(characteristic_path_length(&k5), 1.0);
    assert_eq!(global_efficiency(&k5), 1.0);
    // path 0–1–2–3: C = 0; distances 1,2,3,1,2,1 (×2) → L = 20/12; E = (3 + 2/2 + 1/3)·2/12
    let p4 = Graph::from_edges(4, &[(0, 1), (1, 2), (2, 3)]).unwrap();
    assert_eq!(clustering_coefficients(&p4), vec![0.0; 4]);
    assert!((characteristic_path_length(&p4) - 20.0 / 12.0).abs() < 1e-15);
    assert!((global_efficiency(&p4) - (3.0 + 1.0 + 1.0 / 3.0) * 2.0 / 12.0).abs() < 1e-15);
    // a disconnected graph: L = ∞ (bctpy charpath default), E counts 1/∞ = 0
    let two = Graph::from_edges(4, &[(0, 1), (2, 3)]).unwrap();
    let s = path_stats(&two);
    assert_eq!(s.disconnected, 8);
    assert_eq!(s.characteristic_path_length(), f64::INFINITY);
    assert_eq!(s.mean_finite_path_length(), 1.0);
    assert!((global_efficiency(&two) - 4.0 / 12.0).abs() < 1e-15);
    // a long path exercises distances beyond 63
    let edges: Vec<(usize, usize)> = (0..99).map(|i| (i, i + 1)).collect();
    let p100 = Graph::from_edges(100, &edges).unwrap();
    // Σ_{i≠j} |i − j| = 2·Σ_{d=1}^{99} d·(100 − d) = 333300
    assert!((characteristic_path_length(&p100) - 333300.0 / 9900.0).abs() < 1e-12);
}

/// Draws one G(n, m) graph as "G": its σ against its own null model must average ≈ 1.
#[test]
fn sigma_of_erdos_renyi_is_about_one() {
    let n = 100;
    let m = 800; // density 0.16
    let mut sum = 0.0;
    let reps = 6;
    for r in 0..reps {
        let mut g = Graph::empty(n);
        let mut rng = cortical_priors::metrics::null_rng(999, r);
        cortical_priors::metrics::erdos_renyi_gnm_into(&mut g, m, &mut rng);
        assert_eq!(g.num_edges(), m);
        let sw = small_world(&g, 100, r);
        assert_eq!(sw.disconnected_nulls, 0);
        sum += sw.sigma;
    }
    let mean = sum / reps as f64;
    assert!((mean - 1.0).abs() < 0.04, "mean σ of ER graphs {mean}");
}

#[test]
fn sigma_detects_a_small_world() {
    // ring lattice with a few shortcuts: high clustering, short paths → σ well above 1
    let n = 200;
    let mut edges = Vec::new();
    for i in 0..n {
        for k in 1..=4 {
            edges.push((i, (i + k) % n));
        }
    }
    for i in 0..10 {
        edges.push((i * 7 % n, (i * 7 + n / 2) % n));
    }
    let g = Graph::from_edges(n, &edges).unwrap();
    let sw = small_world(&g, 50, 1);
    assert!(sw.c > 5.0 * sw.c_null && sw.sigma > 3.0, "{sw:?}");
}

#[test]
fn sigma_is_deterministic_whatever_the_thread_count() {
    let data = load("graph.json");
    let case = &data["cases"][1];
    let n = case["n"].as_u64().unwrap() as usize;
    let g = binarize_top_decile(mat(n, &f64s(&case["w"])).as_ref()).unwrap();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| small_world(&g, 60, 7))
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
    assert_ne!(
        one.sigma,
        small_worldness(&g, 60, 8),
        "another seed draws other nulls"
    );
    assert!(one.sigma.is_finite() && one.sigma > 0.0);
}

#[test]
fn topology_bundles_every_metric() {
    let data = load("graph.json");
    let case = &data["cases"][0];
    let n = case["n"].as_u64().unwrap() as usize;
    let w = f64s(&case["w"]);
    let t = topology(mat(n, &w).as_ref(), 20, 3).unwrap();
    assert_eq!(t.entropy, weight_entropy(&w));
    close(
        t.modularity,
        case["modularity_cnm"].as_f64().unwrap(),
        1e-12,
        "Q",
    );
    assert_eq!(t.edges, 35);
    close(
        t.small_world.c,
        case["clustering_bu_mean"].as_f64().unwrap(),
        1e-12,
        "C",
    );
    assert!(topology(Mat::<f64>::zeros(3, 2).as_ref(), 1, 0).is_err());
}
