//! The kernels' error type: every message names the argument and the value that was wrong.
use thiserror::Error;

/// Errors returned by the kernels for input a caller can get wrong.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum KernelError {
    /// A matrix that must be square is not.
    #[error("{what} must be square, got {rows}×{cols}")]
    NotSquare {
        what: &'static str,
        rows: usize,
        cols: usize,
    },
    /// Two arguments whose sizes must agree do not.
    #[error("{what}: expected {expected}, got {got}")]
    DimensionMismatch {
        what: &'static str,
        expected: String,
        got: String,
    },
    /// An argument holds NaN or ±Inf where only finite values make sense.
    #[error("{what} contains a non-finite value ({value}) at index {index}")]
    NonFinite {
        what: &'static str,
        index: usize,
        value: f64,
    },
    /// An argument that must not be empty is.
    #[error("{what} is empty")]
    Empty { what: &'static str },
    /// Weights that are negative or sum to zero.
    #[error("{what}: {reason}")]
    InvalidWeights { what: &'static str, reason: String },
    /// A kernel asked for that this CPU cannot run.
    #[error("{what}: {reason}")]
    Unsupported {
        what: &'static str,
        reason: &'static str,
    },
}
