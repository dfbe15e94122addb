//! The three tasks of METHOD.md §5: timing and encodings, balance, determinism, splits, gathering.
use cortical_priors::tasks::{
    generate, goal_blind_ceiling, split_seeds, TaskData, TaskKind, TaskSplits, ONE_CHOICE_PROBLEMS,
    PERCEPTUAL_COHERENCES, TEST_TRIALS, TRAIN_TRIALS, VALIDATION_TRIALS,
};

fn phases(d: &TaskData, trial: usize) -> Vec<Vec<f32>> {
    (0..d.steps).map(|t| d.at(t, trial).to_vec()).collect()
}

#[test]
fn one_choice_encoding_per_phase() {
    let d = generate(TaskKind::OneChoice, 64, 7);
    assert_eq!((d.steps, d.channels, d.classes, d.batch), (50, 8, 4, 64));
    assert_eq!(d.x.len(), 50 * 64 * 8);
    let goal_ch = |g: u32| match g {
        7 => 0,
        9 => 1,
        17 => 2,
        19 => 3,
        _ => unreachable!(),
    };
    for trial in 0..d.batch {
        let p = ONE_CHOICE_PROBLEMS[d.conditions[trial] as usize];
        assert_eq!(d.labels[trial], p.answer);
        assert!(
            p.choices.contains(&p.answer),
            "answer must be one of the offered moves"
        );
        let x = phases(&d, trial);
        for (t, v) in x.iter().enumerate() {
            let mut want = [0.0f32; 8];
            if t < 20 {
                want[goal_ch(p.goal)] = 1.0;
            } else if t >= 30 {
                want[4 + p.choices[0] as usize] = 1.0;
                want[4 + p.choices[1] as usize] = 1.0;
            }
            assert_eq!(v.as_slice(), &want, "trial {trial} step {t}");
        }
    }
}

#[test]
fn one_choice_problem_table_matches_method() {
    // goal {9,9,19,17,17,7,19,7}, choices {ul,rd,ld,rd,ul,ur,lr,lr}, answer {u,r,d,d,l,u,r,l}
    // with l=0, u=1, r=2, d=3.
    let goals: Vec<u32> = ONE_CHOICE_PROBLEMS.iter().map(|p| p.goal).collect();
    assert_eq!(goals, [9, 9, 19, 17, 17, 7, 19, 7]);
    let letter = |c: u32| b"lurd"[c as usize] as char;
    let choices: Vec<String> = ONE_CHOICE_PROBLEMS
        .iter()
        .map(|p| p.choices.iter().map(|&c| letter(c)).collect())
        .collect();
    assert_eq!(choices, ["ul", "rd", "ld", "rd", "ul", "ur", "lr", "lr"]);
    let answers: String = ONE_CHOICE_PROBLEMS
        .iter()
        .map(|p| letter(p.answer))
        .collect();
    assert_eq!(answers, "urddlurl");
}

/// Best accuracy from the choice channels alone, computed here independently from the generated
/// inputs themselves: group trials by the choice-channel pattern and answer the majority label.
#[test]
fn one_choice_goal_blind_ceiling_is_0_625() {
    assert_eq!(goal_blind_ceiling(), 0.625);
    let d = generate(TaskKind::OneChoice, 8 * 500, 3);
    let mut table: std::collections::HashMap<Vec<u8>, [usize; 4]> = Default::default();
    for trial in 0..d.batch {
        let key: Vec<u8> = d.at(49, trial)[4..8].iter().map(|&v| v as u8).collect();
        table.entry(key).or_default()[d.labels[trial] as usize] += 1;
    }
    let best: usize = table.values().map(|c| *c.iter().max().unwrap()).sum();
    assert_eq!(table.len(), 5, "five distinct offered pairs");
    assert_eq!(best as f64 / d.batch as f64, 0.625);
    // and with the goal visible, the problem is solvable: goal channel + choices determine it
    let mut full: std::collections::HashMap<Vec<u8>, [usize; 4]> = Default::default();
    for trial in 0..d.batch {
        let mut key: Vec<u8> = d.at(0, trial)[0..4].iter().map(|&v| v as u8).collect();
        key.extend(d.at(49, trial)[4..8].iter().map(|&v| v as u8));
        full.entry(key).or_default()[d.labels[trial] as usize] += 1;
    }
    assert!(full
        .values()
        .all(|c| c.iter().filter(|&&n| n > 0).count() == 1));
}

#[test]
fn go_no_go_encoding_per_phase() {
    let d = generate(TaskKind::GoNoGo, 50, 11);
    assert_eq!((d.steps, d.channels, d.classes), (40, 3, 2));
    for trial in 0..d.batch {
        let go = d.labels[trial] == 1;
        for t in 0..40 {
            let want: [f32; 3] = match t {
                0..=4 => [1.0, 0.0, 0.0],
                5..=24 if go => [0.0, 0.0, 1.0],
                5..=24 => [0.0, 1.0, 0.0],
                25..=34 => [1.0, 0.0, 0.0],
                _ => [0.0, 0.0, 0.0],
            };
            assert_eq!(d.at(t, trial), &want, "trial {trial} step {t} go {go}");
        }
    }
}

#[test]
fn perceptual_encoding_per_phase() {
    let d = generate(TaskKind::PerceptualDecision, 2000, 5);
    assert_eq!((d.steps, d.channels, d.classes), (41, 3, 2));
    let mut noise_sq = 0.0f64;
    let mut noise_n = 0usize;
    for trial in 0..d.batch {
        let k = d.labels[trial] as usize;
        let coh = PERCEPTUAL_COHERENCES[d.conditions[trial] as usize];
        for t in 0..41 {
            let v = d.at(t, trial);
            assert_eq!(
                v[0], 1.0,
                "fixation is on throughout (trial {trial} step {t})"
            );
            if t == 0 || t >= 31 {
                assert_eq!(
                    &v[1..],
                    &[0.0, 0.0],
                    "no evidence outside the stimulus (step {t})"
                );
            } else {
                let hi = v[1 + k] as f64 - (0.5 + coh / 200.0);
                let lo = v[2 - k] as f64 - (0.5 - coh / 200.0);
                noise_sq += hi * hi + lo * lo;
                noise_n += 2;
                // 7 σ: a bound the N(0, 0.1²) noise cannot plausibly exceed at this sample size
                assert!(hi.abs() < 0.7 && lo.abs() < 0.7);
            }
        }
    }
    let sd = (noise_sq / noise_n as f64).sqrt();
    assert!((sd - 0.1).abs() < 0.002, "stimulus noise sd {sd}");
}

#[test]
fn perceptual_evidence_points_to_the_label() {
    // The mean of channel (1 + label) minus the other channel over the stimulus estimates
    // coh/100 per trial; its average per coherence must match within the noise.
    let d = generate(TaskKind::PerceptualDecision, 5000, 9);
    let mut sum = [0.0f64; 5];
    let mut n = [0usize; 5];
    for trial in 0..d.batch {
        let k = d.labels[trial] as usize;
        let c = d.conditions[trial] as usize;
        let diff: f64 = (1..31)
            .map(|t| (d.at(t, trial)[1 + k] - d.at(t, trial)[2 - k]) as f64)
            .sum();
        sum[c] += diff / 30.0;
        n[c] += 1;
    }
    for c in 0..5 {
        let mean = sum[c] / n[c] as f64;
        // sd of one trial's mean difference: 0.1·√2/√30 ≈ 0.026; over ~1000 trials ≈ 0.0008
        assert!(
            (mean - PERCEPTUAL_COHERENCES[c] / 100.0).abs() < 0.005,
            "coh {c}: {mean}"
        );
    }
}

#[test]
fn classes_and_conditions_are_balanced() {
    for kind in TaskKind::ALL {
        let shape = kind.shape();
        let d = generate(kind, 5120, 1);
        let counts = d.class_counts();
        assert!(
            counts.iter().all(|&c| c == 5120 / shape.classes),
            "{kind:?} {counts:?}"
        );
        let mut per_cond = vec![0usize; shape.conditions];
        for trial in 0..d.batch {
            // condition index as stored: problem (OCI), coherence (PDM), label (Go/NoGo)
            let c = match kind {
                TaskKind::PerceptualDecision => {
                    2 * d.conditions[trial] as usize + d.labels[trial] as usize
                }
                _ => d.conditions[trial] as usize,
            };
            per_cond[c] += 1;
        }
        assert!(
            per_cond.iter().all(|&c| c == 5120 / shape.conditions),
            "{kind:?} {per_cond:?}"
        );
        // not a sorted block structure: the order is shuffled
        let switches = d.labels.windows(2).filter(|w| w[0] != w[1]).count();
        assert!(
            switches > 5120 / 4,
            "{kind:?}: labels look unshuffled ({switches} switches)"
        );
        // a size that is not a multiple of the conditions is balanced to within one
        let d = generate(kind, 1003, 2);
        let counts = d.class_counts();
        let (mn, mx) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(
            mx - mn <= 1 + shape.conditions / shape.classes,
            "{kind:?} {counts:?}"
        );
    }
}

#[test]
fn deterministic_per_seed_and_seeds_differ() {
    for kind in TaskKind::ALL {
        let a = generate(kind, 300, 42);
        let b = generate(kind, 300, 42);
        assert_eq!(a, b, "{kind:?}: same seed, same data");
        let c = generate(kind, 300, 43);
        assert_ne!(
            a.labels, c.labels,
            "{kind:?}: different seed, different draw"
        );
    }
}

#[test]
fn splits_have_paper_sizes_and_distinct_seeds() {
    let s = TaskSplits::generate(TaskKind::PerceptualDecision, 1);
    assert_eq!(
        (s.train.batch, s.validation.batch, s.test.batch),
        (TRAIN_TRIALS, VALIDATION_TRIALS, TEST_TRIALS)
    );
    assert_eq!(
        (TRAIN_TRIALS, VALIDATION_TRIALS, TEST_TRIALS),
        (5120, 2560, 2560)
    );
    let seeds = split_seeds(1);
    assert!(seeds[0] != seeds[1] && seeds[1] != seeds[2] && seeds[0] != seeds[2]);
    assert!(!seeds.contains(&1));
    // validation and test have the same size but different draws
    assert_ne!(s.validation.x, s.test.x);
    assert_ne!(s.validation.labels, s.test.labels);
    assert_eq!(s, TaskSplits::generate(TaskKind::PerceptualDecision, 1));
    assert_ne!(split_seeds(2), seeds);
}

#[test]
fn gather_builds_time_major_batches() {
    let d = generate(TaskKind::PerceptualDecision, 300, 4);
    let idx: Vec<usize> = (0..128).map(|i| (i * 37 + 5) % 300).collect();
    let mut x = vec![f32::NAN; d.steps * 128 * d.channels];
    let mut y = vec![u32::MAX; 128];
    d.gather(&idx, &mut x, &mut y).unwrap();
    for (b, &i) in idx.iter().enumerate() {
        assert_eq!(y[b], d.labels[i]);
        for t in 0..d.steps {
            let o = (t * 128 + b) * d.channels;
            assert_eq!(&x[o..o + d.channels], d.at(t, i));
        }
    }
    // a contiguous range at one step is one contiguous slice of the set
    assert_eq!(
        &d.step(3)[10 * 3..20 * 3],
        d.select(&(10..20).collect::<Vec<_>>()).unwrap().step(3)
    );
    // bad buffers and indices are errors that name the argument
    let e = d.gather(&idx, &mut x[1..], &mut y).unwrap_err().to_string();
    assert!(e.contains("x_out"), "{e}");
    let e = d
        .gather(&[300], &mut x[..d.steps * d.channels], &mut y[..1])
        .unwrap_err()
        .to_string();
    assert!(e.contains("300"), "{e}");
}

#[test]
fn task_names_round_trip() {
    for kind in TaskKind::ALL {
        assert_eq!(TaskKind::parse(kind.name()).unwrap(), kind);
        assert_eq!(TaskKind::parse(kind.notebook_name()).unwrap(), kind);
    }
    assert_eq!(TaskKind::OneChoice.notebook_name(), "Task1");
    assert_eq!(TaskKind::GoNoGo.notebook_name(), "Task2");
    assert_eq!(TaskKind::PerceptualDecision.notebook_name(), "Task3");
    assert!(TaskKind::parse("Task4")
        .unwrap_err()
        .to_string()
        .contains("Task4"));
}
