//! Wiring-cost regularizers of the recurrent weights W, communicability and its
//! vector–Jacobian product (METHOD.md §3–§4).
//!
//! # Communicability
//! C(A) = expm(S^-1/2 A S^-1/2), S = diag(r), r_i = Σ_j A_ij + ε (row sums: A[i, j] is the
//! weight from unit i to unit j, rows are presynaptic), then diag(C) = 0. With
//! X = S^-1/2 A S^-1/2, s_i = r_i^-1/2, Y = L(Xᵀ, G̃) (the adjoint Fréchet derivative, G̃ = G
//! with its diagonal zeroed because diag(C) is constant) and P = Y ⊙ X, the pullback is
//!
//! ∂⟨G, C⟩/∂A_kl = Y_kl s_k s_l − ½ s_k² (Σ_j P_kj + Σ_i P_ik),
//!
//! the second term being the path through the row sums (r_k depends on every A_kl of row k).
//!
//! # Regularizers
//! Every regularizer returns its value and **adds** (`+=`) its subgradient with respect to W
//! into `grad`, which the caller zeroes (so the terms of one training step accumulate into one
//! buffer). The subgradient of |w| at w = 0 is taken as 0: an exactly-zero weight is not pushed
//! (and under the sign constraint W ≥ 0 such weights stay put).
//!
//! | function | value | gradient includes |
//! |---|---|---|
//! | [`l1`] | λ Σ_M \|W\| | λ sign(W) |
//! | [`l1_distance`] | λ Σ_M \|W\| ⊙ D | λ D ⊙ sign(W) |
//! | [`l1_distance_comm`] | λ Σ_M \|W\| ⊙ D ⊙ C(\|W\|) | the direct term and the path through C |
//! | [`emd_comm`] | λ_EMD · mean \|sort(C_emp) − sort(C(\|W\|))\| over all N² entries | the path through the sort and C |
//!
//! Σ_M is the sum over the support `M` of an optional [`Mask`] (all N² entries without one).
//! The mask restricts the penalty, not the communicability: C(|W|) always uses all of W.
//!
//! # Cost
//! [`l1_distance_comm`] knows its C-cotangent before C exists (G = λ |W| ⊙ D ⊙ M), so one
//! `expm_frechet_into(Xᵀ, G)` yields both exp(X) (as exp(Xᵀ)ᵀ, written through a transposed
//! view) and L(Xᵀ, G): one Fréchet evaluation per step. [`emd_comm`]'s cotangent depends on the
//! sorted values of C, so it needs exp(X) first and then the Fréchet pair: one `expm_into`
//! plus one `expm_frechet_into` per step. Everything else is O(N²) (O(nnz) for CSR masks on the
//! |W| ⊙ D terms), SIMD through [`crate::simd::MaskedSum`], and allocation-free after the first
//! call on a [`RegWorkspace`].
use crate::emd::{EmdScalar, Wasserstein1d};
use crate::expm::{expm_frechet_into, expm_into, ExpmScalar, ExpmWorkspace};
use crate::simd::MaskedSum;
use crate::KernelError;
use faer::{Mat, MatMut, MatRef};
use std::ops::{Add, AddAssign, Mul, Neg, Sub};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// Element types of the regularizers: `f32` and `f64` (sealed).
pub trait RegScalar:
    sealed::Sealed
    + EmdScalar
    + ExpmScalar
    + MaskedSum
    + Copy
    + PartialOrd
    + Add<Output = Self>
    + AddAssign
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Neg<Output = Self>
    + Send
    + Sync
    + 'static
{
}
impl RegScalar for f32 {}
impl RegScalar for f64 {}

#[inline(always)]
fn cv<T: RegScalar>(x: f64) -> T {
    <T as EmdScalar>::from_f64(x)
}
#[inline(always)]
fn f<T: RegScalar>(x: T) -> f64 {
    <T as EmdScalar>::to_f64(x)
}
#[inline(always)]
fn sgn(x: f64) -> f64 {
    (x > 0.0) as u8 as f64 - (x < 0.0) as u8 as f64
}

/// A sparse support pattern in compressed-sparse-row form: row `i` holds the columns
/// `col_idx[row_ptr[i]..row_ptr[i + 1]]` (strictly increasing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrMask {
    n: usize,
    row_ptr: Vec<usize>,
    col_idx: Vec<usize>,
}

impl CsrMask {
    /// Validates a CSR pattern of an n×n matrix.
    pub fn try_new(
        n: usize,
        row_ptr: Vec<usize>,
        col_idx: Vec<usize>,
    ) -> Result<Self, KernelError> {
        if row_ptr.len() != n + 1 {
            return Err(KernelError::DimensionMismatch {
                what: "CsrMask row_ptr length",
                expected: (n + 1).to_string(),
                got: row_ptr.len().to_string(),
            });
        }
        if row_ptr[0] != 0 || row_ptr[n] != col_idx.len() {
            return Err(KernelError::DimensionMismatch {
                what: "CsrMask row_ptr bounds",
                expected: format!("row_ptr[0] = 0 and row_ptr[n] = {}", col_idx.len()),
                got: format!("{} and {}", row_ptr[0], row_ptr[n]),
            });
        }
        for i in 0..n {
            let (a, b) = (row_ptr[i], row_ptr[i + 1]);
            if a > b {
                return Err(KernelError::DimensionMismatch {
                    what: "CsrMask row_ptr",
                    expected: "non-decreasing".into(),
                    got: format!("row_ptr[{i}] = {a} > row_ptr[{}] = {b}", i + 1),
                });
            }
            let row = &col_idx[a..b];
            if let Some(k) = row.iter().position(|&j| j >= n) {
                return Err(KernelError::DimensionMismatch {
                    what: "CsrMask col_idx",
                    expected: format!("column < {n}"),
                    got: format!("{} in row {i}", row[k]),
                });
            }
            if row.windows(2).any(|w| w[0] >= w[1]) {
                return Err(KernelError::DimensionMismatch {
                    what: "CsrMask col_idx",
                    expected: "strictly increasing columns within a row".into(),
                    got: format!("row {i}: {row:?}"),
                });
            }
        }
        Ok(Self {
            n,
            row_ptr,
            col_idx,
        })
    }

    /// The entries (i, j) of an n×n matrix with `keep(i, j)`.
    pub fn from_fn(n: usize, mut keep: impl FnMut(usize, usize) -> bool) -> Self {
        let mut row_ptr = Vec::with_capacity(n + 1);
        let mut col_idx = Vec::new();
        row_ptr.push(0);
        for i in 0..n {
            col_idx.extend((0..n).filter(|&j| keep(i, j)));
            row_ptr.push(col_idx.len());
        }
        Self {
            n,
            row_ptr,
            col_idx,
        }
    }

    /// The non-zero entries of a square matrix (e.g. the connectome's synapses).
    pub fn from_nonzeros<T: RegScalar>(m: MatRef<'_, T>) -> Result<Self, KernelError> {
        let n = check_square("CsrMask::from_nonzeros: m", m)?;
        Ok(Self::from_fn(n, |i, j| f(m[(i, j)]) != 0.0))
    }

    /// The `true` entries of a square boolean matrix.
    pub fn from_dense(m: MatRef<'_, bool>) -> Result<Self, KernelError> {
        let n = check_square("CsrMask::from_dense: m", m)?;
        Ok(Self::from_fn(n, |i, j| m[(i, j)]))
    }

    /// Matrix size n (the pattern is n×n).
    pub fn n(&self) -> usize {
        self.n
    }
    /// Number of entries in the support.
    pub fn nnz(&self) -> usize {
        self.col_idx.len()
    }
    /// Row pointers (length n + 1).
    pub fn row_ptr(&self) -> &[usize] {
        &self.row_ptr
    }
    /// Column indices (length nnz).
    pub fn col_idx(&self) -> &[usize] {
        &self.col_idx
    }

    fn for_each(&self, mut visit: impl FnMut(usize, usize)) {
        for i in 0..self.n {
            for &j in &self.col_idx[self.row_ptr[i]..self.row_ptr[i + 1]] {
                visit(i, j);
            }
        }
    }
}

/// The support a penalty is restricted to.
#[derive(Debug, Clone, Copy)]
pub enum Mask<'a> {
    /// Entry (i, j) is penalized iff `m[(i, j)]`; any strides (a faer view of `bool`s).
    Dense(MatRef<'a, bool>),
    /// Only the pattern's entries are penalized; the |W| ⊙ D terms then cost O(nnz).
    Csr(&'a CsrMask),
}

impl Mask<'_> {
    /// Σ of `term(i, j)` over the mask's entries, in the mask's natural order (dense:
    /// column-major; CSR: row by row), so each penalized entry is visited exactly once.
    fn sum_over(&self, n: usize, mut term: impl FnMut(usize, usize) -> f64) -> f64 {
        let mut sum = 0.0;
        match self {
            Mask::Dense(m) => {
                for j in 0..n {
                    for i in 0..n {
                        if m[(i, j)] {
                            sum += term(i, j);
                        }
                    }
                }
            }
            Mask::Csr(p) => p.for_each(|i, j| sum += term(i, j)),
        }
        sum
    }

    fn check(&self, n: usize) -> Result<(), KernelError> {
        let (r, c) = match self {
            Mask::Dense(m) => (m.nrows(), m.ncols()),
            Mask::Csr(p) => (p.n, p.n),
        };
        if (r, c) != (n, n) {
            return Err(KernelError::DimensionMismatch {
                what: "mask",
                expected: format!("{n}×{n}"),
                got: format!("{r}×{c}"),
            });
        }
        Ok(())
    }
}

fn check_square<T>(what: &'static str, m: MatRef<'_, T>) -> Result<usize, KernelError> {
    if m.nrows() != m.ncols() {
        return Err(KernelError::NotSquare {
            what,
            rows: m.nrows(),
            cols: m.ncols(),
        });
    }
    Ok(m.nrows())
}

fn check_shape(what: &'static str, n: usize, shape: (usize, usize)) -> Result<(), KernelError> {
    if shape != (n, n) {
        return Err(KernelError::DimensionMismatch {
            what,
            expected: format!("{n}×{n}"),
            got: format!("{}×{}", shape.0, shape.1),
        });
    }
    Ok(())
}

fn check_finite<T: RegScalar>(what: &'static str, m: MatRef<'_, T>) -> Result<(), KernelError> {
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            let x = f(m[(i, j)]);
            if !x.is_finite() {
                return Err(KernelError::NonFinite {
                    what,
                    index: i + j * m.nrows(),
                    value: x,
                });
            }
        }
    }
    Ok(())
}

fn check_eps(eps: f64) -> Result<(), KernelError> {
    if !(eps.is_finite() && eps >= 0.0) {
        return Err(KernelError::NonFinite {
            what: "eps (must be finite and ≥ 0)",
            index: 0,
            value: eps,
        });
    }
    Ok(())
}

#[inline]
fn col<'a, T>(m: MatRef<'a, T>, j: usize) -> Option<&'a [T]> {
    m.col(j).try_as_col_major().map(|c| c.as_slice())
}
#[inline]
fn col_mut<'a, T>(m: MatMut<'a, T>, j: usize) -> Option<&'a mut [T]> {
    m.col_mut(j)
        .try_as_col_major_mut()
        .map(|c| c.as_slice_mut())
}

fn mat_zeros<T: RegScalar>(n: usize) -> Mat<T> {
    Mat::from_fn(n, n, |_, _| cv(0.0))
}

/// Reusable buffers of the communicability regularizers for one matrix size N: the expm
/// workspace, the EMD workspace and the N×N temporaries. After the first call nothing is
/// allocated.
pub struct RegWorkspace<T: RegScalar> {
    n: usize,
    expm: ExpmWorkspace<T>,
    emd: Wasserstein1d<T>,
    /// X = S^-1/2 |A| S^-1/2
    x: Mat<T>,
    /// exp(X), then C (diagonal zeroed)
    c: Mat<T>,
    /// the C-cotangent G̃
    g: Mat<T>,
    /// Y = L(Xᵀ, G̃)
    y: Mat<T>,
    /// scratch for exp(Xᵀ) when only L is wanted
    e_tmp: Mat<T>,
    s: Vec<f64>,
    rp: Vec<f64>,
    cp: Vec<f64>,
    flat: Vec<T>,
    flat_g: Vec<T>,
}

impl<T: RegScalar> RegWorkspace<T> {
    /// Buffers for N×N matrices (they are resized if a call brings another N).
    pub fn new(n: usize) -> Self {
        Self {
            n,
            expm: ExpmWorkspace::new(n),
            emd: Wasserstein1d::new(),
            x: mat_zeros(n),
            c: mat_zeros(n),
            g: mat_zeros(n),
            y: mat_zeros(n),
            e_tmp: mat_zeros(n),
            s: vec![0.0; n],
            rp: vec![0.0; n],
            cp: vec![0.0; n],
            flat: Vec::new(),
            flat_g: Vec::new(),
        }
    }

    /// The communicability C computed by the last call (diagonal 0).
    pub fn communicability(&self) -> MatRef<'_, T> {
        self.c.as_ref()
    }

    fn ensure(&mut self, n: usize) {
        if self.n != n {
            *self = Self::new(n);
        }
    }

    /// r = row sums of |A| + ε, s = r^-1/2, X = diag(s) |A| diag(s).
    fn load(&mut self, a: MatRef<'_, T>, eps: f64) -> Result<(), KernelError> {
        let n = a.nrows();
        self.rp.iter_mut().for_each(|r| *r = eps);
        for j in 0..n {
            for i in 0..n {
                self.rp[i] += f(a[(i, j)]).abs();
            }
        }
        for (i, (s, &r)) in self.s.iter_mut().zip(&self.rp).enumerate() {
            if !(r > 0.0 && r.is_finite()) {
                return Err(KernelError::InvalidWeights {
                    what: "communicability: row sums + eps",
                    reason: format!("row {i} sums to {r} (needs > 0; use eps > 0 for empty rows)"),
                });
            }
            *s = 1.0 / r.sqrt();
        }
        for j in 0..n {
            let sj = self.s[j];
            for i in 0..n {
                self.x[(i, j)] = cv(f(a[(i, j)]).abs() * self.s[i] * sj);
            }
        }
        Ok(())
    }

    fn zero_diag(m: &mut Mat<T>) {
        for i in 0..m.nrows() {
            m[(i, i)] = cv(0.0);
        }
    }

    /// C = exp(X) with the diagonal zeroed.
    fn forward(&mut self) -> Result<(), KernelError> {
        expm_into(self.x.as_ref(), self.c.as_mut(), &mut self.expm)?;
        Self::zero_diag(&mut self.c);
        Ok(())
    }

    /// Y = L(Xᵀ, G̃) with G̃ = G off the diagonal. With `with_forward`, the same call leaves
    /// C = exp(X) (diagonal zeroed) in `c`, written through a transposed view of exp(Xᵀ).
    fn adjoint(&mut self, with_forward: bool) -> Result<(), KernelError> {
        Self::zero_diag(&mut self.g);
        let exp_out = if with_forward {
            self.c.as_mut().transpose_mut()
        } else {
            self.e_tmp.as_mut()
        };
        expm_frechet_into(
            self.x.as_ref().transpose(),
            self.g.as_ref(),
            exp_out,
            self.y.as_mut(),
            &mut self.expm,
        )?;
        if with_forward {
            Self::zero_diag(&mut self.c);
        }
        Ok(())
    }

    /// Calls `out(k, l, ∂⟨G, C⟩/∂A_kl)` for every entry (module docs), column by column.
    fn pullback(&mut self, mut out: impl FnMut(usize, usize, f64)) {
        let n = self.n;
        self.rp.iter_mut().for_each(|v| *v = 0.0);
        for j in 0..n {
            let mut cj = 0.0;
            for i in 0..n {
                let p = f(self.y[(i, j)]) * f(self.x[(i, j)]);
                self.rp[i] += p;
                cj += p;
            }
            self.cp[j] = cj;
        }
        // t_k = ½ s_k² (rowsum_k P + colsum_k P)
        for k in 0..n {
            self.rp[k] = 0.5 * self.s[k] * self.s[k] * (self.rp[k] + self.cp[k]);
        }
        for l in 0..n {
            let sl = self.s[l];
            for k in 0..n {
                out(k, l, f(self.y[(k, l)]) * self.s[k] * sl - self.rp[k]);
            }
        }
    }
}

/// C(A) = expm(S^-1/2 A S^-1/2), S = diag(row sums of A + ε), diag(C) = 0, for a
/// non-negative square A (rows presynaptic). Errors: not square, non-finite or negative
/// entries, a row whose sum + ε is not positive.
pub fn communicability<T: RegScalar>(a: MatRef<'_, T>, eps: T) -> Result<Mat<T>, KernelError> {
    let n = check_square("communicability: a", a)?;
    let mut ws = RegWorkspace::new(n);
    communicability_into(a, eps, &mut ws)?;
    Ok(ws.c)
}

/// [`communicability`] into the workspace; read the result with
/// [`RegWorkspace::communicability`].
pub fn communicability_into<T: RegScalar>(
    a: MatRef<'_, T>,
    eps: T,
    ws: &mut RegWorkspace<T>,
) -> Result<(), KernelError> {
    let n = check_square("communicability: a", a)?;
    check_nonneg(a)?;
    check_eps(f(eps))?;
    ws.ensure(n);
    ws.load(a, f(eps))?;
    ws.forward()
}

fn check_nonneg<T: RegScalar>(a: MatRef<'_, T>) -> Result<(), KernelError> {
    check_finite("communicability: a", a)?;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            let x = f(a[(i, j)]);
            if x < 0.0 {
                return Err(KernelError::InvalidWeights {
                    what: "communicability: a",
                    reason: format!(
                        "entry ({i}, {j}) is negative ({x}); communicability needs A ≥ 0"
                    ),
                });
            }
        }
    }
    Ok(())
}

/// (C(A), ∂⟨G, C(A)⟩/∂A): communicability and its vector–Jacobian product for a cotangent G.
/// One Fréchet evaluation gives both. The gradient at A_kl = 0 is the one-sided derivative
/// from A ≥ 0 (the formula is smooth there).
pub fn communicability_vjp<T: RegScalar>(
    a: MatRef<'_, T>,
    eps: T,
    g: MatRef<'_, T>,
) -> Result<(Mat<T>, Mat<T>), KernelError> {
    let n = check_square("communicability_vjp: a", a)?;
    check_shape("communicability_vjp: g", n, g.shape())?;
    check_nonneg(a)?;
    check_finite("communicability_vjp: g", g)?;
    check_eps(f(eps))?;
    let mut ws = RegWorkspace::new(n);
    ws.load(a, f(eps))?;
    for j in 0..n {
        for i in 0..n {
            ws.g[(i, j)] = g[(i, j)];
        }
    }
    ws.adjoint(true)?;
    let mut grad = mat_zeros::<T>(n);
    ws.pullback(|k, l, v| grad[(k, l)] = cv(v));
    Ok((ws.c, grad))
}

/// Validates W, grad (and D, mask) for the regularizers; returns N.
fn check_reg<T: RegScalar>(
    w: MatRef<'_, T>,
    d: Option<MatRef<'_, T>>,
    mask: Option<&Mask<'_>>,
    grad: &MatMut<'_, T>,
) -> Result<usize, KernelError> {
    let n = check_square("w", w)?;
    if let Some(d) = d {
        check_shape("d", n, d.shape())?;
    }
    check_shape("grad", n, (grad.nrows(), grad.ncols()))?;
    if let Some(m) = mask {
        m.check(n)?;
    }
    Ok(n)
}

/// λ Σ_M |W| and its subgradient λ sign(W) (sign(0) = 0), added into `grad`.
pub fn l1<T: RegScalar>(
    w: MatRef<'_, T>,
    lambda: T,
    mask: Option<&Mask<'_>>,
    mut grad: MatMut<'_, T>,
) -> Result<T, KernelError> {
    let n = check_reg(w, None, mask, &grad)?;
    let lam = f(lambda);
    let mut sum = 0.0f64;
    let one = |i: usize, j: usize, grad: &mut MatMut<'_, T>| -> f64 {
        let x = f(w[(i, j)]);
        grad[(i, j)] += cv::<T>(lam * sgn(x));
        x.abs()
    };
    match mask {
        None => {
            for j in 0..n {
                match (col(w, j), col_mut(grad.as_mut(), j)) {
                    (Some(wc), Some(gc)) => sum += T::abs_sum_acc(lambda, wc, gc),
                    _ => sum += (0..n).map(|i| one(i, j, &mut grad)).sum::<f64>(),
                }
            }
        }
        Some(m) => sum += m.sum_over(n, |i, j| one(i, j, &mut grad)),
    }
    Ok(cv(lam * sum))
}

/// λ Σ_M |W| ⊙ D and its subgradient λ D ⊙ sign(W), added into `grad`.
pub fn l1_distance<T: RegScalar>(
    w: MatRef<'_, T>,
    d: MatRef<'_, T>,
    lambda: T,
    mask: Option<&Mask<'_>>,
    mut grad: MatMut<'_, T>,
) -> Result<T, KernelError> {
    let n = check_reg(w, Some(d), mask, &grad)?;
    let lam = f(lambda);
    let mut sum = 0.0f64;
    let one = |i: usize, j: usize, grad: &mut MatMut<'_, T>| -> f64 {
        let (x, dd) = (f(w[(i, j)]), f(d[(i, j)]));
        grad[(i, j)] += cv::<T>(lam * dd * sgn(x));
        x.abs() * dd
    };
    match mask {
        None => {
            for j in 0..n {
                match (col(w, j), col(d, j), col_mut(grad.as_mut(), j)) {
                    (Some(wc), Some(dc), Some(gc)) => sum += T::abs_dot_acc(lambda, wc, dc, gc),
                    _ => sum += (0..n).map(|i| one(i, j, &mut grad)).sum::<f64>(),
                }
            }
        }
        Some(m) => sum += m.sum_over(n, |i, j| one(i, j, &mut grad)),
    }
    Ok(cv(lam * sum))
}

/// λ Σ_M |W| ⊙ D ⊙ C(|W|) with ε added to the row sums, and its subgradient (the direct term
/// λ D ⊙ C ⊙ sign(W) plus the path through C), added into `grad`. One Fréchet evaluation.
/// After the call `ws.communicability()` holds C(|W|).
#[allow(clippy::too_many_arguments)]
pub fn l1_distance_comm<T: RegScalar>(
    w: MatRef<'_, T>,
    d: MatRef<'_, T>,
    lambda: T,
    eps: T,
    mask: Option<&Mask<'_>>,
    mut grad: MatMut<'_, T>,
    ws: &mut RegWorkspace<T>,
) -> Result<T, KernelError> {
    let n = check_reg(w, Some(d), mask, &grad)?;
    check_finite("w", w)?;
    check_eps(f(eps))?;
    ws.ensure(n);
    ws.load(w, f(eps))?;
    let lam = f(lambda);
    // G = ∂(value)/∂C = λ |W| ⊙ D on the support.
    match mask {
        None | Some(Mask::Dense(_)) => {
            for j in 0..n {
                for i in 0..n {
                    let keep = match mask {
                        Some(Mask::Dense(m)) => m[(i, j)],
                        _ => true,
                    };
                    ws.g[(i, j)] = cv(if keep {
                        lam * f(w[(i, j)]).abs() * f(d[(i, j)])
                    } else {
                        0.0
                    });
                }
            }
        }
        Some(Mask::Csr(p)) => {
            ws.g.as_mut().fill(cv(0.0));
            p.for_each(|i, j| ws.g[(i, j)] = cv(lam * f(w[(i, j)]).abs() * f(d[(i, j)])));
        }
    }
    ws.adjoint(true)?;
    // Value and direct term λ D ⊙ C ⊙ sign(W).
    let mut sum = 0.0f64;
    let c = ws.c.as_ref();
    let one = |i: usize, j: usize, grad: &mut MatMut<'_, T>| -> f64 {
        let (x, dc) = (f(w[(i, j)]), f(d[(i, j)]) * f(c[(i, j)]));
        grad[(i, j)] += cv::<T>(lam * dc * sgn(x));
        x.abs() * dc
    };
    match mask {
        None => {
            for j in 0..n {
                match (col(w, j), col(d, j), col(c, j), col_mut(grad.as_mut(), j)) {
                    (Some(wc), Some(dc), Some(cc), Some(gc)) => {
                        sum += T::abs_dot2_acc(lambda, wc, dc, cc, gc)
                    }
                    _ => sum += (0..n).map(|i| one(i, j, &mut grad)).sum::<f64>(),
                }
            }
        }
        Some(m) => sum += m.sum_over(n, |i, j| one(i, j, &mut grad)),
    }
    // Path through C: ∂/∂W = sign(W) ⊙ ∂/∂A at A = |W|.
    ws.pullback(|k, l, v| {
        let s = sgn(f(w[(k, l)]));
        if s != 0.0 {
            grad[(k, l)] += cv::<T>(s * v);
        }
    });
    Ok(cv(lam * sum))
}

/// λ_EMD · EMD(C_emp, C(|W|)) = λ_EMD · mean over all N² entries of
/// |sort(C_emp) − sort(C(|W|))| (diagonal zeros included), and its subgradient through the sort
/// (sign(0) = 0 at exact ties, see [`crate::emd`]) and through C, added into `grad`.
/// `c_emp_sorted` holds the N² entries of C_emp sorted ascending (sort once with
/// [`crate::emd::sort_samples`]). After the call `ws.communicability()` holds C(|W|).
pub fn emd_comm<T: RegScalar>(
    w: MatRef<'_, T>,
    c_emp_sorted: &[T],
    lambda_emd: T,
    eps: T,
    mut grad: MatMut<'_, T>,
    ws: &mut RegWorkspace<T>,
) -> Result<T, KernelError> {
    let n = check_reg(w, None, None, &grad)?;
    if c_emp_sorted.len() != n * n {
        return Err(KernelError::DimensionMismatch {
            what: "c_emp_sorted",
            expected: format!("{} = N² values", n * n),
            got: c_emp_sorted.len().to_string(),
        });
    }
    check_finite("w", w)?;
    check_eps(f(eps))?;
    ws.ensure(n);
    ws.load(w, f(eps))?;
    ws.forward()?;
    // Flatten C column by column; the EMD gradient comes back in the same order.
    ws.flat.clear();
    for j in 0..n {
        for i in 0..n {
            ws.flat.push(ws.c[(i, j)]);
        }
    }
    ws.flat_g.clear();
    ws.flat_g.resize(n * n, cv(0.0));
    let value =
        ws.emd
            .distance_grad_presorted_acc(&ws.flat, c_emp_sorted, lambda_emd, &mut ws.flat_g)?;
    for j in 0..n {
        for i in 0..n {
            ws.g[(i, j)] = ws.flat_g[i + j * n];
        }
    }
    // exp(Xᵀ) is recomputed here (the cotangent needed C first); C itself is already in ws.c.
    ws.adjoint(false)?;
    ws.pullback(|k, l, v| {
        let s = sgn(f(w[(k, l)]));
        if s != 0.0 {
            grad[(k, l)] += cv::<T>(s * v);
        }
    });
    Ok(value)
}
