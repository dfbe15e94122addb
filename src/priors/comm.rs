//! Empirical communicability C_emp of a field's connectome (METHOD.md §3), computed once per
//! field: `C(A) = expm(S^{-1/2} A S^{-1/2})`, `S = diag(row sums of A + ε)`, diagonal set to 0
//! (Crofts & Higham 2009).
//!
//! The computation is `cortical_kernels::reg::communicability`, the same kernel the training
//! loop differentiates through, so C_emp and C_art share one definition; this module only
//! checks that the input is a connectome (square, finite, non-negative counts).
use crate::error::{Error, Result};
use cortical_kernels::reg::communicability;
use faer::{Mat, MatRef};

/// C_emp = C(connectome) with row-sum regularization `eps` (the seed uses 1e-10 in its EMD
/// arm; METHOD.md §8 applies it everywhere). A row of zeros with `eps = 0` would divide by
/// zero and is rejected.
///
/// Errors: a non-square, negative or non-finite connectome, a negative or non-finite `eps`,
/// a zero row sum with `eps = 0`, or the kernel's own error (passed through).
pub fn c_emp(connectome: MatRef<'_, f64>, eps: f64) -> Result<Mat<f64>> {
    let (r, c) = (connectome.nrows(), connectome.ncols());
    let invalid = |what: &str, reason: String| Error::Invalid {
        what: what.into(),
        reason,
    };
    if r != c {
        return Err(invalid("connectome", format!("is {r}×{c}, not square")));
    }
    if !(eps >= 0.0 && eps.is_finite()) {
        return Err(invalid("eps", format!("{eps} is not a finite value ≥ 0")));
    }
    for i in 0..r {
        let mut s = 0.0;
        for j in 0..c {
            let v = connectome[(i, j)];
            if !(v >= 0.0 && v.is_finite()) {
                return Err(invalid(
                    "connectome",
                    format!("entry ({i}, {j}) is {v}; synapse counts must be finite and ≥ 0"),
                ));
            }
            s += v;
        }
        if s + eps <= 0.0 {
            return Err(invalid(
                "connectome",
                format!("row {i} sums to 0 and eps = 0: S^-1/2 is undefined (use eps > 0)"),
            ));
        }
    }
    Ok(communicability(connectome, eps)?)
}
