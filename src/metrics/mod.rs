//! Module `metrics`: not implemented yet.
