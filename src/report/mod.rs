//! What an ablation writes: the tidy `results.csv` ([`csv`]), `config.json` ([`json`]) and
//! `summary.md` ([`summary`]).
pub mod csv;
pub mod json;
pub mod summary;
