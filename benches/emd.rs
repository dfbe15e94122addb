//! W1 at n = 10³ … 10⁶ samples per side: the radix-sorted kernel against the same CDF algorithm
//! with a comparison sort (`sort_unstable_by(partial_cmp)`), in the same run. Also the
//! training-loop form (one side pre-sorted, gradient accumulated) and the radix vs comparison
//! sort alone. Peers (scipy, POT) are measured by ../shared/peers/bench_peers.py.
use cortical_priors::kernels::emd::{sort_samples, wasserstein_1d, Wasserstein1d};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::hint::black_box;
use std::time::Duration;

fn data(n: usize) -> (Vec<f64>, Vec<f64>) {
    // The peers' distributions: u ~ N(0, 1), v ~ N(0.5, 1.5²).
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3 + n as u64);
    let u = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
    let v = (0..n)
        .map(|_| 0.5 + 1.5 * StandardNormal.sample::<f64>(&mut rng))
        .collect::<Vec<f64>>();
    (u, v)
}

/// The comparison-sort baseline: scipy's CDF algorithm with `sort_unstable_by(partial_cmp)`.
fn w1_comparison_sort(u: &[f64], v: &[f64]) -> f64 {
    let mut a = u.to_vec();
    let mut b = v.to_vec();
    a.sort_unstable_by(|x, y| x.partial_cmp(y).unwrap());
    b.sort_unstable_by(|x, y| x.partial_cmp(y).unwrap());
    let (m, n) = (a.len(), b.len());
    let (mut i, mut k, mut acc) = (0, 0, 0.0);
    let mut prev = a[0].min(b[0]);
    while i < m || k < n {
        let take_u = k == n || (i < m && a[i] <= b[k]);
        let z = if take_u { a[i] } else { b[k] };
        acc += (i as f64 / m as f64 - k as f64 / n as f64).abs() * (z - prev);
        prev = z;
        if take_u {
            i += 1
        } else {
            k += 1
        }
    }
    acc
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("w1");
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));
    for &n in &[1_000usize, 10_000, 100_000, 1_000_000] {
        g.sample_size(if n >= 1_000_000 { 10 } else { 20 });
        g.throughput(Throughput::Elements(2 * n as u64));
        let (u, v) = data(n);
        let want = wasserstein_1d(&u, &v);
        let base = w1_comparison_sort(&u, &v);
        assert!((want - base).abs() <= 1e-9 * want, "{want} vs {base}");
        g.bench_with_input(BenchmarkId::new("radix", n), &n, |b, _| {
            b.iter(|| wasserstein_1d(black_box(&u), black_box(&v)))
        });
        let mut ws = Wasserstein1d::new();
        g.bench_with_input(BenchmarkId::new("radix_workspace", n), &n, |b, _| {
            b.iter(|| ws.distance(black_box(&u), black_box(&v)).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("comparison_sort", n), &n, |b, _| {
            b.iter(|| w1_comparison_sort(black_box(&u), black_box(&v)))
        });
        let vs = sort_samples(&v).unwrap();
        let mut grad = vec![0.0; n];
        g.bench_with_input(BenchmarkId::new("presorted_grad_acc", n), &n, |b, _| {
            b.iter(|| {
                ws.distance_grad_presorted_acc(black_box(&u), &vs, 1.0, &mut grad)
                    .unwrap()
            })
        });
        let (mut gu, mut gv) = (vec![0.0; n], vec![0.0; n]);
        g.bench_with_input(BenchmarkId::new("grad_both", n), &n, |b, _| {
            b.iter(|| {
                ws.distance_grad(black_box(&u), black_box(&v), &mut gu, &mut gv)
                    .unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
