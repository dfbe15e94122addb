//! The topology of a trained recurrent weight matrix W (METHOD.md §6).
//!
//! Everything but the entropy is measured on the undirected binary graph G of W
//! ([`binarize_top_decile`]): |W| above its 0.9 quantile in either direction, no self-loops.
//!
//! | metric | function | reference implementation reproduced |
//! |---|---|---|
//! | weight entropy | [`weight_entropy`] | scipy `gaussian_kde` (Scott) on 100 points, `scipy.stats.entropy(base=2)` |
//! | modularity Q, communities | [`modularity_cnm`], [`cnm_communities`] | networkx 3.6 `greedy_modularity_communities`, `modularity` |
//! | assortativity | [`degree_assortativity`] | networkx `degree_assortativity_coefficient` |
//! | clustering C, path length L, efficiency | [`mean_clustering`], [`characteristic_path_length`], [`global_efficiency`] | bctpy 0.6 `clustering_coef_bu`, `charpath`, `efficiency_bin` |
//! | small-worldness σ | [`small_worldness`], [`small_world`] | Humphries & Gurney (2008), density-matched G(n, m) nulls |
//!
//! [`topology`] computes all of them for one W.
use faer::MatRef;

use crate::error::Result;

mod assortativity;
mod entropy;
mod graph;
mod modularity;
mod small_world;

pub use assortativity::degree_assortativity;
#[doc(hidden)]
pub use entropy::kde_on_grid_direct;
pub use entropy::{entropy_bits, kde_on_grid, weight_entropy, KDE_POINTS};
pub use graph::{
    binarize_quantile, binarize_top_decile, quantile_linear, BitIter, Graph, TOP_DECILE,
};
pub use modularity::{cnm_communities, modularity, modularity_cnm};
pub use small_world::{
    characteristic_path_length, clustering_coefficients, clustering_with_loops,
    erdos_renyi_gnm_into, global_efficiency, mean_clustering, mean_clustering_with, null_rng,
    path_stats, path_stats_with, small_world, small_world_notebook, small_worldness, PathStats,
    SmallWorld, Workspace,
};

/// Number of null graphs of the paper's small-worldness.
pub const PAPER_NULLS: usize = 1000;

/// All metrics of one W.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    /// Entropy (bits) of the KDE of the signed weights.
    pub entropy: f64,
    /// Newman modularity Q of the CNM partition.
    pub modularity: f64,
    /// CNM community of each node (index into networkx's order, largest community first).
    pub communities: Vec<usize>,
    /// Degree assortativity.
    pub assortativity: f64,
    /// Edges of the binary graph.
    pub edges: usize,
    /// Clustering, path length, efficiency and σ.
    pub small_world: SmallWorld,
}

/// Which small-worldness σ [`topology_with`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmallWorldMethod {
    /// METHOD.md §6: path length, density-matched G(n, m) nulls ([`small_world`]).
    #[default]
    PathLength,
    /// The published notebook: global efficiency, `(U+Uᵀ)/2 > 0.7` nulls
    /// ([`small_world_notebook`]).
    NotebookEfficiency,
}

/// Every metric of METHOD.md §6 for the weight matrix `w` (rows presynaptic), with `nulls`
/// null graphs for σ drawn from `seed`. Errors if W is not square or has non-finite entries.
pub fn topology(w: MatRef<'_, f64>, nulls: usize, seed: u64) -> Result<Topology> {
    topology_with(w, nulls, seed, SmallWorldMethod::PathLength)
}

/// [`topology`] with the small-worldness of `method`.
pub fn topology_with(
    w: MatRef<'_, f64>,
    nulls: usize,
    seed: u64,
    method: SmallWorldMethod,
) -> Result<Topology> {
    let g = binarize_top_decile(w)?;
    let mut signed = Vec::with_capacity(w.nrows() * w.ncols());
    for i in 0..w.nrows() {
        for j in 0..w.ncols() {
            signed.push(w[(i, j)]);
        }
    }
    let (modularity, communities) = modularity_cnm(&g);
    Ok(Topology {
        entropy: weight_entropy(&signed),
        modularity,
        communities,
        assortativity: degree_assortativity(&g),
        edges: g.num_edges(),
        small_world: match method {
            SmallWorldMethod::PathLength => small_world(&g, nulls, seed),
            SmallWorldMethod::NotebookEfficiency => small_world_notebook(&g, nulls, seed),
        },
    })
}
