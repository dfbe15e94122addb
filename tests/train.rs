//! Training: the whole-model gradient against central differences (f64), Adam against a
//! hand-derived two-step update, the sign projection, determinism, and learning Go/NoGo.
use cortical_priors::train::model::{init_params, Dims, Layout};
use cortical_priors::train::ops::{self, Activation, RegInputs, RegScratch};
use cortical_priors::train::step::{loss_and_grad, Workspace};
use cortical_priors::train::{fit, Adam, AdamConfig, Dataset, Problem, TrainConfig};
use cortical_priors::variants::{RegForm, Sign};
use faer::Par;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Loss of the batch in `ws` at `params` (CE + regularizer), no gradient kept.
fn loss_at(
    params: &[f64],
    ws: &mut Workspace<f64>,
    reg: &RegInputs<'_, f64>,
    act: Activation,
) -> f64 {
    let layout = ws.layout;
    let s = ws.shape(ws.batch);
    let p = layout.split(params);
    let (xent, _) = ops::xent(s, act, &ws.x, &ws.labels, &p, None, &mut ws.rnn, Par::Seq);
    let mut scratch = vec![0.0; layout.dims.hidden * layout.dims.hidden];
    let mut rs = RegScratch::new(layout.dims.hidden);
    xent + ops::regularizer(reg, p.w, &mut scratch, &mut rs).unwrap()
}

fn check_gradient(form: RegForm, act: Activation) {
    let dims = Dims {
        input: 3,
        hidden: 5,
        classes: 3,
    };
    let (steps, batch) = (4, 6);
    let layout = Layout::new(dims);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let n = dims.hidden;
    // A W with no zero entries (|W| has a kink at 0) and a relu that stays off its kink.
    let w0: Vec<f64> = (0..n * n)
        .map(|_| {
            let x: f64 = rng.random_range(0.1..0.6);
            if rng.random::<bool>() {
                x
            } else {
                -x
            }
        })
        .collect();
    let mut params: Vec<f64> = init_params(&layout, &w0, &mut rng);
    let lp = layout.split_mut(&mut params);
    for b in lp.b.iter_mut().chain(lp.c.iter_mut()) {
        *b = rng.random_range(-0.3..0.3);
    }
    let d: Vec<f64> = (0..n * n).map(|_| rng.random_range(0.0..2.0)).collect();
    // An "empirical" communicability to pull C(|W|) towards: C of a random non-negative matrix.
    let a = faer::Mat::<f64>::from_fn(n, n, |_, _| rng.random_range(0.0..1.0));
    let c_emp = cortical_priors::kernels::reg::communicability(a.as_ref(), 1e-10).unwrap();
    let mut c_emp_sorted: Vec<f64> = (0..n * n).map(|k| c_emp[(k / n, k % n)]).collect();
    c_emp_sorted.sort_by(f64::total_cmp);
    let reg = RegInputs {
        form,
        lambda: 0.3,
        lambda_emd: 0.1,
        eps: 1e-10,
        distance: Some(&d),
        c_emp_sorted: Some(&c_emp_sorted),
    };
    let mut ws = Workspace::<f64>::new(layout, steps, batch);
    for x in ws.x.iter_mut() {
        *x = rng.random_range(-1.0..1.0);
    }
    for l in ws.labels.iter_mut() {
        *l = rng.random_range(0..dims.classes as u32);
    }
    loss_and_grad(&params, &mut ws, &reg, act, Par::Seq).unwrap();
    let grad = ws.grad.clone();
    let h = 1e-6;
    let mut worst = 0.0f64;
    for k in 0..params.len() {
        let mut p = params.clone();
        p[k] += h;
        let up = loss_at(&p, &mut ws, &reg, act);
        p[k] -= 2.0 * h;
        let down = loss_at(&p, &mut ws, &reg, act);
        let fd = (up - down) / (2.0 * h);
        let err = (fd - grad[k]).abs() / (1e-3 + fd.abs().max(grad[k].abs()));
        worst = worst.max(err);
        assert!(
            err < 1e-5,
            "{form:?} {act:?}: parameter {k}: analytic {} vs finite difference {fd}",
            grad[k]
        );
    }
    // The check is not vacuous: the gradient is far from zero.
    assert!(grad.iter().map(|g| g.abs()).sum::<f64>() > 0.1, "{worst}");
}

#[test]
fn whole_model_gradient_matches_finite_differences_l1() {
    check_gradient(RegForm::L1, Activation::Relu);
    check_gradient(RegForm::L1, Activation::Tanh);
}

#[test]
fn whole_model_gradient_matches_finite_differences_l1_distance() {
    check_gradient(RegForm::L1Distance, Activation::Relu);
}

#[test]
fn whole_model_gradient_matches_finite_differences_l1_distance_comm() {
    check_gradient(RegForm::L1DistanceComm, Activation::Relu);
    check_gradient(RegForm::L1DistanceComm, Activation::Tanh);
}

#[test]
fn whole_model_gradient_matches_finite_differences_l1_distance_emd() {
    check_gradient(RegForm::L1DistanceEmd, Activation::Relu);
}

#[test]
fn adam_matches_hand_derived_two_steps() {
    // Keras form, lr 0.1: step 1 has α₁ = lr·√(1−β2)/(1−β1) = √0.001, m = 0.1·g, √v = √0.001·|g|,
    // so the update is lr·sign(g)/(1 + ε/(√0.001·|g|)): for g = 0.5, 0.1·(1 − 6.3245e-6).
    // Step 2 values from the same recurrences evaluated in f64 (python, see the derivation above).
    let cfg = AdamConfig {
        lr: 0.1,
        ..AdamConfig::default()
    };
    let mut adam = Adam::new(cfg, 3);
    let mut p = [1.0f32, -2.0, 0.5];
    adam.step(&mut p, &[0.5, -0.25, 0.0]);
    let want1 = [0.900_000_632_451_532_1f64, -1.900_001_264_895_064_2, 0.5];
    for (a, b) in p.iter().zip(want1) {
        assert!(
            (f64::from(*a) - b).abs() < 1e-7,
            "step 1: {p:?} vs {want1:?}"
        );
    }
    // The textbook form (ε added to √v̂) would give 0.90000002 here: f32 tells them apart.
    assert!((p[0] - 0.900_000_02).abs() > 3e-7);
    adam.step(&mut p, &[-1.0, 2.0, 1e-4]);
    let want2 = [
        0.936_610_881_595_338_1f64,
        -1.965_533_823_698_195,
        0.427_867_352_248_825_16,
    ];
    for (a, b) in p.iter().zip(want2) {
        assert!(
            (f64::from(*a) - b).abs() < 1e-6,
            "step 2: {p:?} vs {want2:?}"
        );
    }
    assert_eq!(adam.steps(), 2);
}

/// Go/NoGo as METHOD.md §5 defines it: 5 steps fixation [1,0,0], 20 steps stimulus [0,1,0]
/// (NoGo, label 0) or [0,0,1] (Go, label 1), 10 steps delay [1,0,0], 5 steps [0,0,0].
fn go_nogo(trials: usize, seed: u64) -> Dataset {
    let (steps, c) = (40, 3);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let labels: Vec<u32> = (0..trials).map(|_| rng.random_range(0..2u32)).collect();
    let mut x = vec![0.0f32; steps * trials * c];
    for (i, &l) in labels.iter().enumerate() {
        for t in 0..steps {
            let ch = match t {
                0..5 | 25..35 => Some(0),
                5..25 => Some(1 + l as usize),
                _ => None,
            };
            if let Some(ch) = ch {
                x[(t * trials + i) * c + ch] = 1.0;
            }
        }
    }
    Dataset {
        steps,
        trials,
        channels: c,
        classes: 2,
        x,
        labels,
    }
}

fn small_config() -> TrainConfig {
    TrainConfig {
        epochs: 4,
        batch: 32,
        batches_per_epoch: 16,
        adam: AdamConfig {
            lr: 1e-2,
            ..AdamConfig::default()
        },
        lambda: 1e-3,
        ..TrainConfig::default()
    }
}

fn scaled_identity(n: usize, s: f64) -> Vec<f64> {
    (0..n * n)
        .map(|k| if k % (n + 1) == 0 { s } else { 0.0 })
        .collect()
}

#[test]
fn tiny_network_learns_go_nogo() {
    let cfg = small_config();
    let (tr, va, te) = (go_nogo(512, 1), go_nogo(256, 2), go_nogo(256, 3));
    let w0 = scaled_identity(16, 0.9);
    let problem = Problem {
        w0: &w0,
        form: RegForm::L1,
        distance: None,
        c_emp_sorted: None,
        sign: Sign::Unconstrained,
    };
    let f = fit(&cfg, &problem, &tr, &va, &te, 11, Par::Seq).unwrap();
    assert!(f.failure.is_none());
    assert_eq!(f.curves.len(), cfg.epochs);
    assert!(f.test_accuracy > 0.9, "test accuracy {}", f.test_accuracy);
    // Loss went down over training.
    assert!(f.curves.last().unwrap().train_loss < f.curves[0].train_loss);
}

#[test]
fn same_seed_same_result_and_sign_projection_holds() {
    let mut cfg = small_config();
    cfg.epochs = 1;
    cfg.batches_per_epoch = 4;
    let (tr, va, te) = (go_nogo(128, 1), go_nogo(64, 2), go_nogo(64, 3));
    let n = 8;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    let w0: Vec<f64> = (0..n * n).map(|_| rng.random_range(-0.4..0.4)).collect();
    let mut problem = Problem {
        w0: &w0,
        form: RegForm::L1,
        distance: None,
        c_emp_sorted: None,
        sign: Sign::Unconstrained,
    };
    let a = fit(&cfg, &problem, &tr, &va, &te, 5, Par::Seq).unwrap();
    let b = fit(&cfg, &problem, &tr, &va, &te, 5, Par::Seq).unwrap();
    let c = fit(&cfg, &problem, &tr, &va, &te, 6, Par::Seq).unwrap();
    assert_eq!(a.w, b.w);
    assert_eq!(a.curves, b.curves);
    assert_eq!(a.test_loss.to_bits(), b.test_loss.to_bits());
    assert_ne!(
        a.w, c.w,
        "a different seed must change the noise, shuffle and U/V"
    );
    assert!(
        a.w.iter().any(|&w| w < 0.0),
        "unconstrained W keeps negative weights"
    );

    problem.sign = Sign::NonNegative;
    let p = fit(&cfg, &problem, &tr, &va, &te, 5, Par::Seq).unwrap();
    assert!(
        p.w.iter().all(|&w| w >= 0.0),
        "sign-constrained W has a negative entry"
    );
    assert!(p.w.iter().any(|&w| w > 0.0));
}

#[test]
fn non_finite_loss_is_a_recorded_failure() {
    let mut cfg = small_config();
    cfg.epochs = 2;
    cfg.batches_per_epoch = 2;
    cfg.activation = Activation::Relu;
    let (tr, va, te) = (go_nogo(64, 1), go_nogo(32, 2), go_nogo(32, 3));
    // A recurrent gain of 1e6 over 40 steps overflows f32.
    let w0 = scaled_identity(4, 1e6);
    let problem = Problem {
        w0: &w0,
        form: RegForm::L1,
        distance: None,
        c_emp_sorted: None,
        sign: Sign::Unconstrained,
    };
    let f = fit(&cfg, &problem, &tr, &va, &te, 1, Par::Seq).unwrap();
    let fail = f.failure.expect("the loss overflows");
    assert_eq!((fail.epoch, fail.batch), (1, 1));
    assert!(f.test_accuracy.is_nan());
}

/// Without ε (the notebook's `eps-only-emd` deviation) a zero row of |W| makes the wiring-cost
/// communicability undefined: the run stops as failed at its first batch, like a non-finite
/// loss, instead of aborting the ablation; with ε the same W trains.
#[test]
fn zero_row_without_eps_fails_the_run_not_the_caller() {
    let n = 8;
    let mut w0 = scaled_identity(n, 0.5);
    w0[3 * n + 3] = 0.0; // row 3 of |W| sums to 0
    let d: Vec<f32> = (0..n * n)
        .map(|k| ((k / n) as f32 - (k % n) as f32).abs())
        .collect();
    let (tr, va, te) = (go_nogo(64, 1), go_nogo(32, 2), go_nogo(32, 3));
    let mut cfg = TrainConfig {
        epochs: 1,
        batch: 16,
        batches_per_epoch: 4,
        comm_eps: 0.0,
        ..TrainConfig::default()
    };
    let problem = Problem {
        w0: &w0,
        form: RegForm::L1DistanceComm,
        distance: Some(&d),
        c_emp_sorted: None,
        sign: Sign::Unconstrained,
    };
    let f = fit(&cfg, &problem, &tr, &va, &te, 3, Par::Seq).unwrap();
    let failure = f.failure.expect("the run is marked failed");
    assert_eq!((failure.epoch, failure.batch), (1, 1));
    assert!(f.test_accuracy.is_nan());
    cfg.comm_eps = 1e-10;
    let f = fit(&cfg, &problem, &tr, &va, &te, 3, Par::Seq).unwrap();
    assert!(f.failure.is_none());
}
