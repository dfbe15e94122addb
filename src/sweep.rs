//! The per-variant λ sweep (issue 7, "controls no anchor has"): the same grid at several
//! wiring-cost weights λ, so that each variant can be compared at its own best λ instead of
//! only at the paper's λ = 0.3.
//!
//! Each λ is an ordinary ablation in its own folder `OUT/lambda-<λ>/` (resumable like any
//! other); `OUT/sweep.md` then picks, per (arm, variant, task), the λ with the highest mean
//! *validation* accuracy and reports the *test* accuracy there — selecting on the test set would
//! bias the comparison in favour of variants with noisier test accuracies.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::ablation::{self, Event, Outcome};
use crate::config::{Execution, Experiment};
use crate::error::{Error, Result};
use crate::report::csv;
use crate::report::summary::{ci_cell, mean_ci95};

/// The folder of one λ inside the sweep's output folder.
pub fn lambda_dir(out: &Path, lambda: f64) -> PathBuf {
    out.join(format!("lambda-{lambda}"))
}

/// Smallest non-zero λ of a sweep.
pub const LAMBDA_MIN: f64 = 1e-12;
/// Largest λ of a sweep.
pub const LAMBDA_MAX: f64 = 1e12;

/// Check the λ grid: non-empty, 0 or within [`LAMBDA_MIN`]..=[`LAMBDA_MAX`], no duplicates.
pub fn check_lambdas(lambdas: &[f64]) -> Result<()> {
    let bad = |reason: String| {
        Err(Error::Invalid {
            what: "lambda sweep".into(),
            reason,
        })
    };
    if lambdas.is_empty() {
        return bad("no λ given".into());
    }
    for (i, &l) in lambdas.iter().enumerate() {
        if !(l.is_finite() && l >= 0.0) {
            return bad(format!("λ = {l} (must be finite and ≥ 0)"));
        }
        if l == 0.0 && l.is_sign_negative() {
            return bad("λ = -0 (write 0: each λ names a folder, lambda-<λ>)".into());
        }
        // Each λ names a folder; outside this range its decimal name grows past what file
        // systems accept (1e-300 is 300 digits).
        if l != 0.0 && !(LAMBDA_MIN..=LAMBDA_MAX).contains(&l) {
            return bad(format!(
                "λ = {l:e} is outside {LAMBDA_MIN:e}..={LAMBDA_MAX:e} (or 0)"
            ));
        }
        if lambdas[..i].contains(&l) {
            return bad(format!("λ = {l} given twice"));
        }
    }
    Ok(())
}

/// The sweep's own folder: new, empty, or one a sweep wrote (only `lambda-*` folders and
/// `sweep.md`). Anything else — an ordinary run's output, a merge, a user's files — is refused,
/// because the sweep would add its folders and `sweep.md` to it.
fn check_sweep_dir(out: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(out) {
        Ok(e) => e,
        Err(_) if !out.exists() => return Ok(()),
        Err(source) => {
            return Err(Error::Io {
                path: out.to_path_buf(),
                source,
            })
        }
    };
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            path: out.to_path_buf(),
            source,
        })?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !((is_dir && name.starts_with("lambda-")) || (!is_dir && name == "sweep.md")) {
            return Err(Error::Invalid {
                what: "output directory".into(),
                reason: format!(
                    "{} holds {name:?}, so it is not a λ sweep's folder (only lambda-*/ and \
                     sweep.md); choose a new or empty directory for --lambda-sweep",
                    out.display()
                ),
            });
        }
    }
    Ok(())
}

/// Run (or resume) the grid of `exp` once per λ, then write `sweep.md`. Returns each λ's
/// outcome and the sweep table.
pub fn run(
    exp: &Experiment,
    exec: &Execution,
    lambdas: &[f64],
    progress: &(dyn Fn(f64, &Event) + Sync),
) -> Result<(Vec<(f64, Outcome)>, String)> {
    check_lambdas(lambdas)?;
    check_sweep_dir(&exec.out_dir)?;
    // Every λ's folder is checked before any trains, so that a configuration a folder cannot
    // resume is found before the others have run (and `sweep.md` is never left stale).
    let at_lambda = |lambda: f64| {
        let mut e = exp.clone();
        e.train.lambda = lambda;
        e
    };
    for &lambda in lambdas {
        ablation::check_resumable(&at_lambda(lambda), &lambda_dir(&exec.out_dir, lambda))?;
    }
    let mut outcomes = Vec::with_capacity(lambdas.len());
    for &lambda in lambdas {
        let e = at_lambda(lambda);
        let x = Execution {
            out_dir: lambda_dir(&exec.out_dir, lambda),
            ..exec.clone()
        };
        let o = ablation::run(&e, &x, &|ev| progress(lambda, ev))?;
        outcomes.push((lambda, o));
    }
    let table = write_table(exp, &exec.out_dir, lambdas)?;
    Ok((outcomes, table))
}

/// One cell of the sweep: per λ the mean validation accuracy, and the choice.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// (λ, mean validation accuracy, mean test accuracy, test 95% t half-width, n) per λ with
    /// finished runs.
    pub per_lambda: Vec<(f64, f64, f64, f64, usize)>,
    /// Index into `per_lambda` of the λ with the best mean validation accuracy (the first on
    /// ties, i.e. the smallest λ of the grid order).
    pub best: usize,
}

/// (arm, variant, task).
pub type CellKey = (String, String, String);

/// Per (arm, variant, task): the cells of the sweep read from each λ's `results.csv`.
pub fn cells(out: &Path, lambdas: &[f64]) -> Result<BTreeMap<CellKey, Cell>> {
    type PerLambda = Vec<(f64, f64, f64, f64, usize)>;
    let mut acc: BTreeMap<CellKey, PerLambda> = BTreeMap::new();
    for &lambda in lambdas {
        let path = lambda_dir(out, lambda).join("results.csv");
        let rows = csv::read(&path)?;
        // validation and test accuracies of each cell at this λ
        let mut val: BTreeMap<CellKey, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
        for (key, m) in csv::by_run(&rows) {
            if m.get(csv::STATUS).copied() != Some(1.0) {
                continue;
            }
            let (Some(&v), Some(&t)) = (m.get("val_accuracy"), m.get("test_accuracy")) else {
                continue;
            };
            let e = val
                .entry((key.arm.clone(), key.variant.clone(), key.task.clone()))
                .or_default();
            e.0.push(v);
            e.1.push(t);
        }
        for (k, (v, t)) in val {
            let (vm, _, _) = mean_ci95(&v);
            let (tm, tci, n) = mean_ci95(&t);
            acc.entry(k).or_default().push((lambda, vm, tm, tci, n));
        }
    }
    Ok(acc
        .into_iter()
        .map(|(k, per_lambda)| {
            let mut best = 0;
            for (i, c) in per_lambda.iter().enumerate() {
                if c.1 > per_lambda[best].1 {
                    best = i;
                }
            }
            (k, Cell { per_lambda, best })
        })
        .collect())
}

/// Write `OUT/sweep.md` and return its table.
pub fn write_table(exp: &Experiment, out: &Path, lambdas: &[f64]) -> Result<String> {
    let cells = cells(out, lambdas)?;
    let mut s = String::from(
        "| arm | variant | task | best λ (by validation) | test accuracy at best λ | \
         test accuracy at λ = 0.3 | validation accuracy per λ |\n|---|---|---|---|---|---|---|\n",
    );
    for arm in &exp.arms {
        for v in &exp.variants {
            for t in &exp.tasks {
                let key = (arm.to_string(), v.to_string(), t.name().to_string());
                let Some(c) = cells.get(&key) else { continue };
                let b = c.per_lambda[c.best];
                let at = |l: f64| {
                    c.per_lambda
                        .iter()
                        .find(|x| x.0 == l)
                        .map(|x| ci_cell(x.2, x.3, None))
                        .unwrap_or_else(|| "–".into())
                };
                let per: Vec<String> = c
                    .per_lambda
                    .iter()
                    .map(|x| format!("{}: {:.3}", x.0, x.1))
                    .collect();
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} |\n",
                    key.0,
                    key.1,
                    key.2,
                    b.0,
                    ci_cell(b.2, b.3, Some(b.4)),
                    at(0.3),
                    per.join(", ")
                ));
            }
        }
    }
    let doc = format!(
        "# λ sweep\n\nλ ∈ {{{}}}; each λ is a full ablation in `lambda-<λ>/`. The best λ of a \
         (variant, task) is the one with the highest mean validation accuracy; the test accuracy \
         is reported there (mean ± 95% t-CI). Under the notebook's `baseline-without-lambda` \
         deviation the variant `W` trains with λ = 1 whatever the sweep says.\n\n{s}",
        lambdas
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let path = out.join("sweep.md");
    std::fs::create_dir_all(out).map_err(|source| Error::Io {
        path: out.to_path_buf(),
        source,
    })?;
    std::fs::write(&path, doc).map_err(|source| Error::Io { path, source })?;
    Ok(s)
}
