//! `config.json`: everything needed to rerun an ablation, and the guard that stops a resume
//! into a directory made with a different configuration.
use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::config::Experiment;
use crate::error::{Error, Result};

/// The key under which the experiment's configuration sits; only it is compared on resume
/// (the crate version, git commit, thread count and the tiles' instruction set are recorded,
/// not compared: a resume by another build is reported, `crate::ablation::Event::OtherBuild`).
pub const EXPERIMENT: &str = "experiment";

/// The key of the instruction set the kernels' register tiles ran on (`avx512`, `avx2` or
/// `none`: `cortical_kernels::isa`), recorded beside the git commit because the sets' results
/// may differ in the last bits; like the commit it is not compared on resume.
pub const TILES_ISA: &str = "tiles_isa";

/// What a resume's note and a merge's warning name where a config.json records no commit or
/// instruction set (a folder written before the field existed).
pub const NOT_RECORDED: &str = "not recorded";

/// The git commit of the source tree the binary was built from, or "unknown".
pub fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The first key path where `a` and `b` differ, with both values.
pub fn first_difference(a: &Value, b: &Value, path: &str) -> Option<(String, String, String)> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => {
                        if let Some(d) = first_difference(u, v, &p) {
                            return Some(d);
                        }
                    }
                    (u, v) => {
                        let show =
                            |o: Option<&Value>| o.map_or("(absent)".into(), |v| v.to_string());
                        return Some((p, show(u), show(v)));
                    }
                }
            }
            None
        }
        _ if a == b => None,
        _ => Some((path.to_string(), a.to_string(), b.to_string())),
    }
}

/// A stored experiment as this version writes it: read into [`Experiment`] (fields added since
/// it was written take their defaults, e.g. `deviations` all off) and serialized again, so that
/// an output folder of an older version resumes when nothing that matters changed. Left as is
/// when it does not parse.
fn normalized(stored: &Value) -> Value {
    serde_json::from_value::<Experiment>(stored.clone())
        .ok()
        .and_then(|e| serde_json::to_value(e).ok())
        .unwrap_or_else(|| stored.clone())
}

/// An experiment with its data folder resolved to the canonical path when it exists, so that
/// `base`, `./base/` and its absolute path compare as the one folder they are (on resume and
/// in `merge`). The recorded spelling itself is left as the user gave it.
pub fn resolved(experiment: &Value) -> Value {
    let mut v = experiment.clone();
    if let Some(Value::String(d)) = v.pointer_mut("/data/dir/dir") {
        if let Ok(c) = std::fs::canonicalize(&*d) {
            *d = c.to_string_lossy().into_owned();
        }
    }
    v
}

/// The `config.json` key holding [`crate::data::Field::fingerprint`] of the data a folder's
/// runs were computed on, outside the compared experiment section (folders written before it
/// existed lack it and resume as before).
pub const DATA_FINGERPRINT: &str = "data_fingerprint";

/// An error when the two fingerprints are both known and differ.
pub fn check_fingerprints(
    stored: Option<&Value>,
    now: Option<&Value>,
    what: impl FnOnce(String, String) -> Error,
) -> Result<()> {
    match (stored, now) {
        (Some(Value::String(a)), Some(Value::String(b))) if a != b => {
            Err(what(a.clone(), b.clone()))
        }
        _ => Ok(()),
    }
}

/// The keys of an experiment that a resume may grow: more simulations, and more arms, tasks or
/// variants. Run seeds derive from each run's own label ([`crate::ablation::derive_seed`]), so
/// the runs already in `results.csv` are exactly the ones the grown grid would compute: growing
/// adds runs and changes none.
pub const GROWABLE: [&str; 4] = ["simulations", "arms", "tasks", "variants"];

/// The `config.json` key listing each growth of the grid (the keys that grew and the git
/// commit of the build that grew it), outside the compared experiment section.
pub const GROWN_BY: &str = "grown_by";

/// How a resume's experiment relates to the one stored in `config.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resume {
    /// No `config.json` yet: it was written.
    Fresh,
    /// The same experiment.
    Same,
    /// A superset of the stored grid (the keys of [`GROWABLE`] that grew); `config.json` now
    /// records the grown experiment.
    Grown(Vec<String>),
}

/// The stored experiment `old` with each [`GROWABLE`] key taken from `new` where `new` grows
/// it (more simulations; a superset of arms, tasks or variants), and the keys that grew.
fn grown(old: &Value, new: &Value) -> (Value, Vec<String>) {
    let mut adjusted = old.clone();
    let mut keys = Vec::new();
    for key in GROWABLE {
        let (Some(was), Some(now)) = (old.get(key), new.get(key)) else {
            continue;
        };
        let grows = match (was, now) {
            (Value::Number(a), Value::Number(b)) => {
                matches!((a.as_u64(), b.as_u64()), (Some(a), Some(b)) if b > a)
            }
            (Value::Array(a), Value::Array(b)) => {
                b.len() > a.len() && a.iter().all(|x| b.contains(x))
            }
            _ => false,
        };
        if grows {
            adjusted[key] = now.clone();
            keys.push(key.to_string());
        }
    }
    (adjusted, keys)
}

/// How the stored `old` document relates to `config`: `None` the same experiment, `Some(keys)`
/// a grown grid (only with `may_grow`); otherwise the error names the first differing key.
fn compare_stored(
    old: &Value,
    config: &Value,
    dir: &str,
    may_grow: bool,
) -> Result<Option<Vec<String>>> {
    let (stored, new) = (
        resolved(&normalized(&old[EXPERIMENT])),
        resolved(&config[EXPERIMENT]),
    );
    if first_difference(&stored, &new, "").is_none() {
        return Ok(None);
    }
    let (adjusted, keys) = grown(&stored, &new);
    // Name the first difference that is not growth.
    if let Some((key, was, now)) = first_difference(&adjusted, &new, "") {
        return Err(Error::Invalid {
            what: "output directory".into(),
            reason: format!(
                "{dir} holds results of a different configuration: key `{key}` was {was}, now \
                 {now}; choose another output directory (--out) or remove it (a resume may only \
                 grow the grid: more simulations, arms, tasks or variants)"
            ),
        });
    }
    if !may_grow {
        return Err(Error::Invalid {
            what: "output directory".into(),
            reason: format!(
                "{dir} holds a shard; its grid cannot grow (`{}` differs), because the shards' \
                 slices are cut from the whole grid: grow the merged directory instead",
                keys.join("`, `")
            ),
        });
    }
    Ok(Some(keys))
}

/// The JSON document at `path`, `None` when there is no file; an error names the file when it
/// cannot be read or is not JSON.
pub fn read_json(path: &Path) -> Result<Option<Value>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::Format {
            path: path.to_path_buf(),
            reason: format!("not valid JSON ({e})"),
        })
}

/// [`read_json`] of an output folder's `config.json`: a damaged one is an error that says what
/// to do about it.
pub fn read_stored(path: &Path) -> Result<Option<Value>> {
    read_json(path).map_err(|e| match e {
        Error::Format { path, reason } => Error::Format {
            path,
            reason: format!("{reason}; delete it or choose another output directory"),
        },
        e => e,
    })
}

/// What [`write_or_check`] would decide, without writing: an error when `config` cannot resume
/// the folder of `path`.
pub fn check(path: &Path, config: &Value, may_grow: bool) -> Result<()> {
    if let Some(old) = read_stored(path)? {
        let dir = path.parent().unwrap_or(path).display().to_string();
        compare_stored(&old, config, &dir, may_grow)?;
    }
    Ok(())
}

/// Write `config` to `path`, or, if the file exists, check that its `experiment` part equals
/// `config`'s (the error names the first differing key). With `may_grow`, a `config` whose grid
/// is a superset of the stored one ([`GROWABLE`]) is accepted too and the stored experiment is
/// replaced by it (everything else in the file is kept, and the growth is appended to
/// [`GROWN_BY`]); otherwise the file is never rewritten.
pub fn write_or_check(path: &Path, config: &Value, may_grow: bool) -> Result<Resume> {
    let Some(mut old) = read_stored(path)? else {
        let text = serde_json::to_string_pretty(config).expect("a Value serializes");
        fs::write(path, text + "\n").map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        return Ok(Resume::Fresh);
    };
    let dir = path.parent().unwrap_or(path).display().to_string();
    let Some(keys) = compare_stored(&old, config, &dir, may_grow)? else {
        return Ok(Resume::Same);
    };
    old[EXPERIMENT] = config[EXPERIMENT].clone();
    // Which build added runs: the file's own `git_commit` is the one that started the folder.
    let entry = serde_json::json!({ "keys": keys, "git_commit": config["git_commit"] });
    match old.get_mut(GROWN_BY) {
        Some(Value::Array(history)) => history.push(entry),
        _ => old[GROWN_BY] = Value::Array(vec![entry]),
    }
    let text = serde_json::to_string_pretty(&old).expect("a Value serializes");
    fs::write(path, text + "\n").map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Resume::Grown(keys))
}
