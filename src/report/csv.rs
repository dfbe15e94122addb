//! The tidy results file: one row per (field, arm, variant, task, simulation, metric), appended
//! and flushed run by run, so that a killed ablation loses at most the run in flight.
//!
//! A run's rows are written with one `write_all` and end with its `status` row; a run counts as
//! finished exactly when that row is present. On opening an existing file, a torn last line
//! (no trailing newline: the process died mid-write) and the rows of runs without a `status` row
//! are dropped, by rewriting the file through a temporary and a rename; a file that needs no
//! repair is left byte-for-byte untouched. Any other line that does not parse is an error that
//! names it (see [`parse`]).
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The header of `results.csv`.
pub const HEADER: &str = "field,arm,variant,task,simulation,metric,value";

/// The metric whose row closes a run: 1 = trained to the end, 0 = stopped on a non-finite loss.
pub const STATUS: &str = "status";

/// Identifies one run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunKey {
    pub field: String,
    pub arm: String,
    pub variant: String,
    pub task: String,
    pub simulation: usize,
}

/// One row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub key: RunKey,
    pub metric: String,
    pub value: f64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Format one run's rows (status row last) as CSV lines.
pub fn format_rows(key: &RunKey, rows: &[(String, f64)]) -> String {
    let mut s = String::new();
    for (metric, value) in rows {
        debug_assert!(!metric.contains(',') && !metric.contains('\n'));
        s.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            key.field, key.arm, key.variant, key.task, key.simulation, metric, value
        ));
    }
    s
}

fn parse_line(line: &str) -> Option<Row> {
    let mut it = line.split(',');
    let field = it.next()?.to_string();
    let arm = it.next()?.to_string();
    let variant = it.next()?.to_string();
    let task = it.next()?.to_string();
    let simulation = it.next()?.parse().ok()?;
    let metric = it.next()?.to_string();
    let value = it.next()?.parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    Some(Row {
        key: RunKey {
            field,
            arm,
            variant,
            task,
            simulation,
        },
        metric,
        value,
    })
}

/// Rows of a results file's content, split into those of finished runs and the set of finished
/// runs.
///
/// The first line must be [`HEADER`] and every other line a row, except a torn last line (one
/// without its newline: what a process killed mid-write leaves), which is dropped. Anything else
/// that does not parse (a short or long row, a non-numeric value, a blank line), or that repeats
/// a run's metric, is an error naming its line: such a file was edited or damaged, and silently
/// dropping (or picking one of) the lines would change a run's numbers.
pub fn parse(content: &str) -> std::result::Result<(Vec<Row>, BTreeSet<RunKey>), String> {
    let torn_tail = !content.is_empty() && !content.ends_with('\n');
    let lines: Vec<&str> = content.lines().collect();
    let mut rows = Vec::with_capacity(lines.len().saturating_sub(1));
    let mut seen: std::collections::HashSet<(RunKey, String)> = Default::default();
    for (i, line) in lines.iter().enumerate() {
        let last = i + 1 == lines.len();
        if i == 0 {
            if *line == HEADER || (last && torn_tail && HEADER.starts_with(line)) {
                continue;
            }
            return Err(format!(
                "line 1 is {line:?}, not the header {HEADER:?} (not a results.csv of this crate?)"
            ));
        }
        match parse_line(line) {
            Some(row) => {
                if !seen.insert((row.key.clone(), row.metric.clone())) {
                    return Err(format!(
                        "line {} repeats metric {:?} of run {} {} {} {} simulation {}; each run \
                         writes each metric once — the file was edited or two files were \
                         concatenated",
                        i + 1,
                        row.metric,
                        row.key.field,
                        row.key.arm,
                        row.key.variant,
                        row.key.task,
                        row.key.simulation
                    ));
                }
                rows.push(row)
            }
            None if last && torn_tail => {}
            None => {
                return Err(format!(
                    "line {} is {line:?}, not a row `{HEADER}` (field,arm,variant,task, an \
                     integer simulation, metric, a number); the file was edited or damaged — \
                     fix or delete that line",
                    i + 1
                ))
            }
        }
    }
    let done: BTreeSet<RunKey> = rows
        .iter()
        .filter(|r| r.metric == STATUS)
        .map(|r| r.key.clone())
        .collect();
    let rows = rows.into_iter().filter(|r| done.contains(&r.key)).collect();
    Ok((rows, done))
}

fn format_err(path: &Path) -> impl FnOnce(String) -> Error + '_ {
    move |reason| Error::Format {
        path: path.to_path_buf(),
        reason,
    }
}

/// Read all finished rows of `path` (missing file: none).
pub fn read(path: &Path) -> Result<Vec<Row>> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(parse(&s).map_err(format_err(path))?.0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io(path)(e)),
    }
}

/// `results.csv`, open for appending finished runs.
pub struct ResultsFile {
    path: PathBuf,
    file: File,
    done: BTreeSet<RunKey>,
}

impl ResultsFile {
    /// Open (creating with its header, or repairing as described in the module docs).
    pub fn open(path: &Path) -> Result<Self> {
        let content = match fs::read(path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(path)(e)),
        };
        let done = match content {
            None => {
                let mut f = File::create(path).map_err(io(path))?;
                f.write_all(format!("{HEADER}\n").as_bytes())
                    .map_err(io(path))?;
                BTreeSet::new()
            }
            Some(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let (rows, done) = parse(&text).map_err(format_err(path))?;
                let expected = rebuild(&rows);
                if expected.as_bytes() != bytes.as_slice() {
                    // Keep the surviving lines in their original order: rebuild() already does.
                    let tmp = path.with_extension("csv.tmp");
                    fs::write(&tmp, expected.as_bytes()).map_err(io(&tmp))?;
                    fs::rename(&tmp, path).map_err(io(path))?;
                }
                done
            }
        };
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io(path))?;
        Ok(ResultsFile {
            path: path.to_path_buf(),
            file,
            done,
        })
    }

    /// Runs already finished.
    pub fn done(&self) -> &BTreeSet<RunKey> {
        &self.done
    }

    /// Append one finished run (its rows must end with the `status` row) and flush.
    pub fn append(&mut self, key: &RunKey, rows: &[(String, f64)]) -> Result<()> {
        debug_assert_eq!(rows.last().map(|r| r.0.as_str()), Some(STATUS));
        let text = format_rows(key, rows);
        self.file
            .write_all(text.as_bytes())
            .and_then(|_| self.file.flush())
            .map_err(io(&self.path))?;
        self.done.insert(key.clone());
        Ok(())
    }
}

/// The file content that `rows` (in order) would have been written as.
fn rebuild(rows: &[Row]) -> String {
    let mut s = format!("{HEADER}\n");
    // Group consecutive rows by key so that the text equals what append() wrote.
    let mut i = 0;
    while i < rows.len() {
        let key = &rows[i].key;
        let mut block = Vec::new();
        while i < rows.len() && &rows[i].key == key {
            block.push((rows[i].metric.clone(), rows[i].value));
            i += 1;
        }
        s.push_str(&format_rows(key, &block));
    }
    s
}

/// Rows grouped by run.
pub fn by_run(rows: &[Row]) -> BTreeMap<RunKey, BTreeMap<String, f64>> {
    let mut m: BTreeMap<RunKey, BTreeMap<String, f64>> = BTreeMap::new();
    for r in rows {
        m.entry(r.key.clone())
            .or_default()
            .insert(r.metric.clone(), r.value);
    }
    m
}
