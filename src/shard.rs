//! Scale-out: the grid cut into `M` disjoint shards that run anywhere (a SLURM job array, several
//! machines), and the merge of their output directories into one.
//!
//! **Shards.** Shard `K/M` runs the runs of [`enumerate`] whose position in a fixed permutation
//! of the grid is `K` modulo `M`. The permutation orders the runs by a hash of their identity
//! (arm, variant, task, simulation), so every shard gets a mix of cheap and expensive variants for
//! any `M`; plain `index mod M` would give each shard a single variant whenever `M` divides the
//! number of variants (e.g. `M = 11` on the paper's grid), and the shards with the EMD variants
//! would take several times longer than the others. Shard sizes differ by at most one run, and the
//! `M` shards are disjoint and cover the grid exactly.
//!
//! The shard belongs to the execution, not to the experiment: `config.json` records it under
//! [`SHARD_KEY`], outside the compared `experiment` section, so the shards of one grid have
//! identical experiment sections and can be merged. A directory holds one shard: rerunning the
//! same shard into it resumes; another shard into it is refused (the record would be wrong and
//! the directory would no longer be one slice). A `config.json` without the key (written before
//! shards existed, or by [`merge`]) counts as the whole grid, so an unsharded run may resume in
//! a merged directory and fill in the runs it lacks.
//!
//! **Merge.** [`merge`] combines output directories (shards, whole runs, earlier merges) of one
//! experiment into one: `results.csv` with the runs in grid order ([`enumerate`]) and each run's
//! rows in the order the run wrote them — a canonical order, independent of which run finished
//! first, so merging a whole run's directory alone canonicalizes it — plus `config.json` (the
//! common experiment, and the inputs under [`MERGED_FROM`]) and `summary.md`. It refuses inputs
//! of different experiments, a run present in two inputs, and directories that are not ablation
//! outputs. The output directory must be absent, empty, or an earlier merge of the same
//! experiment, which is replaced, but only if every run it holds is among the new inputs' (so a
//! re-merge after more shards finished is one command, and a merge never loses runs); an
//! ablation's own output directory is never overwritten.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::Value;

use crate::ablation::{derive_seed, enumerate, write_summary, Run};
use crate::config::{DataSource, Experiment};
use crate::error::{Error, Result};
use crate::report::csv::{self, format_rows, RunKey, HEADER};
use crate::report::json::{self, first_difference, EXPERIMENT};

/// The `config.json` key that records a run directory's shard (`"K/M"`).
pub const SHARD_KEY: &str = "shard";

/// The `config.json` key of a merged directory: one entry per input directory.
pub const MERGED_FROM: &str = "merged_from";

/// One of `count` disjoint slices of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: usize,
    count: usize,
}

impl Shard {
    /// The whole grid (`0/1`).
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`; `index < count` and `count ≥ 1`, else an error naming `--shard`.
    pub fn new(index: usize, count: usize) -> Result<Self> {
        if count == 0 || index >= count {
            return Err(Error::Invalid {
                what: "--shard".into(),
                reason: format!("{index}/{count}: need K/M with M ≥ 1 and 0 ≤ K < M, e.g. 0/4"),
            });
        }
        Ok(Shard { index, count })
    }

    /// `K`.
    pub fn index(&self) -> usize {
        self.index
    }

    /// `M`.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The shard of each run of `runs` (a grid in [`enumerate`] order) when it is cut into
    /// `count` shards: the runs are dealt round-robin in the order of a hash of their identity.
    pub fn assignment(runs: &[Run], count: usize) -> Vec<usize> {
        let count = count.max(1);
        let mut order: Vec<(u64, usize)> = runs
            .iter()
            .enumerate()
            .map(|(i, r)| (derive_seed(0, &r.label("shard")), i))
            .collect();
        // The index breaks (astronomically unlikely) hash ties, so the order is total.
        order.sort_unstable();
        let mut shard = vec![0; runs.len()];
        for (position, &(_, i)) in order.iter().enumerate() {
            shard[i] = position % count;
        }
        shard
    }

    /// This shard's runs of `runs`, in their order there.
    pub fn select(&self, runs: &[Run]) -> Vec<Run> {
        if self.count == 1 {
            return runs.to_vec();
        }
        Self::assignment(runs, self.count)
            .into_iter()
            .zip(runs)
            .filter(|(s, _)| *s == self.index)
            .map(|(_, r)| *r)
            .collect()
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::ALL
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::Invalid {
            what: "--shard".into(),
            reason: format!("{s:?}: expected K/M with M ≥ 1 and 0 ≤ K < M, e.g. 0/4"),
        };
        let (k, m) = s.trim().split_once('/').ok_or_else(bad)?;
        let k: usize = k.trim().parse().map_err(|_| bad())?;
        let m: usize = m.trim().parse().map_err(|_| bad())?;
        Shard::new(k, m).map_err(|_| bad())
    }
}

/// The shard a `config.json` document records (absent: the whole grid).
pub fn recorded_shard(config: &Value, path: &Path) -> Result<Shard> {
    match config.get(SHARD_KEY) {
        None | Some(Value::Null) => Ok(Shard::ALL),
        Some(Value::String(s)) => s.parse().map_err(|e: Error| Error::Format {
            path: path.to_path_buf(),
            reason: format!("key `{SHARD_KEY}`: {e}"),
        }),
        Some(v) => Err(Error::Format {
            path: path.to_path_buf(),
            reason: format!("key `{SHARD_KEY}` is {v}, expected a string \"K/M\""),
        }),
    }
}

/// Refuse to run `shard` into the directory of `config_path` when it was made for another shard.
pub fn check_recorded(config_path: &Path, shard: Shard) -> Result<()> {
    let config = read_json(config_path)?;
    let was = recorded_shard(&config, config_path)?;
    if was != shard {
        let dir = config_path.parent().unwrap_or(config_path).display();
        let held = if was == Shard::ALL {
            "the whole grid (an unsharded run or a merge)".to_string()
        } else {
            format!("shard {was}")
        };
        return Err(Error::Invalid {
            what: "--shard".into(),
            reason: format!(
                "{dir} holds {held}, not shard {shard}; give each shard its own output \
                 directory (--out) and combine them with `ablation merge`"
            ),
        });
    }
    Ok(())
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// [`json::read_json`] of a file that must exist (missing: the I/O error naming it).
fn read_json(path: &Path) -> Result<Value> {
    json::read_json(path)?
        .ok_or_else(|| io_err(path)(std::io::Error::from(std::io::ErrorKind::NotFound)))
}

/// The id the experiment's field will have (what `results.csv` rows carry).
pub fn field_id(data: &DataSource) -> String {
    match data {
        DataSource::Synthetic { n, seed } => crate::data::SyntheticConfig {
            n: *n,
            seed: *seed,
            ..Default::default()
        }
        .id(),
        // Field::load takes the id from the folder name.
        DataSource::Dir { field, .. } => Path::new(field)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| field.clone()),
    }
}

/// A run's identity in messages.
pub fn describe(key: &RunKey) -> String {
    format!(
        "{} {} {} {} simulation {}",
        key.field, key.arm, key.variant, key.task, key.simulation
    )
}

/// One run's rows, in the order it wrote them (`status` last).
type Block = Vec<(String, f64)>;

/// One input directory, read.
struct Input {
    dir: PathBuf,
    config_path: PathBuf,
    results_path: PathBuf,
    config: Value,
    runs: Vec<(RunKey, Block)>,
}

fn read_input(dir: &Path) -> Result<Input> {
    if !dir.is_dir() {
        return Err(Error::Invalid {
            what: "merge input".into(),
            reason: format!("{} does not exist or is not a directory", dir.display()),
        });
    }
    let config_path = dir.join("config.json");
    let results_path = dir.join("results.csv");
    for (path, what) in [
        (
            &config_path,
            "config.json (not an ablation output directory?)",
        ),
        (
            &results_path,
            "results.csv (not an ablation output directory?)",
        ),
    ] {
        if !path.is_file() {
            return Err(Error::MissingFile {
                path: path.clone(),
                what: what.into(),
            });
        }
    }
    let config = read_json(&config_path)?;
    if config.get(EXPERIMENT).is_none() {
        return Err(Error::Format {
            path: config_path,
            reason: format!("no `{EXPERIMENT}` section"),
        });
    }
    recorded_shard(&config, &config_path)?;
    // Only finished runs (those with a status row) count; a torn last line is dropped, as a
    // resume would.
    let rows = csv::read(&results_path)?;
    let mut runs: Vec<(RunKey, Block)> = Vec::new();
    let mut seen = BTreeSet::new();
    for row in rows {
        match runs.last_mut() {
            Some((key, block)) if *key == row.key => block.push((row.metric, row.value)),
            _ => {
                if !seen.insert(row.key.clone()) {
                    return Err(Error::Format {
                        path: results_path,
                        reason: format!("run {} appears twice", describe(&row.key)),
                    });
                }
                runs.push((row.key, vec![(row.metric, row.value)]));
            }
        }
    }
    for (key, block) in &runs {
        if block.iter().filter(|(m, _)| m == csv::STATUS).count() != 1 {
            return Err(Error::Format {
                path: results_path,
                reason: format!("run {} has more than one status row", describe(key)),
            });
        }
    }
    Ok(Input {
        dir: dir.to_path_buf(),
        config_path,
        results_path,
        config,
        runs,
    })
}

/// What [`merge`] did.
#[derive(Debug, Clone)]
pub struct MergeOutcome {
    pub out_dir: PathBuf,
    pub field_id: String,
    /// Input directories.
    pub inputs: usize,
    /// Runs in the merged `results.csv`.
    pub runs: usize,
    /// Runs in the grid.
    pub total: usize,
    /// Runs of the grid that no input holds, in grid order.
    pub missing: Vec<RunKey>,
    /// An earlier merge in the output directory was replaced.
    pub replaced: bool,
    /// Things worth knowing that do not stop the merge (e.g. inputs built from different commits).
    pub warnings: Vec<String>,
    /// The reported accuracy (test, or last-epoch training under the notebook deviation),
    /// variant × task, mean ± 95% CI (Markdown), as in `summary.md`.
    pub accuracy_table: String,
    /// The merged experiment.
    pub experiment: Experiment,
}

/// The instruction sets of the kernels' tiles an input's runs were computed on, as its
/// config.json records them: its `tiles_isa`, or, for the output of an earlier merge (which has
/// none of its own), the sets recorded for that merge's inputs under `merged_from` (each a
/// name, or a list of names where that input was itself a merge of several);
/// [`json::NOT_RECORDED`] for a folder, or a merge's input, that records none (older than the
/// field). Never empty.
fn recorded_isas(config: &Value) -> BTreeSet<String> {
    fn names(v: Option<&Value>, into: &mut BTreeSet<String>) {
        match v {
            Some(Value::String(s)) => {
                into.insert(s.clone());
            }
            Some(Value::Array(a)) if !a.is_empty() => a.iter().for_each(|x| names(Some(x), into)),
            _ => {
                into.insert(json::NOT_RECORDED.to_string());
            }
        }
    }
    let mut set = BTreeSet::new();
    match (config.get(json::TILES_ISA), config.get(MERGED_FROM)) {
        (None, Some(Value::Array(inputs))) if !inputs.is_empty() => {
            for input in inputs {
                names(input.get(json::TILES_ISA), &mut set);
            }
        }
        (v, _) => names(v, &mut set),
    }
    set
}

/// Combine the output directories `inputs` of one experiment into `out` (see the module docs).
pub fn merge(inputs: &[PathBuf], out: &Path) -> Result<MergeOutcome> {
    if inputs.is_empty() {
        return Err(Error::Invalid {
            what: "merge inputs".into(),
            reason: "none given".into(),
        });
    }
    let mut read = Vec::with_capacity(inputs.len());
    let mut canonical: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
    for dir in inputs {
        let input = read_input(dir)?;
        let c = fs::canonicalize(dir).map_err(io_err(dir))?;
        if let Some(first) = canonical.insert(c, dir.clone()) {
            return Err(Error::MergeConflict {
                first: first.clone(),
                second: dir.clone(),
                reason: "the same directory is given twice".into(),
            });
        }
        read.push(input);
    }

    // One experiment: every experiment section equals the first input's.
    let base = &read[0];
    for other in &read[1..] {
        if let Some((key, a, b)) = first_difference(
            &json::resolved(&base.config[EXPERIMENT]),
            &json::resolved(&other.config[EXPERIMENT]),
            "",
        ) {
            return Err(Error::MergeConflict {
                first: base.config_path.clone(),
                second: other.config_path.clone(),
                reason: format!(
                    "different experiments: key `{EXPERIMENT}.{key}` is {a} in the first, \
                     {b} in the second"
                ),
            });
        }
    }
    // One dataset: every known data fingerprint equals the first known one (folders written
    // before the fingerprint existed lack it).
    let known = read
        .iter()
        .find(|i| i.config.get(json::DATA_FINGERPRINT).is_some());
    if let Some(first) = known {
        for other in &read {
            json::check_fingerprints(
                first.config.get(json::DATA_FINGERPRINT),
                other.config.get(json::DATA_FINGERPRINT),
                |a, b| Error::MergeConflict {
                    first: first.config_path.clone(),
                    second: other.config_path.clone(),
                    reason: format!(
                        "computed on different data under the same configuration \
                         (`{}` {a} in the first, {b} in the second)",
                        json::DATA_FINGERPRINT
                    ),
                },
            )?;
        }
    }
    let fingerprint = known
        .and_then(|i| i.config.get(json::DATA_FINGERPRINT).cloned())
        .unwrap_or(Value::Null);
    let exp_value = base.config[EXPERIMENT].clone();
    let exp: Experiment = serde_json::from_value(exp_value.clone()).map_err(|e| Error::Format {
        path: base.config_path.clone(),
        reason: format!("section `{EXPERIMENT}` is not an experiment this build reads ({e})"),
    })?;
    let field = field_id(&exp.data);
    let grid: Vec<RunKey> = enumerate(&exp).iter().map(|r| r.key(&field)).collect();
    let position: HashMap<&RunKey, usize> = grid.iter().enumerate().map(|(i, k)| (k, i)).collect();

    // Each run from exactly one input, and only runs of the grid.
    let mut merged: Vec<Option<(usize, &Block)>> = vec![None; grid.len()];
    for (i, input) in read.iter().enumerate() {
        for (key, block) in &input.runs {
            let Some(&p) = position.get(key) else {
                return Err(Error::Format {
                    path: input.results_path.clone(),
                    reason: format!(
                        "run {} is not in the grid of {}",
                        describe(key),
                        input.config_path.display()
                    ),
                });
            };
            if let Some((j, _)) = merged[p] {
                return Err(Error::MergeConflict {
                    first: read[j].results_path.clone(),
                    second: input.results_path.clone(),
                    reason: format!("both hold run {}", describe(key)),
                });
            }
            merged[p] = Some((i, block));
        }
    }

    let mut warnings = Vec::new();
    let commits: BTreeSet<String> = read
        .iter()
        .map(|i| {
            i.config["git_commit"]
                .as_str()
                .unwrap_or("unknown")
                .to_string()
        })
        .collect();
    if commits.len() > 1 {
        warnings.push(format!(
            "the inputs were written by builds of different commits ({}); their experiment \
             sections agree, so they were merged",
            commits.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    let input_isas: Vec<BTreeSet<String>> = read.iter().map(|i| recorded_isas(&i.config)).collect();
    let isas: BTreeSet<&str> = input_isas.iter().flatten().map(String::as_str).collect();
    if isas.len() > 1 {
        warnings.push(format!(
            "the inputs ran on different instruction sets of the kernels' tiles ({}); their \
             results may differ in the last bits from one set's",
            isas.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }

    let merged_keys: BTreeSet<&RunKey> = grid
        .iter()
        .zip(&merged)
        .filter(|(_, m)| m.is_some())
        .map(|(k, _)| k)
        .collect();
    let replaced = prepare_out(out, &exp_value, &merged_keys)?;

    // config.json first: a merge killed half-way leaves a directory that a rerun may replace.
    let config = serde_json::json!({
        "crate_version": env!("CARGO_PKG_VERSION"),
        "git_commit": json::git_commit(),
        MERGED_FROM: read.iter().zip(&input_isas).map(|(i, isas)| serde_json::json!({
            "dir": i.dir.display().to_string(),
            SHARD_KEY: i.config.get(SHARD_KEY).cloned().unwrap_or(Value::Null),
            "git_commit": i.config.get("git_commit").cloned().unwrap_or(Value::Null),
            json::TILES_ISA: match isas.len() {
                1 => Value::from(isas.first().cloned()),
                _ => Value::from(isas.iter().cloned().collect::<Vec<_>>()),
            },
            "runs": i.runs.len(),
        })).collect::<Vec<_>>(),
        json::DATA_FINGERPRINT: fingerprint,
        EXPERIMENT: exp_value,
    });
    let text = serde_json::to_string_pretty(&config).expect("a Value serializes") + "\n";
    write_atomic(&out.join("config.json"), text.as_bytes())?;
    let mut csv_text = format!("{HEADER}\n");
    for (key, m) in grid.iter().zip(&merged) {
        if let Some((_, block)) = m {
            csv_text.push_str(&format_rows(key, block));
        }
    }
    write_atomic(&out.join("results.csv"), csv_text.as_bytes())?;
    let accuracy_table = write_summary(&exp, &field, out)?;

    let missing = grid
        .iter()
        .zip(&merged)
        .filter(|(_, m)| m.is_none())
        .map(|(k, _)| k.clone())
        .collect();
    Ok(MergeOutcome {
        out_dir: out.to_path_buf(),
        field_id: field,
        inputs: read.len(),
        runs: merged_keys.len(),
        total: grid.len(),
        missing,
        replaced,
        warnings,
        accuracy_table,
        experiment: exp,
    })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))
}

/// Make `out` ready for a merge of `experiment` holding `runs`; true if an earlier merge is
/// replaced. Refuses anything but an absent or empty directory or an earlier merge of the same
/// experiment whose runs are all among `runs`.
fn prepare_out(out: &Path, experiment: &Value, runs: &BTreeSet<&RunKey>) -> Result<bool> {
    let refuse = |reason: String| Error::Invalid {
        what: "merge output directory (--out)".into(),
        reason: format!("{}: {reason}", out.display()),
    };
    if !out.exists() {
        fs::create_dir_all(out).map_err(io_err(out))?;
        return Ok(false);
    }
    if !out.is_dir() {
        return Err(refuse("exists and is not a directory".into()));
    }
    if fs::read_dir(out).map_err(io_err(out))?.next().is_none() {
        return Ok(false);
    }
    let config_path = out.join("config.json");
    if !config_path.is_file() {
        return Err(refuse(
            "is not empty and holds no earlier merge (no config.json); choose an empty or new \
             directory"
                .into(),
        ));
    }
    let old = read_json(&config_path)?;
    if old.get(MERGED_FROM).is_none() {
        return Err(refuse(
            "holds the output of an ablation run, not of a merge; a merge never overwrites a \
             run's results: choose another directory"
                .into(),
        ));
    }
    if let Some((key, was, now)) = first_difference(
        &json::resolved(&old[EXPERIMENT]),
        &json::resolved(experiment),
        "",
    ) {
        return Err(refuse(format!(
            "holds a merge of a different experiment: key `{EXPERIMENT}.{key}` was {was}, now \
             {now}; choose another directory"
        )));
    }
    let old_rows = csv::read(&out.join("results.csv"))?;
    if let Some(lost) = old_rows.iter().find(|r| !runs.contains(&r.key)) {
        return Err(refuse(format!(
            "holds an earlier merge with run {} that none of the inputs has; replacing it would \
             lose that run: add the earlier inputs (listed under `{MERGED_FROM}` in its \
             config.json) or the directory itself to the inputs",
            describe(&lost.key)
        )));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        for (s, k, m) in [("0/1", 0, 1), ("3/4", 3, 4), (" 1 / 2 ", 1, 2)] {
            let shard: Shard = s.parse().unwrap();
            assert_eq!((shard.index(), shard.count()), (k, m));
            assert_eq!(shard.to_string(), format!("{k}/{m}"));
        }
        for bad in [
            "0/0", "3/2", "2/2", "x", "1", "1/", "/2", "-1/2", "1/2/3", "",
        ] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(
                e.contains("--shard") && e.contains(&format!("{bad:?}")),
                "{e}"
            );
        }
        assert!(Shard::new(2, 2)
            .unwrap_err()
            .to_string()
            .contains("--shard"));
    }

    #[test]
    fn recorded_shard_reads_absent_as_all() {
        let p = Path::new("config.json");
        assert_eq!(
            recorded_shard(&serde_json::json!({}), p).unwrap(),
            Shard::ALL
        );
        let v = serde_json::json!({ SHARD_KEY: "1/3" });
        assert_eq!(recorded_shard(&v, p).unwrap(), Shard::new(1, 3).unwrap());
        let e = recorded_shard(&serde_json::json!({ SHARD_KEY: 4 }), p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("config.json") && e.contains(SHARD_KEY), "{e}");
    }
}
