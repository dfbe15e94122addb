//! The RNN kernels against a plain triple-loop reference written here, and their gradients
//! against central finite differences in f64, for both activations, batch 1 and odd sizes
//! (hidden 1, 7, 33, 312), steps 1 and 50, including the softmax cross-entropy readout.
use cortical_kernels::faer::Par;
use cortical_kernels::rnn::{
    backward, backward_with, forward, forward_with, softmax_xent_last, xent_last_eval, Activation,
    Dims, ReadoutDims, RnnWorkspace,
};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const ACTS: [Activation; 2] = [Activation::Relu, Activation::Tanh];

/// (steps, batch, input, hidden): batch 1, hidden 1/7/33/312, steps 1 and 50. The 312 case
/// keeps steps and batch small so the suite stays fast in debug.
/// The last case is large enough (2·B·n² ≥ 4 MFLOP per step) for the kernels to split the
/// recurrence over the batch when the rayon pool has two or more threads, into parts of 18 and
/// 19 trials.
const SHAPES: [(usize, usize, usize, usize); 7] = [
    (1, 1, 1, 1),
    (50, 1, 3, 7),
    (1, 4, 2, 33),
    (50, 3, 8, 33),
    (50, 2, 1, 1),
    (2, 3, 8, 312),
    (3, 37, 5, 240),
];

fn uniform(rng: &mut Xoshiro256PlusPlus, n: usize, a: f64) -> Vec<f64> {
    (0..n)
        .map(|_| ((rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64) * 2.0 - 1.0) * a)
        .collect()
}

struct Problem {
    d: Dims,
    classes: usize,
    x: Vec<f64>,
    w_in: Vec<f64>,
    w_rec: Vec<f64>,
    b: Vec<f64>,
    h0: Vec<f64>,
    v: Vec<f64>,
    c: Vec<f64>,
    labels: Vec<u32>,
    /// Weights of the extra loss term Σ_t ⟨r_t, h_t⟩, so every step gets an incoming gradient.
    r: Vec<f64>,
}

impl Problem {
    fn new(shape: (usize, usize, usize, usize), seed: u64) -> Problem {
        let (steps, batch, input, hidden) = shape;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let classes = 3;
        // Spectral radius ≈ 0.87 for W_rec, so 50 relu steps neither explode nor die.
        let a_rec = 1.5 / (hidden as f64).sqrt();
        Problem {
            d: Dims {
                steps,
                batch,
                input,
                hidden,
            },
            classes,
            x: uniform(&mut rng, steps * batch * input, 1.0),
            w_in: uniform(&mut rng, input * hidden, 1.0 / (input as f64).sqrt()),
            w_rec: uniform(&mut rng, hidden * hidden, a_rec),
            b: uniform(&mut rng, hidden, 0.3),
            h0: uniform(&mut rng, batch * hidden, 0.5),
            v: uniform(&mut rng, hidden * classes, 1.0),
            c: uniform(&mut rng, classes, 0.5),
            labels: (0..batch)
                .map(|_| (rng.next_u64() % classes as u64) as u32)
                .collect(),
            r: uniform(&mut rng, steps * batch * hidden, 0.1),
        }
    }
    fn readout_dims(&self) -> ReadoutDims {
        ReadoutDims {
            batch: self.d.batch,
            hidden: self.d.hidden,
            classes: self.classes,
        }
    }
}

fn act_f(act: Activation, z: f64) -> f64 {
    match act {
        Activation::Relu => z.max(0.0),
        Activation::Tanh => z.tanh(),
    }
}

/// Reference forward: h[t][b][j] = act(Σ_i x[t][b][i] W_in[i][j] + Σ_k h[t−1][b][k] W_rec[k][j] + b[j]).
fn ref_forward(p: &Problem, act: Activation) -> Vec<f64> {
    let Dims {
        steps,
        batch,
        input,
        hidden: n,
    } = p.d;
    let mut h = vec![0.0; (steps + 1) * batch * n];
    h[..batch * n].copy_from_slice(&p.h0);
    for t in 1..=steps {
        for bi in 0..batch {
            for j in 0..n {
                let mut z = p.b[j];
                for i in 0..input {
                    z += p.x[((t - 1) * batch + bi) * input + i] * p.w_in[i * n + j];
                }
                for k in 0..n {
                    z += h[((t - 1) * batch + bi) * n + k] * p.w_rec[k * n + j];
                }
                h[(t * batch + bi) * n + j] = act_f(act, z);
            }
        }
    }
    h
}

/// Reference readout: mean CE of softmax(h_T V + c), its gradients and the number correct.
#[allow(clippy::type_complexity)]
fn ref_readout(p: &Problem, h_last: &[f64]) -> (f64, usize, Vec<f64>, Vec<f64>, Vec<f64>) {
    let (batch, n, cl) = (p.d.batch, p.d.hidden, p.classes);
    let (mut loss, mut correct) = (0.0, 0);
    let (mut g_v, mut g_c, mut dh) = (vec![0.0; n * cl], vec![0.0; cl], vec![0.0; batch * n]);
    for bi in 0..batch {
        let z: Vec<f64> = (0..cl)
            .map(|k| {
                p.c[k]
                    + (0..n)
                        .map(|j| h_last[bi * n + j] * p.v[j * cl + k])
                        .sum::<f64>()
            })
            .collect();
        let y = p.labels[bi] as usize;
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = z.iter().map(|&zk| (zk - m).exp()).sum();
        loss += s.ln() + m - z[y];
        let arg = (0..cl).fold(0, |a, k| if z[k] > z[a] { k } else { a });
        correct += usize::from(arg == y);
        for k in 0..cl {
            let dz = ((z[k] - m).exp() / s - f64::from(u8::from(k == y))) / batch as f64;
            g_c[k] += dz;
            for j in 0..n {
                g_v[j * cl + k] += h_last[bi * n + j] * dz;
                dh[bi * n + j] += p.v[j * cl + k] * dz;
            }
        }
    }
    (loss / batch as f64, correct, g_v, g_c, dh)
}

/// Reference BPTT for the incoming gradient `dh` (∂L/∂h_t, t = 1..=T).
fn ref_backward(p: &Problem, act: Activation, h: &[f64], dh: &[f64]) -> [Vec<f64>; 4] {
    let Dims {
        steps,
        batch,
        input,
        hidden: n,
    } = p.d;
    let (mut g_in, mut g_rec, mut g_b) = (vec![0.0; input * n], vec![0.0; n * n], vec![0.0; n]);
    let mut carry = vec![0.0; batch * n]; // ∂L/∂h_t arriving from step t + 1
    for t in (1..=steps).rev() {
        let mut delta = vec![0.0; batch * n];
        for bi in 0..batch {
            for j in 0..n {
                let idx = bi * n + j;
                let hv = h[(t * batch + bi) * n + j];
                let dact = match act {
                    Activation::Relu => f64::from(u8::from(hv > 0.0)),
                    Activation::Tanh => 1.0 - hv * hv,
                };
                delta[idx] = (dh[(t - 1) * batch * n + idx] + carry[idx]) * dact;
            }
        }
        let mut next = vec![0.0; batch * n];
        for bi in 0..batch {
            for j in 0..n {
                let dl = delta[bi * n + j];
                g_b[j] += dl;
                for i in 0..input {
                    g_in[i * n + j] += p.x[((t - 1) * batch + bi) * input + i] * dl;
                }
                for k in 0..n {
                    g_rec[k * n + j] += h[((t - 1) * batch + bi) * n + k] * dl;
                    next[bi * n + k] += p.w_rec[k * n + j] * dl;
                }
            }
        }
        carry = next;
    }
    [g_in, g_rec, g_b, carry]
}

/// Everything the kernels produce for one problem, in f64.
struct Out {
    h: Vec<f64>,
    loss: f64,
    correct: usize,
    grads: [Vec<f64>; 6], // w_in, w_rec, b, h0, v, c
}

/// The full loss L = CE(readout(h_T)) + Σ_t ⟨r_t, h_t⟩ and its gradient through the kernels,
/// in f32 or f64 (`T`), converted to f64.
fn kernels<T>(p: &Problem, act: Activation, conv: fn(f64) -> T, back: fn(T) -> f64) -> Out
where
    T: cortical_kernels::rnn::RnnScalar,
{
    let Dims {
        steps,
        batch,
        input,
        hidden: n,
    } = p.d;
    let cv = |v: &[f64]| v.iter().map(|&a| conv(a)).collect::<Vec<T>>();
    let (x, w_in, w_rec, b, v, c) = (
        cv(&p.x),
        cv(&p.w_in),
        cv(&p.w_rec),
        cv(&p.b),
        cv(&p.v),
        cv(&p.c),
    );
    let mut h = vec![conv(f64::NAN); (steps + 1) * batch * n];
    h[..batch * n].copy_from_slice(&cv(&p.h0));
    forward(p.d, act, &x, &w_in, &w_rec, &b, &mut h);

    let mut ws = RnnWorkspace::new(batch, p.classes);
    // Gradient buffers pre-filled with 1: the kernels must add to them, and dh0 / dh_last with
    // NaN: the kernels must overwrite them.
    let (mut g_v, mut g_c) = (vec![conv(1.0); n * p.classes], vec![conv(1.0); p.classes]);
    let mut dh_last = vec![conv(f64::NAN); batch * n];
    let h_last = &h[steps * batch * n..];
    let xe = softmax_xent_last(
        p.readout_dims(),
        h_last,
        &v,
        &c,
        &p.labels,
        &mut g_v,
        &mut g_c,
        &mut dh_last,
        &mut ws,
    );
    let mut dh = cv(&p.r);
    for (d, &g) in dh[(steps - 1) * batch * n..].iter_mut().zip(&dh_last) {
        *d += g;
    }
    let (mut g_in, mut g_rec, mut g_b) = (
        vec![conv(1.0); input * n],
        vec![conv(1.0); n * n],
        vec![conv(1.0); n],
    );
    let mut dh0 = vec![conv(f64::NAN); batch * n];
    backward(
        p.d, act, &x, &w_in, &w_rec, &h, &mut dh, &mut g_in, &mut g_rec, &mut g_b, &mut dh0,
    );

    let bk = |v: &[T]| v.iter().map(|&a| back(a)).collect::<Vec<f64>>();
    let less1 = |v: &[T]| v.iter().map(|&a| back(a) - 1.0).collect::<Vec<f64>>();
    let extra: f64 = h[batch * n..]
        .iter()
        .zip(&p.r)
        .map(|(&a, &r)| back(a) * r)
        .sum();
    Out {
        h: bk(&h),
        loss: back(xe.loss) + extra,
        correct: xe.correct,
        grads: [
            less1(&g_in),
            less1(&g_rec),
            less1(&g_b),
            bk(&dh0),
            less1(&g_v),
            less1(&g_c),
        ],
    }
}

fn k64(p: &Problem, act: Activation) -> Out {
    kernels::<f64>(p, act, |a| a, |a| a)
}

fn k32(p: &Problem, act: Activation) -> Out {
    kernels::<f32>(p, act, |a| a as f32, |a| a as f64)
}

/// The reference's view of the same quantities.
fn reference(p: &Problem, act: Activation) -> Out {
    let Dims {
        steps,
        batch,
        hidden: n,
        ..
    } = p.d;
    let h = ref_forward(p, act);
    let (ce, correct, g_v, g_c, dh_last) = ref_readout(p, &h[steps * batch * n..]);
    let mut dh = p.r.clone();
    for (d, g) in dh[(steps - 1) * batch * n..].iter_mut().zip(&dh_last) {
        *d += g;
    }
    let [g_in, g_rec, g_b, dh0] = ref_backward(p, act, &h, &dh);
    let extra: f64 = h[batch * n..].iter().zip(&p.r).map(|(a, r)| a * r).sum();
    Out {
        h,
        loss: ce + extra,
        correct,
        grads: [g_in, g_rec, g_b, dh0, g_v, g_c],
    }
}

const NAMES: [&str; 6] = ["g_w_in", "g_w_rec", "g_b", "dh0", "g_v", "g_c"];

/// |got − want| ≤ tol · max(1, max|want|), element by element.
fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * scale,
            "{what}[{i}]: got {g}, want {w} (tol {tol} × {scale})"
        );
    }
}

fn compare(label: &str, got: &Out, want: &Out, tol: f64) {
    assert_close(&format!("{label} h"), &got.h, &want.h, tol);
    assert_close(&format!("{label} loss"), &[got.loss], &[want.loss], tol);
    assert_eq!(got.correct, want.correct, "{label}: correct");
    for ((name, g), w) in NAMES.iter().zip(&got.grads).zip(&want.grads) {
        assert_close(&format!("{label} {name}"), g, w, tol);
    }
}

#[test]
fn f64_kernels_match_the_triple_loop_reference() {
    for (s, &shape) in SHAPES.iter().enumerate() {
        for act in ACTS {
            let p = Problem::new(shape, 100 + s as u64);
            compare(
                &format!("f64 {shape:?} {act:?}"),
                &k64(&p, act),
                &reference(&p, act),
                1e-12,
            );
        }
    }
}

#[test]
fn f32_kernels_match_the_triple_loop_reference() {
    for (s, &shape) in SHAPES.iter().enumerate() {
        for act in ACTS {
            let p = Problem::new(shape, 200 + s as u64);
            // f32 rounding through up to 50 steps and sums over up to 312·150 terms.
            compare(
                &format!("f32 {shape:?} {act:?}"),
                &k32(&p, act),
                &reference(&p, act),
                2e-4,
            );
        }
    }
}

/// Central differences of the full loss in f64 at a sample of entries of every parameter.
#[test]
fn gradients_match_central_finite_differences() {
    let eps = 1e-6;
    for (s, &shape) in SHAPES.iter().enumerate() {
        for act in ACTS {
            let p = Problem::new(shape, 300 + s as u64);
            let out = k64(&p, act);
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(400 + s as u64);
            for (k, name) in NAMES.iter().enumerate() {
                let len = out.grads[k].len();
                let picks: Vec<usize> = if len <= 8 {
                    (0..len).collect()
                } else {
                    (0..8)
                        .map(|_| (rng.next_u64() % len as u64) as usize)
                        .collect()
                };
                for i in picks {
                    let at = |delta: f64| {
                        let mut q = Problem::new(shape, 300 + s as u64);
                        let param = match k {
                            0 => &mut q.w_in,
                            1 => &mut q.w_rec,
                            2 => &mut q.b,
                            3 => &mut q.h0,
                            4 => &mut q.v,
                            _ => &mut q.c,
                        };
                        param[i] += delta;
                        k64(&q, act).loss
                    };
                    let fd = (at(eps) - at(-eps)) / (2.0 * eps);
                    let an = out.grads[k][i];
                    assert!(
                        (fd - an).abs() <= 1e-6 * (1.0 + an.abs()),
                        "{shape:?} {act:?} {name}[{i}]: analytic {an}, finite difference {fd}"
                    );
                }
            }
        }
    }
}

#[test]
fn readout_is_stable_for_huge_logits_and_its_probs_sum_to_one() {
    let mut p = Problem::new((1, 4, 2, 7), 7);
    for v in p.v.iter_mut() {
        *v *= 1e4; // logits of order 1e4: a naive exp overflows
    }
    let rd = p.readout_dims();
    let h_last: Vec<f32> = p.h0.iter().map(|&a| a as f32).collect();
    let v: Vec<f32> = p.v.iter().map(|&a| a as f32).collect();
    let c: Vec<f32> = p.c.iter().map(|&a| a as f32).collect();
    let mut ws = RnnWorkspace::new(rd.batch, rd.classes);
    let (mut g_v, mut g_c, mut dh) = (
        vec![0.0f32; v.len()],
        vec![0.0f32; c.len()],
        vec![0.0f32; h_last.len()],
    );
    let xe = softmax_xent_last(
        rd, &h_last, &v, &c, &p.labels, &mut g_v, &mut g_c, &mut dh, &mut ws,
    );
    assert!(xe.loss.is_finite() && xe.loss >= 0.0, "loss {}", xe.loss);
    assert!(g_v.iter().chain(&g_c).chain(&dh).all(|g| g.is_finite()));
    for row in ws.probs().chunks(rd.classes) {
        let s: f32 = row.iter().sum();
        assert!((s - 1.0).abs() < 1e-6, "probabilities sum to {s}");
    }
    // The value-only readout agrees with the fused one.
    let ev = xent_last_eval(rd, &h_last, &v, &c, &p.labels, &mut ws);
    assert_eq!(ev, xe);
    // The f64 reference agrees too (in f64, from the f32-rounded inputs).
    let mut q = Problem::new((1, 4, 2, 7), 7);
    q.v = v.iter().map(|&a| a as f64).collect();
    q.c = c.iter().map(|&a| a as f64).collect();
    let hl: Vec<f64> = h_last.iter().map(|&a| a as f64).collect();
    let (loss, correct, ..) = ref_readout(&q, &hl);
    assert_eq!(xe.correct, correct);
    assert!(
        (xe.loss as f64 - loss).abs() <= 1e-3 * loss.max(1.0),
        "{} vs {loss}",
        xe.loss
    );
}

#[test]
fn zero_steps_leave_h_alone_and_give_zero_dh0() {
    let d = Dims {
        steps: 0,
        batch: 2,
        input: 3,
        hidden: 4,
    };
    let w_in = vec![0.5f32; 12];
    let w_rec = vec![0.5f32; 16];
    let mut h = vec![0.25f32; 8];
    forward(d, Activation::Tanh, &[], &w_in, &w_rec, &[0.0; 4], &mut h);
    assert!(h.iter().all(|&v| v == 0.25));
    let mut dh0 = vec![f32::NAN; 8];
    let (mut gi, mut gr, mut gb) = (vec![0.0f32; 12], vec![0.0f32; 16], vec![0.0f32; 4]);
    backward(
        d,
        Activation::Tanh,
        &[],
        &w_in,
        &w_rec,
        &h,
        &mut [],
        &mut gi,
        &mut gr,
        &mut gb,
        &mut dh0,
    );
    assert!(dh0.iter().all(|&v| v == 0.0));
}

#[test]
#[should_panic(expected = "w_rec has length 15, but hidden·hidden = 16")]
fn mismatched_lengths_panic_naming_the_argument() {
    let d = Dims {
        steps: 1,
        batch: 1,
        input: 1,
        hidden: 4,
    };
    let mut h = vec![0.0f32; 8];
    forward(
        d,
        Activation::Relu,
        &[1.0],
        &[0.0; 4],
        &[0.0; 15],
        &[0.0; 4],
        &mut h,
    );
}

#[test]
#[should_panic(expected = "labels[1] = 3 is not below classes = 3")]
fn out_of_range_label_panics_naming_it() {
    let rd = ReadoutDims {
        batch: 2,
        hidden: 1,
        classes: 3,
    };
    let mut ws = RnnWorkspace::new(2, 3);
    xent_last_eval(rd, &[0.0f32, 1.0], &[0.0; 3], &[0.0; 3], &[0, 3], &mut ws);
}

/// The recurrence split over the batch (one part per rayon thread, each walking all steps of
/// its trials with sequential products) gives the same bits as one sequential pass.
#[test]
fn batch_split_recurrence_equals_the_sequential_one() {
    let d = Dims {
        steps: 6,
        batch: 45,
        input: 3,
        hidden: 230,
    };
    let p = Problem::new((d.steps, d.batch, d.input, d.hidden), 77);
    let f = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
    let (x, w_in, w_rec, b, r) = (f(&p.x), f(&p.w_in), f(&p.w_rec), f(&p.b), f(&p.r));
    let bn = d.batch * d.hidden;
    let run = |par: Par| {
        let mut h = vec![0.0f32; (d.steps + 1) * bn];
        h[..bn].copy_from_slice(&f(&p.h0));
        forward_with(
            d,
            Activation::Tanh,
            &x,
            &w_in,
            &w_rec,
            &b,
            &mut h,
            Some(par),
        );
        let mut dh = r.clone();
        let (mut gi, mut gr, mut gb) = (
            vec![0.0f32; w_in.len()],
            vec![0.0f32; w_rec.len()],
            vec![0.0f32; b.len()],
        );
        let mut dh0 = vec![f32::NAN; bn];
        backward_with(
            d,
            Activation::Tanh,
            &x,
            &w_in,
            &w_rec,
            &h,
            &mut dh,
            &mut gi,
            &mut gr,
            &mut gb,
            &mut dh0,
            Some(par),
        );
        (h, dh, dh0, gr)
    };
    let seq = run(Par::Seq);
    let split = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(|| run(Par::rayon(2)));
    let bits = |v: &[f32]| v.iter().map(|a| a.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&seq.0), bits(&split.0), "h");
    assert_eq!(bits(&seq.1), bits(&split.1), "dh (Δ)");
    assert_eq!(bits(&seq.2), bits(&split.2), "dh0");
    assert!(seq.3.iter().all(|v| v.is_finite()));
}
