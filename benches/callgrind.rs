//! Benchmark `callgrind`: not implemented yet.
fn main() {}
