//! Helpers shared by the bench targets (`mod common;`); each target uses part of them.
#![allow(dead_code)]
use cortical_kernels::rnn::{backward, forward, Activation, Dims};
use std::hint::black_box;
use std::ops::RangeInclusive;
use std::time::Duration;

/// Steps and inputs of the RNN benches (the peers' T and input size).
pub const T: usize = 100;
pub const IN: usize = 8;

/// Deterministic inputs in (−a, a) from a fixed linear congruential sequence (the values do not
/// matter for the cost, only that they are not all equal).
pub fn seq(len: usize, a: f32, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((s >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0) * a
        })
        .collect()
}

/// One RNN forward + backward case: what a training step does — refill `dh` (the caller's
/// incoming gradient, nonzero at every step as in the peer's per-step readout), forward,
/// backward.
pub struct RnnCase {
    pub d: Dims,
    act: Activation,
    x: Vec<f32>,
    w_in: Vec<f32>,
    w_rec: Vec<f32>,
    b: Vec<f32>,
    h: Vec<f32>,
    dh_in: Vec<f32>,
    dh: Vec<f32>,
    g_in: Vec<f32>,
    g_rec: Vec<f32>,
    g_b: Vec<f32>,
    dh0: Vec<f32>,
}

impl RnnCase {
    pub fn new(n: usize, batch: usize, act: Activation) -> RnnCase {
        let d = Dims {
            steps: T,
            batch,
            input: IN,
            hidden: n,
        };
        // torch.nn.RNN's init scale U(−1/√n, 1/√n), as in the peer.
        let k = 1.0 / (n as f32).sqrt();
        RnnCase {
            d,
            act,
            x: seq(T * batch * IN, 1.0, 1),
            w_in: seq(IN * n, k, 2),
            w_rec: seq(n * n, k, 3),
            b: seq(n, k, 4),
            h: vec![0.0; (T + 1) * batch * n],
            dh_in: seq(T * batch * n, 1e-3, 5),
            dh: vec![0.0; T * batch * n],
            g_in: vec![0.0; IN * n],
            g_rec: vec![0.0; n * n],
            g_b: vec![0.0; n],
            dh0: vec![0.0; batch * n],
        }
    }

    pub fn run(&mut self) {
        self.dh.copy_from_slice(&self.dh_in);
        forward(
            self.d,
            self.act,
            &self.x,
            &self.w_in,
            &self.w_rec,
            &self.b,
            &mut self.h,
        );
        backward(
            self.d,
            self.act,
            &self.x,
            &self.w_in,
            &self.w_rec,
            &self.h,
            &mut self.dh,
            &mut self.g_in,
            &mut self.g_rec,
            &mut self.g_b,
            &mut self.dh0,
        );
        black_box(&self.g_rec);
    }
}

/// The median of `v` (the mean of the two middle values for an even count); NaN when empty.
pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    match v.len() {
        0 => f64::NAN,
        len if len % 2 == 1 => v[m],
        _ => 0.5 * (v[m - 1] + v[m]),
    }
}

/// The least and the greatest of `v` ((+∞, −∞) when empty).
pub fn range(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

/// Back-to-back calls of about `one_call` each that fill a block of about `block`, kept within
/// `bounds` (a lower bound > 1 keeps a block's median off its one cold first call).
pub fn calls_per_block(
    one_call: Duration,
    block: Duration,
    bounds: RangeInclusive<usize>,
) -> usize {
    let calls = block.as_secs_f64() / one_call.as_secs_f64().max(1e-9);
    (calls.ceil() as usize).clamp(*bounds.start(), *bounds.end())
}
