//! What an ablation writes: the tidy `results.csv` ([`csv`]), `config.json` ([`json`]) and
//! `summary.md` ([`summary`]); the comparison with the paper's published tables ([`paper`]).
pub mod csv;
pub mod json;
pub mod paper;
pub mod significance;
pub mod summary;
