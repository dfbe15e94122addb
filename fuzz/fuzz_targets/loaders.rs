#![no_main]
//! Fuzz target `loaders`: not implemented yet.
use libfuzzer_sys::fuzz_target;
fuzz_target!(|_data: &[u8]| {});
