//! What an ablation writes: the tidy `results.csv` ([`csv`]), `config.json` ([`json`]) and
//! `summary.md` ([`summary`]); the comparison with the paper's published tables ([`paper`]);
//! and what `ablation report DIR` makes of them afterwards: SVG figures ([`figures`]) and the
//! seed-compatible `*_raw.csv` export ([`export`]).
//!
//! The report reads nothing but `results.csv` and `config.json`, so it can be rerun at any time
//! (also on a partial or merged results file) and always describes exactly what is on disk.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::Experiment;
use crate::error::{Error, Result};
use crate::tasks::TaskKind;
use crate::variants::PAPER_VARIANTS;

pub mod csv;
pub mod export;
pub mod figures;
pub mod json;
pub mod paper;
pub mod significance;
pub mod summary;

use self::csv::{Row, RunKey, STATUS};

/// An ablation directory, read back: its configuration and its finished runs.
#[derive(Debug, Clone)]
pub struct Results {
    pub exp: Experiment,
    pub rows: Vec<Row>,
    /// Every finished run's metrics (failed runs included: their `status` is 0).
    pub runs: BTreeMap<RunKey, BTreeMap<String, f64>>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Results {
    /// Read `dir/results.csv` and `dir/config.json`; either missing is an error naming the file.
    pub fn load(dir: &Path) -> Result<Self> {
        let results = dir.join("results.csv");
        if !results.is_file() {
            return Err(Error::MissingFile {
                path: results,
                what: "results of an ablation (run `ablation --out DIR` first, or point \
                       `ablation report` at the directory that holds results.csv)"
                    .into(),
            });
        }
        let config = dir.join("config.json");
        let Some(doc) = json::read_json(&config)? else {
            return Err(Error::MissingFile {
                path: config,
                what: "the ablation's configuration (written beside results.csv by every run)"
                    .into(),
            });
        };
        let exp: Experiment =
            serde_json::from_value(doc[json::EXPERIMENT].clone()).map_err(|e| Error::Format {
                path: config.clone(),
                reason: format!("key `{}` is not an experiment: {e}", json::EXPERIMENT),
            })?;
        let rows = csv::read(&results)?;
        let runs = csv::by_run(&rows);
        Ok(Results { exp, rows, runs })
    }

    /// The configured variants' names in the paper's order (Table 1), then any others (e.g.
    /// `W~…`) in the configuration's order.
    pub fn variant_order(&self) -> Vec<String> {
        variant_order(
            &self
                .exp
                .variants
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>(),
        )
    }

    /// The fields present in the results (one per ablation, but a merged file could hold more),
    /// or the configured one when no run has finished yet.
    pub fn fields(&self) -> Vec<String> {
        let mut f: Vec<String> = self.runs.keys().map(|k| k.field.clone()).collect();
        f.dedup();
        f.sort();
        f.dedup();
        f
    }

    /// The configured arms, as `results.csv` spells them.
    pub fn arms(&self) -> Vec<String> {
        self.exp.arms.iter().map(|a| a.to_string()).collect()
    }

    /// The configured tasks, in the notebook's order (Task1, Task2, Task3).
    pub fn tasks(&self) -> Vec<TaskKind> {
        let mut t = self.exp.tasks.clone();
        t.sort_by_key(|k| k.notebook_name());
        t
    }

    /// The runs of one (field, arm).
    pub fn runs_of<'a>(
        &'a self,
        field: &'a str,
        arm: &'a str,
    ) -> impl Iterator<Item = (&'a RunKey, &'a BTreeMap<String, f64>)> + 'a {
        self.runs
            .iter()
            .filter(move |(k, _)| k.field == field && k.arm == arm)
    }
}

/// Whether a run trained to the end (`status` 1); a failed run (non-finite loss, `status` 0)
/// has no final metrics and is left out of every figure and table.
pub fn trained(m: &BTreeMap<String, f64>) -> bool {
    m.get(STATUS).copied() == Some(1.0)
}

/// `names` sorted into the paper's variant order, unknown names last in their given order.
pub fn variant_order(names: &[String]) -> Vec<String> {
    let mut v: Vec<(usize, usize, String)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let rank = PAPER_VARIANTS
                .iter()
                .position(|p| p == n)
                .unwrap_or(PAPER_VARIANTS.len());
            (rank, i, n.clone())
        })
        .collect();
    v.sort();
    v.dedup_by(|a, b| a.2 == b.2);
    v.into_iter().map(|(_, _, n)| n).collect()
}

/// What `ablation report` wrote.
#[derive(Debug, Clone, Default)]
pub struct ReportOutcome {
    pub summary: PathBuf,
    pub figures: Vec<PathBuf>,
    pub exports: Vec<PathBuf>,
    /// Runs left out of the figures, one line each (failed runs, non-finite values).
    pub excluded: Vec<String>,
}

/// `ablation report`: read `dir`'s results and write `summary.md`, `figures/*.svg` and
/// `export/…/*_raw.csv` into `out` (default: `dir` itself).
pub fn report(dir: &Path, out: Option<&Path>) -> Result<ReportOutcome> {
    let res = Results::load(dir)?;
    if let Some(o) = out {
        let same = match (dir.canonicalize(), o.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if !same && (o.join("results.csv").exists() || o.join("config.json").exists()) {
            // Its summary.md would then describe another experiment than its results.csv.
            return Err(Error::Invalid {
                what: "report output directory".into(),
                reason: format!(
                    "{} holds another ablation's results; write the report into the results' \
                     own folder (no --out) or into a new one",
                    o.display()
                ),
            });
        }
    }
    let out = out.unwrap_or(dir);
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let field = res
        .fields()
        .into_iter()
        .next()
        .unwrap_or_else(|| configured_field(&res.exp));
    let (doc, _) = summary::document(&res.exp, &field, &res.rows)?;
    let summary = out.join("summary.md");
    std::fs::write(&summary, doc).map_err(io_err(&summary))?;
    let figs = figures::write_all(&res, &out.join("figures"))?;
    let exports = export::write_all(&res, &out.join("export"))?;
    Ok(ReportOutcome {
        summary,
        figures: figs.files,
        exports,
        excluded: figs.excluded,
    })
}

/// The field id a configuration will produce.
pub fn configured_field(exp: &Experiment) -> String {
    match &exp.data {
        crate::config::DataSource::Dir { field, .. } => field.clone(),
        crate::config::DataSource::Synthetic { n, seed } => crate::data::SyntheticConfig {
            n: *n,
            seed: *seed,
            ..Default::default()
        }
        .id(),
    }
}
