//! `summary.md` and the terminal table: accuracy per variant × task, mean ± 95% CI over
//! simulations (Student t), computed from the rows of `results.csv` alone so that a resumed
//! ablation reports exactly what a fresh one would.
use std::collections::BTreeMap;

use super::csv::{by_run, Row, STATUS};
use crate::config::{Experiment, Preset};

/// Mean, half-width of the t 95% interval (NaN below two values) and count.
pub fn mean_ci95(xs: &[f64]) -> (f64, f64, usize) {
    let n = xs.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, 0);
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, f64::NAN, n);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, t975(n - 1) * (var / n as f64).sqrt(), n)
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom: exact table to 30, then
/// the Cornish–Fisher expansion around the normal quantile (error < 1e-4 there).
pub fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157,
        2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922,
        2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831,
        2.048407, 2.045230, 2.042272,
    ];
    if df == 0 {
        return f64::NAN;
    }
    if df <= 30 {
        return T[df - 1];
    }
    let z = 1.959_963_984_540_054_f64;
    let v = df as f64;
    z + (z.powi(3) + z) / (4.0 * v)
        + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * v * v)
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
// STATISTICS HOOK — the single place where per-cell statistics enter summary.md.
//
// `column_cells` receives one task's column of one metric: every variant (in table order) with
// its values over simulations (failed runs already left out). Whatever it returns is printed
// cell by cell, so the statistics of `src/stats/` (percentile-bootstrap CI, Kruskal–Wallis
// across the column, Mann–Whitney U + Holm between variants → compact letter display) plug in
// here and nowhere else; update `CELL_LEGEND` with it. Until then: mean ± Student-t CI.
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
            if ci.is_nan() {
                format!("{m:.3} (n={n})")
            } else {
                format!("{m:.3} ± {ci:.3} (n={n})")
            }
        })
        .collect()
}

/// The tables of `summary.md`: (title, metric), in order.
pub const SUMMARY_METRICS: [(&str, &str); 6] = [
    ("Test accuracy", "test_accuracy"),
    ("Validation accuracy", "val_accuracy"),
    ("Weight entropy (bits)", "entropy"),
    ("Modularity Q", "modularity"),
    ("Assortativity", "assortativity"),
    ("Small-worldness σ", "small_worldness"),
];

/// `summary.md` of an experiment from the rows of its `results.csv` (deterministic: no
/// timestamps, fixed order), and the test-accuracy table of its first arm (what the command
/// line prints). With several arms, each arm gets its own tables: pooling arms would mix
/// different experiments in one cell.
pub fn document(exp: &Experiment, field_id: &str, rows: &[Row]) -> (String, String) {
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
    let mut s = format!(
        "# Ablation summary\n\nPreset `{}` ({}), field `{field_id}`, {} simulation(s), {} epoch(s), \
         arms {}.\n",
        serde_json::to_value(exp.preset)
            .expect("serializes")
            .as_str()
            .unwrap_or("?"),
        match exp.preset {
            Preset::Quick => "a quick, scaled-down grid: NOT the paper's numbers",
            Preset::Paper => "the paper's grid",
        },
        exp.simulations,
        exp.train.epochs,
        arms.join(", "),
    );
    let mut first_acc = None;
    for arm in &arms {
        let arm_rows: Vec<Row> = rows.iter().filter(|r| &r.key.arm == arm).cloned().collect();
        let level = if arms.len() > 1 {
            s.push_str(&format!("\n## Arm {arm}\n"));
            "###"
        } else {
            "##"
        };
        for (title, metric) in SUMMARY_METRICS {
            let t = table(&arm_rows, metric, &variants, &tasks);
            s.push_str(&format!("\n{level} {title}\n\nCells: {CELL_LEGEND}.\n\n"));
            s.push_str(&t);
            if metric == "test_accuracy" && first_acc.is_none() {
                first_acc = Some(t);
            }
        }
    }
    let fails = failures(rows);
    if !fails.is_empty() {
        s.push_str("\n## Failed runs\n\n");
        s.push_str(&fails.join("\n"));
        s.push('\n');
    }
    (s, first_acc.unwrap_or_default())
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
        // mean 2, sd 1, n 3: half-width t(2)·1/√3 = 4.302653/1.7320508
        let (m, ci, n) = mean_ci95(&[1.0, 2.0, 3.0]);
        assert_eq!((m, n), (2.0, 3));
        assert!((ci - 4.302653 / 3f64.sqrt()).abs() < 1e-6);
        // The expansion joins the table smoothly: t(31) lies just below t(30).
        assert!(t975(31) < t975(30) && t975(31) > 2.03);
    }
}
