//! Module `simd`: not implemented yet.
