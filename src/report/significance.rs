//! The statistics tables of `summary.md` (METHOD.md §7): per (arm, task) and metric, each
//! variant's mean with its t and percentile-bootstrap 95% intervals, a compact letter display of
//! the pairwise Mann–Whitney U tests after Holm's correction (variants that share a letter do
//! not differ at α = 0.05), and the Kruskal–Wallis test across variants.
use std::collections::BTreeMap;

use super::csv::Row;
use super::summary::collect_by_arm;
use crate::error::Result;
use crate::stats::{self, BOOTSTRAP_RESAMPLES};

/// Significance level of the letters.
pub const ALPHA: f64 = 0.05;

/// Per (arm, task, variant): the finite values of `metric` over finished runs.
fn values(rows: &[Row], metric: &str) -> BTreeMap<(String, String, String), Vec<f64>> {
    collect_by_arm(rows, metric)
        .into_iter()
        .filter_map(|((arm, variant, task), xs)| {
            let xs: Vec<f64> = xs.into_iter().filter(|v| v.is_finite()).collect();
            (!xs.is_empty()).then_some(((arm, task, variant), xs))
        })
        .collect()
}

/// The Markdown section for `metric`: one table per (arm, task), variants in `variants` order.
/// Letters are assigned best mean first ("a" goes to the highest mean). Cells with a single
/// run show the value alone; groups with fewer than two runs are left out of the tests.
pub fn section(rows: &[Row], metric: &str, variants: &[String], seed: u64) -> Result<String> {
    let vals = values(rows, metric);
    let mut arms_tasks: Vec<(String, String)> = vals
        .keys()
        .map(|(a, t, _)| (a.clone(), t.clone()))
        .collect();
    arms_tasks.dedup();
    let mut s = String::new();
    for (arm, task) in arms_tasks {
        let groups: Vec<(String, Vec<f64>)> = variants
            .iter()
            .filter_map(|v| {
                vals.get(&(arm.clone(), task.clone(), v.clone()))
                    .map(|xs| (v.clone(), xs.clone()))
            })
            .collect();
        if groups.is_empty() {
            continue;
        }
        // Variants with at least 2 values, by decreasing mean (the order letters are given in).
        let mut by_mean = groups
            .iter()
            .filter(|g| g.1.len() >= 2)
            .map(|g| Ok((stats::mean(&g.1)?, g.clone())))
            .collect::<Result<Vec<_>>>()?;
        by_mean.sort_by(|a, b| b.0.total_cmp(&a.0));
        let tested: Vec<(String, Vec<f64>)> = by_mean.into_iter().map(|(_, g)| g).collect();
        let pairwise = if tested.len() >= 2 {
            Some(stats::pairwise_mwu_holm(&tested, ALPHA)?)
        } else {
            None
        };
        s.push_str(&format!(
            "\n**{arm}, {task}** — mean, t 95% CI, bootstrap 95% CI ({BOOTSTRAP_RESAMPLES} \
             resamples), letters (Mann–Whitney U, Holm, α = {ALPHA})\n\n| variant | n | mean | \
             t CI | bootstrap CI | letters |\n|---|---|---|---|---|---|\n"
        ));
        for (k, (v, xs)) in groups.iter().enumerate() {
            let m = stats::mean(xs)?;
            let (t_ci, b_ci) = if xs.len() >= 2 {
                let t = stats::t_ci95(xs)?;
                let b = stats::bootstrap_ci95(xs, BOOTSTRAP_RESAMPLES, seed ^ k as u64)?;
                (
                    format!("[{:.3}, {:.3}]", t.lo, t.hi),
                    format!("[{:.3}, {:.3}]", b.lo, b.hi),
                )
            } else {
                ("–".into(), "–".into())
            };
            let letters = pairwise
                .as_ref()
                .and_then(|p| p.letters_of(v))
                .unwrap_or("–");
            s.push_str(&format!(
                "| {v} | {} | {m:.3} | {t_ci} | {b_ci} | {letters} |\n",
                xs.len()
            ));
        }
        if tested.len() >= 2 {
            let samples: Vec<&[f64]> = tested.iter().map(|g| g.1.as_slice()).collect();
            let (h, p) = stats::kruskal_wallis(&samples)?;
            s.push_str(&format!(
                "\nKruskal–Wallis across {} variants: H = {h:.3}, p = {p:.3e}\n",
                tested.len()
            ));
        }
    }
    Ok(s)
}
