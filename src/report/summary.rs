//! `summary.md` and the terminal table: accuracy per variant × task, mean ± 95% CI over
//! simulations (Student t), computed from the rows of `results.csv` alone so that a resumed
//! ablation reports exactly what a fresh one would.
use std::collections::BTreeMap;

use super::csv::{by_run, Row, STATUS};
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

/// A Markdown table of `metric` (mean ± CI, n) with variants as rows in `variants` order and
/// tasks as columns in `tasks` order.
pub fn table(rows: &[Row], metric: &str, variants: &[String], tasks: &[String]) -> String {
    let vals = collect(rows, metric);
    let mut s = format!("| variant | {} |\n|---|", tasks.join(" | "));
    for _ in tasks {
        s.push_str("---|");
    }
    s.push('\n');
    for v in variants {
        s.push_str(&format!("| {v} |"));
        for t in tasks {
            match vals.get(&(v.clone(), t.clone())) {
                Some(xs) if !xs.is_empty() => {
                    let (m, ci, n) = mean_ci95(xs);
                    if ci.is_nan() {
                        s.push_str(&format!(" {m:.3} (n={n}) |"));
                    } else {
                        s.push_str(&format!(" {m:.3} ± {ci:.3} (n={n}) |"));
                    }
                }
                _ => s.push_str(" – |"),
            }
        }
        s.push('\n');
    }
    s
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
