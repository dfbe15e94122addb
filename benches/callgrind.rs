//! Callgrind (gungraun) bench of f64 `expm` at n = 64, ‖A‖₁ ∈ {1, 50}, through the
//! allocation-free entry point: instruction counts are deterministic, so a change in the
//! kernel's cost (e.g. a different Padé degree or number of squarings) shows up without timing
//! noise.
//!
//! Run with `cargo bench --bench callgrind` (needs `cargo install gungraun-runner@0.20.0` and
//! valgrind); `cargo bench --no-run` only compiles it.
use cortical_kernels::expm::{expm_into, ExpmWorkspace};
use cortical_kernels::faer::Mat;
use gungraun::{library_benchmark, library_benchmark_group, main};
use std::hint::black_box;

const N: usize = 64;

struct Inputs {
    a: Mat<f64>,
    out: Mat<f64>,
    ws: ExpmWorkspace<f64>,
}

/// A deterministic sign-mixed matrix from a linear congruential sequence, scaled to ‖A‖₁ =
/// `norm1` (the values only need to be generic).
fn setup(norm1: f64) -> Inputs {
    let mut s: u32 = 12345;
    let mut a = Mat::from_fn(N, N, |_, _| {
        s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (s >> 8) as f64 / (1u32 << 24) as f64 * 2.0 - 1.0
    });
    let mut best = 0.0f64;
    for j in 0..N {
        best = best.max((0..N).map(|i| a[(i, j)].abs()).sum());
    }
    for j in 0..N {
        for i in 0..N {
            a[(i, j)] *= norm1 / best;
        }
    }
    let mut ws = ExpmWorkspace::new(N);
    let mut out = Mat::zeros(N, N);
    // Warm the workspace so that the measured call allocates nothing.
    expm_into(a.as_ref(), out.as_mut(), &mut ws).expect("square");
    Inputs { a, out, ws }
}

#[library_benchmark]
#[bench::norm1(setup(1.0))]
#[bench::norm50(setup(50.0))]
fn expm_f64_n64(mut inp: Inputs) -> Mat<f64> {
    expm_into(black_box(inp.a.as_ref()), inp.out.as_mut(), &mut inp.ws).expect("square");
    black_box(inp.out)
}

library_benchmark_group!(name = expm_group, benchmarks = [expm_f64_n64]);

main!(library_benchmark_groups = expm_group);
