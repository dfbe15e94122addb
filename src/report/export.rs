//! The seed-compatible export: the per-task `*_raw.csv` tables that the paper's statistics
//! notebooks (`neurovium/CorticalBlueprintRNN`, `StatisticalAnalysis/`) read, so that they run
//! on our output unchanged.
//!
//! # Layout, as the seed's training notebook writes it
//!
//! `Model/CorticalBlueprintRNN.ipynb`, cells "Simulation Parameters" and "Save":
//!
//! ```text
//! export/<field>_sttc[-corr|-precision][_sign+]/Task{1,2,3}/<Metric>_raw.csv
//! ```
//!
//! * Folder: `base = f'{session}_{scan}_{field}_sttc'`, then `-precision` or `-corr` unless
//!   `use_only_sttc`, then `_sign+` if `sign_constraint`. Our arms map as
//!   `free/corr-sttc` → `<field>_sttc-corr`, `free/precision-sttc` → `<field>_sttc-precision`,
//!   `free/sttc` → `<field>_sttc`, and `nonneg/…` → the same with `_sign+` appended
//!   (e.g. `6_6_2_sttc-corr_sign+`). `<field>` is our field id (`6_6_2`, or
//!   `synthetic-n64-seed0` for the built-in field).
//! * Task folders: the notebook's numbering, Task1 = One-Choice Inference, Task2 = Go/NoGo,
//!   Task3 = Perceptual Decision-Making ([`TaskKind::notebook_name`]).
//! * Table: `pd.DataFrame({variant: [value per simulation]})` with `index.name = 'simulation'`,
//!   written by `to_csv(index=True)`: header `simulation,<variant>,…`, one row per simulation
//!   `0, 1, …`, columns = variants in the notebook's `regularizers` order, which is the paper's
//!   (`W*D*C, WD*C, WDC, WD*, WD, W, W*D*C*, WD*C*, W*DC*, W!D*C, W!D*C*`; variants outside the
//!   paper's eleven follow). The statistics notebooks read these tables with the variants as
//!   columns (their `df.columns` are the eleven names), whatever their wiki says about rows.
//! * Missing values: pandas writes NaN as an empty cell (`na_rep=''`) and reads it back as NaN;
//!   we do the same for runs that failed (non-finite loss: no final metrics) or have not run yet.
//!   Numbers are written as Python's `repr` would up to the exponent's spelling (`0.5`, `1.0`,
//!   `1e-7`), i.e. the shortest text that parses back to the same f64.
//!
//! # Metrics
//!
//! The notebook's `model_metrics` takes Keras's `history[...][-1]`, i.e. the LAST EPOCH:
//!
//! | file | notebook | our `results.csv` metric |
//! |---|---|---|
//! | `Accuracy_raw.csv` | `history['accuracy'][-1]`: last-epoch **training** accuracy (running mean over the epoch's batches, input noise on) | `train_accuracy` |
//! | `Loss_raw.csv` | `history['loss'][-1]`: last-epoch training loss, regularizer included | `train_loss` |
//! | `Validation_Accuracy_raw.csv` | `history['val_accuracy'][-1]` | `val_accuracy` |
//! | `Validation_Loss_raw.csv` | `history['val_loss'][-1]` (regularizer included) | `val_loss` |
//! | `Modularity_raw.csv` | `q_stat` | `modularity` |
//! | `SmallWorldness_raw.csv` | `smw` | `small_worldness` |
//! | `Assortativity_raw.csv` | `degree_assortativity` | `assortativity` |
//! | `Entropy_raw.csv` | `entropy_weight` | `entropy` |
//!
//! So `Accuracy` is the training accuracy the published Tables 2 and 3 report, not our
//! `test_accuracy` (which the paper's text describes and our figures and summary show).
use std::path::{Path, PathBuf};

use super::csv::RunKey;
use super::{io_err, Results};
use crate::error::Result;
use crate::tasks::TaskKind;
use crate::variants::{Arm, Sign, Source};

/// The eight tables per task: (seed file stem, our metric), in the notebook's `metrics` order.
pub const SEED_METRICS: [(&str, &str); 8] = [
    ("Accuracy", "train_accuracy"),
    ("Loss", "train_loss"),
    ("Validation_Accuracy", "val_accuracy"),
    ("Validation_Loss", "val_loss"),
    ("Modularity", "modularity"),
    ("SmallWorldness", "small_worldness"),
    ("Assortativity", "assortativity"),
    ("Entropy", "entropy"),
];

/// The seed's output folder name of `field` under `arm` (see the module docs).
pub fn seed_folder(field: &str, arm: &Arm) -> String {
    let source = match arm.source {
        Source::CorrSttc => "sttc-corr",
        Source::PrecisionSttc => "sttc-precision",
        Source::Sttc => "sttc",
    };
    let sign = match arm.sign {
        Sign::Unconstrained => "",
        Sign::NonNegative => "_sign+",
    };
    format!("{field}_{source}{sign}")
}

/// A value as pandas' `to_csv` writes a float column: NaN empty, ±inf as `inf`/`-inf`, finite
/// values in their shortest round-trip form with a `.0` on integers.
pub fn pandas_float(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else {
        // Rust's Debug of f64 is the shortest round-trip text, with `.0` on integral values
        // and `inf`/`-inf` for infinities, as Python's repr.
        format!("{x:?}")
    }
}

/// One `<Metric>_raw.csv` table: header and one line per simulation `0..simulations`.
pub fn raw_table(
    res: &Results,
    field: &str,
    arm: &str,
    task: TaskKind,
    variants: &[String],
    metric: &str,
) -> String {
    let mut s = String::from("simulation");
    for v in variants {
        s.push(',');
        s.push_str(v);
    }
    s.push('\n');
    for sim in 0..res.exp.simulations {
        s.push_str(&sim.to_string());
        for v in variants {
            let key = RunKey {
                field: field.to_string(),
                arm: arm.to_string(),
                variant: v.clone(),
                task: task.name().to_string(),
                simulation: sim,
            };
            let x = res
                .runs
                .get(&key)
                .filter(|m| super::trained(m))
                .and_then(|m| m.get(metric).copied())
                .unwrap_or(f64::NAN);
            s.push(',');
            s.push_str(&pandas_float(x));
        }
        s.push('\n');
    }
    s
}

/// Write every table of every (field, arm, task) under `dir`; returns the files written.
pub fn write_all(res: &Results, dir: &Path) -> Result<Vec<PathBuf>> {
    let variants = res.variant_order();
    let mut fields = res.fields();
    if fields.is_empty() {
        fields.push(super::configured_field(&res.exp));
    }
    let mut written = Vec::new();
    for field in &fields {
        for arm in &res.exp.arms {
            let arm_name = arm.to_string();
            for task in res.tasks() {
                let folder = dir.join(seed_folder(field, arm)).join(task.notebook_name());
                std::fs::create_dir_all(&folder).map_err(io_err(&folder))?;
                for (stem, metric) in SEED_METRICS {
                    let path = folder.join(format!("{stem}_raw.csv"));
                    let text = raw_table(res, field, &arm_name, task, &variants, metric);
                    std::fs::write(&path, text).map_err(io_err(&path))?;
                    written.push(path);
                }
            }
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_follow_the_notebook() {
        let f = |s: &str| seed_folder("6_6_2", &s.parse().unwrap());
        assert_eq!(f("free/corr-sttc"), "6_6_2_sttc-corr");
        assert_eq!(f("nonneg/corr-sttc"), "6_6_2_sttc-corr_sign+");
        assert_eq!(f("free/precision-sttc"), "6_6_2_sttc-precision");
        assert_eq!(f("nonneg/precision-sttc"), "6_6_2_sttc-precision_sign+");
        assert_eq!(f("free/sttc"), "6_6_2_sttc");
        assert_eq!(f("nonneg/sttc"), "6_6_2_sttc_sign+");
    }

    #[test]
    fn floats_as_pandas_writes_them() {
        assert_eq!(pandas_float(0.5), "0.5");
        assert_eq!(pandas_float(1.0), "1.0");
        assert_eq!(pandas_float(f64::NAN), "");
        assert_eq!(pandas_float(f64::INFINITY), "inf");
        for x in [0.1 + 0.2, 1.0 / 3.0, 2.5e-7, 123456.789] {
            assert_eq!(
                pandas_float(x).parse::<f64>().unwrap().to_bits(),
                x.to_bits()
            );
        }
    }
}
