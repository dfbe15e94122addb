//! Benchmark `emd`: not implemented yet.
fn main() {}
