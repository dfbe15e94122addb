//! Priors from data (METHOD.md §2–§3): functional measures from spikes, the graphical-lasso
//! precision, the initial recurrent weights (W\*, W!, ECDF control, orthogonal), the spatial
//! embeddings (D\*, grid D) and the empirical communicability C_emp.
//!
//! | module | what |
//! |---|---|
//! | [`functional`] | Pearson correlation of binned counts, STTC (elephant 1.2.1 conventions) |
//! | [`precision`] | graphical lasso and its cross-validated α (sklearn-compatible) |
//! | [`init`] | W\* (functional prior), W! (permuted), ECDF control, orthogonal init |
//! | [`space`] | D\* (soma distances), D (regular grid distances) |
pub mod functional;
pub mod init;
pub mod precision;
pub mod space;
