//! The model's parameters as one flat f32 vector (so that Adam, the gradient buffer and the
//! determinism check each see one slice) with typed views into it.
//!
//! Row-vector convention throughout (METHOD.md §4): `h_t = act(x_t U + h_{t-1} W + b)`,
//! `logits = h_T V + c`; every matrix is stored row-major, `W[i*n + j]` is the weight from unit
//! i to unit j.
use rand::RngExt;

use super::ops::Real;
pub use super::ops::{Grads, Tensors};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Sizes of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    /// Input channels.
    pub input: usize,
    /// Recurrent units N.
    pub hidden: usize,
    /// Output classes.
    pub classes: usize,
}

/// Offsets of each tensor in the flat vector: `[U | W | b | V | c]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub dims: Dims,
    pub u: usize,
    pub w: usize,
    pub b: usize,
    pub v: usize,
    pub c: usize,
    pub len: usize,
}

impl Layout {
    pub fn new(dims: Dims) -> Self {
        let Dims {
            input: i,
            hidden: n,
            classes: k,
        } = dims;
        let u = 0;
        let w = u + i * n;
        let b = w + n * n;
        let v = b + n;
        let c = v + n * k;
        Layout {
            dims,
            u,
            w,
            b,
            v,
            c,
            len: c + k,
        }
    }
}

impl Layout {
    /// Views `[U, W, b, V, c]` of a flat slice.
    pub fn split<'a, T>(&self, p: &'a [T]) -> Tensors<'a, T> {
        Tensors {
            u: &p[self.u..self.w],
            w: &p[self.w..self.b],
            b: &p[self.b..self.v],
            v: &p[self.v..self.c],
            c: &p[self.c..self.len],
        }
    }

    /// Mutable views `[U, W, b, V, c]` of a flat slice.
    pub fn split_mut<'a, T>(&self, p: &'a mut [T]) -> Grads<'a, T> {
        let (u, rest) = p.split_at_mut(self.w - self.u);
        let (w, rest) = rest.split_at_mut(self.b - self.w);
        let (b, rest) = rest.split_at_mut(self.v - self.b);
        let (v, c) = rest.split_at_mut(self.c - self.v);
        Grads { u, w, b, v, c }
    }
}

/// Glorot-uniform (Keras's default kernel initializer): U(−l, l), l = √(6/(fan_in+fan_out)).
pub fn glorot_uniform<T: Real>(
    out: &mut [T],
    fan_in: usize,
    fan_out: usize,
    rng: &mut Xoshiro256PlusPlus,
) {
    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt();
    for x in out {
        *x = T::of(rng.random_range(-limit..limit));
    }
}

/// Fresh parameters: U, V glorot-uniform, biases 0, W = `w0` (row-major N×N, converted to f32).
///
/// U is drawn before V, from the same generator, so a seed fixes both.
pub fn init_params<T: Real>(layout: &Layout, w0: &[f64], rng: &mut Xoshiro256PlusPlus) -> Vec<T> {
    let Dims {
        input,
        hidden,
        classes,
    } = layout.dims;
    let mut p = vec![T::default(); layout.len];
    let parts = layout.split_mut(&mut p);
    glorot_uniform(parts.u, input, hidden, rng);
    for (dst, &src) in parts.w.iter_mut().zip(w0) {
        *dst = T::of(src);
    }
    glorot_uniform(parts.v, hidden, classes, rng);
    p
}
