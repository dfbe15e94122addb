//! Scale-out: shards of a tiny grid are disjoint and cover it, their merge equals the unsharded
//! run (same rows, same values), and the merge refuses what cannot be combined.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cortical_priors::ablation::{self, Event};
use cortical_priors::config::{DataSource, Execution, Experiment, Preset};
use cortical_priors::report::csv::{self, RunKey};
use cortical_priors::report::json::TILES_ISA;
use cortical_priors::shard::{self, Shard};
use cortical_priors::tasks::TaskKind;
use cortical_priors::variants::Variant;
use cortical_priors::Error;

mod common;

/// 2 variants × 1 task × 2 simulations = 4 runs, seconds in debug.
fn tiny() -> Experiment {
    common::tiny_experiment(
        DataSource::Synthetic { n: 24, seed: 3 },
        &["WD*C", "W*D*C*"],
        &[TaskKind::GoNoGo],
        2,
    )
}

fn dir(name: &str) -> PathBuf {
    common::fresh_dir(&format!("shard/{name}"))
}

fn exec(out: &Path, threads: usize) -> Execution {
    common::execution(out, threads)
}

fn quiet(_: &Event) {}

fn text(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&text(p)).unwrap()
}

/// The finished runs of a results directory.
fn runs(out: &Path) -> BTreeSet<RunKey> {
    csv::by_run(&csv::read(&out.join("results.csv")).unwrap())
        .into_keys()
        .collect()
}

/// The lines of results.csv without the timings (the only values that differ between two
/// executions of the same run), sorted: the row set to compare.
fn row_set(out: &Path) -> Vec<String> {
    let mut lines: Vec<String> = text(&out.join("results.csv"))
        .lines()
        .filter(|l| l.split(',').nth(5).is_some_and(|m| !m.starts_with("time_")))
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

fn grid_keys(exp: &Experiment) -> BTreeSet<RunKey> {
    let field = shard::field_id(&exp.data);
    ablation::enumerate(exp)
        .iter()
        .map(|r| r.key(&field))
        .collect()
}

#[test]
fn shards_partition_every_grid_and_mix_variants() {
    // The paper's grid: 2 arms × 20 simulations × 3 tasks × 11 variants = 1320 runs.
    let mut exp = Experiment::preset(Preset::Paper, None);
    exp.arms = vec![
        "free/corr-sttc".parse().unwrap(),
        "nonneg/sttc".parse().unwrap(),
    ];
    let grid = ablation::enumerate(&exp);
    assert_eq!(grid.len(), 1320);
    let emd: BTreeSet<String> = exp
        .variants
        .iter()
        .filter(|v| v.needs_c_emp())
        .map(Variant::to_string)
        .collect();
    assert!(!emd.is_empty());
    for m in [1, 2, 3, 7, 11, 33, 64, 1320, 2000] {
        let mut seen = vec![0usize; grid.len()];
        let mut sizes = Vec::new();
        for k in 0..m {
            let part = Shard::new(k, m).unwrap().select(&grid);
            sizes.push(part.len());
            // In grid order, each run at most once.
            let idx: Vec<usize> = part
                .iter()
                .map(|r| grid.iter().position(|g| g == r).unwrap())
                .collect();
            assert!(idx.windows(2).all(|w| w[0] < w[1]), "M={m} K={k}");
            for i in idx {
                seen[i] += 1;
            }
            // Every shard of a real split mixes variants, and cheap with EMD ones: with
            // `index mod M`, M = 11 or 33 would give each shard a single variant.
            if part.len() >= 20 {
                let variants: BTreeSet<String> =
                    part.iter().map(|r| r.variant.to_string()).collect();
                assert!(variants.len() >= 5, "M={m} K={k}: {variants:?}");
                assert!(
                    variants.iter().any(|v| emd.contains(v))
                        && variants.iter().any(|v| !emd.contains(v)),
                    "M={m} K={k}"
                );
            }
        }
        assert!(seen.iter().all(|&c| c == 1), "M={m}: not a partition");
        let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(hi - lo <= 1, "M={m}: sizes {lo}..{hi}");
    }
    // Deterministic: the same split twice.
    let s = Shard::new(3, 7).unwrap();
    assert_eq!(s.select(&grid), s.select(&grid));
}

#[test]
fn shards_merge_into_the_unsharded_run() {
    let exp = tiny();
    let grid = grid_keys(&exp);
    assert_eq!(grid.len(), 4);

    let whole = dir("whole");
    let w = ablation::run(&exp, &exec(&whole, 2), &quiet).unwrap();
    assert_eq!((w.total, w.ran, w.failed), (4, 4, 0));

    let s: Vec<PathBuf> = (0..2).map(|k| dir(&format!("s{k}"))).collect();
    let mut parts = Vec::new();
    for (k, out) in s.iter().enumerate() {
        // One thread here, two for the whole run: the numbers must not depend on it.
        let o =
            ablation::run_shard(&exp, &exec(out, 1), Shard::new(k, 2).unwrap(), &quiet).unwrap();
        // 4 runs dealt to 2 shards: 2 each.
        assert_eq!((o.total, o.ran, o.failed), (2, 2, 0));
        let config = json(&out.join("config.json"));
        assert_eq!(config[shard::SHARD_KEY], format!("{k}/2"));
        parts.push(runs(out));
    }
    // Disjoint, and together the grid.
    assert!(parts[0].is_disjoint(&parts[1]));
    assert_eq!(&parts[0] | &parts[1], grid);
    // Same experiment section in both shards and the whole run: mergeable.
    let exp_of = |d: &Path| json(&d.join("config.json"))["experiment"].clone();
    assert_eq!(exp_of(&s[0]), exp_of(&s[1]));
    assert_eq!(exp_of(&s[0]), exp_of(&whole));
    assert_eq!(json(&whole.join("config.json"))[shard::SHARD_KEY], "0/1");

    // Resume of a shard: nothing to do, results untouched.
    let before = text(&s[0].join("results.csv"));
    let again =
        ablation::run_shard(&exp, &exec(&s[0], 1), Shard::new(0, 2).unwrap(), &quiet).unwrap();
    assert_eq!((again.ran, again.skipped), (0, parts[0].len()));
    assert_eq!(text(&s[0].join("results.csv")), before);
    // Another shard (or the whole grid) into a shard's directory: refused, naming --shard.
    for other in [
        Shard::new(1, 2).unwrap(),
        Shard::ALL,
        Shard::new(0, 3).unwrap(),
    ] {
        let e = ablation::run_shard(&exp, &exec(&s[0], 1), other, &quiet)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--shard") && e.contains("shard 0/2"), "{e}");
    }

    // The merge: same row set and values as the unsharded run, byte for byte.
    let merged = dir("merged");
    let m = shard::merge(&s, &merged).unwrap();
    assert_eq!((m.inputs, m.runs, m.total), (2, 4, 4));
    assert!(m.missing.is_empty() && !m.replaced && m.warnings.is_empty());
    assert_eq!(row_set(&merged), row_set(&whole));
    assert_eq!(runs(&merged), grid);
    // Everything but the timings, bit for bit (summary.md holds no timing).
    assert_eq!(
        text(&merged.join("summary.md")),
        text(&whole.join("summary.md"))
    );
    let mc = json(&merged.join("config.json"));
    assert_eq!(mc["experiment"], exp_of(&whole));
    assert_eq!(mc[shard::MERGED_FROM].as_array().unwrap().len(), 2);
    assert_eq!(mc[shard::MERGED_FROM][1][shard::SHARD_KEY], "1/2");
    let isa = cortical_kernels::isa::tiles_isa_name();
    assert_eq!(mc[shard::MERGED_FROM][1][TILES_ISA], isa);

    // Shards computed on different instruction sets of the tiles merge with a warning naming
    // both (their results may differ in the last bits).
    let config1 = s[1].join("config.json");
    let kept = text(&config1);
    let mut c1 = json(&config1);
    let other = if isa == "avx2" { "avx512" } else { "avx2" };
    c1[TILES_ISA] = other.into();
    std::fs::write(&config1, serde_json::to_string_pretty(&c1).unwrap()).unwrap();
    let two_sets = dir("merged-two-sets");
    let m2 = shard::merge(&s, &two_sets).unwrap();
    assert_eq!(m2.warnings.len(), 1, "{:?}", m2.warnings);
    assert!(
        m2.warnings[0].contains("instruction sets")
            && m2.warnings[0].contains(isa)
            && m2.warnings[0].contains(other),
        "{}",
        m2.warnings[0]
    );
    // A merge's output records no set of its own: merged again, the sets of its inputs count
    // (both named, not "not recorded"), and the new merge records both for that input.
    let remerged = dir("merged-two-sets-again");
    let m3 = shard::merge(std::slice::from_ref(&two_sets), &remerged).unwrap();
    assert_eq!(m3.warnings.len(), 1, "{:?}", m3.warnings);
    assert!(
        m3.warnings[0].contains(isa)
            && m3.warnings[0].contains(other)
            && !m3.warnings[0].contains("not recorded"),
        "{}",
        m3.warnings[0]
    );
    let mut both = vec![isa, other];
    both.sort();
    assert_eq!(
        json(&remerged.join("config.json"))[shard::MERGED_FROM][0][TILES_ISA],
        serde_json::json!(both)
    );
    std::fs::write(&config1, kept).unwrap();

    // Canonical order: the merge of the whole run alone has the same line sequence (timings
    // aside) as the merge of the shards, whatever order the runs finished in.
    let canon = dir("canonical");
    shard::merge(std::slice::from_ref(&whole), &canon).unwrap();
    let no_time = |d: &Path| -> Vec<String> {
        text(&d.join("results.csv"))
            .lines()
            .filter(|l| !l.contains(",time_"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(no_time(&canon), no_time(&merged));

    // A merged directory is a valid results directory: an unsharded resume finds every run.
    let resumed = ablation::run(&exp, &exec(&merged, 1), &quiet).unwrap();
    assert_eq!((resumed.ran, resumed.skipped), (0, 4));

    // A partial merge, then the complete one into the same OUT (replaces it).
    let partial = dir("partial");
    let p = shard::merge(&s[..1], &partial).unwrap();
    assert_eq!(p.missing.len(), 4 - parts[0].len());
    assert_eq!(runs(&partial), parts[0]);
    let full = shard::merge(&s, &partial).unwrap();
    assert!(full.replaced && full.missing.is_empty());
    assert_eq!(row_set(&partial), row_set(&whole));
    // ... but not a replacement that would lose runs it holds.
    let e = shard::merge(&s[1..], &partial).unwrap_err().to_string();
    assert!(e.contains("lose") && e.contains("partial"), "{e}");
    // An incremental merge that names OUT among its inputs works too.
    let inc = dir("incremental");
    shard::merge(&s[..1], &inc).unwrap();
    let m4 = shard::merge(&[inc.clone(), s[1].clone()], &inc).unwrap();
    assert_eq!(row_set(&inc), row_set(&whole));
    // One set throughout: no warning, though the first input is a merge's output.
    assert!(m4.warnings.is_empty(), "{:?}", m4.warnings);
    assert_eq!(
        json(&inc.join("config.json"))[shard::MERGED_FROM][0][TILES_ISA],
        isa
    );

    refusals(&exp, &s, &whole);
}

fn refusals(exp: &Experiment, s: &[PathBuf], whole: &Path) {
    let out = dir("refused");
    let conflict = |r: Result<shard::MergeOutcome, Error>| match r {
        Err(Error::MergeConflict {
            first,
            second,
            reason,
        }) => (first, second, reason),
        other => panic!("expected a merge conflict, got {other:?}"),
    };

    // The same run in two inputs: a copy of shard 0 beside shard 0.
    let copy = dir("s0-copy");
    std::fs::create_dir_all(&copy).unwrap();
    for f in ["config.json", "results.csv"] {
        std::fs::copy(s[0].join(f), copy.join(f)).unwrap();
    }
    let (a, b, why) = conflict(shard::merge(
        &[s[0].clone(), s[1].clone(), copy.clone()],
        &out,
    ));
    assert_eq!((a, b), (s[0].join("results.csv"), copy.join("results.csv")));
    assert!(why.contains("both hold run"), "{why}");
    // The whole run and a shard overlap too.
    let (_, _, why) = conflict(shard::merge(&[whole.to_path_buf(), s[1].clone()], &out));
    assert!(why.contains("both hold run"), "{why}");
    // The same directory twice.
    let (_, _, why) = conflict(shard::merge(&[s[0].clone(), s[0].clone()], &out));
    assert!(why.contains("twice"), "{why}");

    // Different experiments: shard 1's config with 2 epochs.
    let other = dir("s1-other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy(s[1].join("results.csv"), other.join("results.csv")).unwrap();
    let mut c = json(&s[1].join("config.json"));
    c["experiment"]["train"]["epochs"] = 2.into();
    std::fs::write(other.join("config.json"), c.to_string()).unwrap();
    let e = shard::merge(&[s[0].clone(), other.clone()], &out);
    let msg = e.as_ref().unwrap_err().to_string();
    let (a, b, why) = conflict(e);
    assert_eq!(
        (a, b),
        (s[0].join("config.json"), other.join("config.json"))
    );
    assert!(
        why.contains("experiment.train.epochs") && why.contains('2'),
        "{why}"
    );
    assert!(msg.contains("s0") && msg.contains("s1-other"), "{msg}");

    // Not an ablation output: no results.csv, no config.json, not there.
    let bare = dir("bare");
    std::fs::create_dir_all(&bare).unwrap();
    std::fs::copy(s[0].join("config.json"), bare.join("config.json")).unwrap();
    let e = shard::merge(std::slice::from_ref(&bare), &out).unwrap_err();
    assert!(
        matches!(&e, Error::MissingFile { path, .. } if *path == bare.join("results.csv")),
        "{e}"
    );
    std::fs::remove_file(bare.join("config.json")).unwrap();
    std::fs::copy(s[0].join("results.csv"), bare.join("results.csv")).unwrap();
    let e = shard::merge(std::slice::from_ref(&bare), &out).unwrap_err();
    assert!(
        matches!(&e, Error::MissingFile { path, .. } if *path == bare.join("config.json")),
        "{e}"
    );
    let e = shard::merge(&[dir("absent")], &out)
        .unwrap_err()
        .to_string();
    assert!(e.contains("absent"), "{e}");
    assert!(!out.exists(), "a refused merge wrote {}", out.display());

    // OUT: never a run's own directory, never a foreign non-empty directory, never a merge of
    // another experiment.
    let e = shard::merge(s, whole).unwrap_err().to_string();
    assert!(e.contains("--out") && e.contains("not of a merge"), "{e}");
    let e = shard::merge(s, &s[0]).unwrap_err().to_string();
    assert!(e.contains("not of a merge"), "{e}");
    let junk = dir("junk");
    std::fs::create_dir_all(&junk).unwrap();
    std::fs::write(junk.join("notes.txt"), "mine").unwrap();
    let e = shard::merge(s, &junk).unwrap_err().to_string();
    assert!(e.contains("junk") && e.contains("not empty"), "{e}");
    assert_eq!(text(&junk.join("notes.txt")), "mine");
    let m2 = dir("merged-other");
    let mut exp2 = exp.clone();
    exp2.seed = 1;
    let s2 = dir("s0-seed1");
    // An empty shard directory of another experiment, made without training anything.
    std::fs::create_dir_all(&s2).unwrap();
    std::fs::write(s2.join("results.csv"), format!("{}\n", csv::HEADER)).unwrap();
    let mut c2 = json(&s[0].join("config.json"));
    c2["experiment"] = serde_json::to_value(&exp2).unwrap();
    std::fs::write(s2.join("config.json"), c2.to_string()).unwrap();
    let m = shard::merge(&[s2], &m2).unwrap();
    assert_eq!((m.runs, m.missing.len()), (0, 4));
    let e = shard::merge(s, &m2).unwrap_err().to_string();
    assert!(e.contains("experiment.seed"), "{e}");
}

/// Shards computed on different data (a different `data_fingerprint` in their config.json) are
/// not merged; shards without the key (written before it existed) still are.
#[test]
fn shards_of_different_data_are_not_merged() {
    let exp = tiny();
    let s: Vec<PathBuf> = (0..2).map(|k| dir(&format!("fp-s{k}"))).collect();
    for (k, d) in s.iter().enumerate() {
        ablation::run_shard(&exp, &exec(d, 1), Shard::new(k, 2).unwrap(), &quiet).unwrap();
    }
    let fp = |d: &Path| json(&d.join("config.json"))["data_fingerprint"].clone();
    assert_eq!(fp(&s[0]), fp(&s[1]));
    assert_eq!(fp(&s[0]).as_str().map(str::len), Some(16));
    let edit = |d: &Path, v: serde_json::Value| {
        let mut c = json(&d.join("config.json"));
        c["data_fingerprint"] = v;
        std::fs::write(d.join("config.json"), c.to_string()).unwrap();
    };
    edit(&s[1], "0123456789abcdef".into());
    let err = shard::merge(&s, &dir("fp-merged")).unwrap_err();
    assert!(
        matches!(&err, Error::MergeConflict { reason, .. } if reason.contains("different data")),
        "{err}"
    );
    // An older shard without the key merges with one that has it.
    let mut c = json(&s[1].join("config.json"));
    c.as_object_mut().unwrap().remove("data_fingerprint");
    std::fs::write(s[1].join("config.json"), c.to_string()).unwrap();
    let m = shard::merge(&s, &dir("fp-merged2")).unwrap();
    assert_eq!(m.runs, 4);
    assert_eq!(fp(&m.out_dir), fp(&s[0]));
}
