//! Benchmark `expm`: not implemented yet.
fn main() {}
