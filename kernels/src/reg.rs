//! Module `reg`: not implemented yet.
