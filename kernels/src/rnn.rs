//! Batched Elman RNN: forward, BPTT backward, and the last-step softmax cross-entropy readout.
//!
//! Row-vector convention throughout (`h_t = act(x_t·W_in + h_{t−1}·W_rec + b)`, `W[i, j]` is
//! the weight from unit i to unit j) and row-major flat slices, so the states of all steps,
//! `[steps + 1, batch, hidden]`, are also one `[(steps + 1)·batch, hidden]` matrix. That
//! reshape is what makes the expensive parts single large GEMMs:
//!
//! * forward: the input projection of every step is one `[steps·batch, input] × [input, hidden]`
//!   product written straight into `h[1..]`; each step then adds `h_{t−1}·W_rec` in place and
//!   applies bias + activation in one SIMD pass. No scratch memory at all.
//! * the step products of the recurrences multiply by the same `W_rec` (`W_recᵀ` going back)
//!   `T` times: in f32 on a CPU with AVX-512 or AVX2 + FMA it is packed once per pass for the
//!   [`crate::packed`] kernel (the `B` operand a general GEMM would repack at every step),
//!   elsewhere — f64, neither instruction set, or a step product that runs on several
//!   threads — each step is one faer GEMM.
//! * the recurrences (forward and backward) are independent across trials, so when a step's
//!   product is large enough to run on several threads, the batch is split instead: each rayon
//!   thread walks all steps of its own trials with sequential products, and the cores never
//!   meet at a fork/join inside a step. Each trial's arithmetic is the same as in one pass over
//!   the whole batch (bit for bit; `tests/rnn.rs`).
//! * backward: `dh` doubles as the storage of `Δ_t = ∂L/∂(pre-activation)_t`. Walking back, the
//!   step GEMM `Δ_t·W_recᵀ` *accumulates* into `dh[t−1]`, so the caller's incoming gradient at
//!   every step costs nothing extra — the usual training case, `dh` zero except at the last
//!   step, runs the same single GEMM plus one fused element-wise pass per step as any other
//!   `dh`. After the loop `dh` holds `Δ[1..T]` and the weight gradients are two large GEMMs over
//!   all steps (`H[0..T)ᵀ·Δ` and `Xᵀ·Δ`), not `2T` thin ones.
//!
//! The derivative of the activation is taken through its output (relu: `h > 0`, tanh:
//! `1 − h²`), so the forward pass keeps nothing but `h`.
//!
//! Slice lengths are a contract, as in BLAS: a mismatch panics with a message naming the
//! argument, its length and the length the dimensions require.
use crate::gemm::{auto_par, gemm, rm, rm_mut, GemmScalar};
use crate::packed::{self, gemm_at_b, gemm_packed_rhs, PackedRhs};
use crate::simd::{act_grad_mul, add_col_sums, bias_act_rows, ActScalar};
use core::cell::RefCell;
use core::ops::{Add, AddAssign, Div, Mul, MulAssign, Sub, SubAssign};
use faer::{Accum, MatRef, Par};

/// Hidden-unit nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `max(0, z)`; its derivative is taken as 0 at 0 (as TensorFlow does).
    Relu,
    /// `tanh(z)`.
    Tanh,
}

/// Sizes of one batched RNN pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    /// Number of time steps T.
    pub steps: usize,
    /// Trials per batch B.
    pub batch: usize,
    /// Input channels.
    pub input: usize,
    /// Hidden units n.
    pub hidden: usize,
}

impl Dims {
    /// Floating-point operations of one forward + backward pass, `6·T·B·(n² + n·in)`, the count
    /// the benches turn into GFLOP/s.
    pub fn flops_fwd_bwd(&self) -> f64 {
        let (t, b, n, i) = (
            self.steps as f64,
            self.batch as f64,
            self.hidden as f64,
            self.input as f64,
        );
        6.0 * t * b * (n * n + n * i)
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// Element types of the RNN kernels: `f32` for training, `f64` as the twin the gradient checks
/// difference through.
pub trait RnnScalar:
    GemmScalar
    + ActScalar
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + sealed::Sealed
{
    #[doc(hidden)]
    fn from_f64(v: f64) -> Self;
    #[doc(hidden)]
    fn to_f64(self) -> f64;
    #[doc(hidden)]
    fn exp(self) -> Self;
    /// `Some` for `f32`: the step products then run on the packed-`W_rec` kernel.
    #[doc(hidden)]
    fn as_f32(s: &[Self]) -> Option<&[f32]>;
    #[doc(hidden)]
    fn as_f32_mut(s: &mut [Self]) -> Option<&mut [f32]>;
}

impl RnnScalar for f32 {
    #[inline]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn exp(self) -> Self {
        f32::exp(self)
    }
    #[inline]
    fn as_f32(s: &[Self]) -> Option<&[f32]> {
        Some(s)
    }
    #[inline]
    fn as_f32_mut(s: &mut [Self]) -> Option<&mut [f32]> {
        Some(s)
    }
}

impl RnnScalar for f64 {
    #[inline]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline]
    fn exp(self) -> Self {
        f64::exp(self)
    }
    #[inline]
    fn as_f32(_: &[Self]) -> Option<&[f32]> {
        None
    }
    #[inline]
    fn as_f32_mut(_: &mut [Self]) -> Option<&mut [f32]> {
        None
    }
}

#[track_caller]
fn check_len(func: &str, what: &str, got: usize, expected: usize, shape: &str) {
    assert!(
        got == expected,
        "rnn::{func}: {what} has length {got}, but {shape} = {expected}"
    );
}

/// `h_t = act(x_t · W_in + h_{t−1} · W_rec + b)` for `t = 1..=steps`.
///
/// `x`: `[steps, batch, input]`; `w_in`: `[input, hidden]`; `w_rec`: `[hidden, hidden]`;
/// `b`: `[hidden]`; `h`: `[steps + 1, batch, hidden]` with `h[0] = h_0` given by the caller and
/// `h[1..]` written. Parallelism is chosen per product by size ([`forward_with`] takes it
/// explicitly). Allocates nothing after the first f32 call of a size on a thread: the step
/// products read `W_rec` packed into a per-thread buffer ([`release_thread_buffers`]).
///
/// # Panics
/// If a slice's length does not match `d` (the message names the argument and both lengths).
#[allow(clippy::too_many_arguments)]
pub fn forward<T: RnnScalar>(
    d: Dims,
    act: Activation,
    x: &[T],
    w_in: &[T],
    w_rec: &[T],
    b: &[T],
    h: &mut [T],
) {
    forward_with(d, act, x, w_in, w_rec, b, h, None)
}

/// [`forward`] with explicit parallelism: `Some(par)` is used for every product, `None` picks
/// per product by size (sequential below a few MFLOP). Inside an outer rayon job (many runs
/// in parallel), pass `Some(Par::Seq)`.
#[allow(clippy::too_many_arguments)]
pub fn forward_with<T: RnnScalar>(
    d: Dims,
    act: Activation,
    x: &[T],
    w_in: &[T],
    w_rec: &[T],
    b: &[T],
    h: &mut [T],
    par: Option<Par>,
) {
    let Dims {
        steps,
        batch,
        input,
        hidden: n,
    } = d;
    let bn = batch * n;
    check_len(
        "forward",
        "x",
        x.len(),
        steps * batch * input,
        "steps·batch·input",
    );
    check_len("forward", "w_in", w_in.len(), input * n, "input·hidden");
    check_len("forward", "w_rec", w_rec.len(), n * n, "hidden·hidden");
    check_len("forward", "b", b.len(), n, "hidden");
    check_len(
        "forward",
        "h",
        h.len(),
        (steps + 1) * bn,
        "(steps + 1)·batch·hidden",
    );
    if steps == 0 || bn == 0 {
        return;
    }
    let rows = steps * batch;
    let pick = |flops: usize| par.unwrap_or_else(|| auto_par(flops));

    // Input projection of all steps at once, straight into h[1..].
    {
        let dst = &mut h[bn..];
        if input == 0 {
            dst.fill(T::zero_impl());
        } else {
            gemm(
                rm_mut(dst, rows, n),
                Accum::Replace,
                rm(x, rows, input),
                rm(w_in, input, n),
                pick(2 * rows * input * n),
            );
        }
    }
    let step_par = pick(2 * batch * n * n);
    let parts = batch_parts(batch, step_par);
    let par = if parts > 1 { Par::Seq } else { step_par };
    let hp = SendPtr(h.as_mut_ptr());
    with_step_rhs(w_rec, n, false, par, |rhs| {
        let recur = |part: usize| {
            let (r0, r1) = part_rows(part, parts, batch);
            let rows = r1 - r0;
            for t in 1..=steps {
                // SAFETY: `h` has (steps + 1)·bn elements (checked above); this part reads rows
                // r0..r1 of step t − 1 and writes rows r0..r1 of step t, disjoint from every
                // other part's rows, and `h` stays borrowed for the whole call.
                let (prev, cur) = unsafe {
                    (
                        std::slice::from_raw_parts(hp.at((t - 1) * bn + r0 * n), rows * n),
                        std::slice::from_raw_parts_mut(hp.at(t * bn + r0 * n), rows * n),
                    )
                };
                rhs.product(cur, Accum::Add, prev, rows, n, par);
                bias_act_rows(act, b, cur);
            }
        };
        run_parts(parts, &recur);
    });
}

/// The right-hand side of a recurrence's step products: `W_rec` (forward) or `W_recᵀ`
/// (backward), either packed for the f32 kernel of [`crate::packed`] or as faer's view of the slice.
#[derive(Clone, Copy)]
enum StepRhs<'a, T> {
    Packed(&'a PackedRhs),
    Plain(MatRef<'a, T>),
}

impl<T: RnnScalar> StepRhs<'_, T> {
    /// `cur (+)= prev · rhs` for `rows` rows of `n` (row-major, contiguous).
    fn product(self, cur: &mut [T], accum: Accum, prev: &[T], rows: usize, n: usize, par: Par) {
        match self {
            StepRhs::Packed(p) => {
                let (c, a) = match (T::as_f32_mut(cur), T::as_f32(prev)) {
                    (Some(c), Some(a)) => (c, a),
                    _ => unreachable!("W_rec is packed only for f32"),
                };
                gemm_packed_rhs(c, n, accum, a, n, rows, p);
            }
            StepRhs::Plain(w) => gemm(rm_mut(cur, rows, n), accum, rm(prev, rows, n), w, par),
        }
    }
}

thread_local! {
    /// This thread's packed `W_rec` (or `W_recᵀ`), reused by the next pass.
    static PACKED_W_REC: RefCell<PackedRhs> = RefCell::new(PackedRhs::new());
}

/// Frees this thread's buffers kept by [`forward`] and [`backward`] between f32 calls: the
/// packed copy of `W_rec` (about `n²` floats) and the slab of `Δ` the weight gradient packs
/// (256·n floats); the next call on this thread allocates them again.
pub fn release_thread_buffers() {
    PACKED_W_REC.with(|p| {
        if let Ok(mut p) = p.try_borrow_mut() {
            *p = PackedRhs::new();
        }
    });
    packed::release_slab_buffer();
}

/// Run `f` with the step products' right-hand side `W_rec` (`transposed`: `W_recᵀ`; `w_rec` is
/// `[n, n]` row-major). f32 with sequential step products where [`packed::kernel_available`] gets `W_rec`
/// packed once for all steps (into this thread's buffer, kept for the next call; a fresh one
/// when that buffer is in use further up this thread's stack); anything else gets faer's view.
fn with_step_rhs<T: RnnScalar, R>(
    w_rec: &[T],
    n: usize,
    transposed: bool,
    par: Par,
    f: impl FnOnce(StepRhs<'_, T>) -> R,
) -> R {
    fn view<U: GemmScalar>(w: &[U], n: usize, transposed: bool) -> MatRef<'_, U> {
        let v = rm(w, n, n);
        if transposed {
            v.transpose()
        } else {
            v
        }
    }
    match T::as_f32(w_rec) {
        Some(w) if par == Par::Seq && packed::kernel_available() => {
            packed::with_thread_buffer(&PACKED_W_REC, |p| {
                p.pack(view(w, n, transposed));
                f(StepRhs::Packed(p))
            })
        }
        _ => f(StepRhs::Plain(view(w_rec, n, transposed))),
    }
}

/// A raw pointer the batch parts of a recurrence share; each part touches only its own rows.
#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
// SAFETY: used only to hand disjoint row ranges of one exclusively borrowed slice to the parts
// of `run_parts`, which all finish before the borrow ends.
unsafe impl<T: Send> Send for SendPtr<T> {}
unsafe impl<T: Send> Sync for SendPtr<T> {}
impl<T> SendPtr<T> {
    /// The pointer `k` elements on (the caller keeps `k` in bounds).
    fn at(self, k: usize) -> *mut T {
        self.0.wrapping_add(k)
    }
}

/// Fewest trials per part of a split recurrence: below this the per-part products are too
/// thin for the GEMM's register tiles.
const MIN_PART_ROWS: usize = 16;

/// How many independent parts the recurrence over the batch is split into: one per rayon
/// thread when the step product would run in parallel anyway (`step_par` is rayon), so that
/// each core walks all steps of its own trials with sequential products instead of meeting
/// the other at a fork/join in every step's GEMM; one otherwise.
fn batch_parts(batch: usize, step_par: Par) -> usize {
    match step_par {
        Par::Seq => 1,
        Par::Rayon(_) => {
            let threads = rayon::current_num_threads().min(step_par.degree());
            threads.min(batch / MIN_PART_ROWS).max(1)
        }
    }
}

/// Trials `r0..r1` of part `part` of `parts` (sizes differ by at most one).
fn part_rows(part: usize, parts: usize, batch: usize) -> (usize, usize) {
    (part * batch / parts, (part + 1) * batch / parts)
}

/// Run `f(part)` for `part` in `0..parts` on the rayon pool (inline when `parts == 1`).
fn run_parts(parts: usize, f: &(dyn Fn(usize) + Sync)) {
    if parts == 1 {
        f(0);
    } else {
        use rayon::prelude::*;
        (0..parts).into_par_iter().for_each(f);
    }
}

/// BPTT through [`forward`].
///
/// `dh`: `[steps, batch, hidden]` = `∂L/∂h_t` for `t = 1..=steps`; it is overwritten (on return
/// it holds `∂L/∂z_t`, the gradient at the pre-activations). `h` is the forward pass's
/// `[steps + 1, batch, hidden]`. Adds `∂L/∂W_in`, `∂L/∂W_rec`, `∂L/∂b` into `g_w_in`, `g_w_rec`,
/// `g_b`; writes `∂L/∂h_0` into `dh0` (`[batch, hidden]`). Allocates nothing after the first
/// f32 call of a size on a thread (`W_recᵀ` packed as in [`forward`], and the weight gradient's
/// slab of `Δ` in a per-thread buffer of [`crate::packed::gemm_at_b`]).
///
/// A `dh` that is zero except at the last step (a loss read at the last step only) costs the
/// same as any other: the incoming gradient is folded into the accumulating step GEMM.
///
/// # Panics
/// If a slice's length does not match `d` (the message names the argument and both lengths).
#[allow(clippy::too_many_arguments)]
pub fn backward<T: RnnScalar>(
    d: Dims,
    act: Activation,
    x: &[T],
    w_in: &[T],
    w_rec: &[T],
    h: &[T],
    dh: &mut [T],
    g_w_in: &mut [T],
    g_w_rec: &mut [T],
    g_b: &mut [T],
    dh0: &mut [T],
) {
    backward_with(
        d, act, x, w_in, w_rec, h, dh, g_w_in, g_w_rec, g_b, dh0, None,
    )
}

/// [`backward`] with explicit parallelism (see [`forward_with`]).
#[allow(clippy::too_many_arguments)]
pub fn backward_with<T: RnnScalar>(
    d: Dims,
    act: Activation,
    x: &[T],
    w_in: &[T],
    w_rec: &[T],
    h: &[T],
    dh: &mut [T],
    g_w_in: &mut [T],
    g_w_rec: &mut [T],
    g_b: &mut [T],
    dh0: &mut [T],
    par: Option<Par>,
) {
    let Dims {
        steps,
        batch,
        input,
        hidden: n,
    } = d;
    let bn = batch * n;
    check_len(
        "backward",
        "x",
        x.len(),
        steps * batch * input,
        "steps·batch·input",
    );
    check_len("backward", "w_in", w_in.len(), input * n, "input·hidden");
    check_len("backward", "w_rec", w_rec.len(), n * n, "hidden·hidden");
    check_len(
        "backward",
        "h",
        h.len(),
        (steps + 1) * bn,
        "(steps + 1)·batch·hidden",
    );
    check_len("backward", "dh", dh.len(), steps * bn, "steps·batch·hidden");
    check_len(
        "backward",
        "g_w_in",
        g_w_in.len(),
        input * n,
        "input·hidden",
    );
    check_len("backward", "g_w_rec", g_w_rec.len(), n * n, "hidden·hidden");
    check_len("backward", "g_b", g_b.len(), n, "hidden");
    check_len("backward", "dh0", dh0.len(), bn, "batch·hidden");
    if steps == 0 || bn == 0 {
        // L does not depend on h_0 through zero steps (or there is nothing to differentiate).
        dh0.fill(T::zero_impl());
        return;
    }
    let rows = steps * batch;
    let pick = |flops: usize| par.unwrap_or_else(|| auto_par(flops));
    let step_par = pick(2 * batch * n * n);

    let parts = batch_parts(batch, step_par);
    let par = if parts > 1 { Par::Seq } else { step_par };
    let (dhp, dh0p) = (SendPtr(dh.as_mut_ptr()), SendPtr(dh0.as_mut_ptr()));
    with_step_rhs(w_rec, n, true, par, |w_rec_t| {
        let recur = |part: usize| {
            let (r0, r1) = part_rows(part, parts, batch);
            let rows = r1 - r0;
            for t in (1..=steps).rev() {
                // dh[t − 1] (0-based) is ∂L/∂h_t; the step before it still waits for Δ_t·W_recᵀ.
                // SAFETY: `dh` has steps·bn and `dh0` bn elements (checked above); this part
                // touches only rows r0..r1 of dh[t − 1], dh[t − 2] and dh0, disjoint from every
                // other part's rows, and both stay borrowed for the whole call.
                let delta = unsafe {
                    std::slice::from_raw_parts_mut(dhp.at((t - 1) * bn + r0 * n), rows * n)
                };
                act_grad_mul(act, &h[t * bn + r0 * n..t * bn + r1 * n], delta);
                let (prev, accum) = if t > 1 {
                    let p = dhp.at((t - 2) * bn + r0 * n);
                    (
                        unsafe { std::slice::from_raw_parts_mut(p, rows * n) },
                        Accum::Add,
                    )
                } else {
                    let p = dh0p.at(r0 * n);
                    (
                        unsafe { std::slice::from_raw_parts_mut(p, rows * n) },
                        Accum::Replace,
                    )
                };
                w_rec_t.product(prev, accum, delta, rows, n, par);
            }
        };
        run_parts(parts, &recur);
    });

    let delta_all = rm(&*dh, rows, n);
    let wg_par = pick(2 * rows * n * n);
    match (
        T::as_f32_mut(g_w_rec),
        T::as_f32(&h[..rows * n]),
        T::as_f32(dh),
    ) {
        (Some(g), Some(h), Some(delta)) => {
            gemm_at_b(g, n, Accum::Add, h, n, delta, n, rows, n, n, wg_par)
        }
        _ => gemm(
            rm_mut(g_w_rec, n, n),
            Accum::Add,
            rm(&h[..rows * n], rows, n).transpose(),
            delta_all,
            wg_par,
        ),
    }
    if input > 0 {
        gemm(
            rm_mut(g_w_in, input, n),
            Accum::Add,
            rm(x, rows, input).transpose(),
            delta_all,
            pick(2 * rows * input * n),
        );
    }
    add_col_sums(dh, g_b);
}

/// Sizes of the last-step readout `softmax(h_T·V + c)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadoutDims {
    /// Trials per batch B.
    pub batch: usize,
    /// Hidden units n.
    pub hidden: usize,
    /// Output classes C.
    pub classes: usize,
}

/// Value of the readout over a batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Xent<T> {
    /// Mean categorical cross-entropy over the batch.
    pub loss: T,
    /// Trials whose argmax class (first maximum on ties) equals the label.
    pub correct: usize,
}

/// Caller-owned scratch of the readout (`[batch, classes]` probabilities and logit gradients), so the training loop
/// allocates once. Grows on demand; after a call, [`RnnWorkspace::probs`] holds the softmax
/// probabilities of the batch.
#[derive(Clone, Debug, Default)]
pub struct RnnWorkspace<T> {
    logits: Vec<T>,
    len: usize,
}

impl<T: RnnScalar> RnnWorkspace<T> {
    /// Scratch sized for `batch × classes` (larger batches grow it on first use).
    pub fn new(batch: usize, classes: usize) -> Self {
        RnnWorkspace {
            logits: vec![T::zero_impl(); batch * classes],
            len: 0,
        }
    }

    /// Softmax probabilities `[batch, classes]` of the last readout call.
    pub fn probs(&self) -> &[T] {
        &self.logits[..self.len]
    }

    fn buf(&mut self, len: usize) -> &mut [T] {
        self.bufs(len).0
    }

    /// Probabilities and `∂L/∂logits`, `len` each, in one allocation.
    fn bufs(&mut self, len: usize) -> (&mut [T], &mut [T]) {
        if self.logits.len() < 2 * len {
            self.logits.resize(2 * len, T::zero_impl());
        }
        self.len = len;
        let (p, dz) = self.logits.split_at_mut(len);
        (p, &mut dz[..len])
    }
}

/// Forward half of the readout: probabilities into `p` (`[batch, classes]`, holding the logits
/// on entry), returns the summed (not yet averaged) loss and the number correct.
fn softmax_rows<T: RnnScalar>(p: &mut [T], classes: usize, labels: &[u32]) -> (f64, usize) {
    let mut loss = 0.0f64;
    let mut correct = 0usize;
    for (i, (row, &y)) in p.chunks_exact_mut(classes).zip(labels).enumerate() {
        let y = y as usize;
        assert!(
            y < classes,
            "rnn::softmax_xent_last: labels[{i}] = {y} is not below classes = {classes}"
        );
        // Stable: shift by the row maximum, so exp never overflows and log-sum-exp ≥ 0.
        let mut arg = 0;
        let mut max = row[0];
        for (j, &z) in row.iter().enumerate().skip(1) {
            if z > max {
                max = z;
                arg = j;
            }
        }
        if arg == y {
            correct += 1;
        }
        let z_y = row[y];
        let mut sum = T::zero_impl();
        for z in row.iter_mut() {
            *z = (*z - max).exp();
            sum += *z;
        }
        loss += sum.to_f64().ln() - (z_y - max).to_f64();
        let inv = T::one_impl() / sum;
        for z in row.iter_mut() {
            *z *= inv;
        }
    }
    (loss, correct)
}

#[track_caller]
fn check_readout<T>(func: &str, d: ReadoutDims, h_last: &[T], v: &[T], c: &[T], labels: &[u32]) {
    let ReadoutDims {
        batch,
        hidden: n,
        classes,
    } = d;
    assert!(
        classes > 0,
        "rnn::{func}: classes must be at least 1, got 0"
    );
    check_len(func, "h_last", h_last.len(), batch * n, "batch·hidden");
    check_len(func, "v", v.len(), n * classes, "hidden·classes");
    check_len(func, "c", c.len(), classes, "classes");
    check_len(func, "labels", labels.len(), batch, "batch");
}

fn logits_into<T: RnnScalar>(
    d: ReadoutDims,
    h_last: &[T],
    v: &[T],
    c: &[T],
    z: &mut [T],
    par: Par,
) {
    let ReadoutDims {
        batch,
        hidden: n,
        classes,
    } = d;
    gemm(
        rm_mut(z, batch, classes),
        Accum::Replace,
        rm(h_last, batch, n),
        rm(v, n, classes),
        par,
    );
    for row in z.chunks_exact_mut(classes) {
        for (zj, &cj) in row.iter_mut().zip(c) {
            *zj += cj;
        }
    }
}

/// Last-step readout `softmax(h_T·V + c)` with the mean categorical cross-entropy over the
/// batch, value and gradient in one pass.
///
/// `h_last`: `[batch, hidden]`; `v`: `[hidden, classes]`; `c`: `[classes]`; `labels`: `[batch]`
/// class indices. Adds `∂L/∂V` into `g_v` and `∂L/∂c` into `g_c`; *writes* `∂L/∂h_T` into
/// `dh_last` (`[batch, hidden]`, e.g. the last step of [`backward`]'s `dh`).
///
/// # Panics
/// If a slice's length does not match `d`, `classes` is 0, or a label is not below `classes`.
#[allow(clippy::too_many_arguments)]
pub fn softmax_xent_last<T: RnnScalar>(
    d: ReadoutDims,
    h_last: &[T],
    v: &[T],
    c: &[T],
    labels: &[u32],
    g_v: &mut [T],
    g_c: &mut [T],
    dh_last: &mut [T],
    ws: &mut RnnWorkspace<T>,
) -> Xent<T> {
    const F: &str = "softmax_xent_last";
    check_readout(F, d, h_last, v, c, labels);
    let ReadoutDims {
        batch,
        hidden: n,
        classes,
    } = d;
    check_len(F, "g_v", g_v.len(), n * classes, "hidden·classes");
    check_len(F, "g_c", g_c.len(), classes, "classes");
    check_len(F, "dh_last", dh_last.len(), batch * n, "batch·hidden");
    let (p, dz) = ws.bufs(batch * classes);
    if batch == 0 {
        dh_last.fill(T::zero_impl());
        return Xent {
            loss: T::zero_impl(),
            correct: 0,
        };
    }
    let par = auto_par(2 * batch * n * classes);
    logits_into(d, h_last, v, c, p, par);
    let (loss, correct) = softmax_rows(p, classes, labels);

    // ∂(mean CE)/∂logits = (p − onehot(y)) / B, formed in a copy so `probs()` stays valid.
    let inv_b = T::from_f64(1.0 / batch as f64);
    dz.copy_from_slice(p);
    for (row, &y) in dz.chunks_exact_mut(classes).zip(labels) {
        row[y as usize] -= T::one_impl();
        for v in row.iter_mut() {
            *v *= inv_b;
        }
    }
    let dz = &*dz;
    gemm(
        rm_mut(g_v, n, classes),
        Accum::Add,
        rm(h_last, batch, n).transpose(),
        rm(dz, batch, classes),
        par,
    );
    add_col_sums(dz, g_c);
    gemm(
        rm_mut(dh_last, batch, n),
        Accum::Replace,
        rm(dz, batch, classes),
        rm(v, n, classes).transpose(),
        par,
    );
    Xent {
        loss: T::from_f64(loss / batch as f64),
        correct,
    }
}

/// Value-only readout (validation / test): mean cross-entropy and number correct.
///
/// # Panics
/// As [`softmax_xent_last`].
pub fn xent_last_eval<T: RnnScalar>(
    d: ReadoutDims,
    h_last: &[T],
    v: &[T],
    c: &[T],
    labels: &[u32],
    ws: &mut RnnWorkspace<T>,
) -> Xent<T> {
    check_readout("xent_last_eval", d, h_last, v, c, labels);
    let ReadoutDims {
        batch,
        hidden: n,
        classes,
    } = d;
    let p = ws.buf(batch * classes);
    if batch == 0 {
        return Xent {
            loss: T::zero_impl(),
            correct: 0,
        };
    }
    logits_into(d, h_last, v, c, p, auto_par(2 * batch * n * classes));
    let (loss, correct) = softmax_rows(p, classes, labels);
    Xent {
        loss: T::from_f64(loss / batch as f64),
        correct,
    }
}
