//! Full STTC matrix (and the binned Pearson matrix) for the largest shared field with spikes,
//! 4_7_8 (N = 193, ~6350 s), dt = 5 ms, bin = 20 ms (METHOD.md §2).
//!
//! Uses the field's real spikes when `cortical_priors::data` finds them (`$CORTICAL_DATA` or
//! `../shared/data/microns`); otherwise synthetic frame-locked trains of the same size and
//! rates (193 trains, 1–8 % of the 6.3009 Hz frames over 6347 s), so the bench always runs.
use cortical_priors::priors::functional::{pearson_binned, recording_stop, sttc_matrix};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::hint::black_box;

fn spikes() -> (String, Vec<Vec<f64>>) {
    let real = cortical_priors::data::default_data_dir()
        .and_then(|d| cortical_priors::data::Field::load_from(&d, "4_7_8").ok())
        .and_then(|f| f.spikes);
    if let Some(s) = real {
        return ("4_7_8".into(), s);
    }
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
