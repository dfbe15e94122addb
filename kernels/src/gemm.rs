//! Module `gemm`: not implemented yet.
