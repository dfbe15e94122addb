//! Empirical communicability C_emp of a field's connectome (METHOD.md §3), computed once per
//! field: `C(A) = expm(S^{-1/2} A S^{-1/2})`, `S = diag(row sums of A + ε)`, diagonal set to 0
//! (Crofts & Higham 2009). The kernel lives in `cortical_kernels::reg`; this module only
//! validates the connectome and names it in errors.
use crate::error::{Error, Result};
use cortical_kernels::reg::communicability;
use faer::{Mat, MatRef};

/// C_emp = C(connectome) with row-sum regularization `eps` (the seed uses 1e-10).
///
/// Errors: a non-square, negative or non-finite connectome, a negative or non-finite `eps`,
/// or the kernel's own error (passed through).
pub fn c_emp(connectome: MatRef<'_, f64>, eps: f64) -> Result<Mat<f64>> {
    let (r, c) = (connectome.nrows(), connectome.ncols());
    if r != c {
        return Err(Error::Invalid {
            what: "connectome".into(),
            reason: format!("is {r}×{c}, not square"),
        });
    }
    for j in 0..c {
        for i in 0..r {
            let v = connectome[(i, j)];
            if !(v >= 0.0 && v.is_finite()) {
                return Err(Error::Invalid {
                    what: "connectome".into(),
                    reason: format!("entry ({i}, {j}) is {v}; synapse counts must be finite and ≥ 0"),
                });
            }
        }
    }
    if !(eps >= 0.0 && eps.is_finite()) {
        return Err(Error::Invalid {
            what: "eps".into(),
            reason: format!("{eps} is not a finite value ≥ 0"),
        });
    }
    Ok(communicability(connectome, eps)?)
}
