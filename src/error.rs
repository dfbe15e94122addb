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
    /// A configuration value or argument is invalid.
    #[error("invalid {what}: {reason}")]
    Invalid { what: String, reason: String },
    /// A kernel rejected its input.
    #[error(transparent)]
    Kernel(#[from] cortical_kernels::KernelError),
}

/// Result alias of the driver.
pub type Result<T, E = Error> = std::result::Result<T, E>;
