//! Helpers shared by the integration tests (`mod common;` in a test file).
// Each test binary compiles this module and uses its own subset.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use cortical_priors::config::{DataSource, Execution, Experiment, Parallel, Preset};
use cortical_priors::tasks::TaskKind;
use serde_json::Value;

/// An ablation that runs in seconds in a debug build: the quick preset with 1 epoch of 2
/// batches of 16 trials, 32 trials per split and 5 null graphs.
pub fn tiny_experiment(
    data: DataSource,
    variants: &[&str],
    tasks: &[TaskKind],
    simulations: usize,
) -> Experiment {
    let mut exp = Experiment::preset(Preset::Quick, None);
    exp.data = data;
    exp.variants = variants.iter().map(|v| v.parse().unwrap()).collect();
    exp.tasks = tasks.to_vec();
    exp.simulations = simulations;
    exp.train.epochs = 1;
    exp.train.batch = 16;
    exp.train.batches_per_epoch = 2;
    exp.trials = [32, 32, 32];
    exp.nulls = 5;
    exp
}

/// `rel` under the test build's temporary folder, removed first so that it starts empty.
pub fn fresh_dir(rel: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(rel);
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Runs in parallel on `threads` workers into `out`.
pub fn execution(out: &Path, threads: usize) -> Execution {
    Execution {
        threads,
        out_dir: out.to_path_buf(),
        parallel: Parallel::Runs,
    }
}

/// A JSON reference file under `tests/data/`.
pub fn load_json(rel: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A JSON array of numbers.
pub fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// `f()` in a rayon pool of `threads` threads: inside a kernel team of them when `on_team` (as
/// expm runs its sections), otherwise plain (the kernels then split by rayon's fork/join).
pub fn in_pool<R: Send>(threads: usize, on_team: bool, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
        .install(|| {
            if on_team {
                cortical_kernels::team::with_team(threads, f)
            } else {
                f()
            }
        })
}
