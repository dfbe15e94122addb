//! Module `priors`: not implemented yet.
