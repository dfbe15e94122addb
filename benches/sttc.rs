//! Full STTC matrix (and the binned Pearson matrix) for the largest shared field with spikes,
//! 4_7_8 (N = 193, ~6350 s), dt = 5 ms, bin = 20 ms (METHOD.md §2).
//!
//! Synthetic frame-locked trains of the same size and rates as 4_7_8 (193 trains, 1–8 % of
//! the 6.3009 Hz frames, i.e. ~400–3200 events each over 6347 s). The field's real spikes need
//! `cortical_priors::data::Field` (the pickle reader), which was not in main when this bench
//! was written; switching `spikes()` to `Field::load_from(default_data_dir()?, "4_7_8")` is
//! a two-line change once it is.
use cortical_priors::priors::functional::{pearson_binned, recording_stop, sttc_matrix};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::hint::black_box;

fn spikes() -> (String, Vec<Vec<f64>>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(478);
    let frames = (6347.0 * 6.3009) as usize;
    let trains = (0..193)
        .map(|_| {
            let p = 0.01 + 0.07 * rng.random::<f64>();
            (0..frames)
                .filter(|_| rng.random::<f64>() < p)
                .map(|f| f as f64 / 6.3009)
                .collect()
        })
        .collect();
    ("synthetic-193".into(), trains)
}

fn bench(c: &mut Criterion) {
    let (name, s) = spikes();
    let t_stop = recording_stop(&s);
    let mut g = c.benchmark_group("functional");
    g.sample_size(10);
    g.bench_function(format!("sttc_matrix/{name}"), |b| {
        b.iter(|| sttc_matrix(black_box(&s), 0.005, 0.0, t_stop))
    });
    g.bench_function(format!("pearson_binned/{name}"), |b| {
        b.iter(|| pearson_binned(black_box(&s), 0.02, t_stop))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
