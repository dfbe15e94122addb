//! A tiny ablation end to end: all outputs, a resume that recomputes nothing, and a resume
//! after a kill that tore the last line of results.csv.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cortical_priors::ablation::{self, Event};
use cortical_priors::config::{DataSource, Execution, Experiment};
use cortical_priors::report::csv::{self, RunKey, STATUS};
use cortical_priors::report::json;
use cortical_priors::shard::Shard;
use cortical_priors::tasks::TaskKind;

mod common;

fn tiny(data: DataSource) -> Experiment {
    common::tiny_experiment(data, &["WD*C", "W*D*C*"], &[TaskKind::GoNoGo], 2)
}

fn out_dir(name: &str) -> PathBuf {
    common::fresh_dir(name)
}

fn exec(out: &Path) -> Execution {
    common::execution(out, 2)
}

fn quiet(_: &Event) {}

/// Non-timing metric values per run.
fn values(out: &Path) -> BTreeMap<RunKey, BTreeMap<String, u64>> {
    let rows = csv::read(&out.join("results.csv")).unwrap();
    csv::by_run(&rows)
        .into_iter()
        .map(|(k, m)| {
            (
                k,
                m.into_iter()
                    .filter(|(name, _)| !name.starts_with("time_"))
                    .map(|(name, v)| (name, v.to_bits()))
                    .collect(),
            )
        })
        .collect()
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

fn exercise(exp: &Experiment, name: &str) {
    let out = out_dir(name);
    let first = ablation::run(exp, &exec(&out), &quiet).unwrap();
    assert_eq!(
        (first.total, first.skipped, first.ran, first.failed),
        (4, 0, 4, 0)
    );
    for f in ["results.csv", "config.json", "summary.md"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let text = String::from_utf8(read(&out.join("results.csv"))).unwrap();
    assert!(text.starts_with(csv::HEADER));
    let status_rows = text
        .lines()
        .filter(|l| l.contains(&format!(",{STATUS},")))
        .count();
    assert_eq!(status_rows, 4);
    for metric in [
        "test_accuracy",
        "val_loss",
        "modularity",
        "small_worldness",
        "epoch1_val_accuracy",
    ] {
        assert_eq!(
            text.lines()
                .filter(|l| l.contains(&format!(",{metric},")))
                .count(),
            4,
            "{metric}"
        );
    }
    let config: serde_json::Value =
        serde_json::from_slice(&read(&out.join("config.json"))).unwrap();
    assert!(config["git_commit"].is_string() && config["crate_version"].is_string());
    assert_eq!(config["experiment"]["train"]["epochs"], 1);
    let summary = String::from_utf8(read(&out.join("summary.md"))).unwrap();
    assert!(
        summary.contains("| WD*C |")
            && summary.contains("| W*D*C* |")
            && summary.contains("go-no-go")
    );

    // Resume with nothing left to do: no run, every file byte-identical.
    let before: Vec<Vec<u8>> = ["results.csv", "config.json", "summary.md"]
        .iter()
        .map(|f| read(&out.join(f)))
        .collect();
    let again = ablation::run(exp, &exec(&out), &quiet).unwrap();
    assert_eq!((again.skipped, again.ran), (4, 0));
    for (f, b) in ["results.csv", "config.json", "summary.md"]
        .iter()
        .zip(&before)
    {
        assert_eq!(&read(&out.join(f)), b, "{f} changed on a no-op resume");
    }

    // A kill mid-write: the last run's block is cut in the middle of a line.
    let full = values(&out);
    let bytes = &before[0];
    let cut = bytes.len() - 7;
    assert_ne!(bytes[cut - 1], b'\n');
    std::fs::write(out.join("results.csv"), &bytes[..cut]).unwrap();
    let resumed = ablation::run(exp, &exec(&out), &quiet).unwrap();
    assert_eq!((resumed.skipped, resumed.ran), (3, 1));
    let text = String::from_utf8(read(&out.join("results.csv"))).unwrap();
    assert!(text.ends_with('\n'));
    let mut keys: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(&format!(",{STATUS},")))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 4, "each run exactly once");
    assert_eq!(
        text.lines().count(),
        bytes.iter().filter(|&&b| b == b'\n').count()
    );
    // The rerun reproduces the killed run's numbers exactly.
    assert_eq!(values(&out), full);

    // A damaged line in the middle (an edit by hand) is an error naming the line, for a resume
    // and for the report, and the file is left as it was.
    let good = read(&out.join("results.csv"));
    let text = String::from_utf8(good.clone()).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let (head, _) = lines[3].rsplit_once(',').unwrap();
    lines[3] = format!("{head},abc");
    let damaged = lines.join("\n") + "\n";
    std::fs::write(out.join("results.csv"), &damaged).unwrap();
    let err = ablation::run(exp, &exec(&out), &quiet)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("results.csv") && err.contains("line 4 "),
        "{err}"
    );
    assert_eq!(read(&out.join("results.csv")), damaged.as_bytes());
    let err = cortical_priors::report::report(&out, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 4 "), "{err}");
    // A run's metric written twice (two files concatenated, an edit) is refused as well.
    let repeated = text.clone() + text.lines().nth(2).unwrap() + "\n";
    std::fs::write(out.join("results.csv"), &repeated).unwrap();
    let err = cortical_priors::report::report(&out, None)
        .unwrap_err()
        .to_string();
    let last = repeated.lines().count();
    assert!(
        err.contains(&format!("line {last} repeats metric")),
        "{err}"
    );
    std::fs::write(out.join("results.csv"), &good).unwrap();

    // A different configuration is refused, naming the key.
    let mut other = exp.clone();
    other.train.epochs = 2;
    let err = ablation::run(&other, &exec(&out), &quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains("train.epochs"), "{err}");
}

#[test]
fn tiny_ablation_on_synthetic_field() {
    exercise(
        &tiny(DataSource::Synthetic { n: 24, seed: 3 }),
        "ablation-synthetic",
    );
}

#[test]
fn tiny_ablation_on_field_5_3_8() {
    let Some(dir) = cortical_priors::data::default_data_dir().filter(|d| d.join("5_3_8").is_dir())
    else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "CI=true but the MICrONS data (../shared/data/microns or $CORTICAL_DATA) is absent"
            );
        }
        println!(
            "skipped: MICrONS field 5_3_8 not found (../shared/data/microns or $CORTICAL_DATA)"
        );
        return;
    };
    exercise(
        &tiny(DataSource::Dir {
            dir,
            field: "5_3_8".into(),
        }),
        "ablation-5_3_8",
    );
}

#[test]
fn user_errors_are_messages() {
    let out = out_dir("ablation-errors");
    let mut exp = tiny(DataSource::Dir {
        dir: PathBuf::from("/nonexistent/microns"),
        field: "6_6_2".into(),
    });
    let e = ablation::run(&exp, &exec(&out), &quiet)
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/microns"), "{e}");
    exp.data = DataSource::Synthetic { n: 24, seed: 0 };
    exp.simulations = 0;
    let e = ablation::run(&exp, &exec(&out), &quiet)
        .unwrap_err()
        .to_string();
    assert!(e.contains("simulations"), "{e}");
    exp.simulations = 1;
    // An output "directory" that is a file.
    let file = out_dir("ablation-errors-file");
    std::fs::write(&file, b"x").unwrap();
    let e = ablation::run(&exp, &exec(&file), &quiet)
        .unwrap_err()
        .to_string();
    assert!(e.contains("ablation-errors-file"), "{e}");
    // Results without the config that produced them: refused, nothing written.
    let orphan = out_dir("ablation-errors-orphan");
    std::fs::create_dir_all(&orphan).unwrap();
    std::fs::write(orphan.join("results.csv"), b"field,arm\n").unwrap();
    let e = ablation::run(&exp, &exec(&orphan), &quiet)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no config.json"), "{e}");
    assert!(!orphan.join("config.json").exists());
}

/// config.json records the tiles' instruction set; a resume by the same build reports nothing,
/// one by another build (another commit, another or unrecorded instruction set) names what
/// differs and keeps the runs.
#[test]
fn a_resume_by_another_build_is_reported() {
    use std::sync::Mutex;
    let out = out_dir("ablation-other-build");
    let mut exp = tiny(DataSource::Synthetic { n: 16, seed: 5 });
    exp.simulations = 1;
    exp.variants.truncate(1);
    let reports = Mutex::new(Vec::new());
    let record = |e: &Event| {
        if let Event::OtherBuild { changes } = e {
            reports.lock().unwrap().push(changes.clone());
        }
    };
    ablation::run(&exp, &exec(&out), &record).unwrap();
    let path = out.join("config.json");
    let mut doc: serde_json::Value = serde_json::from_slice(&read(&path)).unwrap();
    let isa = cortical_kernels::isa::tiles_isa_name();
    assert_eq!(doc[json::TILES_ISA], isa);
    assert!(["avx512", "avx2", "none"].contains(&isa));
    let commit = doc["git_commit"].as_str().unwrap().to_string();
    ablation::run(&exp, &exec(&out), &record).unwrap();
    assert!(reports.lock().unwrap().is_empty(), "the same build");

    doc["git_commit"] = "0123456789abcdef".into();
    doc.as_object_mut().unwrap().remove(json::TILES_ISA);
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let o = ablation::run(&exp, &exec(&out), &record).unwrap();
    assert_eq!((o.ran, o.skipped), (0, 1));
    let s = |x: &str| x.to_string();
    assert_eq!(
        *reports.lock().unwrap(),
        vec![vec![
            (s("git_commit"), s("0123456789abcdef"), commit.clone()),
            (s(json::TILES_ISA), s("not recorded"), s(isa)),
        ]]
    );
    // The stored record is the build that started the folder's, left as it was.
    let after: serde_json::Value = serde_json::from_slice(&read(&path)).unwrap();
    assert_eq!(after, doc);
}

/// An output folder written before the profile switches existed (no `deviations`, no `grid` in
/// its config.json) resumes: absent fields read as their defaults. A real difference is still
/// refused.
#[test]
fn older_config_without_new_fields_resumes() {
    let out = out_dir("ablation-older-config");
    let mut exp = tiny(DataSource::Synthetic { n: 16, seed: 5 });
    exp.simulations = 1;
    exp.variants.truncate(1);
    ablation::run(&exp, &exec(&out), &quiet).unwrap();
    let path = out.join("config.json");
    let mut doc: serde_json::Value = serde_json::from_slice(&read(&path)).unwrap();
    let e = doc["experiment"].as_object_mut().unwrap();
    assert!(e.remove("deviations").is_some() && e.remove("grid").is_some());
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let o = ablation::run(&exp, &exec(&out), &quiet).unwrap();
    assert_eq!((o.ran, o.skipped), (0, 1));
    exp.deviations.notebook_small_world = true;
    let err = ablation::run(&exp, &exec(&out), &quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains("notebook_small_world"), "{err}");
}

#[test]
fn a_resume_grows_the_grid_to_the_same_numbers_as_a_fresh_run() {
    let mut small = tiny(DataSource::Synthetic { n: 16, seed: 7 });
    small.simulations = 1;
    small.variants.truncate(1);
    let mut big = small.clone();
    big.simulations = 2;
    big.variants.push("W".parse().unwrap());

    let grown_dir = out_dir("ablation-grown");
    ablation::run(&small, &exec(&grown_dir), &quiet).unwrap();
    let small_values = values(&grown_dir);
    let events = std::sync::Mutex::new(Vec::new());
    let o = ablation::run(&big, &exec(&grown_dir), &|e: &Event| {
        if let Event::Grown { keys } = e {
            events.lock().unwrap().push(keys.clone());
        }
    })
    .unwrap();
    assert_eq!((o.total, o.skipped, o.ran), (4, 1, 3));
    assert_eq!(
        events.into_inner().unwrap(),
        vec![vec!["simulations".to_string(), "variants".to_string()]]
    );
    let config: serde_json::Value =
        serde_json::from_slice(&read(&grown_dir.join("config.json"))).unwrap();
    assert_eq!(config["experiment"]["simulations"], 2);
    assert_eq!(
        config["grown_by"][0]["keys"],
        serde_json::json!(["simulations", "variants"])
    );
    assert!(config["grown_by"][0]["git_commit"].is_string());
    assert_eq!(
        config["experiment"]["variants"],
        serde_json::json!(["WD*C", "W"])
    );

    // The grown directory holds exactly what one run of the big grid computes.
    let fresh_dir = out_dir("ablation-grown-fresh");
    ablation::run(&big, &exec(&fresh_dir), &quiet).unwrap();
    let (grown, fresh) = (values(&grown_dir), values(&fresh_dir));
    assert_eq!(grown, fresh);
    for (k, v) in &small_values {
        assert_eq!(fresh.get(k), Some(v), "{k:?} changed by growing");
    }
    // The grown summary is the fresh run's.
    assert_eq!(
        read(&grown_dir.join("summary.md")),
        read(&fresh_dir.join("summary.md"))
    );

    // Now the big grid is recorded: the small one (a shrink) is refused, as is a grown grid
    // that also changes something else.
    let err = ablation::run(&small, &exec(&grown_dir), &quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`simulations` was 2, now 1"), "{err}");
    let mut other = big.clone();
    other.simulations = 3;
    other.train.epochs = 2;
    let err = ablation::run(&other, &exec(&grown_dir), &quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains("train.epochs"), "{err}");

    // A shard's slice depends on the whole grid, so a shard does not grow.
    let shard_dir = out_dir("ablation-grown-shard");
    let half = Shard::new(0, 2).unwrap();
    ablation::run_shard(&small, &exec(&shard_dir), half, &quiet).unwrap();
    let err = ablation::run_shard(&big, &exec(&shard_dir), half, &quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot grow"), "{err}");
}

/// What a user can get wrong in the configuration is refused before anything is written,
/// naming it.
#[test]
fn impossible_configurations_are_refused_before_anything_is_written() {
    let base = tiny(DataSource::Synthetic { n: 20, seed: 1 });
    let out = out_dir("ablation-refusals");
    let refused = |exp: &Experiment, what: &str, needle: &str| {
        let err = ablation::run(exp, &exec(&out), &quiet)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("invalid {what}")) && err.contains(needle),
            "{what}: {err}"
        );
        assert!(!out.exists(), "{what}: {} was created", out.display());
    };
    let mut e = base.clone();
    e.variants.push(e.variants[0]);
    refused(&e, "variants", "listed twice");
    let mut e = base.clone();
    e.tasks = vec![TaskKind::GoNoGo, TaskKind::GoNoGo];
    refused(&e, "tasks", "listed twice");
    let mut e = base.clone();
    e.simulations = usize::MAX;
    refused(&e, "simulations", "runs");
    let mut e = base.clone();
    e.train.epochs = usize::MAX;
    refused(&e, "epochs", "training steps");
    let mut e = base.clone();
    e.nulls = 1 << 40;
    refused(&e, "nulls", "null graphs");
    let mut e = base.clone();
    e.data = DataSource::Synthetic { n: 70_000, seed: 1 };
    refused(&e, "synthetic field size", "N = 70000");
    // A grid tuple: only with the notebook-grid deviation, only with a D variant, and it must
    // hold the field's N points (for a data folder this is found once the field is loaded,
    // still before the output directory is created).
    let mut e = base.clone();
    e.deviations.notebook_grid = true;
    e.grid = Some([4, 5, 1]);
    refused(&e, "grid", "no selected variant uses the grid distance");
    e.variants = vec!["WD".parse().unwrap()];
    e.grid = Some([3, 3, 3]);
    refused(&e, "grid", "N = 20");
    e.grid = Some([usize::MAX, 2, 2]);
    refused(&e, "grid", "N = 20");
    if let Some(dir) =
        cortical_priors::data::default_data_dir().filter(|d| d.join("5_3_8").is_dir())
    {
        let mut e = e.clone();
        e.data = DataSource::Dir {
            dir,
            field: "5_3_8".into(),
        };
        let err = ablation::run(&e, &exec(&out), &quiet)
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not hold exactly"), "{err}");
        assert!(!out.exists());
    }
    let mut x = exec(&out);
    x.threads = 1 << 20;
    let err = ablation::run(&base, &x, &quiet).unwrap_err().to_string();
    assert!(err.contains("invalid threads"), "{err}");

    // An output path that is a file, or a foreign non-empty folder, is refused untouched.
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, "a file").unwrap();
    let err = ablation::run(&base, &exec(&out), &quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not a directory"), "{err}");
    std::fs::remove_file(&out).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("summary.md"), "the user's own notes").unwrap();
    let err = ablation::run(&base, &exec(&out), &quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains("has no config.json"), "{err}");
    assert_eq!(
        std::fs::read_to_string(out.join("summary.md")).unwrap(),
        "the user's own notes"
    );
}

/// The data folder is compared as the folder it is, not as text: a resume that spells it
/// differently (here with a trailing `/.`) resumes instead of being refused, while another
/// folder, or the same folder whose data changed, is refused.
#[test]
fn a_resume_may_spell_the_data_folder_differently() {
    let Some(dir) = cortical_priors::data::default_data_dir().filter(|d| d.join("5_3_8").is_dir())
    else {
        println!(
            "skipped: MICrONS field 5_3_8 not found (../shared/data/microns or $CORTICAL_DATA)"
        );
        return;
    };
    let out = out_dir("ablation-data-spelling");
    let mut exp = tiny(DataSource::Dir {
        dir: dir.clone(),
        field: "5_3_8".into(),
    });
    exp.variants.truncate(1);
    exp.simulations = 1;
    let first = ablation::run(&exp, &exec(&out), &quiet).unwrap();
    assert_eq!(first.ran, 1);
    exp.data = DataSource::Dir {
        dir: dir.join("."),
        field: "5_3_8".into(),
    };
    let again = ablation::run(&exp, &exec(&out), &quiet).unwrap();
    assert_eq!((again.skipped, again.ran), (1, 0));
    // A different folder (holding a copy of the same field) is still a different experiment.
    let other = out_dir("ablation-data-spelling-other");
    std::fs::create_dir_all(other.join("5_3_8")).unwrap();
    for f in std::fs::read_dir(dir.join("5_3_8")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, other.join("5_3_8").join(f.file_name().unwrap())).unwrap();
    }
    exp.data = DataSource::Dir {
        dir: other.clone(),
        field: "5_3_8".into(),
    };
    let err = ablation::run(&exp, &exec(&out), &quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains("data.dir.dir"), "{err}");

    // Data that changed under the same folder (one synapse more in the copy) is refused on
    // resume, naming the field; the results are left as they were.
    let copy_out = out_dir("ablation-data-changed");
    let first = ablation::run(&exp, &exec(&copy_out), &quiet).unwrap();
    assert_eq!(first.ran, 1);
    let before = read(&copy_out.join("results.csv"));
    let csv_path = other.join("5_3_8").join("connectome_5_3_8.csv");
    let text = std::fs::read_to_string(&csv_path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut cells: Vec<String> = lines[1].split(',').map(str::to_string).collect();
    let j = (2..cells.len()).find(|&j| cells[j] == "0").unwrap();
    cells[j] = "1".into();
    lines[1] = cells.join(",");
    std::fs::write(&csv_path, lines.join("\n") + "\n").unwrap();
    let err = ablation::run(&exp, &exec(&copy_out), &quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains("other data") && err.contains("5_3_8"), "{err}");
    assert_eq!(read(&copy_out.join("results.csv")), before);
}
