//! `config.json`: everything needed to rerun an ablation, and the guard that stops a resume
//! into a directory made with a different configuration.
use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::config::Experiment;
use crate::error::{Error, Result};

/// The key under which the experiment's configuration sits; only it is compared on resume
/// (the crate version, git commit and thread count may change without changing results).
pub const EXPERIMENT: &str = "experiment";

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

/// Write `config` to `path`, or, if the file exists, check that its `experiment` part equals
/// `config`'s (the error names the first differing key). The file is never rewritten, so a
/// resume leaves it untouched.
pub fn write_or_check(path: &Path, config: &Value) -> Result<()> {
    match fs::read_to_string(path) {
        Ok(text) => {
            let old: Value = serde_json::from_str(&text).map_err(|e| Error::Format {
                path: path.to_path_buf(),
                reason: format!(
                    "not valid JSON ({e}); delete it or choose another output directory"
                ),
            })?;
            let (a, b) = (normalized(&old[EXPERIMENT]), &config[EXPERIMENT]);
            if let Some((key, was, now)) = first_difference(&a, b, "") {
                return Err(Error::Invalid {
                    what: "output directory".into(),
                    reason: format!(
                        "{} holds results of a different configuration: key `{key}` was {was}, \
                         now {now}; choose another output directory (--out) or remove it",
                        path.parent().unwrap_or(path).display()
                    ),
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let text = serde_json::to_string_pretty(config).expect("a Value serializes");
            fs::write(path, text + "\n").map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })
        }
        Err(source) => Err(Error::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}
