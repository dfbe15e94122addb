//! Callgrind (gungraun) bench of the RNN kernels at one small shape: instruction counts are
//! deterministic, so a change in the kernels' cost shows up without timing noise.
//!
//! Run with `cargo bench --bench rnn_callgrind` (needs `cargo install gungraun-runner@0.20.0`
//! and valgrind); `cargo bench --no-run` only compiles it.
use cortical_kernels::faer::Par;
use cortical_kernels::rnn::{backward_with, forward_with, Activation, Dims};
use gungraun::{library_benchmark, library_benchmark_group, main};
use std::hint::black_box;

mod common;
use common::seq;

const D: Dims = Dims {
    steps: 20,
    batch: 8,
    input: 8,
    hidden: 64,
};

struct Inputs {
    act: Activation,
    x: Vec<f32>,
    w_in: Vec<f32>,
    w_rec: Vec<f32>,
    b: Vec<f32>,
    h: Vec<f32>,
    dh: Vec<f32>,
}

fn setup(act: Activation) -> Inputs {
    let Dims {
        steps,
        batch,
        input,
        hidden: n,
    } = D;
    Inputs {
        act,
        x: seq(steps * batch * input, 1.0, 1),
        w_in: seq(input * n, 0.35, 2),
        w_rec: seq(n * n, 0.18, 3),
        b: seq(n, 0.1, 4),
        h: vec![0.0; (steps + 1) * batch * n],
        dh: seq(steps * batch * n, 0.1, 5),
    }
}

#[library_benchmark]
#[bench::tanh(setup(Activation::Tanh))]
#[bench::relu(setup(Activation::Relu))]
fn fwd_bwd(mut i: Inputs) -> (Vec<f32>, Vec<f32>) {
    let Dims {
        batch,
        input,
        hidden: n,
        ..
    } = D;
    let par = Some(Par::Seq);
    forward_with(D, i.act, &i.x, &i.w_in, &i.w_rec, &i.b, &mut i.h, par);
    let (mut g_in, mut g_rec, mut g_b) = (vec![0.0; input * n], vec![0.0; n * n], vec![0.0; n]);
    let mut dh0 = vec![0.0; batch * n];
    backward_with(
        D, i.act, &i.x, &i.w_in, &i.w_rec, &i.h, &mut i.dh, &mut g_in, &mut g_rec, &mut g_b,
        &mut dh0, par,
    );
    black_box((g_rec, dh0))
}

library_benchmark_group!(name = rnn, benchmarks = fwd_bwd);
main!(library_benchmark_groups = rnn);
