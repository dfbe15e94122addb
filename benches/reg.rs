//! Benchmark `reg`: not implemented yet.
fn main() {}
