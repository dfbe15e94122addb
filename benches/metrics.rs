//! Metrics of one trained W at N = 312 (field 6_6_2's size): the paper's notebook takes 81 s
//! for these (1000-null small-world, KDE, CNM); the target is < 2 s on the 2-core machine.
//!
//! `cargo bench --bench metrics` (add `-- --quick` for a fast pass). The W is a seeded
//! Gaussian bulk with heavy-tailed entries, like a trained recurrent matrix.
use std::hint::black_box;

use cortical_priors::kernels::faer::Mat;
use cortical_priors::metrics::{
    binarize_top_decile, degree_assortativity, mean_clustering, modularity_cnm, path_stats,
    small_world, topology, weight_entropy, PAPER_NULLS,
};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal, StudentT};
use rand_xoshiro::Xoshiro256PlusPlus;

const N: usize = 312;

fn trained_like_w(n: usize, seed: u64) -> Mat<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let bulk = Normal::new(0.0f64, 0.1).unwrap();
    let tail = StudentT::new(3.0f64).unwrap();
    Mat::from_fn(n, n, |_, _| {
        let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
        bulk.sample(&mut rng) + sign * 0.02 * tail.sample(&mut rng).abs()
    })
}

fn bench_metrics(c: &mut Criterion) {
    let w = trained_like_w(N, 1);
    let flat: Vec<f64> = (0..N)
        .flat_map(|i| (0..N).map(move |j| (i, j)))
        .map(|(i, j)| w[(i, j)])
        .collect();
    let g = binarize_top_decile(w.as_ref()).unwrap();
    eprintln!(
        "N = {N}: {} edges, density {:.3}",
        g.num_edges(),
        g.num_edges() as f64 / (N * (N - 1) / 2) as f64
    );

    let mut grp = c.benchmark_group("metrics_n312");
    grp.bench_function("binarize_top_decile", |b| {
        b.iter(|| binarize_top_decile(black_box(w.as_ref())).unwrap())
    });
    grp.bench_function("weight_entropy_kde", |b| {
        b.iter(|| weight_entropy(black_box(&flat)))
    });
    grp.bench_function("modularity_cnm", |b| {
        b.iter(|| modularity_cnm(black_box(&g)))
    });
    grp.bench_function("degree_assortativity", |b| {
        b.iter(|| degree_assortativity(black_box(&g)))
    });
    grp.bench_function("clustering_path_length", |b| {
        b.iter(|| (mean_clustering(black_box(&g)), path_stats(black_box(&g))))
    });
    grp.sample_size(10);
    grp.bench_function("small_world_1000_nulls", |b| {
        b.iter(|| small_world(black_box(&g), PAPER_NULLS, 7))
    });
    grp.bench_function("topology_all_1000_nulls", |b| {
        b.iter(|| topology(black_box(w.as_ref()), PAPER_NULLS, 7).unwrap())
    });
    grp.finish();

    let w632 = trained_like_w(632, 2);
    let flat632: Vec<f64> = (0..632 * 632).map(|k| w632[(k / 632, k % 632)]).collect();
    let mut grp = c.benchmark_group("metrics_n632");
    grp.sample_size(10);
    grp.bench_function("weight_entropy_kde", |b| {
        b.iter(|| weight_entropy(black_box(&flat632)))
    });
    grp.bench_function("topology_all_1000_nulls", |b| {
        b.iter(|| topology(black_box(w632.as_ref()), PAPER_NULLS, 7).unwrap())
    });
    grp.finish();
}

criterion_group!(benches, bench_metrics);
criterion_main!(benches);
