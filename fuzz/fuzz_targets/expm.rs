#![no_main]
//! Fuzz target `expm`: arbitrary small matrices (1 ≤ n ≤ 6) whose entries are drawn from a mix
//! of ordinary values, tiny and huge magnitudes, ±0, NaN and ±Inf, in f64 and f32.
//!
//! Asserts: nothing panics or hangs; non-finite input gives all-NaN output; finite input of
//! moderate size (‖A‖₁ ≤ 30, so that exp(A) is far from overflow) gives finite output; and
//! `expm` agrees with the exp(A) that `expm_frechet` returns (two different degree/scaling
//! choices — Algorithm 6.1 of 2009a vs 6.4 of 2009b — of the same function), to a tolerance
//! relative to the conditioning-free bound e^{‖A‖₁}.
use arbitrary::Arbitrary;
use cortical_kernels::expm::{expm, expm_frechet, expm_frechet_adjoint, try_expm};
use cortical_kernels::faer::Mat;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Entry {
    Small(i8),
    Unit(u16),
    Tiny(i8),
    Huge(i8),
    Raw(f64),
    Zero,
    NegZero,
    Nan,
    Inf(bool),
}

impl Entry {
    fn value(&self) -> f64 {
        match *self {
            Entry::Small(v) => v as f64 / 8.0,
            Entry::Unit(v) => (v as f64 / u16::MAX as f64) * 2.0 - 1.0,
            Entry::Tiny(v) => v as f64 * 1e-300,
            Entry::Huge(v) => v as f64 * 1e300,
            Entry::Raw(v) => v,
            Entry::Zero => 0.0,
            Entry::NegZero => -0.0,
            Entry::Nan => f64::NAN,
            Entry::Inf(neg) => {
                if neg {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                }
            }
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    n: u8,
    extra_cols: u8,
    entries: Vec<Entry>,
    dir: Vec<i8>,
}

fn all_nan<T: Copy>(m: &Mat<T>, is_nan: impl Fn(T) -> bool) -> bool {
    (0..m.ncols()).all(|j| (0..m.nrows()).all(|i| is_nan(m[(i, j)])))
}

fuzz_target!(|inp: Input| {
    let n = (inp.n % 6) as usize + 1;
    let get = |k: usize| inp.entries.get(k).map_or(0.0, Entry::value);
    let a = Mat::from_fn(n, n, |i, j| get(i * n + j));
    let e = Mat::from_fn(n, n, |i, j| {
        inp.dir.get(i * n + j).map_or(1.0, |&v| v as f64 / 16.0)
    });

    // Non-square is an error, never a panic.
    let cols = n + 1 + (inp.extra_cols % 3) as usize;
    assert!(try_expm(Mat::<f64>::zeros(n, cols).as_ref()).is_err());

    let finite = (0..n).all(|j| (0..n).all(|i| a[(i, j)].is_finite()));
    let norm1 = (0..n)
        .map(|j| (0..n).map(|i| a[(i, j)].abs()).sum::<f64>())
        .fold(0.0, f64::max);

    let x = expm(a.as_ref());
    let (xf, l) = expm_frechet(a.as_ref(), e.as_ref());
    let (xa, _g) = expm_frechet_adjoint(a.as_ref(), e.as_ref());
    if !finite {
        assert!(
            all_nan(&x, f64::is_nan),
            "non-finite input must give NaN: {a:?}"
        );
        assert!(all_nan(&xf, f64::is_nan) && all_nan(&l, f64::is_nan));
        assert!(all_nan(&xa, f64::is_nan));
    } else if norm1 <= 30.0 {
        for m in [&x, &xf, &xa, &l] {
            assert!(
                (0..n).all(|j| (0..n).all(|i| m[(i, j)].is_finite())),
                "finite moderate input gave non-finite output: {a:?}"
            );
        }
        // ‖exp(A)‖ ≤ e^{‖A‖}: errors of both algorithms are ≲ (backward error u)·κ·‖exp(A)‖
        // with κ ≤ ‖A‖e^{‖A‖}/‖exp(A)‖-ish; use an absolute bound scaled by e^{‖A‖₁}.
        let scale = norm1.exp() * (1.0 + norm1);
        for (k, m) in [(&xf, "expm_frechet"), (&xa, "expm_frechet_adjoint")]
            .iter()
            .map(|(m, s)| (*m, *s))
        {
            for j in 0..n {
                for i in 0..n {
                    let d = (k[(i, j)] - x[(i, j)]).abs();
                    assert!(
                        d <= 1e-12 * scale,
                        "{m} and expm disagree at ({i},{j}): {} vs {} for {a:?}",
                        k[(i, j)],
                        x[(i, j)]
                    );
                }
            }
        }
    }

    // f32: the same rules in single precision.
    let a32 = Mat::from_fn(n, n, |i, j| a[(i, j)] as f32);
    let finite32 = (0..n).all(|j| (0..n).all(|i| a32[(i, j)].is_finite()));
    let x32 = expm(a32.as_ref());
    if !finite32 {
        assert!(all_nan(&x32, f32::is_nan));
    } else if norm1 <= 30.0 {
        assert!((0..n).all(|j| (0..n).all(|i| x32[(i, j)].is_finite())));
    }
});
