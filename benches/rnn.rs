//! Benchmark `rnn`: not implemented yet.
fn main() {}
