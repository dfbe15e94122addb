#![no_main]
//! Fuzz target `loaders`: arbitrary bytes through the three byte-level readers of a field
//! folder (`.npy`, pickled object array, connectome CSV). They must return `Ok` or `Err`, never
//! panic, hang or allocate without bound (libFuzzer's -rss_limit_mb catches the latter).
//!
//! The first byte picks the reader so one corpus explores all three; the `.npy` reader also
//! reaches the pickle reader through `|O` headers.
use cortical_priors::data::{csv, npy, pickle};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            if let Ok(a) = npy::parse(rest) {
                // A successful parse is self-consistent: the element count matches the shape.
                let count: usize = a.shape.iter().product();
                let len = match &a.data {
                    npy::NpyData::F64(v) => v.len(),
                    npy::NpyData::I64(v) => v.len(),
                    npy::NpyData::Object(v) => v.len(),
                };
                assert_eq!(count, len);
            }
        }
        1 => {
            if let Ok(elements) = pickle::parse_object_array(rest) {
                // Never more array data than the stream held.
                let bytes: usize = elements.iter().map(|e| 8 * e.len()).sum();
                assert!(bytes <= rest.len());
            }
        }
        _ => {
            if let Ok(t) = csv::parse_connectome(rest) {
                assert_eq!(t.values.len(), t.n * t.n);
            }
        }
    }
});
