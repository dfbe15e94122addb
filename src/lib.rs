//! cortical-priors: the experiment driver of Shakiba, Rokni, Mohammadi & Dehghani (2026),
//! *Harnessing cortical geometry, wiring, and function as inductive biases for RNNs*.
//!
//! The hot numerical work lives in [`kernels`] (the `cortical-kernels` crate); this crate turns
//! MICrONS fields into priors, defines the tasks, trains the variants and measures what they
//! learned. It never re-implements a kernel.
//!
//! | module | what (METHOD.md section) |
//! |---|---|
//! | [`data`] | field loading (seed folder format, pickled `.npy`), synthetic fields (§1) |
//! | [`priors`] | correlation, STTC, precision, W\*, W!, ECDF, D\*, grid D, C_emp (§2–§3) |
//! | [`tasks`] | One-Choice Inference, Perceptual Decision-Making, Go/NoGo (§5) |
//! | [`metrics`] | entropy, modularity, assortativity, small-worldness (§6) |
//! | [`ablation`], [`sweep`] | the grid of runs (resumable), the per-variant λ sweep |
//! | [`stats`] | t and bootstrap CIs, Kruskal–Wallis, Mann–Whitney U, Holm, letters (§7) |
pub use cortical_kernels as kernels;

pub mod ablation;
pub mod config;
pub mod data;
pub mod error;
pub mod metrics;
pub mod priors;
pub mod report;
pub mod shard;
pub mod stats;
pub mod sweep;
pub mod tasks;
pub mod train;
pub mod variants;

pub use error::Error;
