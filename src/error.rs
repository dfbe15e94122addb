//! The driver's error type: messages name the file, the field and the value that was wrong.
use std::path::PathBuf;
use thiserror::Error;

/// Errors of the experiment driver.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file was read but its content is not what the format requires.
    #[error("{path}: {reason}")]
    Format { path: PathBuf, reason: String },
    /// A file the format requires is not there.
    #[error("{path}: missing {what}")]
    MissingFile { path: PathBuf, what: String },
    /// A file holds an array (or table) of the wrong shape or length.
    #[error("{path}: expected {expected}, found {found}")]
    Shape {
        path: PathBuf,
        expected: String,
        found: String,
    },
    /// A matrix that must be symmetric is not.
    #[error("{path}: not symmetric: [{row}, {col}] = {upper} but [{col}, {row}] = {lower}")]
    Asymmetric {
        path: PathBuf,
        row: usize,
        col: usize,
        upper: f64,
        lower: f64,
    },
    /// A value that must be finite is NaN or infinite.
    #[error("{path}: non-finite value {value} at {index}")]
    NonFinite {
        path: PathBuf,
        index: String,
        value: f64,
    },
    /// A configuration value or argument is invalid.
    #[error("invalid {what}: {reason}")]
    Invalid { what: String, reason: String },
    /// Two inputs of a merge cannot be combined: different experiments, the same run twice, or
    /// the same directory twice.
    #[error("cannot merge {} with {}: {reason}", first.display(), second.display())]
    MergeConflict {
        first: PathBuf,
        second: PathBuf,
        reason: String,
    },
    /// A kernel rejected its input.
    #[error(transparent)]
    Kernel(#[from] cortical_kernels::KernelError),
}

/// Result alias of the driver.
pub type Result<T, E = Error> = std::result::Result<T, E>;
