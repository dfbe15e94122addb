//! RNN forward + BPTT backward (f32, T = 100, in = 8) at (hidden, batch) ∈ {(100, 32),
//! (256, 128), (312, 128), (512, 128)}, next to the machine's f32 GEMM rate measured here.
//!
//! Criterion reports each case with `Throughput::Elements(flops)`, so its "elem/s" reads as
//! FLOP/s (flops = 6·T·B·(n² + n·in), the count the PyTorch peer uses). After the criterion
//! groups a summary table prints the median of a few timed repetitions per case as ms and
//! GFLOP/s, with the GEMM rates measured in the same process.
//!
//! The timed unit is what a training step does: refill `dh` (the caller's incoming gradient;
//! here nonzero at every step, as in the peer's per-step readout), forward, backward.
use cortical_kernels::faer::{Accum, Par};
use cortical_kernels::gemm::{gemm, rm, rm_mut, sgemm_matrixmultiply};
use cortical_kernels::packed::{gemm_at_b, gemm_packed_rhs, PackedRhs};
use cortical_kernels::rnn::Activation;
use criterion::{criterion_group, Criterion, Throughput};

mod common;
use common::{median, seq, RnnCase, IN, T};
use std::hint::black_box;
use std::time::{Duration, Instant};

const SHAPES: [(usize, usize); 4] = [(100, 32), (256, 128), (312, 128), (512, 128)];

/// Plain GEMM cases: the RNN's step product at n = 512, B = 128 (and at B = 64, the half batch
/// each core takes when the recurrence is split over two) and its weight-gradient product
/// (k = T·B), plus a square 1024³ for the machine's peak.
struct GemmCase {
    name: &'static str,
    m: usize,
    k: usize,
    n: usize,
    trans_a: bool,
}

const GEMMS: [GemmCase; 4] = [
    GemmCase {
        name: "half step [64,512]x[512,512]",
        m: 64,
        k: 512,
        n: 512,
        trans_a: false,
    },
    GemmCase {
        name: "step [128,512]x[512,512]",
        m: 128,
        k: 512,
        n: 512,
        trans_a: false,
    },
    GemmCase {
        name: "wgrad [512,12800]^T x [12800,512]",
        m: 512,
        k: 12_800,
        n: 512,
        trans_a: true,
    },
    GemmCase {
        name: "square 1024^3",
        m: 1024,
        k: 1024,
        n: 1024,
        trans_a: false,
    },
];

#[derive(Clone, Copy)]
enum GemmImpl {
    Faer(Par),
    MatrixMultiply,
    /// `packed::gemm_packed_rhs` (sequential), `b` packed once outside the timed call as the
    /// RNN's passes do for all their steps.
    PackedRhs,
    /// `packed::gemm_at_b` (the weight-gradient product).
    AtB(Par),
}

fn gemm_runner(g: &GemmCase, imp: GemmImpl) -> impl FnMut() {
    let a = seq(g.m * g.k, 1.0, 7);
    let b = seq(g.k * g.n, 1.0, 8);
    let mut c = vec![0.0f32; g.m * g.n];
    let (m, k, n, ta) = (g.m, g.k, g.n, g.trans_a);
    let mut packed = PackedRhs::new();
    packed.pack(rm(&b, k, n));
    move || {
        match imp {
            GemmImpl::PackedRhs => gemm_packed_rhs(&mut c, n, Accum::Replace, &a, k, m, &packed),
            GemmImpl::AtB(par) => gemm_at_b(&mut c, n, Accum::Replace, &a, m, &b, n, k, m, n, par),
            GemmImpl::Faer(par) => {
                let a = if ta {
                    rm(&a, k, m).transpose()
                } else {
                    rm(&a, m, k)
                };
                gemm(rm_mut(&mut c, m, n), Accum::Replace, a, rm(&b, k, n), par)
            }
            GemmImpl::MatrixMultiply => {
                sgemm_matrixmultiply(m, k, n, 1.0, &a, ta, &b, false, 0.0, &mut c)
            }
        }
        black_box(&c);
    }
}

/// The implementations compared on `g`: faer and matrixmultiply everywhere, and the kernel of
/// `cortical_kernels::packed` the RNN uses for that kind of product.
fn gemm_impls(g: &GemmCase) -> Vec<(&'static str, GemmImpl)> {
    let mut v = vec![
        ("faer par", GemmImpl::Faer(Par::rayon(0))),
        ("faer seq", GemmImpl::Faer(Par::Seq)),
        ("matrixmultiply", GemmImpl::MatrixMultiply),
    ];
    if g.trans_a {
        v.push(("gemm_at_b par", GemmImpl::AtB(Par::rayon(0))));
        v.push(("gemm_at_b seq", GemmImpl::AtB(Par::Seq)));
    } else {
        v.push(("packed seq", GemmImpl::PackedRhs));
    }
    v
}

fn bench_rnn(c: &mut Criterion) {
    let mut group = c.benchmark_group("rnn_fwd_bwd");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for act in [Activation::Tanh, Activation::Relu] {
        for &(n, batch) in &SHAPES {
            let mut case = RnnCase::new(n, batch, act);
            group.throughput(Throughput::Elements(case.d.flops_fwd_bwd() as u64));
            group.bench_function(format!("{act:?}/n{n}_B{batch}"), |bch| {
                bch.iter(|| case.run())
            });
        }
    }
    group.finish();
}

fn bench_gemm(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm_f32");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for g in &GEMMS {
        group.throughput(Throughput::Elements(2 * (g.m * g.k * g.n) as u64));
        for (name, imp) in gemm_impls(g) {
            let mut f = gemm_runner(g, imp);
            group.bench_function(format!("{}/{name}", g.name), |bch| bch.iter(&mut f));
        }
    }
    group.finish();
}

/// Median seconds per call over `reps` calls after one warm-up call.
fn median_secs(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    median(&t)
}

fn summary() {
    println!("\n## f32 GEMM (median of 15)\n");
    println!("| shape | impl | ms | GFLOP/s |\n|---|---|---:|---:|");
    let mut peak: f64 = 0.0;
    for g in &GEMMS {
        let flops = 2.0 * (g.m * g.k * g.n) as f64;
        for (name, imp) in gemm_impls(g) {
            let s = median_secs(15, gemm_runner(g, imp));
            peak = peak.max(flops / s / 1e9);
            println!(
                "| {} | {name} | {:.3} | {:.1} |",
                g.name,
                s * 1e3,
                flops / s / 1e9
            );
        }
    }
    println!("\n## RNN forward + backward, T = {T}, in = {IN} (median of 11)\n");
    println!("f32 GEMM peak measured above: {peak:.1} GFLOP/s\n");
    println!("| act | n | B | ms | GFLOP/s | % of GEMM peak |\n|---|---:|---:|---:|---:|---:|");
    for act in [Activation::Tanh, Activation::Relu] {
        for &(n, batch) in &SHAPES {
            let mut case = RnnCase::new(n, batch, act);
            let s = median_secs(11, || case.run());
            let gf = case.d.flops_fwd_bwd() / s / 1e9;
            println!(
                "| {act:?} | {n} | {batch} | {:.2} | {gf:.1} | {:.0}% |",
                s * 1e3,
                100.0 * gf / peak
            );
        }
    }
}

criterion_group!(benches, bench_rnn, bench_gemm);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // The summary is the table the README quotes; skip it when criterion is only listing or
    // testing (`cargo bench -- --list`, `cargo test --benches`).
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--list" || a == "--test") {
        summary();
    }
}
