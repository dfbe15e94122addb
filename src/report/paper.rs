//! Our results side by side with the paper's published Tables 2 and 3 (field 6_6_2, corr·STTC
//! initialization, 20 simulations; `data/paper_tables.csv`, copied from the reference set).
//!
//! The published numbers are the notebook's *last-epoch training accuracy* (input noise on),
//! with t-based 95% intervals. The comparison therefore shows our last-epoch training accuracy
//! next to them — whatever the profile — and our test accuracy beside it, and says for each cell
//! whether our mean lies inside the published interval.
use std::collections::BTreeMap;

use super::csv::Row;
use super::summary::{ci_cell, collect_by_arm, mean_ci95};
use crate::error::{Error, Result};

/// The published tables (CSV with `#` comment lines).
pub const PAPER_TABLES: &str = include_str!("data/paper_tables.csv");

/// One published cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// 2 (unconstrained) or 3 (sign-constrained).
    pub table: u32,
    /// `unconstrained` or `sign+`.
    pub arm: String,
    pub variant: String,
    /// The notebook's task number: 1 One-Choice Inference, 2 Go/NoGo, 3 Perceptual DM.
    pub task: u32,
    pub mean: f64,
    /// The t-based 95% interval; None where the table leaves it blank.
    pub ci: Option<(f64, f64)>,
}

/// Parse the published tables.
pub fn published() -> Result<Vec<Published>> {
    let bad = |line: usize, why: String| Error::Invalid {
        what: "paper_tables.csv".into(),
        reason: format!("line {line}: {why}"),
    };
    let mut out = Vec::new();
    let mut header_seen = false;
    for (i, line) in PAPER_TABLES.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !header_seen {
            header_seen = true;
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 7 {
            return Err(bad(i + 1, format!("{} fields, expected 7", f.len())));
        }
        let num = |s: &str| -> Result<f64> {
            s.parse::<f64>()
                .map_err(|_| bad(i + 1, format!("{s:?} is not a number")))
        };
        let ci = if f[5].is_empty() || f[6].is_empty() {
            None
        } else {
            Some((num(f[5])?, num(f[6])?))
        };
        out.push(Published {
            table: num(f[0])? as u32,
            arm: f[1].to_string(),
            variant: f[2].to_string(),
            task: num(f[3])? as u32,
            mean: num(f[4])?,
            ci,
        });
    }
    Ok(out)
}

/// The notebook's task number of one of our task names.
fn task_number(task: &str) -> Option<u32> {
    match task {
        "one-choice-inference" => Some(1),
        "go-no-go" => Some(2),
        "perceptual-decision-making" => Some(3),
        _ => None,
    }
}

/// The published arm that one of our arms corresponds to (only the corr·STTC source was
/// published).
fn published_arm(arm: &str) -> Option<&'static str> {
    match arm {
        "free/corr-sttc" => Some("unconstrained"),
        "nonneg/corr-sttc" => Some("sign+"),
        _ => None,
    }
}

/// Counts of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Agreement {
    /// Cells with a published interval and our runs.
    pub compared: usize,
    /// Of those, cells whose mean lies inside the published interval.
    pub inside: usize,
}

/// A Markdown table comparing `rows` (one field's results) with the published cells of the same
/// arms, in the paper's order, and the agreement counts.
pub fn compare(rows: &[Row]) -> Result<(String, Agreement)> {
    let published = published()?;
    // (arm, variant, task) → (training accuracies, test accuracies)
    type Samples = (Vec<f64>, Vec<f64>);
    let mut ours: BTreeMap<(String, String, String), Samples> = BTreeMap::new();
    for (k, xs) in collect_by_arm(rows, "train_accuracy") {
        ours.entry(k).or_default().0 = xs;
    }
    for (k, xs) in collect_by_arm(rows, "test_accuracy") {
        ours.entry(k).or_default().1 = xs;
    }
    let mut s = String::from(
        "| arm | variant | task | paper (train acc., 20 sims) | ours: train acc. | inside? | \
         ours: test acc. |\n|---|---|---|---|---|---|---|\n",
    );
    let mut agree = Agreement::default();
    for p in &published {
        let Some(((arm, variant, task), (train, test))) = ours.iter().find(|((a, v, t), _)| {
            published_arm(a) == Some(p.arm.as_str())
                && *v == p.variant
                && task_number(t) == Some(p.task)
        }) else {
            continue;
        };
        let fmt = |xs: &[f64]| {
            let (m, ci, n) = mean_ci95(xs);
            if n == 0 {
                "–".to_string()
            } else {
                ci_cell(m, ci, Some(n))
            }
        };
        let (m, _, n) = mean_ci95(train);
        let inside = match p.ci {
            Some((lo, hi)) if n > 0 => {
                agree.compared += 1;
                let yes = (lo..=hi).contains(&m);
                agree.inside += usize::from(yes);
                if yes {
                    "yes"
                } else {
                    "no"
                }
            }
            _ => "–",
        };
        let paper = match p.ci {
            Some((lo, hi)) => format!("{:.3} [{lo:.3}, {hi:.3}]", p.mean),
            None => format!("{:.3}", p.mean),
        };
        s.push_str(&format!(
            "| {arm} | {variant} | {task} | {paper} | {} | {inside} | {} |\n",
            fmt(train),
            fmt(test)
        ));
    }
    Ok((s, agree))
}
