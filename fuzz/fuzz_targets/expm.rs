#![no_main]
//! Fuzz target `expm`: not implemented yet.
use libfuzzer_sys::fuzz_target;
fuzz_target!(|_data: &[u8]| {});
