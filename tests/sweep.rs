//! The λ sweep: one resumable ablation per λ, and the choice of each variant's best λ by
//! validation accuracy, recomputed here from the per-λ results.

use cortical_priors::report::csv;
use cortical_priors::sweep::{self, cells, check_lambdas, lambda_dir};
use cortical_priors::tasks::TaskKind;

mod common;

#[test]
fn sweep_runs_each_lambda_and_picks_the_best_by_validation() {
    let mut exp = common::tiny_experiment(
        cortical_priors::config::DataSource::Synthetic { n: 16, seed: 2 },
        &["W", "WD"],
        &[TaskKind::GoNoGo],
        2,
    );
    exp.trials = [32, 64, 32];
    let out = common::fresh_dir("sweep");
    let exec = common::execution(&out, 2);
    let lambdas = [0.0, 3.0];
    let (outcomes, table) = sweep::run(&exp, &exec, &lambdas, &|_, _| {}).unwrap();
    assert_eq!(outcomes.len(), 2);
    for (l, o) in &outcomes {
        assert_eq!(o.total, 4, "λ = {l}");
        let cfg: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(lambda_dir(&out, *l).join("config.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(cfg["experiment"]["train"]["lambda"].as_f64(), Some(*l));
    }
    let c = cells(&out, &lambdas).unwrap();
    assert_eq!(c.len(), 2);
    for ((arm, variant, task), cell) in &c {
        // recompute the mean validation accuracy per λ from the CSVs
        let means: Vec<f64> = lambdas
            .iter()
            .map(|&l| {
                let rows = csv::read(&lambda_dir(&out, l).join("results.csv")).unwrap();
                let v: Vec<f64> = rows
                    .iter()
                    .filter(|r| {
                        r.metric == "val_accuracy"
                            && (&r.key.arm, &r.key.variant, &r.key.task) == (arm, variant, task)
                    })
                    .map(|r| r.value)
                    .collect();
                assert_eq!(v.len(), 2);
                v.iter().sum::<f64>() / 2.0
            })
            .collect();
        let best = if means[1] > means[0] { 1 } else { 0 };
        assert_eq!(cell.best, best, "{variant}: {means:?}");
        assert!(table.contains(&format!("| {variant} | {task} | {} |", lambdas[best])));
    }
    assert!(out.join("sweep.md").is_file());
    // resuming recomputes nothing
    let (again, _) = sweep::run(&exp, &exec, &lambdas, &|_, _| {}).unwrap();
    assert!(again.iter().all(|(_, o)| o.ran == 0 && o.skipped == 4));
}

#[test]
fn bad_lambda_grids_are_refused() {
    for (grid, word) in [
        (vec![], "no λ"),
        (vec![0.1, 0.1], "twice"),
        (vec![-1.0], "≥ 0"),
        (vec![f64::NAN], "finite"),
        (vec![-0.0], "-0"),
        (vec![0.1, 1e-300], "outside"),
        (vec![1e13], "outside"),
    ] {
        let err = check_lambdas(&grid).unwrap_err().to_string();
        assert!(err.contains(word), "{grid:?}: {err}");
    }
}

/// A sweep refuses a folder it did not write, and checks every λ's folder before any trains.
#[test]
fn a_sweep_checks_its_folders_before_training() {
    let mut exp = common::tiny_experiment(
        cortical_priors::config::DataSource::Synthetic { n: 16, seed: 2 },
        &["W"],
        &[TaskKind::GoNoGo],
        1,
    );
    // An ordinary run's folder is not a sweep's.
    let run_dir = common::fresh_dir("sweep-into-run");
    cortical_priors::ablation::run(&exp, &common::execution(&run_dir, 1), &|_| {}).unwrap();
    let err = sweep::run(&exp, &common::execution(&run_dir, 1), &[0.1], &|_, _| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a λ sweep's folder"), "{err}");
    assert!(!lambda_dir(&run_dir, 0.1).exists());

    // λ = 1 trained with 2 epochs; a sweep over {0.1, 1} with 1 epoch is refused before λ = 0.1
    // trains, naming the folder and the key.
    let out = common::fresh_dir("sweep-preflight");
    exp.train.epochs = 2;
    sweep::run(&exp, &common::execution(&out, 1), &[1.0], &|_, _| {}).unwrap();
    let sweep_md = std::fs::read(out.join("sweep.md")).unwrap();
    exp.train.epochs = 1;
    let err = sweep::run(&exp, &common::execution(&out, 1), &[0.1, 1.0], &|_, _| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("lambda-1") && err.contains("train.epochs"),
        "{err}"
    );
    assert!(
        !lambda_dir(&out, 0.1).exists(),
        "λ = 0.1 trained before the check"
    );
    assert_eq!(std::fs::read(out.join("sweep.md")).unwrap(), sweep_md);
}
