//! Module `data`: not implemented yet.
