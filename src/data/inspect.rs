//! A summary of a field (work in progress).
use super::Field;
use serde::Serialize;

/// What `ablation inspect` prints.
#[derive(Debug, Clone, Serialize)]
pub struct InspectReport {
    pub id: String,
    pub n: usize,
}

/// Summarizes `field`.
pub fn inspect(field: &Field) -> InspectReport {
    InspectReport {
        id: field.id.clone(),
        n: field.n,
    }
}
