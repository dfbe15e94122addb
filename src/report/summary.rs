//! `summary.md` and the terminal table: accuracy per variant × task, mean ± 95% CI over
//! simulations (Student t), computed from the rows of `results.csv` alone so that a resumed
//! ablation reports exactly what a fresh one would.
use std::collections::BTreeMap;

use super::csv::{by_run, Row, STATUS};
use crate::config::{Experiment, Preset};
use crate::error::Result;
use crate::stats;

/// Mean, half-width of the t 95% interval ([`stats::t_ci95`]; NaN below two values) and count.
/// Non-finite values never reach here: `results.csv` holds only finished runs' metrics.
pub fn mean_ci95(xs: &[f64]) -> (f64, f64, usize) {
    let n = xs.len();
    let mean = stats::mean(xs).unwrap_or(f64::NAN);
    let half = stats::t_ci95(xs).map_or(f64::NAN, |ci| ci.half_width());
    (mean, half, n)
}

/// Per (variant, task): the values of `metric` over finished, non-failed runs.
pub fn collect(rows: &[Row], metric: &str) -> BTreeMap<(String, String), Vec<f64>> {
    let mut out: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for (key, m) in by_run(rows) {
        if m.get(STATUS).copied() != Some(1.0) {
            continue;
        }
        if let Some(&v) = m.get(metric) {
            out.entry((key.variant.clone(), key.task.clone()))
                .or_default()
                .push(v);
        }
    }
    out
}

/// Per (arm, variant, task): the values of `metric` over finished, non-failed runs — what
/// [`collect`] gives, with the arms kept apart.
pub fn collect_by_arm(rows: &[Row], metric: &str) -> BTreeMap<(String, String, String), Vec<f64>> {
    let mut out: BTreeMap<(String, String, String), Vec<f64>> = BTreeMap::new();
    for (key, m) in by_run(rows) {
        if m.get(STATUS).copied() != Some(1.0) {
            continue;
        }
        if let Some(&v) = m.get(metric) {
            out.entry((key.arm.clone(), key.variant.clone(), key.task.clone()))
                .or_default()
                .push(v);
        }
    }
    out
}

/// A Markdown table of `metric` with variants as rows in `variants` order and tasks as columns
/// in `tasks` order; each column's cells come from [`column_cells`].
pub fn table(rows: &[Row], metric: &str, variants: &[String], tasks: &[String]) -> String {
    let vals = collect(rows, metric);
    let mut s = format!("| variant | {} |\n|---|", tasks.join(" | "));
    for _ in tasks {
        s.push_str("---|");
    }
    s.push('\n');
    let columns: Vec<Vec<String>> = tasks
        .iter()
        .map(|t| {
            let column: Vec<(&str, &[f64])> = variants
                .iter()
                .map(|v| {
                    let xs = vals.get(&(v.clone(), t.clone()));
                    (v.as_str(), xs.map_or(&[][..], |x| x.as_slice()))
                })
                .collect();
            column_cells(metric, &column)
        })
        .collect();
    for (i, v) in variants.iter().enumerate() {
        s.push_str(&format!("| {v} |"));
        for c in &columns {
            s.push_str(&format!(" {} |", c[i]));
        }
        s.push('\n');
    }
    s
}

/// What a cell of [`table`] shows, said once under each table heading.
pub const CELL_LEGEND: &str = "mean ± 95% t-CI over simulations (n = simulations)";

// ---------------------------------------------------------------------------------------------
// CELL HOOK — the single place that decides what a cell of the summary tables shows.
//
// `column_cells` receives one task's column of one metric: every variant (in table order) with
// its values over simulations (failed runs already left out), so column-wide statistics (e.g.
// compact letters from `src/stats/`) can go into the cells here; update `CELL_LEGEND` with it.
// Today: mean ± Student-t CI; the full statistics (bootstrap CIs, Mann–Whitney + Holm letters,
// Kruskal–Wallis) follow the tables in their own section (`super::significance`).
// ---------------------------------------------------------------------------------------------
/// The cells of one column (one task, one metric), one per `(variant, values)` in order.
pub fn column_cells(_metric: &str, column: &[(&str, &[f64])]) -> Vec<String> {
    column
        .iter()
        .map(|(_, xs)| {
            if xs.is_empty() {
                return "–".to_string();
            }
            let (m, ci, n) = mean_ci95(xs);
            ci_cell(m, ci, Some(n))
        })
        .collect()
}

/// A table cell `mean ± half-width (n=…)`: the half-width left out when it is undefined (one
/// value), `(n=…)` only when `n` is given. Shared by `summary.md`, `sweep.md` and `compare`.
pub fn ci_cell(mean: f64, half: f64, n: Option<usize>) -> String {
    let ci = if half.is_nan() {
        String::new()
    } else {
        format!(" ± {half:.3}")
    };
    let n = n.map(|n| format!(" (n={n})")).unwrap_or_default();
    format!("{mean:.3}{ci}{n}")
}

/// The tables of `summary.md` after the two accuracy tables: (title, metric), in order.
pub const SUMMARY_METRICS: [(&str, &str); 5] = [
    ("Validation accuracy", "val_accuracy"),
    ("Weight entropy (bits)", "entropy"),
    ("Modularity Q", "modularity"),
    ("Assortativity", "assortativity"),
    ("Small-worldness σ", "small_worldness"),
];

/// `summary.md` of an experiment from the rows of its `results.csv` (deterministic: no
/// timestamps, fixed order), and the table of the reported accuracy of its first arm (what the
/// command line prints): test accuracy, or the last epoch's training accuracy under the
/// notebook's `training-accuracy` deviation. With several arms, each arm gets its own tables:
/// pooling arms would mix different experiments in one cell.
pub fn document(exp: &Experiment, field_id: &str, rows: &[Row]) -> Result<(String, String)> {
    let variants = super::variant_order(
        &exp.variants
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>(),
    );
    let mut tasks_k = exp.tasks.clone();
    tasks_k.sort_by_key(|k| k.notebook_name());
    let tasks: Vec<String> = tasks_k.iter().map(|t| t.name().to_string()).collect();
    let arms: Vec<String> = exp.arms.iter().map(|a| a.to_string()).collect();
    let deviations = exp.deviations.names();
    let name = |v: serde_json::Value| v.as_str().unwrap_or("?").to_string();
    let mut s = format!(
        "# Ablation summary\n\nPreset `{}` ({}), profile `{}`{}, field `{field_id}`, {} \
         simulation(s), {} epoch(s), arms {}.\n",
        name(serde_json::to_value(exp.preset).expect("serializes")),
        match exp.preset {
            Preset::Quick => "a quick, scaled-down grid: NOT the paper's numbers",
            Preset::Paper => "the paper's grid",
        },
        name(serde_json::to_value(exp.profile).expect("serializes")),
        if deviations.is_empty() {
            String::new()
        } else {
            format!(" (notebook deviations: {})", deviations.join(", "))
        },
        exp.simulations,
        exp.train.epochs,
        arms.join(", "),
    );
    let reported = exp.deviations.reported_accuracy();
    let accuracies = if exp.deviations.training_accuracy {
        [
            (
                "Last-epoch training accuracy, as the notebook reports it",
                "train_accuracy",
            ),
            ("Test accuracy", "test_accuracy"),
        ]
    } else {
        [
            ("Test accuracy", "test_accuracy"),
            ("Last-epoch training accuracy", "train_accuracy"),
        ]
    };
    let mut first_acc = None;
    for arm in &arms {
        let arm_rows: Vec<Row> = rows.iter().filter(|r| &r.key.arm == arm).cloned().collect();
        let level = if arms.len() > 1 {
            s.push_str(&format!("\n## Arm {arm}\n"));
            "###"
        } else {
            "##"
        };
        for (title, metric) in accuracies.iter().chain(SUMMARY_METRICS.iter()) {
            let t = table(&arm_rows, metric, &variants, &tasks);
            s.push_str(&format!("\n{level} {title}\n\nCells: {CELL_LEGEND}.\n\n"));
            s.push_str(&t);
            if *metric == reported && first_acc.is_none() {
                first_acc = Some(t);
            }
        }
    }
    s.push_str(&format!(
        "\n## Statistics of the {} and of the topology\n",
        if exp.deviations.training_accuracy {
            "last-epoch training accuracy"
        } else {
            "test accuracy"
        }
    ));
    for (title, metric) in [
        ("Accuracy", reported),
        ("Modularity Q", "modularity"),
        ("Small-worldness σ", "small_worldness"),
        ("Assortativity", "assortativity"),
        ("Weight entropy (bits)", "entropy"),
    ] {
        s.push_str(&format!("\n### {title}\n"));
        s.push_str(&super::significance::section(
            rows, metric, &variants, exp.seed,
        )?);
    }
    let fails = failures(rows);
    if !fails.is_empty() {
        s.push_str("\n## Failed runs\n\n");
        s.push_str(&fails.join("\n"));
        s.push('\n');
    }
    Ok((s, first_acc.unwrap_or_default()))
}

/// Runs that stopped on a non-finite loss, as Markdown bullet lines.
pub fn failures(rows: &[Row]) -> Vec<String> {
    by_run(rows)
        .into_iter()
        .filter(|(_, m)| m.get(STATUS).copied() == Some(0.0))
        .map(|(k, m)| {
            format!(
                "- {} {} {} {} simulation {}: non-finite loss at epoch {} batch {}",
                k.field,
                k.arm,
                k.variant,
                k.task,
                k.simulation,
                m.get("failed_epoch").copied().unwrap_or(f64::NAN),
                m.get("failed_batch").copied().unwrap_or(f64::NAN)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_of_known_sample() {
        // mean 2, sd 1, n 3: half-width t(0.975, 2)·1/√3, where for 2 degrees of freedom the
        // quantile has the closed form (2p−1)/√(2p(1−p)) = 4.3026527…
        let (m, ci, n) = mean_ci95(&[1.0, 2.0, 3.0]);
        assert_eq!((m, n), (2.0, 3));
        let p: f64 = 0.975;
        let t2 = (2.0 * p - 1.0) / (2.0 * p * (1.0 - p)).sqrt();
        assert!((ci - t2 / 3f64.sqrt()).abs() < 1e-13, "{ci}");
        // below two values there is no interval, and no panic
        let (m1, ci1, n1) = mean_ci95(&[0.5]);
        assert_eq!((m1, n1), (0.5, 1));
        assert!(ci1.is_nan());
        assert!(mean_ci95(&[]).0.is_nan());
    }
}
