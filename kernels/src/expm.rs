//! Module `expm`: not implemented yet.
