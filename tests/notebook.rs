//! The notebook profile (METHOD.md §8): each documented deviation of the published notebook,
//! against the notebook's own code where it can be run (tests/data/notebook/, made by the
//! scripts beside the data).
use cortical_priors::kernels::faer::Mat;
use cortical_priors::metrics::{
    binarize_top_decile, clustering_with_loops, global_efficiency, small_world_notebook, Graph,
    Workspace,
};
use serde_json::Value;

use common::f64s;

mod common;

fn load(name: &str) -> Value {
    common::load_json(&format!("notebook/{name}"))
}

/// bctpy's clustering of graphs whose nodes carry self-loops (the notebook's nulls), and their
/// efficiency, exactly.
#[test]
fn clustering_with_self_loops_matches_bctpy() {
    let refs = load("small_world_refs.json");
    for case in refs["loops"].as_array().unwrap() {
        let n = case["n"].as_u64().unwrap() as usize;
        let adj: Vec<u8> = case["adj"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u8)
            .collect();
        let loops: Vec<bool> = (0..n).map(|i| adj[i * n + i] != 0).collect();
        assert!(loops.iter().any(|&l| l), "n = {n}: the case has self-loops");
        let g = Graph::from_dense(n, &adj).unwrap();
        let got = clustering_with_loops(&g, &loops, &mut Workspace::new(n));
        for (u, (a, b)) in got.iter().zip(f64s(&case["clustering"])).enumerate() {
            assert!(
                (a - b).abs() <= 1e-15,
                "n = {n}, node {u}: {a} vs bctpy {b}"
            );
        }
        let e = global_efficiency(&g);
        let want = case["efficiency"].as_f64().unwrap();
        assert!(
            (e - want).abs() <= 1e-15,
            "n = {n}: efficiency {e} vs {want}"
        );
    }
}

/// σ of the notebook's code (run verbatim with numpy's generator, 1000 nulls) and ours (another
/// generator): G's own C and E exactly, the null means within 6 Monte Carlo standard errors.
#[test]
fn notebook_sigma_matches_the_notebooks_code() {
    let refs = load("small_world_refs.json");
    for case in refs["sigma"].as_array().unwrap() {
        let n = case["n"].as_u64().unwrap() as usize;
        let w = f64s(&case["w"]);
        let g = binarize_top_decile(Mat::from_fn(n, n, |i, j| w[i * n + j]).as_ref()).unwrap();
        let nulls = case["nulls"].as_u64().unwrap() as usize;
        let sw = small_world_notebook(&g, nulls, 11);
        let get = |k: &str| case[k].as_f64().unwrap();
        assert!((sw.c - get("c")).abs() <= 1e-14, "n = {n}: C {}", sw.c);
        assert!((sw.efficiency - get("efficiency")).abs() <= 1e-14);
        let within = |ours: f64, theirs: f64, se: f64, what: &str| {
            // both are means of 1000 draws: the difference has standard error √2·se
            assert!(
                (ours - theirs).abs() <= 6.0 * std::f64::consts::SQRT_2 * se,
                "n = {n}: {what} {ours} vs notebook {theirs} (se {se:e})"
            );
        };
        within(sw.c_null, get("c_null"), get("c_null_se"), "C_null");
        within(
            sw.efficiency_null,
            get("efficiency_null"),
            get("efficiency_null_se"),
            "E_null",
        );
        let sigma = (sw.c / sw.c_null) / (sw.efficiency_null / sw.efficiency);
        assert_eq!(sw.sigma, sigma);
        assert!(
            (sw.sigma / get("sigma") - 1.0).abs() < 0.02,
            "n = {n}: σ {} vs notebook {}",
            sw.sigma,
            get("sigma")
        );
        let again = small_world_notebook(&g, nulls, 11);
        assert_eq!(
            (again.c_null, again.efficiency_null, again.sigma),
            (sw.c_null, sw.efficiency_null, sw.sigma),
            "deterministic for a seed"
        );
        assert!(sw.l_null.is_nan(), "the notebook's method has no L_null");
    }
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn assert_rows_match(got: &Mat<f64>, want: &[f64], rows: usize, what: &str) {
    let n = got.ncols();
    for i in 0..rows {
        for j in 0..n {
            let (a, b) = (got[(i, j)], want[i * n + j]);
            assert!(
                (a - b).abs() <= 1e-12,
                "{what}[{i},{j}]: {a} vs notebook {b}"
            );
        }
    }
}

/// D\* from the notebook's `reshape(3, -1)` of the positions, and D from its meshgrid of the
/// grid tuple, against the notebook's code on a synthetic field.
#[test]
fn notebook_distances_match_the_notebooks_code() {
    use cortical_priors::priors::space::{
        grid_distance, scrambled_positions, soma_distance, Grid, SomaScale,
    };
    let refs = load("space_refs.json");
    let s = &refs["synthetic"];
    let pos: Vec<[i64; 3]> = s["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let v: Vec<i64> = p
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_i64().unwrap())
                .collect();
            [v[0], v[1], v[2]]
        })
        .collect();
    let n = pos.len();
    let dstar = soma_distance(&scrambled_positions(&pos), SomaScale::MinMaxPerAxis);
    assert_rows_match(&dstar, &f64s(&s["dstar"]), n, "D* (scrambled)");
    // the paper's D* differs: the scrambling is not a relabelling of the true distances
    let true_d = soma_distance(&pos, SomaScale::MinMaxPerAxis);
    assert!((0..n).any(|j| (true_d[(0, j)] - dstar[(0, j)]).abs() > 1e-3));
    let g = usizes(&s["grid"]);
    let d = grid_distance(n, Grid::Meshgrid([g[0], g[1], g[2]])).unwrap();
    assert_rows_match(&d, &f64s(&s["d"]), n, "D (meshgrid)");
}

/// The same on the real field 6_6_2 with the notebook's published grid (12, 13, 2).
#[test]
fn notebook_distances_of_field_6_6_2() {
    use cortical_priors::data::{default_data_dir, Field};
    use cortical_priors::priors::space::{
        grid_distance, notebook_grid_tuple, scrambled_positions, soma_distance, Grid, SomaScale,
    };
    let Some(dir) = default_data_dir().filter(|d| d.is_dir()) else {
        let why = "skipped: no MICrONS data (set CORTICAL_DATA or provide ../shared/data/microns)";
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "{why} — required in CI"
        );
        eprintln!("{why}");
        return;
    };
    let refs = load("space_refs.json");
    let r = &refs["field_6_6_2"];
    let field = Field::load_from(&dir, "6_6_2").unwrap();
    let n = field.n;
    assert_eq!(n, 312);
    let dstar = soma_distance(
        &scrambled_positions(&field.positions_vox),
        SomaScale::MinMaxPerAxis,
    );
    assert_rows_match(&dstar, &f64s(&r["dstar_rows_0_1"]), 2, "D* 6_6_2");
    let tuple = notebook_grid_tuple(n);
    assert_eq!(tuple.to_vec(), usizes(&r["grid"]));
    let d = grid_distance(n, Grid::Meshgrid(tuple)).unwrap();
    assert_rows_match(&d, &f64s(&r["d_rows_0_1"]), 2, "D 6_6_2");
    for (m, key) in [(&dstar, "dstar_row_sums"), (&d, "d_row_sums")] {
        for (i, want) in f64s(&r[key]).into_iter().enumerate() {
            let got: f64 = (0..n).map(|j| m[(i, j)]).sum();
            assert!(
                (got - want).abs() <= 1e-10 * want,
                "{key}[{i}]: {got} vs {want}"
            );
        }
    }
}

/// The switches reach the driver: each deviation changes exactly what METHOD.md §8 says.
#[test]
fn deviations_act_in_the_driver() {
    use cortical_priors::ablation::{self, train_config, FieldPriors};
    use cortical_priors::config::{DataSource, Deviations, Experiment, Preset, Profile};
    use cortical_priors::data::{Field, SyntheticConfig};
    use cortical_priors::priors::space::{
        grid_distance, notebook_grid_tuple, scrambled_positions, soma_distance, Grid, SomaScale,
    };
    use cortical_priors::tasks::TaskKind;
    use cortical_priors::variants::RegForm;

    let mut exp = Experiment::preset(Preset::Quick, None);
    exp.variants = vec!["WD*".parse().unwrap(), "WD".parse().unwrap()];
    // paper profile: λ everywhere, ε everywhere
    for form in [RegForm::L1, RegForm::L1DistanceComm, RegForm::L1DistanceEmd] {
        let c = train_config(&exp, form);
        assert_eq!(
            (c.lambda, c.comm_eps),
            (exp.train.lambda, exp.train.comm_eps)
        );
    }
    exp.profile = Profile::Notebook;
    exp.deviations = Profile::Notebook.deviations();
    assert_eq!(exp.deviations, Deviations::all());
    assert_eq!(train_config(&exp, RegForm::L1).lambda, 1.0);
    assert_eq!(
        train_config(&exp, RegForm::L1Distance).lambda,
        exp.train.lambda
    );
    assert_eq!(train_config(&exp, RegForm::L1DistanceComm).comm_eps, 0.0);
    assert_eq!(
        train_config(&exp, RegForm::L1DistanceEmd).comm_eps,
        exp.train.comm_eps
    );

    // D* scrambled, D on the notebook's meshgrid
    let field = Field::try_synthetic(&SyntheticConfig {
        n: 30,
        ..SyntheticConfig::default()
    })
    .unwrap();
    let f32s = |m: &Mat<f64>| -> Vec<f32> {
        (0..m.nrows())
            .flat_map(|i| (0..m.ncols()).map(move |j| m[(i, j)] as f32))
            .collect()
    };
    let pri = FieldPriors::new(&field, &exp).unwrap();
    let want_soma = soma_distance(
        &scrambled_positions(&field.positions_vox),
        SomaScale::MinMaxPerAxis,
    );
    assert_eq!(pri.soma.as_deref(), Some(&f32s(&want_soma)[..]));
    let want_grid = grid_distance(30, Grid::Meshgrid(notebook_grid_tuple(30))).unwrap();
    assert_eq!(pri.grid.as_deref(), Some(&f32s(&want_grid)[..]));
    // an explicit tuple that does not hold N points is refused, naming the grid
    exp.grid = Some([4, 4, 4]);
    let err = FieldPriors::new(&field, &exp).err().unwrap().to_string();
    assert!(err.contains("grid") && err.contains("4×4×4"), "{err}");
    exp.grid = None;

    // the reported accuracy: summary.md's first table is the training accuracy
    exp.variants = vec!["W".parse().unwrap()];
    exp.tasks = vec![TaskKind::GoNoGo];
    exp.data = DataSource::Synthetic { n: 16, seed: 1 };
    exp.simulations = 1;
    exp.train.epochs = 1;
    exp.train.batch = 16;
    exp.train.batches_per_epoch = 2;
    exp.trials = [32, 32, 32];
    exp.nulls = 5;
    let out = common::fresh_dir("notebook-summary");
    let exec = common::execution(&out, 1);
    ablation::run(&exp, &exec, &|_| {}).unwrap();
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    let first = summary.find("## ").unwrap();
    assert!(summary[first..].starts_with("## Last-epoch training accuracy"));
    assert!(summary.contains("profile `notebook`"));
    let rows = cortical_priors::report::csv::read(&out.join("results.csv")).unwrap();
    let train = rows
        .iter()
        .find(|r| r.metric == "train_accuracy")
        .unwrap()
        .value;
    let table = summary[first..]
        .lines()
        .find(|l| l.starts_with("| W |"))
        .unwrap();
    assert!(table.contains(&format!("{train:.3}")), "{table} vs {train}");
}
