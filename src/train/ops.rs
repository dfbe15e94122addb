//! The one place where training calls the kernels: RNN forward/BPTT and the fused readout
//! (`cortical_kernels::rnn`), and the regularizers (`cortical_kernels::reg`). Generic over
//! f32 (training) and f64 (the whole-model gradient check).
use faer::{MatMut, MatRef, Par};

use crate::error::{Error, Result};
use crate::kernels::reg::{self, RegScalar};
use crate::kernels::rnn::{self, RnnScalar};
use crate::variants::RegForm;

pub use crate::kernels::rnn::Activation;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// Element types a model can be trained or differentiated in: f32 and f64.
pub trait Real: RnnScalar + RegScalar + Default + std::fmt::Debug + sealed::Sealed {
    fn of(v: f64) -> Self;
    fn f(self) -> f64;
}

impl Real for f32 {
    fn of(v: f64) -> Self {
        v as f32
    }
    fn f(self) -> f64 {
        f64::from(self)
    }
}

impl Real for f64 {
    fn of(v: f64) -> Self {
        v
    }
    fn f(self) -> f64 {
        self
    }
}

/// Shapes of one batch.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub steps: usize,
    pub batch: usize,
    pub input: usize,
    pub hidden: usize,
    pub classes: usize,
}

impl Shape {
    fn rnn(&self) -> rnn::Dims {
        rnn::Dims {
            steps: self.steps,
            batch: self.batch,
            input: self.input,
            hidden: self.hidden,
        }
    }
    fn readout(&self) -> rnn::ReadoutDims {
        rnn::ReadoutDims {
            batch: self.batch,
            hidden: self.hidden,
            classes: self.classes,
        }
    }
}

/// Buffers of one forward/backward pass, sized once.
pub struct RnnBuffers<T: Real> {
    /// `[T + 1, B, N]`, h\[0\] = 0.
    pub h: Vec<T>,
    /// `[T, B, N]`.
    pub dh: Vec<T>,
    pub dh0: Vec<T>,
    pub readout: rnn::RnnWorkspace<T>,
}

impl<T: Real> RnnBuffers<T> {
    pub fn new(s: Shape) -> Self {
        let bn = s.batch * s.hidden;
        RnnBuffers {
            h: vec![T::default(); (s.steps + 1) * bn],
            dh: vec![T::default(); s.steps * bn],
            dh0: vec![T::default(); bn],
            readout: rnn::RnnWorkspace::new(s.batch, s.classes),
        }
    }
}

/// The model's tensors (row-major).
pub struct Tensors<'a, T> {
    pub u: &'a [T],
    pub w: &'a [T],
    pub b: &'a [T],
    pub v: &'a [T],
    pub c: &'a [T],
}

/// Their gradients (overwritten).
pub struct Grads<'a, T> {
    pub u: &'a mut [T],
    pub w: &'a mut [T],
    pub b: &'a mut [T],
    pub v: &'a mut [T],
    pub c: &'a mut [T],
}

/// Mean cross-entropy of the batch `x` (`[T, B, I]`), number correct, and — when `g` is given —
/// the gradient of the mean cross-entropy (overwriting `g`). `s.batch` may be smaller than the
/// buffers' batch (the last evaluation chunk).
#[allow(clippy::too_many_arguments)]
pub fn xent<T: Real>(
    s: Shape,
    act: Activation,
    x: &[T],
    labels: &[u32],
    p: &Tensors<'_, T>,
    g: Option<Grads<'_, T>>,
    buf: &mut RnnBuffers<T>,
    par: Par,
) -> (f64, usize) {
    let bn = s.batch * s.hidden;
    let h = &mut buf.h[..(s.steps + 1) * bn];
    h[..bn].fill(T::default());
    rnn::forward_with(s.rnn(), act, x, p.u, p.w, p.b, h, Some(par));
    let h_last = &h[s.steps * bn..];
    match g {
        None => {
            let r = rnn::xent_last_eval(s.readout(), h_last, p.v, p.c, labels, &mut buf.readout);
            (r.loss.f(), r.correct)
        }
        Some(g) => {
            let dh = &mut buf.dh[..s.steps * bn];
            // Only the last step's loss reaches h: the other steps' incoming gradients are zero.
            dh[..(s.steps - 1) * bn].fill(T::default());
            g.v.fill(T::default());
            g.c.fill(T::default());
            let r = rnn::softmax_xent_last(
                s.readout(),
                h_last,
                p.v,
                p.c,
                labels,
                g.v,
                g.c,
                &mut dh[(s.steps - 1) * bn..],
                &mut buf.readout,
            );
            g.u.fill(T::default());
            g.w.fill(T::default());
            g.b.fill(T::default());
            rnn::backward_with(
                s.rnn(),
                act,
                x,
                p.u,
                p.w,
                h,
                dh,
                g.u,
                g.w,
                g.b,
                &mut buf.dh0[..bn],
                Some(par),
            );
            (r.loss.f(), r.correct)
        }
    }
}

/// Fixed inputs of a regularizer (matrices N×N row-major).
#[derive(Debug, Clone, Copy)]
pub struct RegInputs<'a, T> {
    pub form: RegForm,
    pub lambda: T,
    pub lambda_emd: T,
    pub eps: T,
    /// D or D\* (needed by every form but `L1`).
    pub distance: Option<&'a [T]>,
    /// sort(C_emp) over all N² entries (needed by `L1DistanceEmd`).
    pub c_emp_sorted: Option<&'a [T]>,
}

/// Reusable buffers of the regularizer (the kernels' workspace: expm, EMD, temporaries).
pub struct RegScratch<T: Real> {
    n: usize,
    ws: reg::RegWorkspace<T>,
}

impl<T: Real> RegScratch<T> {
    pub fn new(n: usize) -> Self {
        RegScratch {
            n,
            ws: reg::RegWorkspace::new(n),
        }
    }
}

/// The variant's regularizer at `w` (N×N row-major): returns its value and ACCUMULATES its
/// (sub)gradient into `grad`.
pub fn regularizer<T: Real>(
    r: &RegInputs<'_, T>,
    w: &[T],
    grad: &mut [T],
    ws: &mut RegScratch<T>,
) -> Result<f64> {
    let n = ws.n;
    let wm = MatRef::from_row_major_slice(w, n, n);
    let g = MatMut::from_row_major_slice_mut(grad, n, n);
    let need_d = || {
        r.distance
            .map(|d| MatRef::from_row_major_slice(d, n, n))
            .ok_or_else(|| Error::Invalid {
                what: "regularizer".into(),
                reason: format!("{} needs a distance matrix", r.form.formula()),
            })
    };
    let v = match r.form {
        RegForm::L1 => reg::l1(wm, r.lambda, None, g)?,
        RegForm::L1Distance => reg::l1_distance(wm, need_d()?, r.lambda, None, g)?,
        RegForm::L1DistanceComm => {
            reg::l1_distance_comm(wm, need_d()?, r.lambda, r.eps, None, g, &mut ws.ws)?
        }
        RegForm::L1DistanceEmd => {
            let c = r.c_emp_sorted.ok_or_else(|| Error::Invalid {
                what: "regularizer".into(),
                reason: format!("{} needs sort(C_emp)", r.form.formula()),
            })?;
            let mut g = g;
            let a = reg::l1_distance(wm, need_d()?, r.lambda, None, g.as_mut())?;
            a + reg::emd_comm(wm, c, r.lambda_emd, r.eps, g, &mut ws.ws)?
        }
    };
    Ok(v.f())
}
