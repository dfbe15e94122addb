//! `ablation inspect`: what a field holds, and how far its stored functional matrices are from
//! the ones METHOD.md §2 defines (recomputed from its spikes).
use super::synthetic::{CORR_BIN_S, STTC_DT_S};
use super::Field;
use crate::priors::functional::{pearson_binned, recording_stop, sttc_matrix};
use faer::Mat;
use serde::Serialize;

/// Extent of the somata along one axis, µm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AxisExtent {
    pub min_um: f64,
    pub max_um: f64,
    pub span_um: f64,
}

/// Summary of a field (printed as JSON by `ablation inspect`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InspectReport {
    pub id: String,
    pub n: usize,
    /// Non-zero entries of the connectome (diagonal included; it is empty in real fields).
    pub connectome_nonzeros: usize,
    pub connectome_max_count: f64,
    /// Soma extent per axis (x, y, z).
    pub extent_um: [AxisExtent; 3],
    pub spikes_present: bool,
    /// Total number of events (only with spikes).
    pub spike_events: Option<usize>,
    /// Recording span used for the recomputation: last spike + 0.1 s.
    pub t_stop_s: Option<f64>,
    /// max |recomputed − stored| over all entries (NaN entries of the recomputed matrices,
    /// from silent neurons, are skipped and counted in `recomputed_nan_entries`).
    pub corr_max_abs_diff: Option<f64>,
    pub sttc_max_abs_diff: Option<f64>,
    pub recomputed_nan_entries: Option<usize>,
}

/// Summarizes `field`; with spikes, recomputes corr (20 ms bins) and STTC (Δt = 5 ms,
/// t_start = 0, t_stop = last spike + 0.1 s) with [`crate::priors::functional`] and compares
/// them with the stored (STTC symmetrized) matrices.
pub fn inspect(field: &Field) -> InspectReport {
    let um = field.positions_um();
    let extent_um = std::array::from_fn(|k| {
        let min_um = um.iter().map(|p| p[k]).fold(f64::INFINITY, f64::min);
        let max_um = um.iter().map(|p| p[k]).fold(f64::NEG_INFINITY, f64::max);
        AxisExtent {
            min_um,
            max_um,
            span_um: max_um - min_um,
        }
    });
    let c = &field.connectome;
    let connectome_max_count = (0..c.nrows())
        .flat_map(|i| (0..c.ncols()).map(move |j| c[(i, j)]))
        .fold(0.0, f64::max);
    let mut report = InspectReport {
        id: field.id.clone(),
        n: field.n,
        connectome_nonzeros: field.connectome_nonzeros(),
        connectome_max_count,
        extent_um,
        spikes_present: field.spikes.is_some(),
        spike_events: None,
        t_stop_s: None,
        corr_max_abs_diff: None,
        sttc_max_abs_diff: None,
        recomputed_nan_entries: None,
    };
    if let Some(spikes) = &field.spikes {
        let t_stop = recording_stop(spikes);
        let corr = pearson_binned(spikes, CORR_BIN_S, t_stop);
        let sttc = sttc_matrix(spikes, STTC_DT_S, 0.0, t_stop);
        let (dc, nan_c) = max_abs_diff(&corr, &field.corr);
        let (ds, nan_s) = max_abs_diff(&sttc, &field.sttc);
        report.spike_events = Some(spikes.iter().map(Vec::len).sum());
        report.t_stop_s = Some(t_stop);
        report.corr_max_abs_diff = Some(dc);
        report.sttc_max_abs_diff = Some(ds);
        report.recomputed_nan_entries = Some(nan_c + nan_s);
    }
    report
}

/// (max |a − b| over entries where a is a number, number of NaN entries of a).
fn max_abs_diff(a: &Mat<f64>, b: &Mat<f64>) -> (f64, usize) {
    let mut max = 0.0f64;
    let mut nans = 0;
    for i in 0..a.nrows().min(b.nrows()) {
        for j in 0..a.ncols().min(b.ncols()) {
            if a[(i, j)].is_nan() {
                nans += 1;
            } else {
                max = max.max((a[(i, j)] - b[(i, j)]).abs());
            }
        }
    }
    (max, nans)
}
