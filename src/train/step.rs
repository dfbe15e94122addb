//! One training step's loss and gradient, and one evaluation pass, on buffers allocated once
//! per run.
use std::time::{Duration, Instant};

use faer::Par;

use super::model::Layout;
use super::ops::{self, Activation, Real, RegInputs, RegScratch, RnnBuffers, Shape};
use super::Dataset;
use crate::error::Result;

/// Everything a step writes, allocated once per run and reused (no allocation per step).
pub struct Workspace<T: Real> {
    pub layout: Layout,
    pub steps: usize,
    pub batch: usize,
    /// Batch inputs `[T, B, I]` (noise added in place).
    pub x: Vec<T>,
    pub labels: Vec<u32>,
    pub rnn: RnnBuffers<T>,
    /// Flat gradient, same layout as the parameters.
    pub grad: Vec<T>,
    pub reg: RegScratch<T>,
}

impl<T: Real> Workspace<T> {
    pub fn new(layout: Layout, steps: usize, batch: usize) -> Self {
        let d = layout.dims;
        Workspace {
            layout,
            steps,
            batch,
            x: vec![T::default(); steps * batch * d.input],
            labels: vec![0; batch],
            rnn: RnnBuffers::new(Self::shape_of(layout, steps, batch)),
            grad: vec![T::default(); layout.len],
            reg: RegScratch::new(d.hidden),
        }
    }

    fn shape_of(layout: Layout, steps: usize, batch: usize) -> Shape {
        let d = layout.dims;
        Shape {
            steps,
            batch,
            input: d.input,
            hidden: d.hidden,
            classes: d.classes,
        }
    }

    pub fn shape(&self, batch: usize) -> Shape {
        Self::shape_of(self.layout, self.steps, batch)
    }
}

/// What one step measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepStats {
    pub xent: f64,
    pub reg: f64,
    pub correct: usize,
    pub t_rnn: Duration,
    pub t_reg: Duration,
}

/// Loss and gradient of the batch already in `ws.x`/`ws.labels`: fills `ws.grad` with
/// ∂(mean CE + regularizer)/∂θ.
pub fn loss_and_grad<T: Real>(
    params: &[T],
    ws: &mut Workspace<T>,
    reg: &RegInputs<'_, T>,
    act: Activation,
    par: Par,
) -> Result<StepStats> {
    let layout = ws.layout;
    let s = ws.shape(ws.batch);
    let p = layout.split(params);
    let t0 = Instant::now();
    let g = layout.split_mut(&mut ws.grad);
    let (xent, correct) = ops::xent(s, act, &ws.x, &ws.labels, &p, Some(g), &mut ws.rnn, par);
    let t1 = Instant::now();
    let gw = layout.split_mut(&mut ws.grad).w;
    let reg_value = ops::regularizer(reg, p.w, gw, &mut ws.reg)?;
    let t2 = Instant::now();
    Ok(StepStats {
        xent,
        reg: reg_value,
        correct,
        t_rnn: t1 - t0,
        t_reg: t2 - t1,
    })
}

/// Mean cross-entropy and accuracy of `params` on a whole data set, no noise, in chunks of the
/// workspace's batch size.
pub fn evaluate<T: Real>(
    params: &[T],
    ws: &mut Workspace<T>,
    data: &Dataset,
    act: Activation,
    par: Par,
) -> (f64, f64) {
    let p = ws.layout.split(params);
    let (mut loss, mut correct) = (0.0f64, 0usize);
    let mut start = 0;
    while start < data.trials {
        let b = ws.batch.min(data.trials - start);
        let s = ws.shape(b);
        let xlen = s.steps * b * s.input;
        data.gather_range(start..start + b, &mut ws.x[..xlen], &mut ws.labels[..b]);
        let (l, c) = ops::xent(
            s,
            act,
            &ws.x[..xlen],
            &ws.labels[..b],
            &p,
            None,
            &mut ws.rnn,
            par,
        );
        loss += l * b as f64;
        correct += c;
        start += b;
    }
    (
        loss / data.trials as f64,
        correct as f64 / data.trials as f64,
    )
}
