//! `ablation report` on a tiny real ablation: every figure is well-formed SVG with one data
//! mark per run, the seed-compatible export holds exactly results.csv's values, a failed run is
//! left out of the figures and named, and a directory without results.csv is a typed error.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cortical_priors::ablation::{self, Event};
use cortical_priors::config::{DataSource, Experiment};
use cortical_priors::report::csv::{self, RunKey, STATUS};
use cortical_priors::report::export::SEED_METRICS;
use cortical_priors::report::figures::TOPOLOGY;
use cortical_priors::report::{self, ReportOutcome};
use cortical_priors::tasks::TaskKind;
use cortical_priors::Error;

mod common;

const VARIANTS: [&str; 2] = ["W*D*C", "WD*"];
const SIMS: usize = 3;

/// 2 variants × 2 tasks × 3 simulations (the fewest that get a CI band), 1 epoch, on the synthetic field. The variants are
/// listed against the paper's order so that the export's column order is tested.
fn tiny() -> Experiment {
    common::tiny_experiment(
        DataSource::Synthetic { n: 24, seed: 5 },
        &[VARIANTS[1], VARIANTS[0]],
        &[TaskKind::PerceptualDecision, TaskKind::OneChoice],
        SIMS,
    )
}

fn fresh(name: &str) -> PathBuf {
    common::fresh_dir(name)
}

/// The tiny ablation, run once and copied for each test that changes it.
fn ablation_dir() -> PathBuf {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let out = fresh("report-ablation");
        let exec = common::execution(&out, 2);
        let done = ablation::run(&tiny(), &exec, &|_: &Event| {}).unwrap();
        assert_eq!((done.ran, done.failed), (12, 0));
        out
    })
    .clone()
}

fn copy_of(name: &str) -> PathBuf {
    let d = fresh(name);
    std::fs::create_dir_all(&d).unwrap();
    for f in ["results.csv", "config.json"] {
        std::fs::copy(ablation_dir().join(f), d.join(f)).unwrap();
    }
    d
}

/// Parse an SVG and count its elements by tag name.
fn svg_tags(path: &Path) -> (BTreeMap<String, usize>, String) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{} is not well-formed XML: {e}", path.display()));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let mut tags = BTreeMap::new();
    let mut texts = String::new();
    for n in doc.descendants().filter(|n| n.is_element()) {
        *tags.entry(n.tag_name().name().to_string()).or_insert(0) += 1;
        if n.tag_name().name() == "text" {
            texts.push_str(n.text().unwrap_or(""));
            texts.push('\n');
        }
    }
    (tags, texts)
}

fn expected_figures(dir: &Path) -> Vec<PathBuf> {
    let f = dir.join("figures");
    let mut v = vec![
        f.join("test-accuracy_free-corr-sttc.svg"),
        f.join("learning-curves_free-corr-sttc.svg"),
    ];
    for t in TOPOLOGY {
        v.push(f.join(format!("{}-vs-accuracy_free-corr-sttc.svg", t.stem)));
    }
    v
}

/// Trained runs whose test accuracy and `metric` are both finite: the points a scatter shows.
fn plottable(dir: &Path, metric: &str) -> usize {
    let rows = csv::read(&dir.join("results.csv")).unwrap();
    csv::by_run(&rows)
        .values()
        .filter(|m| m[STATUS] == 1.0)
        .filter(|m| m["test_accuracy"].is_finite() && m[metric].is_finite())
        .count()
}

/// The metric a figure plots against accuracy (test accuracy itself for the box plot).
fn metric_of(figure: &Path) -> &'static str {
    let name = figure.file_name().unwrap().to_string_lossy();
    TOPOLOGY
        .iter()
        .find(|t| name.starts_with(&format!("{}-vs", t.stem)))
        .map_or("test_accuracy", |t| t.metric)
}

fn run_report(dir: &Path) -> ReportOutcome {
    report::report(dir, None).unwrap()
}

#[test]
fn figures_export_and_summary_of_a_tiny_ablation() {
    let dir = copy_of("report-ok");
    let out = run_report(&dir);
    let runs = VARIANTS.len() * 2 * SIMS;
    // The only exclusions are non-finite metric values (σ is infinite or undefined on some of
    // these tiny graphs), each counted and named.
    for l in &out.excluded {
        assert!(l.contains("non-finite"), "{l}");
    }

    // Figures: all there, well-formed, one circle per run, titled and labelled.
    let expected = expected_figures(&dir);
    assert_eq!(out.figures, expected);
    for f in &expected {
        let (tags, texts) = svg_tags(f);
        assert!(
            texts.contains("synthetic field synthetic-n24-seed5"),
            "{}",
            f.display()
        );
        assert!(texts.contains("arm free/corr-sttc"), "{}", f.display());
        for task in [
            "One-Choice Inference (Task1)",
            "Perceptual Decision-Making (Task3)",
        ] {
            assert!(texts.contains(task), "{} lacks {task}", f.display());
        }
        let circles = tags.get("circle").copied().unwrap_or(0);
        if f.to_string_lossy().contains("learning-curves") {
            // No circles; per (task, train/val, variant): one line and, with 3 simulations,
            // one CI band.
            assert_eq!(circles, 0);
            assert_eq!(
                tags.get("polygon").copied().unwrap_or(0),
                2 * 2 * VARIANTS.len()
            );
            assert!(texts.contains("training accuracy") && texts.contains("validation accuracy"));
            assert!(texts.contains("epoch"));
        } else {
            let shown = plottable(&dir, metric_of(f));
            assert_eq!(circles, shown, "{}", f.display());
            if shown < runs {
                assert!(
                    texts.contains(&format!(
                        "{} trained run(s) with a non-finite",
                        runs - shown
                    )),
                    "{} does not say what it left out:\n{texts}",
                    f.display()
                );
            }
            assert!(texts.contains("test accuracy (fraction correct)"));
        }
    }
    assert_eq!(plottable(&dir, "test_accuracy"), runs);
    let (_, acc_texts) = svg_tags(&expected[0]);
    // Variants along the axis in the paper's order (W*D*C before WD*).
    let a = acc_texts.find("W*D*C\n").unwrap();
    let b = acc_texts.find("WD*\n").unwrap();
    assert!(a < b, "{acc_texts}");
    let (_, ent_texts) = svg_tags(&expected[5]);
    assert!(ent_texts.contains("(bits)"));

    // Export: the seed's layout, header, one row per simulation, values = results.csv's.
    let rows = csv::read(&dir.join("results.csv")).unwrap();
    let runs_map = csv::by_run(&rows);
    let root = dir.join("export/synthetic-n24-seed5_sttc-corr");
    assert_eq!(out.exports.len(), 2 * SEED_METRICS.len());
    for (task, folder) in [
        (TaskKind::OneChoice, "Task1"),
        (TaskKind::PerceptualDecision, "Task3"),
    ] {
        assert!(!root.join("Task2").exists());
        for (stem, metric) in SEED_METRICS {
            let path = root.join(folder).join(format!("{stem}_raw.csv"));
            let text = std::fs::read_to_string(&path).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines[0], "simulation,W*D*C,WD*", "{}", path.display());
            assert_eq!(lines.len(), 1 + SIMS);
            for (sim, line) in lines[1..].iter().enumerate() {
                let cells: Vec<&str> = line.split(',').collect();
                assert_eq!(cells[0], sim.to_string());
                for (v, cell) in VARIANTS.iter().zip(&cells[1..]) {
                    let key = RunKey {
                        field: "synthetic-n24-seed5".into(),
                        arm: "free/corr-sttc".into(),
                        variant: v.to_string(),
                        task: task.name().into(),
                        simulation: sim,
                    };
                    let want = runs_map[&key][metric];
                    if want.is_nan() {
                        // pandas' spelling of NaN: an empty cell.
                        assert_eq!(*cell, "", "{} {v} sim {sim}", path.display());
                    } else {
                        let got: f64 = cell.parse().unwrap();
                        assert_eq!(
                            got.to_bits(),
                            want.to_bits(),
                            "{} {v} sim {sim}",
                            path.display()
                        );
                    }
                }
            }
        }
    }
    // Accuracy is the notebook's last-epoch TRAINING accuracy.
    let acc = std::fs::read_to_string(root.join("Task1/Accuracy_raw.csv")).unwrap();
    let key = RunKey {
        field: "synthetic-n24-seed5".into(),
        arm: "free/corr-sttc".into(),
        variant: "W*D*C".into(),
        task: TaskKind::OneChoice.name().into(),
        simulation: 0,
    };
    let first: f64 = acc
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(first, runs_map[&key]["epoch1_train_accuracy"]);

    // summary.md is regenerated from results.csv.
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(summary.contains("| W*D*C |") && summary.contains("| WD* |"));
    assert!(summary.find("| W*D*C |") < summary.find("| WD* |"));
    assert!(summary.contains("(n=3)"));

    // --out elsewhere leaves the ablation directory alone.
    let other = fresh("report-ok-elsewhere");
    let out2 = report::report(&dir, Some(&other)).unwrap();
    assert_eq!(out2.figures, expected_figures(&other));
    for (a, b) in out.figures.iter().zip(&out2.figures) {
        assert_eq!(
            std::fs::read(a).unwrap(),
            std::fs::read(b).unwrap(),
            "not deterministic"
        );
    }
}

#[test]
fn a_failed_run_is_left_out_and_named() {
    let dir = copy_of("report-failed");
    // Replace one finished run by a run that stopped on a non-finite loss, as the driver
    // writes it: curves up to the failure, no final metrics, status 0.
    let path = dir.join("results.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let victim = "synthetic-n24-seed5,free/corr-sttc,WD*,perceptual-decision-making,1,";
    let mut kept: Vec<&str> = text.lines().filter(|l| !l.starts_with(victim)).collect();
    assert!(text.lines().count() - kept.len() > 10);
    let failed = [
        format!("{victim}failed_epoch,1"),
        format!("{victim}failed_batch,2"),
        format!("{victim}time_run_s,0.1"),
        format!("{victim}{STATUS},0"),
    ];
    kept.extend(failed.iter().map(String::as_str));
    std::fs::write(&path, kept.join("\n") + "\n").unwrap();

    let out = run_report(&dir);
    let failed: Vec<&String> = out
        .excluded
        .iter()
        .filter(|l| l.contains("left out:"))
        .collect();
    assert_eq!(failed.len(), 1, "{:?}", out.excluded);
    assert!(failed[0].contains("WD* perceptual-decision-making simulation 1"));
    for f in expected_figures(&dir) {
        let (tags, texts) = svg_tags(&f);
        assert!(
            texts.contains("left out: WD* perceptual-decision-making simulation 1 — non-finite loss at epoch 1 batch 2"),
            "{} does not say it left the failed run out:\n{texts}",
            f.display()
        );
        let circles = tags.get("circle").copied().unwrap_or(0);
        if f.to_string_lossy().contains("learning-curves") {
            // WD* on Task3 has two simulations left: lines but no bands (MIN_BAND_N = 3).
            assert_eq!(
                tags.get("polygon").copied().unwrap_or(0),
                2 * 2 * VARIANTS.len() - 2
            );
        } else {
            // plottable() reads the edited results.csv: the failed run is not among them.
            assert_eq!(circles, plottable(&dir, metric_of(&f)), "{}", f.display());
        }
    }
    // The export keeps the row, with empty (NaN) cells for the failed run.
    assert_eq!(
        plottable(&dir, "test_accuracy"),
        VARIANTS.len() * 2 * SIMS - 1
    );
    let acc = std::fs::read_to_string(
        dir.join("export/synthetic-n24-seed5_sttc-corr/Task3/Accuracy_raw.csv"),
    )
    .unwrap();
    let row1 = acc.lines().nth(2).unwrap();
    assert!(row1.starts_with("1,") && row1.ends_with(','), "{row1}");
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(summary.contains("## Failed runs") && summary.contains("(n=2)"));
}

#[test]
fn a_directory_without_results_is_a_typed_error() {
    let dir = fresh("report-empty");
    std::fs::create_dir_all(&dir).unwrap();
    let err = report::report(&dir, None).unwrap_err();
    match &err {
        Error::MissingFile { path, .. } => assert_eq!(path, &dir.join("results.csv")),
        other => panic!("expected MissingFile, got {other:?}"),
    }
    assert!(err.to_string().contains("results.csv"), "{err}");
    // results.csv without config.json names config.json.
    std::fs::write(dir.join("results.csv"), format!("{}\n", csv::HEADER)).unwrap();
    let err = report::report(&dir, None).unwrap_err().to_string();
    assert!(err.contains("config.json"), "{err}");
    assert!(!dir.join("figures").exists());
}

#[test]
fn export_is_byte_for_byte_what_pandas_writes() {
    // tests/data/report_export/results.csv: a tiny ablation's output (with σ = +∞ and NaN
    // cells) in which one run was turned into a failed one; expected/ holds pandas' own
    // `to_csv` of the seed's tables (make_expected.py beside it).
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/report_export");
    let dir = fresh("report-pandas");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(data.join("results.csv"), dir.join("results.csv")).unwrap();
    let exec = common::execution(&dir, 1);
    let config = ablation::config_document(&tiny(), &exec);
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let out = report::report(&dir, None).unwrap();
    assert_eq!(out.exports.len(), 16);
    for path in &out.exports {
        let rel = path.strip_prefix(dir.join("export")).unwrap();
        let want = std::fs::read_to_string(data.join("expected").join(rel))
            .unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
        let got = std::fs::read_to_string(path).unwrap();
        assert_eq!(got, want, "{}", rel.display());
    }
}
