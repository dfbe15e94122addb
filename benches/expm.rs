//! expm and expm_frechet, f32 and f64, n ∈ {32, 64, 128, 256, 312, 512}, ‖A‖₁ ∈ {1, 50}
//! (standard normal, seeded, scaled to that 1-norm), each next to its *floor*: the same number
//! of n×n products the algorithm performed on that input (read from
//! `ExpmWorkspace::last_plan`) plus one LU of an n×n matrix and its solve(s) with n right-hand
//! sides, with the same routines and parallelism (the products through `gemm::matmul_tiles` on
//! a team as the kernel runs them, the LU and solves through the kernel's own `LuSolver`) —
//! i.e. what the call would cost with zero overhead. At the end a table prints our median, the
//! floor's and their ratio, and the ratio measured in alternating blocks of calls (`alternate`:
//! criterion times each side over its own second, and a guest whose speed drifts may run the
//! two at different speeds). Group `expm_floor_parts` times the floor's pieces alone (one
//! product, one LU, one LU + solve).
//!
//! Filter as usual: `cargo bench --bench expm -- 'expm/f64/n256'`. Peers (scipy) are measured
//! by ../shared/peers/bench_peers.py (sections expm_scipy, frechet_scipy).
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cortical_kernels::expm::{
    expm_frechet_into, expm_into, team_threads, ExpmScalar, ExpmWorkspace,
};
use cortical_kernels::faer::{Accum, Mat};
use cortical_kernels::gemm::matmul_tiles;
use cortical_kernels::lu::LuSolver;
use cortical_kernels::team;
use criterion::{criterion_group, BenchmarkId, Criterion};

mod common;
use common::{calls_per_block, median, range};

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

const SIZES: [usize; 6] = [32, 64, 128, 256, 312, 512];
const NORMS: [f64; 2] = [1.0, 50.0];

/// Per-iteration times (ns) recorded by `iter_custom`, keyed by benchmark id.
static SAMPLES: Mutex<BTreeMap<String, Vec<f64>>> = Mutex::new(BTreeMap::new());

/// ours / floor per alternating round (see [`alternate`]), keyed as the `expm/…` and
/// `frechet/…` entries of [`SAMPLES`].
static ROUNDS: Mutex<BTreeMap<String, Vec<f64>>> = Mutex::new(BTreeMap::new());

/// Rounds of [`alternate`].
const ALTERNATING_ROUNDS: usize = 9;

/// ours / floor in [`ALTERNATING_ROUNDS`] rounds, each a block of calls of one and then a block
/// of the other (≥ 20 ms each; the order swapped every round), so that a machine whose speed
/// drifts (a shared guest: ±30% over minutes seen) slows both sides of each ratio alike.
fn alternate(mut ours: impl FnMut(), mut floor: impl FnMut()) -> Vec<f64> {
    fn block(f: &mut impl FnMut(), calls: usize) -> f64 {
        let t = Instant::now();
        for _ in 0..calls {
            f();
        }
        t.elapsed().as_secs_f64() / calls as f64
    }
    // Calls per block from the second of two calls (the first may be cold).
    let calls = |f: &mut dyn FnMut()| {
        f();
        let t = Instant::now();
        f();
        calls_per_block(t.elapsed(), Duration::from_millis(20), 1..=100_000)
    };
    let (io, if_) = (calls(&mut ours), calls(&mut floor));
    (0..ALTERNATING_ROUNDS)
        .map(|r| {
            if r % 2 == 0 {
                let o = block(&mut ours, io);
                o / block(&mut floor, if_)
            } else {
                let f = block(&mut floor, if_);
                block(&mut ours, io) / f
            }
        })
        .collect()
}

/// Whether criterion ran both benchmarks (the command line's filter may have skipped them).
fn both_ran(a: &str, b: &str) -> bool {
    let s = SAMPLES.lock().expect("lock");
    s.contains_key(a) && s.contains_key(b)
}

fn record(id: &str, d: Duration, iters: u64) {
    SAMPLES
        .lock()
        .expect("lock")
        .entry(id.to_string())
        .or_default()
        .push(d.as_nanos() as f64 / iters as f64);
}

fn gaussian<T: ExpmScalar + From<f32>>(n: usize, norm1: f64, seed: u64) -> Mat<T> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let m = Mat::<f64>::from_fn(n, n, |_, _| StandardNormal.sample(&mut rng));
    let mut best = 0.0f64;
    for j in 0..n {
        best = best.max((0..n).map(|i| m[(i, j)].abs()).sum());
    }
    Mat::from_fn(n, n, |i, j| T::from((m[(i, j)] * norm1 / best) as f32))
}

/// The team the kernel holds at size n, for the floor's pieces.
fn on_team<R>(n: usize, f: impl FnOnce() -> R) -> R {
    team::with_team(team_threads(n), f)
}

/// `products` n×n GEMMs + one LU + `solves` solves with n right-hand sides.
struct Floor<T> {
    x: Mat<T>,
    y: Mat<T>,
    z: Mat<T>,
    q: Mat<T>,
    rhs: Mat<T>,
    lu: LuSolver<T>,
}

impl<T: ExpmScalar + From<f32>> Floor<T> {
    fn new(a: &Mat<T>) -> Self {
        let n = a.nrows();
        // A well-conditioned system, like V − U.
        let q = Mat::from_fn(n, n, |i, j| if i == j { T::from(4.0) } else { a[(i, j)] });
        Floor {
            x: a.clone(),
            y: a.clone(),
            z: a.clone(),
            q,
            rhs: a.clone(),
            lu: LuSolver::new(n),
        }
    }

    fn run(&mut self, products: usize, solves: usize, q0: &Mat<T>) {
        on_team(self.x.nrows(), || {
            for k in 0..products {
                self.product(k);
            }
            self.lu_solve(solves, q0);
        });
    }

    /// The k-th of a run's products.
    fn product(&mut self, k: usize) {
        let n = self.x.nrows();
        let one = T::from(1.0);
        // Always A·A from the same inputs: chaining the products would let the entries grow
        // or decay geometrically across iterations into Inf or subnormals, whose slow paths
        // would distort the floor.
        let dst = if k.is_multiple_of(2) {
            &mut self.z
        } else {
            &mut self.y
        };
        let x = self.x.as_ref();
        // As the kernel computes its products: on the register tiles (AVX-512 or AVX2) up to
        // `GemmScalar::TILES_MAX_N`, and over its team from `expm::PAR_MIN_N` on.
        on_team(n, || matmul_tiles(dst.as_mut(), Accum::Replace, x, x, one));
    }

    /// One LU of (a copy of) `q0` and `solves` solves with n right-hand sides, through the
    /// kernel's own [`LuSolver`] (the parallelism expm uses).
    fn lu_solve(&mut self, solves: usize, q0: &Mat<T>) {
        on_team(self.x.nrows(), || {
            self.q.copy_from(q0);
            self.lu.factor(self.q.as_mut()).expect("n×n");
            for _ in 0..solves {
                // Fresh right-hand side every time (as the kernel forms U + V): solving in
                // place repeatedly would drift the values into Inf or subnormals.
                self.rhs.copy_from(&self.x);
                self.lu
                    .solve(self.q.as_ref(), self.rhs.as_mut())
                    .expect("n×n");
            }
        });
    }
}

fn bench_type<T: ExpmScalar + From<f32>>(c: &mut Criterion, tname: &str) {
    for &n in &SIZES {
        for &norm in &NORMS {
            let a = gaussian::<T>(n, norm, 1000 + n as u64);
            let e = gaussian::<T>(n, 1.0, 2000 + n as u64);
            let mut ws = ExpmWorkspace::<T>::new(n);
            let mut x = Mat::<T>::zeros(n, n);
            let mut l = Mat::<T>::zeros(n, n);
            expm_into(a.as_ref(), x.as_mut(), &mut ws).expect("square");
            let plan_e = ws.last_plan();
            expm_frechet_into(a.as_ref(), e.as_ref(), x.as_mut(), l.as_mut(), &mut ws)
                .expect("square");
            let plan_f = ws.last_plan();
            let param = format!("n{n}/norm{norm}");
            let mut floor = Floor::new(&a);
            let q0 = floor.q.clone();

            let mut g = c.benchmark_group(format!("expm/{tname}"));
            let id = format!("expm/{tname}/{param}");
            g.bench_function(BenchmarkId::from_parameter(&param), |b| {
                b.iter_custom(|iters| {
                    let t = Instant::now();
                    for _ in 0..iters {
                        expm_into(a.as_ref(), x.as_mut(), &mut ws).expect("square");
                    }
                    let d = t.elapsed();
                    record(&id, d, iters);
                    d
                })
            });
            let id = format!(
                "expm_floor/{tname}/{param}/m{}s{}p{}",
                plan_e.degree, plan_e.squarings, plan_e.products
            );
            g.bench_function(BenchmarkId::from_parameter(format!("{param}/floor")), |b| {
                b.iter_custom(|iters| {
                    let t = Instant::now();
                    for _ in 0..iters {
                        floor.run(plan_e.products, 1, &q0);
                    }
                    let d = t.elapsed();
                    record(&id, d, iters);
                    d
                })
            });
            g.finish();
            let ours_id = format!("expm/{tname}/{param}");
            if both_ran(&ours_id, &id) {
                let r = alternate(
                    || expm_into(a.as_ref(), x.as_mut(), &mut ws).expect("square"),
                    || floor.run(plan_e.products, 1, &q0),
                );
                ROUNDS.lock().expect("lock").insert(ours_id, r);
            }

            let mut g = c.benchmark_group(format!("expm_frechet/{tname}"));
            let id = format!("frechet/{tname}/{param}");
            g.bench_function(BenchmarkId::from_parameter(&param), |b| {
                b.iter_custom(|iters| {
                    let t = Instant::now();
                    for _ in 0..iters {
                        expm_frechet_into(a.as_ref(), e.as_ref(), x.as_mut(), l.as_mut(), &mut ws)
                            .expect("square");
                    }
                    let d = t.elapsed();
                    record(&id, d, iters);
                    d
                })
            });
            let id = format!(
                "frechet_floor/{tname}/{param}/m{}s{}p{}",
                plan_f.degree, plan_f.squarings, plan_f.products
            );
            g.bench_function(BenchmarkId::from_parameter(format!("{param}/floor")), |b| {
                b.iter_custom(|iters| {
                    let t = Instant::now();
                    for _ in 0..iters {
                        floor.run(plan_f.products, 2, &q0);
                    }
                    let d = t.elapsed();
                    record(&id, d, iters);
                    d
                })
            });
            g.finish();
            let ours_id = format!("frechet/{tname}/{param}");
            if both_ran(&ours_id, &id) {
                let r = alternate(
                    || {
                        expm_frechet_into(a.as_ref(), e.as_ref(), x.as_mut(), l.as_mut(), &mut ws)
                            .expect("square")
                    },
                    || floor.run(plan_f.products, 2, &q0),
                );
                ROUNDS.lock().expect("lock").insert(ours_id, r);
            }
        }
        // The floor's pieces on their own: one product, one LU, one LU + solve.
        let a = gaussian::<T>(n, 1.0, 1000 + n as u64);
        let mut floor = Floor::new(&a);
        let q0 = floor.q.clone();
        let mut g = c.benchmark_group(format!("expm_floor_parts/{tname}"));
        g.bench_function(format!("n{n}/product"), |b| b.iter(|| floor.product(0)));
        g.bench_function(format!("n{n}/lu"), |b| b.iter(|| floor.lu_solve(0, &q0)));
        g.bench_function(format!("n{n}/lu_solve"), |b| {
            b.iter(|| floor.lu_solve(1, &q0))
        });
        g.finish();
    }
}

fn benches(c: &mut Criterion) {
    bench_type::<f64>(c, "f64");
    bench_type::<f32>(c, "f32");
}

fn summary() {
    let s = SAMPLES.lock().expect("lock");
    if s.is_empty() {
        return;
    }
    let rounds = ROUNDS.lock().expect("lock");
    let mut rows = Vec::new();
    for (key, v) in s.iter() {
        let (op, floor_prefix) = if let Some(rest) = key.strip_prefix("expm/") {
            ("expm", format!("expm_floor/{rest}/"))
        } else if let Some(rest) = key.strip_prefix("frechet/") {
            ("expm_frechet", format!("frechet_floor/{rest}/"))
        } else {
            continue;
        };
        let Some((fkey, fv)) = s.iter().find(|(k, _)| k.starts_with(&floor_prefix)) else {
            continue;
        };
        let parts: Vec<&str> = key.split('/').collect();
        let plan = fkey.rsplit('/').next().unwrap_or("");
        let (ours, floor) = (median(v) / 1e6, median(fv) / 1e6);
        let alternating = match rounds.get(key) {
            Some(r) if !r.is_empty() => {
                let (lo, hi) = range(r);
                format!("{:.2} ({lo:.2}–{hi:.2})", median(r))
            }
            _ => "–".to_string(),
        };
        let n: usize = parts[2].trim_start_matches('n').parse().unwrap_or(0);
        let norm: f64 = parts[3].trim_start_matches("norm").parse().unwrap_or(0.0);
        rows.push((
            op,
            parts[1].to_string(),
            n,
            norm,
            ours,
            floor,
            alternating,
            plan.to_string(),
        ));
    }
    rows.sort_by(|a, b| {
        (a.0, &a.1, a.2)
            .cmp(&(b.0, &b.1, b.2))
            .then(a.3.total_cmp(&b.3))
    });
    println!(
        "\n| op | dtype | n | ‖A‖₁ | ours median ms | floor median ms | ours/floor | \
         ours/floor alternating, median ({ALTERNATING_ROUNDS} rounds) (range) | \
         plan (m, s, products) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (op, t, n, norm, ours, floor, alternating, plan) in rows {
        println!(
            "| {op} | {t} | {n} | {norm} | {ours:.4} | {floor:.4} | {:.2} | {alternating} | \
             {plan} |",
            ours / floor
        );
    }
}

criterion_group! {
    name = group;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(800));
    targets = benches
}

fn main() {
    group();
    Criterion::default().configure_from_args().final_summary();
    summary();
}
