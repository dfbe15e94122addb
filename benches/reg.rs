//! The full regularizer step (value + gradient w.r.t. W) at N = 312 (field 6_6_2) and 632, for
//! each form of METHOD.md §4, in f32 and f64. The expm work inside each step is timed on its
//! own in the same run (`expm_into`, `expm_frechet_into` at the same N and norm), so the share
//! spent in expm/adjoint is read off as (expm part) / (step):
//!   l1_distance_comm: 1 × expm_frechet_into; emd_comm: 1 × expm_into + 1 × expm_frechet_into.
use cortical_priors::kernels::emd::sort_samples;
use cortical_priors::kernels::expm::{expm_frechet_into, expm_into, ExpmWorkspace};
use cortical_priors::kernels::faer::Mat;
use cortical_priors::kernels::reg::{
    communicability, emd_comm, l1, l1_distance, l1_distance_comm, CsrMask, Mask, RegScalar,
    RegWorkspace,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::hint::black_box;
use std::time::Duration;

struct Case<T: RegScalar> {
    w: Mat<T>,
    d: Mat<T>,
    c_emp_sorted: Vec<T>,
    x: Mat<T>,
}

fn case<T: RegScalar + ToF64>(n: usize, conv: impl Fn(f64) -> T) -> Case<T> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(n as u64);
    // A trained-W-like matrix: dense, signed, spectral radius O(1).
    let scale = 1.0 / (n as f64).sqrt();
    let w = Mat::from_fn(n, n, |_, _| conv(rng.random_range(-2.0..2.0) * scale));
    let d = Mat::from_fn(n, n, |i, j| {
        conv(if i == j {
            0.0
        } else {
            rng.random_range(0.0..1.5)
        })
    });
    // C_emp of a sparse, connectome-like count matrix (~0.3% density as in 6_6_2).
    let a = Mat::from_fn(n, n, |i, j| {
        if i != j && rng.random_bool(0.0033) {
            rng.random_range(1..4) as f64
        } else {
            0.0
        }
    });
    let c = communicability(a.as_ref(), 1e-10).unwrap();
    let flat: Vec<T> = (0..n)
        .flat_map(|j| (0..n).map(move |i| (i, j)))
        .map(|p| conv(c[p]))
        .collect();
    // X of |W| as the step builds it, for the expm-only timings.
    let r: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| w[(i, j)].to_f64_().abs()).sum::<f64>() + 1e-10)
        .collect();
    let x = Mat::from_fn(n, n, |i, j| {
        conv(w[(i, j)].to_f64_().abs() / (r[i] * r[j]).sqrt())
    });
    Case {
        w,
        d,
        c_emp_sorted: sort_samples(&flat).unwrap(),
        x,
    }
}

trait ToF64 {
    fn to_f64_(self) -> f64;
}
impl ToF64 for f32 {
    fn to_f64_(self) -> f64 {
        self as f64
    }
}
impl ToF64 for f64 {
    fn to_f64_(self) -> f64 {
        self
    }
}

fn run<T: RegScalar + ToF64>(c: &mut Criterion, ty: &str, conv: impl Fn(f64) -> T + Copy) {
    let mut g = c.benchmark_group(format!("reg_{ty}"));
    g.warm_up_time(Duration::from_millis(300));
    g.measurement_time(Duration::from_secs(2));
    g.sample_size(10);
    for &n in &[312usize, 632] {
        let cs = case::<T>(n, conv);
        let (lam, lam_emd, eps) = (conv(0.3), conv(0.1), conv(1e-10));
        let mut grad = Mat::from_fn(n, n, |_, _| conv(0.0));
        let mut ws = RegWorkspace::<T>::new(n);
        g.bench_with_input(BenchmarkId::new("W: l1", n), &n, |b, _| {
            b.iter(|| l1(black_box(cs.w.as_ref()), lam, None, grad.as_mut()).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("WD: l1_distance", n), &n, |b, _| {
            b.iter(|| {
                l1_distance(
                    black_box(cs.w.as_ref()),
                    cs.d.as_ref(),
                    lam,
                    None,
                    grad.as_mut(),
                )
                .unwrap()
            })
        });
        // CSR support at the connectome's density: O(nnz)
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
        let csr = CsrMask::from_fn(n, |i, j| i != j && rng.random_bool(316.0 / (312.0 * 312.0)));
        g.bench_with_input(
            BenchmarkId::new("WD: l1_distance CSR(0.3%)", n),
            &n,
            |b, _| {
                b.iter(|| {
                    l1_distance(
                        black_box(cs.w.as_ref()),
                        cs.d.as_ref(),
                        lam,
                        Some(&Mask::Csr(&csr)),
                        grad.as_mut(),
                    )
                    .unwrap()
                })
            },
        );
        g.bench_with_input(BenchmarkId::new("WDC: l1_distance_comm", n), &n, |b, _| {
            b.iter(|| {
                l1_distance_comm(
                    black_box(cs.w.as_ref()),
                    cs.d.as_ref(),
                    lam,
                    eps,
                    None,
                    grad.as_mut(),
                    &mut ws,
                )
                .unwrap()
            })
        });
        g.bench_with_input(
            BenchmarkId::new("WDC*: l1_distance + emd_comm", n),
            &n,
            |b, _| {
                b.iter(|| {
                    l1_distance(
                        black_box(cs.w.as_ref()),
                        cs.d.as_ref(),
                        lam,
                        None,
                        grad.as_mut(),
                    )
                    .unwrap();
                    emd_comm(
                        black_box(cs.w.as_ref()),
                        &cs.c_emp_sorted,
                        lam_emd,
                        eps,
                        grad.as_mut(),
                        &mut ws,
                    )
                    .unwrap()
                })
            },
        );
        // the expm parts alone, same N and matrix
        let mut ews = ExpmWorkspace::<T>::new(n);
        let mut e = Mat::from_fn(n, n, |_, _| conv(0.0));
        let mut l = Mat::from_fn(n, n, |_, _| conv(0.0));
        let gm = Mat::from_fn(n, n, |_, _| conv(1e-3));
        g.bench_with_input(BenchmarkId::new("part: expm_into", n), &n, |b, _| {
            b.iter(|| expm_into(black_box(cs.x.as_ref()), e.as_mut(), &mut ews).unwrap())
        });
        g.bench_with_input(
            BenchmarkId::new("part: expm_frechet_into", n),
            &n,
            |b, _| {
                b.iter(|| {
                    expm_frechet_into(
                        black_box(cs.x.as_ref()).transpose(),
                        gm.as_ref(),
                        e.as_mut(),
                        l.as_mut(),
                        &mut ews,
                    )
                    .unwrap()
                })
            },
        );
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    run::<f32>(c, "f32", |x| x as f32);
    run::<f64>(c, "f64", |x| x);
}

criterion_group!(benches, bench);
criterion_main!(benches);
