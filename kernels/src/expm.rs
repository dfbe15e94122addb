//! Matrix exponential by Padé scaling and squaring, its Fréchet derivative, and the adjoint
//! used for backpropagation.
//!
//! * [`expm`] follows Al-Mohy & Higham (2009a), "A new scaling and squaring algorithm for the
//!   matrix exponential", SIAM J. Matrix Anal. Appl. 31(3):970–989, **Algorithm 6.1**: Padé
//!   degrees m ∈ {3, 5, 7, 9, 13}, chosen from the quantities d_k ≈ ‖A^k‖₁^{1/k} (exact where the
//!   power has been formed, otherwise the 1-norm estimator of Higham (1988) / LAPACK `xLACN2`,
//!   as in the paper's `normAm`), the backward-error correction ℓ(A, m) computed from
//!   ‖|A|^{2m+1}‖₁ (its 2m+1 vector–matrix passes stopped as soon as Collatz–Wielandt and
//!   submultiplicative bounds settle the test: `ell_scan`), then scaling and squaring.
//! * [`expm_frechet`] follows Al-Mohy & Higham (2009b), "Computing the Fréchet derivative of the
//!   matrix exponential, with an application to condition number estimation", SIAM J. Matrix
//!   Anal. Appl. 30(4):1639–1657, **Algorithm 6.4**: the same Padé machinery differentiated
//!   term by term, degrees chosen from ‖A‖₁ against the ℓ_m of its Table 6.1, and the squaring
//!   phase L ← R·L + L·R, R ← R².
//! * [`expm_frechet_adjoint`] returns (exp(A), L(Aᵀ, G)), the gradient of ⟨G, exp(A)⟩ with
//!   respect to A (the Fréchet derivative of exp is self-adjoint up to transposition:
//!   ⟨L(A, E), G⟩ = ⟨E, L(Aᵀ, G)⟩).
//!
//! Every variant solves one linear system with the Padé denominator (V − U) by faer's
//! partial-pivoting LU, in place; no inverse is formed.
//!
//! # Precision
//! `f64` uses the double-precision constants of the papers. `f32` uses the single-precision
//! θ_m of Higham (2005) with degrees m ∈ {3, 5, 7} only: in single precision the same cost
//! argument that makes 13 the largest useful degree in double (Higham 2005, §2: the cost per
//! unit of ‖A‖ that θ_m buys, π_m + log₂(1/θ_m)) is minimised by m = 7, which is what MATLAB's
//! `expm` does for single input. The single-precision ℓ_m for the Fréchet derivative are not
//! published; `tests/data/expm_thresholds.py` derives them with the same series as the paper
//! (and reproduces the published double-precision θ_m and ℓ_m to all printed digits).
//!
//! # Bad input
//! * A NaN or ±Inf entry in `A` gives an all-NaN `exp(A)` (and an all-NaN Fréchet derivative);
//!   a non-finite entry in the direction `E` (or `G`) gives an all-NaN derivative while
//!   `exp(A)` is still computed. Nothing panics and nothing loops: the number of squarings is
//!   bounded by the exponent range of the type.
//! * A non-square matrix is [`KernelError::NotSquare`] from the `try_`/`_into` variants; the
//!   plain [`expm`], [`expm_frechet`], [`expm_frechet_adjoint`] panic with a message naming
//!   the shape (and only then).
//! * 0×0 input gives 0×0 output.
//!
//! # Products
//! Up to n = [`GemmScalar::TILES_MAX_N`](crate::gemm::GemmScalar::TILES_MAX_N) (96 in f64,
//! 64 in f32) on AVX-512 or AVX2 + FMA machines the n×n products run on the crate's register
//! tiles ([`crate::gemm::matmul_tiles`]; n = 64 f64: 5.5 → 5.2 µs a product on AVX-512, 12.1
//! → 10.7 on AVX2, Zen 3), above on faer's.
//!
//! # Parallelism
//! From n = [`PAR_MIN_N`] (96) on, a call holds a team of the rayon pool's threads
//! ([`team_threads`]: two up to n = 191, then one per 64 columns) for its whole length
//! ([`crate::team`]): its products split their columns over the team, each block one sequential
//! product on the tiles or faer's; the O(n²) passes and the LU's solve split too; the LU runs on
//! the calling thread, its updates by panels (f64 n ≥ 97, f32 ≥ 193, where the tiles run) on the
//! team ([`crate::lu`]). Every column is computed as the one-thread call computes it, so the bits
//! do not depend on the pool's size (`tests/team.rs`). Below [`PAR_MIN_N`] the call runs on the
//! calling thread alone.
//!
//! # Allocation
//! [`expm_into`] and [`expm_frechet_into`] write into caller-owned outputs and use an
//! [`ExpmWorkspace`]; once the workspace has been used at size n (the Fréchet buffers are
//! allocated on the first Fréchet call), further calls of that size allocate nothing. The
//! allocating [`expm`], [`expm_frechet`], [`expm_frechet_adjoint`] (and `try_` forms) keep
//! one workspace per thread and type between calls, up to [`CACHED_WORKSPACE_MAX_BYTES`]
//! (f64 n ≤ 547), so that repeated calls do not pay for fresh memory each time; they allocate
//! only their outputs. [`release_cached_workspaces`] frees this thread's. A call that has to
//! start a helper thread of its team lets rayon allocate that job (see [`crate::team`]).
use crate::lu::LuSolver;
use crate::team;
use crate::KernelError;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

/// Coefficients b_j of the numerator p_m(x) = Σ_j b_j x^j of the [m/m] Padé approximant of e^x,
/// normalised so that b_m = 1, i.e. b_j = (2m − j)! / (j! (m − j)!). These are the integers of
/// Higham (2005), "The scaling and squaring method for the matrix exponential revisited",
/// SIAM J. Matrix Anal. Appl. 26(4):1179–1193, eq. (2.2) and §2 (the values in MATLAB's
/// `expm`), and of Al-Mohy & Higham (2009a) eq. (2.1)/(3.2). All are exactly representable in
/// f64 (and those up to m = 7 in f32); a unit test re-derives them from the factorials.
const B3: [f64; 4] = [120.0, 60.0, 12.0, 1.0];
const B5: [f64; 6] = [30240.0, 15120.0, 3360.0, 420.0, 30.0, 1.0];
const B7: [f64; 8] = [
    17297280.0, 8648640.0, 1995840.0, 277200.0, 25200.0, 1512.0, 56.0, 1.0,
];
const B9: [f64; 10] = [
    17643225600.0,
    8821612800.0,
    2075673600.0,
    302702400.0,
    30270240.0,
    2162160.0,
    110880.0,
    3960.0,
    90.0,
    1.0,
];
const B13: [f64; 14] = [
    64764752532480000.0,
    32382376266240000.0,
    7771770303897600.0,
    1187353796428800.0,
    129060195264000.0,
    10559470521600.0,
    670442572800.0,
    33522128640.0,
    1323241920.0,
    40840800.0,
    960960.0,
    16380.0,
    182.0,
    1.0,
];

fn pade_coeffs(m: usize) -> &'static [f64] {
    match m {
        3 => &B3,
        5 => &B5,
        7 => &B7,
        9 => &B9,
        13 => &B13,
        _ => unreachable!("no Padé degree {m}"),
    }
}

/// 1/|c_{2m+1}|, the reciprocal of the leading coefficient of the backward-error function
/// h_{2m+1}(x) = log(e^{-x} r_m(x)) = Σ_{k ≥ 2m+1} c_k x^k, used in ℓ(A, m) of Al-Mohy & Higham
/// (2009a) eq. (5.1)/Algorithm 6.1 (values as in their `expm` code and scipy's `_ell`). It
/// equals C(2m, m)·(2m+1)!, which a unit test checks.
fn abs_c_recip(m: usize) -> f64 {
    match m {
        3 => 100800.0,
        5 => 10059033600.0,
        7 => 4487938430976000.0,
        9 => 5914384781877411840000.0,
        13 => 113250775606021113483283660800000000.0,
        _ => unreachable!("no Padé degree {m}"),
    }
}

/// θ_m in double precision: Al-Mohy & Higham (2009a) Table 3.1 (= Higham 2005 Table 2.3),
/// the largest ‖2^{-s}A‖ for which the backward error of r_m is at most u = 2^-53.
#[allow(clippy::excessive_precision)] // the published digits, kept verbatim
const THETA_F64: [(usize, f64); 5] = [
    (3, 1.495585217958292e-2),
    (5, 2.539398330063230e-1),
    (7, 9.504178996162932e-1),
    (9, 2.097847961257068e0),
    (13, 5.371920351148152e0),
];
/// θ_m in single precision (u = 2^-24): Higham (2005) §2 / MATLAB `expm` ('single' branch).
#[allow(clippy::excessive_precision)] // the published digits, kept verbatim
const THETA_F32: [(usize, f64); 3] = [
    (3, 4.258730016922831e-1),
    (5, 1.880152677804762e0),
    (7, 3.925724783138660e0),
];
/// ℓ_m in double precision: Al-Mohy & Higham (2009b) Table 6.1 (as in scipy's
/// `_expm_frechet.ell_table_61`): the largest ‖2^{-s}A‖ for which the backward error of the
/// Fréchet derivative of r_m is at most u = 2^-53.
const ELL_F64: [(usize, f64); 5] = [
    (3, 1.08e-2),
    (5, 2.00e-1),
    (7, 7.83e-1),
    (9, 1.78e0),
    (13, 4.74e0),
];
/// ℓ_m in single precision (u = 2^-24), derived by `tests/data/expm_thresholds.py` (same
/// definition as Table 6.1 of 2009b: Σ_{k≥2m+1} k|c_k| θ^{k-1} ≤ u), rounded down to 3 digits
/// like the published table: 0.30803, 1.48253, 3.24867.
const ELL_F32: [(usize, f64); 3] = [(3, 3.08e-1), (5, 1.48e0), (7, 3.24e0)];

mod sealed {
    /// The per-precision constants; private so that only f32 and f64 implement [`super::ExpmScalar`].
    pub trait Sealed: crate::lu::LuScalar + crate::gemm::GemmScalar {
        /// Unit roundoff u.
        const UNIT_ROUNDOFF: f64;
        /// (m, θ_m) for expm; the last entry is the scaling degree m_max.
        const THETA: &'static [(usize, f64)];
        /// (m, ℓ_m) for the Fréchet derivative; the last entry is the scaling degree.
        const ELL: &'static [(usize, f64)];
        /// Inputs with ‖A‖₁ above this are scaled by a power of two before their powers are
        /// formed, so that A², A⁴, A⁶ cannot overflow and 2^{-js} folded into the
        /// coefficients cannot underflow (see `expm_core`).
        const PRESCALE_NORM: f64;
        fn from_f64(x: f64) -> Self;
        fn to_f64(self) -> f64;
        fn abs_val(self) -> Self;
        /// This thread's cached workspace of the allocating functions (see `with_workspace`).
        fn cached_workspace() -> &'static std::thread::LocalKey<super::WorkspaceCache<Self>>;
    }
    thread_local! {
        static CACHE_F64: super::WorkspaceCache<f64> = const { std::cell::RefCell::new(None) };
        static CACHE_F32: super::WorkspaceCache<f32> = const { std::cell::RefCell::new(None) };
    }
    impl Sealed for f64 {
        const UNIT_ROUNDOFF: f64 = 1.1102230246251565e-16; // 2^-53
        const THETA: &'static [(usize, f64)] = &super::THETA_F64;
        const ELL: &'static [(usize, f64)] = &super::ELL_F64;
        const PRESCALE_NORM: f64 = 4294967296.0; // 2^32
        #[inline(always)]
        fn from_f64(x: f64) -> Self {
            x
        }
        #[inline(always)]
        fn to_f64(self) -> f64 {
            self
        }
        #[inline(always)]
        fn abs_val(self) -> Self {
            self.abs()
        }
        fn cached_workspace() -> &'static std::thread::LocalKey<super::WorkspaceCache<Self>> {
            &CACHE_F64
        }
    }
    impl Sealed for f32 {
        const UNIT_ROUNDOFF: f64 = 5.960464477539063e-8; // 2^-24
        const THETA: &'static [(usize, f64)] = &super::THETA_F32;
        const ELL: &'static [(usize, f64)] = &super::ELL_F32;
        const PRESCALE_NORM: f64 = 64.0; // 2^6
        #[inline(always)]
        fn from_f64(x: f64) -> Self {
            x as f32
        }
        #[inline(always)]
        fn to_f64(self) -> f64 {
            self as f64
        }
        #[inline(always)]
        fn abs_val(self) -> Self {
            self.abs()
        }
        fn cached_workspace() -> &'static std::thread::LocalKey<super::WorkspaceCache<Self>> {
            &CACHE_F32
        }
    }
}

/// A thread's workspace kept between calls of the allocating functions.
type WorkspaceCache<T> = std::cell::RefCell<Option<ExpmWorkspace<T>>>;

/// Largest workspace (bytes, counted as [`WORKSPACE_MATRICES`] n×n matrices) the allocating
/// functions keep per thread between calls: f64 n ≤ 547, f32 n ≤ 774.
/// [`release_cached_workspaces`] frees this thread's.
///
/// Why keep one: a fresh workspace is 9 n×n matrices (14 with the Fréchet buffers) besides the
/// LU's scratch, and the allocator hands blocks that
/// large back to the kernel when they are freed (glibc unmaps the blocks it mapped and trims
/// the heap top), so every call paid the page faults again, and on this project's virtual
/// machine a fault is expensive. Measured with a scratch program, medians of 500–2000 calls,
/// 2026-11-28: `ExpmWorkspace::new` took 56–77 µs at n = 64 (nine `Mat::zeros(64, 64)` take
/// 7 µs), 0.34 ms at 128, 1.7 ms at 256, 7.5 ms at 512; `expm` took 221–254 µs against
/// `expm_into`'s 133–137 µs at n = 64, and 34.2 against 24.0 ms at n = 512 (f64, ‖A‖₁ ≈ 1).
pub const CACHED_WORKSPACE_MAX_BYTES: usize = 32 << 20;

/// The n×n matrices an [`ExpmWorkspace`] holds once it has served a Fréchet derivative: 9 for
/// exp(A), 5 more for L (see `ExpmWorkspace::new` and `ensure_frechet`).
pub const WORKSPACE_MATRICES: usize = 14;

/// Free the workspaces the allocating functions ([`expm`], [`expm_frechet`],
/// [`expm_frechet_adjoint`] and their `try_` forms) keep on this thread, f32 and f64. They
/// are also freed when the thread ends.
pub fn release_cached_workspaces() {
    fn release<T: ExpmScalar>() {
        // A workspace in use (only possible from inside a call on this thread) is left alone.
        T::cached_workspace().with(|c| {
            if let Ok(mut slot) = c.try_borrow_mut() {
                *slot = None;
            }
        });
    }
    release::<f64>();
    release::<f32>();
}

/// Run `f` with this thread's cached workspace when one of size n fits the cap (made or
/// resized on first use), else with a fresh one. The cache cannot change a result: every
/// buffer a call reads it has written first in the same call.
fn with_workspace<T: ExpmScalar, R>(n: usize, f: impl FnOnce(&mut ExpmWorkspace<T>) -> R) -> R {
    if WORKSPACE_MATRICES * n * n * std::mem::size_of::<T>() > CACHED_WORKSPACE_MAX_BYTES {
        return f(&mut ExpmWorkspace::new(n));
    }
    T::cached_workspace().with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => f(slot.get_or_insert_with(|| ExpmWorkspace::new(n))),
        // Only reachable if `f` itself called an allocating function on this thread.
        Err(_) => f(&mut ExpmWorkspace::new(n)),
    })
}

/// The real scalar types the matrix exponential is implemented for: `f32` and `f64` (sealed).
pub trait ExpmScalar: sealed::Sealed {}
impl ExpmScalar for f32 {}
impl ExpmScalar for f64 {}

// ---------------------------------------------------------------------------------------------
// Workspace and plan
// ---------------------------------------------------------------------------------------------

/// What the last call on a workspace did: Padé degree, number of squarings and matrix
/// products, so that benchmarks can time the "floor" (the same products plus one LU) and tests
/// can see which branch ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExpmPlan {
    /// Padé degree m (0 when no approximant was needed: empty, zero or non-finite input).
    pub degree: usize,
    /// Number of squarings s.
    pub squarings: u32,
    /// Number of n×n by n×n matrix products (GEMMs), squarings included.
    pub products: usize,
    /// Whether an LU factorisation of (V − U) was computed.
    pub lu: bool,
}

/// Reusable buffers for [`expm_into`] and [`expm_frechet_into`], sized for one n.
///
/// `new(n)` allocates the exp(A) buffers (9 n×n matrices); the first Fréchet call allocates
/// 5 more. Using a workspace at another size reallocates it (once).
pub struct ExpmWorkspace<T> {
    n: usize,
    // Powers and Padé pieces (see `expm_core` / `frechet_core` for who holds what when).
    a: Mat<T>,
    a2: Mat<T>,
    a4: Mat<T>,
    a6: Mat<T>,
    u: Mat<T>,
    v: Mat<T>,
    t1: Mat<T>,
    t2: Mat<T>,
    t3: Mat<T>,
    // Fréchet-only buffers, allocated lazily.
    e: Mat<T>,
    m2: Mat<T>,
    m4: Mat<T>,
    m6: Mat<T>,
    t4: Mat<T>,
    // Norm estimation: four n-vectors, and the running row vector of 1ᵀ|A|^k.
    vx: Mat<T>,
    vy: Mat<T>,
    vz: Mat<T>,
    vt: Mat<T>,
    sign: Vec<T>,
    abs_w: Vec<T>,
    abs_w2: Vec<T>,
    /// log2 ‖|A|^k‖₁ for k = 0..=abs_log2.len()-1 (k = 0: log2 1 = 0).
    abs_log2: Vec<f64>,
    /// For k ≥ 1, log2 of min_j and max_j of (1ᵀ|A|^k)_j / (1ᵀ|A|^{k−1})_j, the step's least
    /// and greatest growth (NaN where an entry of 1ᵀ|A|^{k−1} is 0, or where not computed;
    /// entry 0 unused): see [`ell_scan`].
    abs_growth_log2: Vec<(f64, f64)>,
    // LU of V − U and its solves.
    lu: LuSolver<T>,
    plan: ExpmPlan,
}

impl<T: ExpmScalar> ExpmWorkspace<T> {
    /// A workspace for n×n matrices.
    pub fn new(n: usize) -> Self {
        let z = || Mat::<T>::zeros(n, n);
        let col = || Mat::<T>::zeros(n, 1);
        ExpmWorkspace {
            n,
            a: z(),
            a2: z(),
            a4: z(),
            a6: z(),
            u: z(),
            v: z(),
            t1: z(),
            t2: z(),
            t3: z(),
            e: Mat::new(),
            m2: Mat::new(),
            m4: Mat::new(),
            m6: Mat::new(),
            t4: Mat::new(),
            vx: col(),
            vy: col(),
            vz: col(),
            vt: col(),
            sign: vec![T::from_f64(0.0); n],
            abs_w: vec![T::from_f64(0.0); n],
            abs_w2: vec![T::from_f64(0.0); n],
            abs_log2: Vec::with_capacity(32),
            abs_growth_log2: Vec::with_capacity(32),
            lu: LuSolver::new(n),
            plan: ExpmPlan::default(),
        }
    }

    /// The size this workspace is allocated for.
    pub fn n(&self) -> usize {
        self.n
    }

    /// What the last successful call did (degree, squarings, products).
    pub fn last_plan(&self) -> ExpmPlan {
        self.plan
    }

    fn ensure(&mut self, n: usize) {
        if self.n != n {
            *self = Self::new(n);
        }
    }

    fn ensure_frechet(&mut self) {
        let n = self.n;
        if self.e.nrows() != n {
            self.e = Mat::zeros(n, n);
            self.m2 = Mat::zeros(n, n);
            self.m4 = Mat::zeros(n, n);
            self.m6 = Mat::zeros(n, n);
            self.t4 = Mat::zeros(n, n);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

fn check_square(what: &'static str, m: (usize, usize)) -> Result<usize, KernelError> {
    if m.0 != m.1 {
        return Err(KernelError::NotSquare {
            what,
            rows: m.0,
            cols: m.1,
        });
    }
    Ok(m.0)
}

fn check_shape(what: &'static str, n: usize, m: (usize, usize)) -> Result<(), KernelError> {
    if m != (n, n) {
        return Err(KernelError::DimensionMismatch {
            what,
            expected: format!("{n}×{n}"),
            got: format!("{}×{}", m.0, m.1),
        });
    }
    Ok(())
}

/// exp(A) (Al-Mohy & Higham 2009a, Algorithm 6.1).
///
/// NaN/±Inf entries give an all-NaN result.
///
/// # Panics
/// Only if `a` is not square (the message names the shape); use [`try_expm`] to get an error.
pub fn expm<T: ExpmScalar>(a: MatRef<'_, T>) -> Mat<T> {
    match try_expm(a) {
        Ok(x) => x,
        Err(e) => panic!("{e}"),
    }
}

/// exp(A), or [`KernelError::NotSquare`] if `a` is not square.
pub fn try_expm<T: ExpmScalar>(a: MatRef<'_, T>) -> Result<Mat<T>, KernelError> {
    let n = check_square("expm: a", a.shape())?;
    let mut out = Mat::zeros(n, n);
    with_workspace(n, |ws| expm_into(a, out.as_mut(), ws))?;
    Ok(out)
}

/// exp(A) into `out` (n×n), allocation-free once `ws` is sized for n.
///
/// Errors: `a` not square ([`KernelError::NotSquare`]), `out` not n×n
/// ([`KernelError::DimensionMismatch`]).
pub fn expm_into<T: ExpmScalar>(
    a: MatRef<'_, T>,
    mut out: MatMut<'_, T>,
    ws: &mut ExpmWorkspace<T>,
) -> Result<(), KernelError> {
    let n = check_square("expm: a", a.shape())?;
    check_shape("expm: out", n, out.shape())?;
    ws.plan = ExpmPlan::default();
    if n == 0 {
        return Ok(());
    }
    ws.ensure(n);
    team::with_team(team_threads(n), || {
        let info = load_checked(ws.a.as_mut(), a);
        if !info.finite {
            out.fill(T::from_f64(f64::NAN));
            return;
        }
        if info.norm1 == 0.0 {
            set_identity(out);
            return;
        }
        expm_core(ws, info, out);
    });
    Ok(())
}

/// (exp(A), L(A, E)), the exponential and its Fréchet derivative at A in direction E
/// (Al-Mohy & Higham 2009b, Algorithm 6.4).
///
/// # Panics
/// Only if `a` is not square or `e` does not have the shape of `a` (the message names the
/// shapes); use [`expm_frechet_into`] to get an error instead.
pub fn expm_frechet<T: ExpmScalar>(a: MatRef<'_, T>, e: MatRef<'_, T>) -> (Mat<T>, Mat<T>) {
    match try_expm_frechet(a, e) {
        Ok(x) => x,
        Err(err) => panic!("{err}"),
    }
}

/// (exp(A), L(A, E)), or an error if `a` is not square or `e` not of its shape.
pub fn try_expm_frechet<T: ExpmScalar>(
    a: MatRef<'_, T>,
    e: MatRef<'_, T>,
) -> Result<(Mat<T>, Mat<T>), KernelError> {
    let n = check_square("expm_frechet: a", a.shape())?;
    let mut x = Mat::zeros(n, n);
    let mut l = Mat::zeros(n, n);
    with_workspace(n, |ws| expm_frechet_into(a, e, x.as_mut(), l.as_mut(), ws))?;
    Ok((x, l))
}

/// (exp(A), L(Aᵀ, G)): the exponential and the gradient of ⟨G, exp(A)⟩ = Σ_ij G_ij exp(A)_ij
/// with respect to A, which is what backpropagation through exp needs.
///
/// # Panics
/// Only on shape errors, like [`expm_frechet`].
pub fn expm_frechet_adjoint<T: ExpmScalar>(a: MatRef<'_, T>, g: MatRef<'_, T>) -> (Mat<T>, Mat<T>) {
    match try_expm_frechet_adjoint(a, g) {
        Ok(x) => x,
        Err(err) => panic!("{err}"),
    }
}

/// (exp(A), L(Aᵀ, G)), or an error if `a` is not square or `g` not of its shape.
pub fn try_expm_frechet_adjoint<T: ExpmScalar>(
    a: MatRef<'_, T>,
    g: MatRef<'_, T>,
) -> Result<(Mat<T>, Mat<T>), KernelError> {
    let n = check_square("expm_frechet_adjoint: a", a.shape())?;
    let mut x = Mat::zeros(n, n);
    let mut l = Mat::zeros(n, n);
    with_workspace(n, |ws| {
        expm_frechet_adjoint_into(a, g, x.as_mut(), l.as_mut(), ws)
    })?;
    Ok((x, l))
}

/// (exp(A), L(A, E)) into `exp_out` and `l_out`, allocation-free once `ws` has been used for
/// a Fréchet derivative of this size.
pub fn expm_frechet_into<T: ExpmScalar>(
    a: MatRef<'_, T>,
    e: MatRef<'_, T>,
    mut exp_out: MatMut<'_, T>,
    mut l_out: MatMut<'_, T>,
    ws: &mut ExpmWorkspace<T>,
) -> Result<(), KernelError> {
    let n = check_square("expm_frechet: a", a.shape())?;
    check_shape("expm_frechet: e", n, e.shape())?;
    check_shape("expm_frechet: exp_out", n, exp_out.shape())?;
    check_shape("expm_frechet: l_out", n, l_out.shape())?;
    ws.plan = ExpmPlan::default();
    if n == 0 {
        return Ok(());
    }
    ws.ensure(n);
    ws.ensure_frechet();
    team::with_team(team_threads(n), || {
        let info = load_checked(ws.a.as_mut(), a);
        if !info.finite {
            exp_out.fill(T::from_f64(f64::NAN));
            l_out.fill(T::from_f64(f64::NAN));
            return;
        }
        let e_info = load_checked(ws.e.as_mut(), e);
        if info.norm1 == 0.0 {
            // exp(0) = I and L(0, E) = E exactly.
            set_identity(exp_out);
            if e_info.finite {
                l_out.copy_from(e);
            } else {
                l_out.fill(T::from_f64(f64::NAN));
            }
            return;
        }
        frechet_core(ws, info, exp_out.as_mut(), l_out.as_mut());
        if !e_info.finite {
            l_out.fill(T::from_f64(f64::NAN));
        }
    });
    Ok(())
}

/// (exp(A), L(Aᵀ, G)) into `exp_out` and `grad_out`: the allocation-free form of
/// [`expm_frechet_adjoint`] for the training loop.
pub fn expm_frechet_adjoint_into<T: ExpmScalar>(
    a: MatRef<'_, T>,
    g: MatRef<'_, T>,
    exp_out: MatMut<'_, T>,
    grad_out: MatMut<'_, T>,
    ws: &mut ExpmWorkspace<T>,
) -> Result<(), KernelError> {
    check_square("expm_frechet_adjoint: a", a.shape())?;
    // exp(Aᵀ) = exp(A)ᵀ, so the transposed view of the output receives exp(A) itself.
    expm_frechet_into(a.transpose(), g, exp_out.transpose_mut(), grad_out, ws)
}

// ---------------------------------------------------------------------------------------------
// Element-wise helpers (on workspace matrices, and on the caller's column-major outputs)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct LoadInfo {
    finite: bool,
    nonneg: bool,
    /// Entries strictly below (`upper`) / above (`lower`) the diagonal are all zero.
    upper: bool,
    lower: bool,
    /// ‖A‖₁ (max column sum of |a_ij|), in f64.
    norm1: f64,
}

/// Something split by columns for a parallel pass: a matrix, a per-column vector, a pair of
/// them, or nothing ([`Cols`], for read-only passes).
trait ColSplit: Sized + Send {
    fn ncols(&self) -> usize;
    fn split(self, j: usize) -> (Self, Self);
}

impl<T: Send> ColSplit for MatMut<'_, T> {
    fn ncols(&self) -> usize {
        MatMut::ncols(self)
    }
    fn split(self, j: usize) -> (Self, Self) {
        self.split_at_col_mut(j)
    }
}

impl<T: Send> ColSplit for &mut [T] {
    fn ncols(&self) -> usize {
        self.len()
    }
    fn split(self, j: usize) -> (Self, Self) {
        self.split_at_mut(j)
    }
}

impl<A: ColSplit, B: ColSplit> ColSplit for (A, B) {
    fn ncols(&self) -> usize {
        self.0.ncols()
    }
    fn split(self, j: usize) -> (Self, Self) {
        let ((a0, a1), (b0, b1)) = (self.0.split(j), self.1.split(j));
        ((a0, b0), (a1, b1))
    }
}

/// A bare column count, for passes that only read.
struct Cols(usize);

impl ColSplit for Cols {
    fn ncols(&self) -> usize {
        self.0
    }
    fn split(self, j: usize) -> (Self, Self) {
        (Cols(j), Cols(self.0 - j))
    }
}

/// `f(j0, part)` over column blocks of `out` (`j0` = the block's first column), one block per
/// thread of the call's team (the whole of `out` outside a team, i.e. below [`PAR_MIN_N`]), the
/// blocks' results folded by `combine` in column order. Every column is computed exactly as a
/// sequential pass would compute it. The O(n²) passes over whole matrices (norms, the 1ᵀ|A|^k
/// products, loading, the Padé linear combinations) go through here: they are memory-bound,
/// and each core then streams its columns from its own cache. Split from n = 128 while the
/// team started there; on a team of two they measured 2–4% faster split than not at n = 96
/// (best of 1 s of calls, Zen 3, 2026-12-04 21:50 UTC: expm 186–187 → 179–180 µs, Fréchet
/// 512–515 → 494–496).
fn par_cols<S: ColSplit, R: Send>(
    out: S,
    f: &(impl Fn(usize, S) -> R + Sync),
    combine: &(impl Fn(R, R) -> R + Sync),
) -> R {
    let parts = team::team_size();
    if parts <= 1 {
        return f(0, out);
    }
    team::map_split_even(out.ncols(), parts, out, S::split, f, combine)
}

/// Column `j` of a column-major matrix view as a slice.
fn col_mut<'a, T>(m: &'a mut MatMut<'_, T>, j: usize) -> &'a mut [T] {
    m.as_mut()
        .col_mut(j)
        .try_as_col_major_mut()
        .expect("faer matrices store columns contiguously")
        .as_slice_mut()
}

/// Runs `f` compiled for the widest SIMD the CPU has: AVX-512F where the register tiles run
/// AVX-512 ([`crate::isa::tiles_isa`]), else pulp's dispatch (AVX2+FMA by default; with the
/// crate's `avx512` feature AVX-512 again, so `CORTICAL_TILES=avx2` narrows these loops only
/// in a build without it, as CI's is). The crate itself is compiled for the baseline x86-64
/// (SSE2), so a plain loop only gets the wider registers this way — and only if `f` is an
/// `#[inline(always)]` closure and everything its loop calls is inlined too. Element-wise
/// IEEE operations give the same bits at every width (no contraction to FMA).
#[inline(always)]
fn simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if crate::isa::tiles_isa() == Some(crate::isa::TileIsa::Avx512) {
        debug_assert!(std::is_x86_feature_detected!("avx512f"));
        // SAFETY: the tiles run AVX-512 only where the CPU has AVX-512F (detected at run time;
        // `CORTICAL_TILES` only narrows).
        return unsafe { on_avx512(f) };
    }
    pulp::Arch::new().dispatch(f)
}

/// `f` inlined into a function compiled for AVX-512F: [`simd`]'s wide path. Against pulp's
/// AVX2 loops, two builds alternating (scratch program, medians of 20-call blocks over 1 s,
/// Xeon, 2026-12-05 09:09 UTC): the Fréchet derivative f64 n = 64 ‖A‖₁ = 1 130–138 → 124–131
/// µs, ‖A‖₁ = 50 207–219 → 201–218; f32 (non-negative, ‖A‖₁ = 5) n = 64 71–75 → 67–71;
/// expm n = 32 ‖A‖₁ = 1 7.6–8.3 → 7.2–7.9; expm n = 128 254–264 → 243–258; at n = 128 the
/// Fréchet derivative, whose passes split over the team, 658–679 → 656–698 (eight rounds,
/// about 1% slower on average: within its noise, but not a gain).
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn on_avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Σ|x_i| in f64 with eight lane accumulators (lane l sums x_l, x_{l+8}, …, in that order; the
/// lanes are then added pairwise, then the tail in row order): the same bits at any SIMD width.
#[inline(always)]
fn abs_col_sum<T: ExpmScalar>(col: &[T]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = col.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (acc, x) in acc.iter_mut().zip(c) {
            *acc += x.to_f64().abs();
        }
    }
    abs_lanes_total(acc, tail)
}

/// The end of [`abs_col_sum`]: the eight lanes added pairwise, then |x| of the tail in order.
/// `black_box` keeps the lanes' pairwise sums out of the loop's vectorisation: with them in
/// sight, LLVM kept the lanes as four pairs and shuffled every chunk into them (`perf
/// annotate`, Xeon, 2026-12-05: the norms of a 32×32 matrix 8% of an expm call, ≈ 5% with
/// this: two 4-wide accumulators, no shuffles).
#[inline(always)]
fn abs_lanes_total<T: ExpmScalar>(acc: [f64; 8], tail: &[T]) -> f64 {
    let acc = std::hint::black_box(acc);
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for x in tail {
        s += x.to_f64().abs();
    }
    s
}

/// `most` ← max(most, x), ignoring a NaN x as `f64::max` does, for a `most` that is never
/// NaN; a compare and a select, where `f64::max` adds a NaN test on the dependency chain.
#[inline(always)]
fn raise_to(most: &mut f64, x: f64) {
    if x > *most {
        *most = x;
    }
}

/// dst ← src, returning whether src is finite, whether it is entrywise ≥ 0, whether it is
/// triangular, and ‖src‖₁.
fn load_checked<T: ExpmScalar>(dst: MatMut<'_, T>, src: MatRef<'_, T>) -> LoadInfo {
    let block = |j0: usize, mut d: MatMut<'_, T>| {
        simd(
            #[inline(always)]
            || {
                let mut info = LoadInfo {
                    finite: true,
                    nonneg: true,
                    upper: true,
                    lower: true,
                    norm1: 0.0,
                };
                for jj in 0..d.ncols() {
                    let j = j0 + jj;
                    let out = col_mut(&mut d, jj);
                    match src.col(j).try_as_col_major() {
                        Some(c) => out.copy_from_slice(c.as_slice()),
                        None => {
                            for (o, x) in out.iter_mut().zip(src.col(j).iter()) {
                                *o = *x;
                            }
                        }
                    }
                    check_column(out, j, &mut info);
                }
                info
            },
        )
    };
    par_cols(dst, &block, &|a: LoadInfo, b: LoadInfo| LoadInfo {
        finite: a.finite & b.finite,
        nonneg: a.nonneg & b.nonneg,
        upper: a.upper & b.upper,
        lower: a.lower & b.lower,
        norm1: a.norm1.max(b.norm1),
    })
}

/// Column `j` of [`load_checked`], already copied: updates the flags and ‖·‖₁ of `info`.
/// One vectorised pass gives Σ|x| (as [`abs_col_sum`] sums it) and the lanes' minima; a
/// column whose sum is not finite is checked entry by entry (finite entries whose sum
/// overflows are still finite), and the triangular flags look for a non-zero on either side
/// of the diagonal, stopping at the first.
#[inline(always)]
fn check_column<T: ExpmScalar>(col: &[T], j: usize, info: &mut LoadInfo) {
    let mut acc = [0.0f64; 8];
    let mut lo = [0.0f64; 8];
    let chunks = col.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for ((acc, lo), x) in acc.iter_mut().zip(lo.iter_mut()).zip(c) {
            let x = x.to_f64();
            *acc += x.abs();
            *lo = if x < *lo { x } else { *lo };
        }
    }
    let colsum = abs_lanes_total(acc, tail);
    if !colsum.is_finite() {
        info.finite &= col.iter().all(|x| x.to_f64().is_finite());
    }
    // Some x < 0 (a NaN is no evidence either way; it clears `finite`).
    let negative = lo.iter().any(|&x| x < 0.0) || tail.iter().any(|x| x.to_f64() < 0.0);
    info.nonneg &= !negative;
    let zero = T::from_f64(0.0);
    if info.upper {
        info.upper = col[(j + 1).min(col.len())..].iter().all(|x| *x == zero);
    }
    if info.lower {
        info.lower = col[..j.min(col.len())].iter().all(|x| *x == zero);
    }
    raise_to(&mut info.norm1, colsum);
}

fn set_identity<T: ExpmScalar>(mut out: MatMut<'_, T>) {
    out.fill(T::from_f64(0.0));
    for i in 0..out.nrows() {
        out[(i, i)] = T::from_f64(1.0);
    }
}

fn scale_in_place<T: ExpmScalar>(m: &mut Mat<T>, c: T) {
    simd(
        #[inline(always)]
        || {
            for j in 0..m.ncols() {
                for x in m.col_as_slice_mut(j) {
                    *x *= c;
                }
            }
        },
    );
}

/// One output of [`lincomb2`]: the destination, its coefficient for each of the shared terms
/// (in their order), and its diagonal term.
type LincombOut<'a, T> = (&'a mut Mat<T>, &'a [T], T);

/// `dst_a` ← Σ_t ca_t·M_t + diag_a·I and `dst_b` ← Σ_t cb_t·M_t + diag_b·I over the same one
/// to four matrices M_t (the Padé step's odd and even parts are sums of the same powers), in
/// one pass that reads each M_t once for both outputs. Every entry is
/// ((c_0 x_0 + c_1 x_1) + c_2 x_2) + c_3 x_3, products and sums rounded one by one in that
/// order (no FMA), then + diag on the diagonal: the same bits at any SIMD width, in any block.
fn lincomb2<T: ExpmScalar>(
    mats: &[&Mat<T>],
    (dst_a, ca, diag_a): LincombOut<'_, T>,
    (dst_b, cb, diag_b): LincombOut<'_, T>,
) {
    assert!(
        (1..=4).contains(&mats.len()) && ca.len() == mats.len() && cb.len() == mats.len(),
        "lincomb2: one to four terms, one coefficient per term for each output"
    );
    let block = |j0: usize, (am, bm): (MatMut<'_, T>, MatMut<'_, T>)| {
        simd(
            #[inline(always)]
            || lincomb2_block((am, ca, diag_a), (bm, cb, diag_b), j0, mats),
        )
    };
    par_cols((dst_a.as_mut(), dst_b.as_mut()), &block, &|(), ()| ());
}

/// The entries of `m` as one slice when its columns lie back to back (row stride 1, column
/// stride nrows), as a workspace matrix's do when n is a multiple of faer's row padding (8 in
/// f64, 16 in f32).
fn flat<'a, T>(m: MatRef<'a, T>) -> Option<&'a [T]> {
    if m.row_stride() != 1 || m.col_stride() != m.nrows() as isize || m.ncols() == 0 {
        return None;
    }
    // SAFETY: with unit row stride and column stride nrows, the nrows·ncols entries of `m` are
    // one contiguous run from its first entry, all borrowed through `m` for 'a.
    Some(unsafe { std::slice::from_raw_parts(m.as_ptr(), m.nrows() * m.ncols()) })
}

/// [`flat`] for a mutable view.
fn flat_mut<'a, T>(m: MatMut<'a, T>) -> Option<&'a mut [T]> {
    let len = flat(m.as_ref())?.len();
    // SAFETY: `flat` found the `len` entries of `m` one contiguous run from its first entry,
    // and `m` is a unique borrow of them for 'a.
    Some(unsafe { std::slice::from_raw_parts_mut(m.as_ptr_mut(), len) })
}

/// Columns j0.. of [`lincomb2`] into the blocks `am` and `bm`: one pass over each block as a
/// single slice where the blocks and the terms' blocks are contiguous, else column by column.
/// Every entry gets the same operations in the same order either way. At n = 32 the per-column
/// loop's set-up (the vectoriser's overlap checks between the slices, the column views) was
/// about half of the pass (`perf annotate`, Xeon, 2026-12-05).
#[inline(always)]
fn lincomb2_block<T: ExpmScalar>(
    (mut am, ca, diag_a): (MatMut<'_, T>, &[T], T),
    (mut bm, cb, diag_b): (MatMut<'_, T>, &[T], T),
    j0: usize,
    mats: &[&Mat<T>],
) {
    let (n, w) = (am.nrows(), am.ncols());
    let k = mats.len().min(4);
    let mut src: [&[T]; 4] = [&[]; 4];
    let flat_terms =
        mats.iter()
            .zip(&mut src)
            .all(|(m, s)| match flat(m.as_ref().subcols(j0, w)) {
                Some(f) => {
                    *s = f;
                    true
                }
                None => false,
            });
    if flat_terms {
        if let (Some(da), Some(db)) = (flat_mut(am.as_mut()), flat_mut(bm.as_mut())) {
            lincomb2_run(da, db, &src[..k], ca, cb);
            for jj in 0..w {
                da[jj * n + j0 + jj] += diag_a;
                db[jj * n + j0 + jj] += diag_b;
            }
            return;
        }
    }
    for jj in 0..w {
        let j = j0 + jj;
        for (m, s) in mats.iter().zip(&mut src) {
            *s = m.col_as_slice(j);
        }
        let da = col_mut(&mut am, jj);
        let db = col_mut(&mut bm, jj);
        lincomb2_run(da, db, &src[..k], ca, cb);
        da[j] += diag_a;
        db[j] += diag_b;
    }
}

/// da ← Σ_t ca_t·x_t and db ← Σ_t cb_t·x_t element by element, for one to four stretches x_t
/// that line up with `da` and `db`, summed left to right.
#[inline(always)]
fn lincomb2_run<T: ExpmScalar>(da: &mut [T], db: &mut [T], src: &[&[T]], ca: &[T], cb: &[T]) {
    let len = da.len();
    let db = &mut db[..len];
    match (src, ca, cb) {
        (&[x0], &[a0], &[b0]) => {
            let x0 = &x0[..len];
            for i in 0..len {
                da[i] = a0 * x0[i];
                db[i] = b0 * x0[i];
            }
        }
        (&[x0, x1], &[a0, a1], &[b0, b1]) => {
            let (x0, x1) = (&x0[..len], &x1[..len]);
            for i in 0..len {
                let (y0, y1) = (x0[i], x1[i]);
                da[i] = a0 * y0 + a1 * y1;
                db[i] = b0 * y0 + b1 * y1;
            }
        }
        (&[x0, x1, x2], &[a0, a1, a2], &[b0, b1, b2]) => {
            let (x0, x1, x2) = (&x0[..len], &x1[..len], &x2[..len]);
            for i in 0..len {
                let (y0, y1, y2) = (x0[i], x1[i], x2[i]);
                da[i] = a0 * y0 + a1 * y1 + a2 * y2;
                db[i] = b0 * y0 + b1 * y1 + b2 * y2;
            }
        }
        (&[x0, x1, x2, x3], &[a0, a1, a2, a3], &[b0, b1, b2, b3]) => {
            let (x0, x1, x2, x3) = (&x0[..len], &x1[..len], &x2[..len], &x3[..len]);
            for i in 0..len {
                let (y0, y1, y2, y3) = (x0[i], x1[i], x2[i], x3[i]);
                da[i] = a0 * y0 + a1 * y1 + a2 * y2 + a3 * y3;
                db[i] = b0 * y0 + b1 * y1 + b2 * y2 + b3 * y3;
            }
        }
        _ => unreachable!("lincomb2 checks its term count"),
    }
}

/// Fused P = U + V into `p` and Q = V − U in place of `v`, by whole blocks where they are
/// contiguous (see [`lincomb2_block`]).
fn sum_and_diff<T: ExpmScalar>(p: MatMut<'_, T>, u: &Mat<T>, v: &mut Mat<T>) {
    let block = |j0: usize, (mut pm, mut vm): (MatMut<'_, T>, MatMut<'_, T>)| {
        simd(
            #[inline(always)]
            || {
                let w = pm.ncols();
                let ub = flat(u.as_ref().subcols(j0, w));
                if let (Some(pf), Some(vf), Some(uf)) =
                    (flat_mut(pm.as_mut()), flat_mut(vm.as_mut()), ub)
                {
                    sum_and_diff_run(pf, vf, uf);
                    return;
                }
                for jj in 0..w {
                    let uj = u.col_as_slice(j0 + jj);
                    sum_and_diff_run(col_mut(&mut pm, jj), col_mut(&mut vm, jj), uj);
                }
            },
        )
    };
    par_cols((p, v.as_mut()), &block, &|(), ()| ());
}

/// p ← v + u, v ← v − u element by element.
#[inline(always)]
fn sum_and_diff_run<T: ExpmScalar>(p: &mut [T], v: &mut [T], u: &[T]) {
    for ((p, v), &u) in p.iter_mut().zip(v.iter_mut()).zip(u) {
        // v read once: the store to p would otherwise make it reload v.
        let x = *v;
        *p = x + u;
        *v = x - u;
    }
}

/// ‖M‖₁ of a formed matrix, each column summed as [`abs_col_sum`] sums it.
fn norm1<T: ExpmScalar>(m: &Mat<T>) -> f64 {
    let block = |j0: usize, c: Cols| block_norm1(m.as_ref().subcols(j0, c.0));
    par_cols(Cols(m.ncols()), &block, &f64::max)
}

/// The largest [`abs_col_sum`] of the columns of `b` (column-major): one block's share of
/// [`norm1`].
fn block_norm1<T: ExpmScalar>(b: MatRef<'_, T>) -> f64 {
    simd(
        #[inline(always)]
        || {
            // A plain loop, not an iterator's `fold`: `fold` is not always inlined, and out of
            // line it is compiled for the crate's baseline (SSE2) instead of `simd`'s AVX2.
            let mut most = 0.0f64;
            for j in 0..b.ncols() {
                let col = b.col(j).try_as_col_major();
                let col = col.expect("faer matrices store columns contiguously");
                raise_to(&mut most, abs_col_sum(col.as_slice()));
            }
            most
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Matrix products
// ---------------------------------------------------------------------------------------------

/// Size from which a call of expm or its Fréchet derivative holds a team of threads for its
/// parallel sections ([`crate::team`]) and its n×n products split their columns over it; below
/// it the call runs on one thread. It was 128 while the tile products (n ≤ 96 in f64, 64 in f32)
/// ran on one thread whatever the team. With them split too, measured on AMD EPYC Zen 3 (AVX2,
/// 2 vCPUs; a scratch program, best of 0.4–1.5 s of calls, one thread and a team of two in
/// alternating processes, 2026-12-04 21:43–22:20 UTC), ‖A‖₁ = 1 unless said, one thread →
/// team: when the guest's two vCPUs ran in parallel, f64 expm n = 48 38.5 → 34.4–34.9 µs, 64
/// 82–85 → 66–71, 80 151–153 → 115–116, 96 247–251 → 178–188, ‖A‖₁ = 50 n = 64 141–142 → 111,
/// 96 472–476 → 307–320; Fréchet n = 48 106 → 120, 64 241–244 → 176–184, 96 761–770 → 490–517;
/// f32 expm n = 64 42 → 37, 96 118–120 → 91–96. In about half the processes of 21:59–22:03 UTC
/// they did not (the team slower at every size in those, e.g. n = 128 495–503 µs against 364;
/// presumably where the host placed the vCPUs, which the guest cannot see): there n = 64 lost
/// (expm 82–84 → 95–111 µs, Fréchet 243 → 269–300, ‖A‖₁ = 50 141 → 158–191) while n = 96
/// stayed level (251 → 245–253, Fréchet 763 → 689–735). In the paired bench against scipy
/// (`benches/paired.rs`, 21:52–22:25 UTC) `expm_into` at n = 64 on a team took 99–110 µs
/// (median of block medians) in four runs of six and 82–83 in two; on one thread 84 in the two
/// runs alternating with them. Hence 96: a gain where the cores run in parallel, no loss
/// measured where they do not. Every result is the same bits on any team (`tests/team.rs`).
/// On the Xeon (AVX-512, 2 vCPUs; a scratch loop of `expm_into` / `expm_frechet_into` calls
/// on the kernels of 4ddc958 with this constant at 48, one thread by `RAYON_NUM_THREADS=1`
/// against a team of two in alternating processes, median of 0.8 s of calls, three pairs,
/// ‖A‖₁ = 1, 2026-12-05 03:59 UTC), one thread → team: expm n = 48 22.5–24.4 → 42.9–47.5 µs,
/// 64 47.7–50.1 → 61.6–65.7, 80 87–90 → 93–97, 96 139–142 → 135–140, 112 230–237 → 226–237,
/// 128 333–341 → 283–290; Fréchet n = 48 60–62 → 86–88, 64 131–135 → 146–153, 80 240–243 →
/// 222–243, 96 392–395 → 326–351, 128 1049–1066 → 788–810. There too, 96 is where the team
/// stops losing.
pub const PAR_MIN_N: usize = 96;

/// Threads of a call's team at size n: two from [`PAR_MIN_N`] on, one per 64 columns from
/// n = 192 (3 at 192, 8 at 512; [`team::with_team`] caps it by the pool), so that a large pool
/// does not spin a thread per core for products of a few columns each.
pub fn team_threads(n: usize) -> usize {
    if n >= PAR_MIN_N {
        (n / 64).max(2)
    } else {
        1
    }
}

/// dst ← alpha·lhs·rhs (accum = Replace) or dst += alpha·lhs·rhs (Add); counts the product.
/// Small products on the register tiles ([`crate::gemm::matmul_tiles`]); inside the call's
/// team (from [`PAR_MIN_N`] on) the columns of dst are split over its threads, each column
/// computed as the whole product would compute it.
fn gemm<T: ExpmScalar>(
    plan: &mut ExpmPlan,
    dst: &mut Mat<T>,
    accum: Accum,
    lhs: &Mat<T>,
    rhs: &Mat<T>,
    alpha: T,
) {
    gemm_into(plan, dst.as_mut(), accum, lhs.as_ref(), rhs.as_ref(), alpha);
}

/// [`gemm`] on views: for the steps that write the caller's output in place.
fn gemm_into<T: ExpmScalar>(
    plan: &mut ExpmPlan,
    dst: MatMut<'_, T>,
    accum: Accum,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    alpha: T,
) {
    plan.products += 1;
    crate::gemm::matmul_tiles(dst, accum, lhs, rhs, alpha);
}

/// dst ← lhs·rhs as [`gemm`] computes it, returning ‖dst‖₁ as [`norm1`] computes it: each
/// block of columns summed by the thread that wrote it, right after its product.
fn gemm_norm1<T: ExpmScalar>(
    plan: &mut ExpmPlan,
    dst: &mut Mat<T>,
    lhs: &Mat<T>,
    rhs: &Mat<T>,
) -> f64 {
    plan.products += 1;
    let block_norm = |_: usize, b: MatRef<'_, T>| block_norm1(b);
    crate::gemm::matmul_tiles_then(
        dst.as_mut(),
        Accum::Replace,
        lhs.as_ref(),
        rhs.as_ref(),
        T::from_f64(1.0),
        &block_norm,
        &f64::max,
    )
}

// ---------------------------------------------------------------------------------------------
// Norms of powers: exact 1ᵀ|A|^k sequence and the 1-norm estimator
// ---------------------------------------------------------------------------------------------

/// Extends `ws.abs_log2` so that it holds log2 ‖|A|^k‖₁ for k = 0..=kmax (A = ws.a), and,
/// when `growth`, `ws.abs_growth_log2` the least and greatest growth of each new step (every
/// step computes them in its pass; a step made for a caller without `growth` records NaN, so
/// the bounds [`ell_scan`] sees come from the steps it asked for, as before they were fused).
///
/// |A| is non-negative, so ‖|A|^k‖₁ = max_j (1ᵀ|A|^k)_j exactly; the row vector is propagated
/// by k vector–matrix products and renormalised every step (its scale kept in log2) so that
/// neither overflow nor underflow can occur (Al-Mohy & Higham 2009a, §5: "computed with p
/// matrix–vector products").
fn abs_power_log2<T: ExpmScalar>(ws: &mut ExpmWorkspace<T>, kmax: usize, growth: bool) -> f64 {
    let n = ws.n;
    if ws.abs_log2.is_empty() {
        ws.abs_w.fill(T::from_f64(1.0));
        ws.abs_log2.push(0.0);
        ws.abs_growth_log2.clear();
        ws.abs_growth_log2.push((f64::NAN, f64::NAN));
    }
    while ws.abs_log2.len() <= kmax {
        let last = *ws.abs_log2.last().expect("non-empty");
        if last == f64::NEG_INFINITY {
            ws.abs_log2.push(f64::NEG_INFINITY);
            ws.abs_growth_log2.push((f64::NAN, f64::NAN));
            continue;
        }
        // w2 = w·|A|, compiled for the widest SIMD the CPU has (see `simd`).
        let (a, w) = (&ws.a, &ws.abs_w[..]);
        let block = |j0: usize, w2: &mut [T]| {
            simd(
                #[inline(always)]
                || abs_dot_columns(a, w, j0, w2),
            )
        };
        let step = par_cols(&mut ws.abs_w2[..n], &block, &PassStep::join);
        let vmax = step.most;
        // The step's least and greatest growth w2_j / w_j (w > 0 needed; its scale cancels).
        let (least, most) = if growth {
            step.growth_range()
        } else {
            (f64::NAN, f64::NAN)
        };
        ws.abs_growth_log2.push((least.log2(), most.log2()));
        if vmax == 0.0 {
            ws.abs_log2.push(f64::NEG_INFINITY);
            continue;
        }
        let inv = T::from_f64(1.0 / vmax);
        for (w, w2) in ws.abs_w.iter_mut().zip(&ws.abs_w2) {
            *w = *w2 * inv;
        }
        ws.abs_log2.push(last + vmax.log2());
    }
    ws.abs_log2[kmax]
}

/// What one step w2 = w·|A| of [`abs_power_log2`] found over a block of columns: the largest
/// w2_j, and the least and greatest growth w2_j / w_j and least w_j (in f64), for the
/// Collatz–Wielandt bounds of [`ell_scan`].
#[derive(Clone, Copy)]
struct PassStep {
    most: f64,
    least_growth: f64,
    most_growth: f64,
    least_w: f64,
}

impl PassStep {
    const EMPTY: PassStep = PassStep {
        most: 0.0,
        least_growth: f64::INFINITY,
        most_growth: 0.0,
        least_w: f64::INFINITY,
    };

    /// Takes column j's w2_j (`v`) and w_j (`d`). A NaN ratio (0/0) changes nothing, as
    /// `f64::min`/`max` would ignore it; a zero w_j shows in `least_w`.
    #[inline(always)]
    fn take(&mut self, v: f64, d: f64) {
        raise_to(&mut self.most, v);
        let r = v / d;
        if r < self.least_growth {
            self.least_growth = r;
        }
        raise_to(&mut self.most_growth, r);
        if d < self.least_w {
            self.least_w = d;
        }
    }

    /// Two blocks' steps as one (the same for any split: minima and maxima).
    fn join(a: PassStep, b: PassStep) -> PassStep {
        PassStep {
            most: a.most.max(b.most),
            least_growth: a.least_growth.min(b.least_growth),
            most_growth: a.most_growth.max(b.most_growth),
            least_w: a.least_w.min(b.least_w),
        }
    }

    /// (min_j, max_j) of w2_j / w_j when every w_j > 0, else NaNs.
    fn growth_range(&self) -> (f64, f64) {
        if self.least_w > 0.0 {
            (self.least_growth, self.most_growth)
        } else {
            (f64::NAN, f64::NAN)
        }
    }
}

/// `w2[jj]` = Σ_i w_i |a_{i, j0+jj}| for the columns of `w2`, each taken into the returned
/// [`PassStep`] with its w_{j0+jj}. One contiguous dot product per column with eight
/// independent accumulators, which the compiler vectorises; each lane does the same multiplies
/// and adds in the same order at any SIMD width, so the result does not depend on the CPU.
/// The growth is taken column by column here: a pass of its own over w2 and w afterwards was
/// about a third of the step at n = 32 (`perf annotate`, Xeon, 2026-12-05).
#[inline(always)]
fn abs_dot_columns<T: ExpmScalar>(a: &Mat<T>, w: &[T], j0: usize, w2: &mut [T]) -> PassStep {
    let mut step = PassStep::EMPTY;
    for (jj, out) in w2.iter_mut().enumerate() {
        let col = a.col_as_slice(j0 + jj);
        let mut acc = [T::from_f64(0.0); 8];
        let (wc, cc) = (w.chunks_exact(8), col.chunks_exact(8));
        let (wr, cr) = (wc.remainder(), cc.remainder());
        for (wk, ck) in wc.zip(cc) {
            for ((acc, &wi), &ci) in acc.iter_mut().zip(wk).zip(ck) {
                *acc += wi * ci.abs_val();
            }
        }
        let mut s = T::from_f64(0.0);
        for (&wi, &ci) in wr.iter().zip(cr) {
            s += wi * ci.abs_val();
        }
        for a in acc {
            s += a;
        }
        *out = s;
        step.take(s.to_f64(), w[j0 + jj].to_f64());
    }
    step
}

/// The linear operators whose 1-norms Algorithm 6.1 needs: M^p and P·Q.
#[derive(Clone, Copy)]
enum PowOp {
    /// ws.a2^p
    A2(usize),
    /// ws.a4^p
    A4(usize),
    /// ws.a4 · ws.a6
    A4A6,
}

/// y ← op·x (or opᵀ·x) for n-vectors held in ws.vx/ws.vy; `tmp` is scratch.
fn apply_op<T: ExpmScalar>(
    (a2, a4, a6): (&Mat<T>, &Mat<T>, &Mat<T>),
    op: PowOp,
    transpose: bool,
    x: &Mat<T>,
    y: &mut Mat<T>,
    tmp: &mut Mat<T>,
) {
    let one = T::from_f64(1.0);
    let mv = |dst: &mut Mat<T>, m: &Mat<T>, src: MatRef<'_, T>| {
        if transpose {
            matmul(
                dst.as_mut(),
                Accum::Replace,
                m.transpose(),
                src,
                one,
                Par::Seq,
            );
        } else {
            matmul(dst.as_mut(), Accum::Replace, m.as_ref(), src, one, Par::Seq);
        }
    };
    match op {
        PowOp::A2(p) | PowOp::A4(p) => {
            let m = if matches!(op, PowOp::A2(_)) { a2 } else { a4 };
            // Step i writes y when (p-1-i) is even, so the last step lands in y.
            for i in 0..p {
                let to_y = (p - 1 - i) % 2 == 0;
                match (i, to_y) {
                    (0, true) => mv(y, m, x.as_ref()),
                    (0, false) => mv(tmp, m, x.as_ref()),
                    (_, true) => mv(y, m, tmp.as_ref()),
                    (_, false) => mv(tmp, m, y.as_ref()),
                }
            }
        }
        PowOp::A4A6 => {
            // (A4·A6)ᵀ = A6ᵀ·A4ᵀ
            let (first, second) = if transpose { (a4, a6) } else { (a6, a4) };
            mv(tmp, first, x.as_ref());
            mv(y, second, tmp.as_ref());
        }
    }
}

/// Lower bound (usually exact, always within a small factor) of ‖op‖₁ by Higham's (1988)
/// Algorithm 4.1 with Higham's extra alternating-sign test — LAPACK's `xLACN2`, the t = 1
/// case of Higham & Tisseur (2000) that `normAm` of Al-Mohy & Higham uses. Stops as soon as
/// the estimate exceeds `stop_above` (the caller only needs to know that).
fn normest1<T: ExpmScalar>(ws: &mut ExpmWorkspace<T>, op: PowOp, stop_above: f64) -> f64 {
    let n = ws.n;
    let ExpmWorkspace {
        a2,
        a4,
        a6,
        vx,
        vy,
        vz,
        vt,
        sign,
        ..
    } = ws;
    let l1 = |y: &Mat<T>| -> f64 { y.col_as_slice(0).iter().map(|v| v.to_f64().abs()).sum() };
    let sgn = |v: T| {
        if v.to_f64() >= 0.0 {
            T::from_f64(1.0)
        } else {
            T::from_f64(-1.0)
        }
    };

    vx.col_as_slice_mut(0).fill(T::from_f64(1.0 / n as f64));
    apply_op((a2, a4, a6), op, false, vx, vy, vt);
    let mut est = l1(vy);
    if n == 1 || est > stop_above || !est.is_finite() {
        return est;
    }
    for (s, y) in sign.iter_mut().zip(vy.col_as_slice(0)) {
        *s = sgn(*y);
    }
    vx.col_as_slice_mut(0).copy_from_slice(sign);
    apply_op((a2, a4, a6), op, true, vx, vz, vt);
    let argmax = |z: &Mat<T>| -> usize {
        let mut best = 0;
        let mut bv = -1.0f64;
        for (i, v) in z.col_as_slice(0).iter().enumerate() {
            let a = v.to_f64().abs();
            if a > bv {
                bv = a;
                best = i;
            }
        }
        best
    };
    let mut j = argmax(vz);
    for _iter in 2..=5 {
        let xs = vx.col_as_slice_mut(0);
        xs.fill(T::from_f64(0.0));
        xs[j] = T::from_f64(1.0);
        apply_op((a2, a4, a6), op, false, vx, vy, vt);
        let est_old = est;
        est = l1(vy);
        if est > stop_above {
            return est;
        }
        let repeated = sign
            .iter()
            .zip(vy.col_as_slice(0))
            .all(|(s, y)| *s == sgn(*y));
        if repeated || est <= est_old {
            est = est.max(est_old);
            break;
        }
        for (s, y) in sign.iter_mut().zip(vy.col_as_slice(0)) {
            *s = sgn(*y);
        }
        vx.col_as_slice_mut(0).copy_from_slice(sign);
        apply_op((a2, a4, a6), op, true, vx, vz, vt);
        let jlast = j;
        j = argmax(vz);
        let zs = vz.col_as_slice(0);
        if zs[jlast].to_f64().abs() == zs[j].to_f64().abs() {
            break;
        }
    }
    // Alternating-sign vector: catches matrices for which the iteration above is fooled.
    for (i, x) in vx.col_as_slice_mut(0).iter_mut().enumerate() {
        let mag = 1.0 + i as f64 / (n - 1) as f64;
        *x = T::from_f64(if i % 2 == 0 { mag } else { -mag });
    }
    apply_op((a2, a4, a6), op, false, vx, vy, vt);
    let alt = 2.0 * l1(vy) / (3.0 * n as f64);
    est.max(alt)
}

// ---------------------------------------------------------------------------------------------
// expm: Al-Mohy & Higham (2009a) Algorithm 6.1
// ---------------------------------------------------------------------------------------------

/// The quantities d_k ≈ ‖A^k‖₁^{1/k} of Algorithm 6.1, obtained as cheaply as the current
/// state allows: from the exact 1ᵀ|A|^k sequence when A ≥ 0 (then ‖A^k‖₁ = ‖|A|^k‖₁), else
/// from the estimator.
fn d_power<T: ExpmScalar>(ws: &mut ExpmWorkspace<T>, nonneg: bool, k: usize, stop: f64) -> f64 {
    if nonneg {
        return (abs_power_log2(ws, k, false) / k as f64).exp2();
    }
    let op = match k {
        4 => PowOp::A2(2),
        6 => PowOp::A2(3),
        8 => PowOp::A4(2),
        10 => PowOp::A4A6,
        _ => unreachable!(),
    };
    let stop_norm = if stop.is_finite() {
        stop.powi(k as i32)
    } else {
        f64::INFINITY
    };
    normest1(ws, op, stop_norm).powf(1.0 / k as f64)
}

/// ℓ(2^{-s}A, m) of Al-Mohy & Higham (2009a) eq. (5.1)/Algorithm 6.1 folded with s: returns
/// the total number of squarings max(s, ⌈log2(α/u)/(2m)⌉) where
/// α = |c_{2m+1}| ‖|A|^{2m+1}‖₁ / ‖A‖₁ (both norms of the unscaled A; scaling by 2^{-s}
/// multiplies α by 2^{-2ms}, which is where the fold comes from).
fn squarings_with_ell<T: ExpmScalar>(
    ws: &mut ExpmWorkspace<T>,
    norm1: f64,
    m: usize,
    s: u32,
) -> u32 {
    ell_scan(ws, norm1, m, s, true)
}

/// Whether ℓ(A, m) = 0, as `squarings_with_ell(ws, norm1, m, 0) == 0` decides it, but
/// stopping the passes over A as soon as a lower bound shows ℓ > 0 (see [`ell_scan`]).
fn ell_is_zero<T: ExpmScalar>(ws: &mut ExpmWorkspace<T>, norm1: f64, m: usize) -> bool {
    ell_scan(ws, norm1, m, 0, false) == 0
}

/// The passes w_k = 1ᵀ|A|^k behind [`squarings_with_ell`] and [`ell_is_zero`], stopped at the
/// first k whose bounds on ‖|A|^p‖₁ (p = 2m+1) settle the answer:
///
/// - with g_k and G_k the least and greatest of (w_k)_j / (w_{k−1})_j over j (all
///   w_{k−1} > 0), g_k w_{k−1} ≤ w_k ≤ G_k w_{k−1} entrywise; multiplying by |A| ≥ 0 keeps
///   that, so g_k^j w_k ≤ w_{k+j} ≤ G_k^j w_k and
///   ‖|A|^k‖₁ g_k^{p−k} ≤ ‖|A|^p‖₁ ≤ ‖|A|^k‖₁ G_k^{p−k} (g_k and G_k are the Collatz–Wielandt
///   bounds on ρ(|A|), and close in on it as w_k turns towards the Perron vector). Both are
///   widened by a margin for the passes' rounding (relative (n + 2)·u per pass).
/// - above, besides: ‖|A|^p‖₁ ≤ ‖|A|^k‖₁ ‖A‖₁^{p−k} (the 1-norm is submultiplicative and
///   ‖|A|‖₁ = ‖A‖₁); at k = 0 the bound ‖A‖₁^p.
///
/// When the upper bound asks for no more than s squarings, the exact value cannot ask for more,
/// and s is returned. When the lower one asks for more than s, s + 1 is returned if
/// `value_needed` is false; if it is true and both bounds give the same ℓ, that ℓ is returned.
///
/// Otherwise all p passes run and the exact ℓ folded with s is returned. The decision is the
/// one the exact value gives, but for an ℓ within rounding of an integer: on the Gaussian and
/// non-negative matrices of a scratch grid (n = 16–256, ‖A‖₁ = 10⁻³–300, 2026-12-03) every
/// output bit was that of the full passes. Where |A|'s column sums are spread out, w_k turns
/// to the Perron vector within a few passes and the bounds meet. Gaussian A, n = 64 (callgrind
/// instructions of 20 calls, and the scratch program's best times): ‖A‖₁ = 1, the passes
/// 2.64 M → 0.41 M instructions, the estimator (2.36 M) no longer runs, expm 69–75 → 55–57 µs;
/// ‖A‖₁ = 50, the passes 4.74 M → 0.61 M, expm 119–125 → 102–107 µs.
fn ell_scan<T: ExpmScalar>(
    ws: &mut ExpmWorkspace<T>,
    norm1: f64,
    m: usize,
    s: u32,
    value_needed: bool,
) -> u32 {
    let log2_norm1 = norm1.log2();
    let ell = |log2_abs: f64| {
        let log2_alpha = log2_abs - log2_norm1 - abs_c_recip(m).log2();
        ((log2_alpha - T::UNIT_ROUNDOFF.log2()) / (2 * m) as f64).ceil()
    };
    let p = 2 * m + 1;
    // log2(1 + δ) ≤ 1.45 δ for the relative rounding δ ≤ (n + 2)·u of each of the p passes.
    let margin = 1.45 * (ws.n as f64 + 2.0) * p as f64 * T::UNIT_ROUNDOFF;
    let mut log2_abs = 0.0;
    for k in 0..=p {
        log2_abs = abs_power_log2(ws, k, true);
        if log2_abs == f64::NEG_INFINITY {
            return s;
        }
        if k == p {
            break;
        }
        let left = (p - k) as f64;
        // NaN growth (k = 0, an entry of w_{k−1} zero, a step made without it) leaves the
        // first bound above and fails the test below.
        let (least, most) = ws.abs_growth_log2[k];
        let upper = (log2_abs + left * log2_norm1).min(log2_abs + left * most + margin);
        let above = ell(upper);
        if above <= s as f64 {
            return s;
        }
        let below = ell(log2_abs + left * least - margin);
        if below > s as f64 {
            if !value_needed {
                return s + 1;
            }
            if below == above && above.is_finite() {
                return above as u32;
            }
        }
    }
    let ell = ell(log2_abs);
    if ell.is_finite() && ell > s as f64 {
        ell as u32
    } else {
        s
    }
}

/// Whether d_k = ‖A^k‖₁^{1/k} ≤ θ, as Algorithm 6.1 decides it from [`d_power`], but without
/// the estimate when `bound`, a product of exact norms of formed powers with
/// ‖A^k‖₁ ≤ bound (submultiplicativity), already shows it: the estimate never exceeds the true
/// norm, so it would have passed too.
fn d_at_most<T: ExpmScalar>(
    ws: &mut ExpmWorkspace<T>,
    nonneg: bool,
    k: usize,
    bound: f64,
    theta: f64,
) -> bool {
    bound.powf(1.0 / k as f64) <= theta || d_power(ws, nonneg, k, theta) <= theta
}

fn expm_core<T: ExpmScalar>(ws: &mut ExpmWorkspace<T>, info: LoadInfo, mut out: MatMut<'_, T>) {
    let one = T::from_f64(1.0);
    let mut plan = ExpmPlan::default();
    let mut norm = info.norm1;
    // Inputs so large that A^6 could overflow are first brought to ‖A‖₁ ≤ PRESCALE_NORM by an
    // exact power-of-two scaling; r_m(2^{-s0}A')^{2^{s'}} = r_m(2^{-(s0+s')}A)^{2^{s'}}, so the
    // choice made for A' stays valid, with s0 more squarings.
    let mut s0 = 0u32;
    if norm > T::PRESCALE_NORM {
        s0 = halvings_to(norm, T::PRESCALE_NORM, ws.a.nrows());
        let c = T::from_f64((-(s0 as f64)).exp2());
        scale_in_place(&mut ws.a, c);
        norm = norm1(&ws.a);
    }
    ws.abs_log2.clear();
    ws.abs_growth_log2.clear();
    let nonneg = info.nonneg;
    let theta = T::THETA;
    let (m_max, theta_max) = theta[theta.len() - 1];
    let th = |m: usize| theta.iter().find(|t| t.0 == m).map(|t| t.1);

    // Line 1: A2. Exact norms of the formed powers bound the others (‖A^{i+j}‖₁ ≤
    // ‖A^i‖₁‖A^j‖₁), which settles most threshold tests without the estimator; each test
    // still decides exactly as the estimate would (see `d_at_most`).
    let n2 = gemm_norm1(&mut plan, &mut ws.a2, &ws.a, &ws.a);
    let mut have_a4 = false;
    let mut have_a6 = false;
    let mut chosen: Option<usize> = None;

    // Lines 2-3: m = 3 with η1 = max(d4, d6), both estimated from A2, and ℓ(A, 3) = 0. The
    // ℓ test goes first, here and for m = 5: its passes serve every later ℓ test, and its
    // lower bound often rules a degree out before the estimator runs (the same decision in
    // either order).
    if let Some(t3) = th(3).filter(|_| m_max > 3) {
        if ell_is_zero(ws, norm, 3)
            && d_at_most(ws, nonneg, 4, n2 * n2, t3)
            && d_at_most(ws, nonneg, 6, n2 * n2 * n2, t3)
        {
            chosen = Some(3);
        }
    }
    // Lines 4-6: m = 5 with η2 = max(d4 exact, d6 estimated).
    let mut n4 = f64::INFINITY;
    if chosen.is_none() && m_max > 5 {
        let t5 = th(5).expect("θ5");
        n4 = gemm_norm1(&mut plan, &mut ws.a4, &ws.a2, &ws.a2);
        have_a4 = true;
        if n4.powf(0.25) <= t5 && ell_is_zero(ws, norm, 5) && d_at_most(ws, nonneg, 6, n2 * n4, t5)
        {
            chosen = Some(5);
        }
    }
    let mut s = 0u32;
    if chosen.is_none() {
        // Lines 7-8: A6 (needed by every remaining degree), d6 exact, d8 estimated (only once
        // its bound no longer settles a test).
        if !have_a4 {
            n4 = gemm_norm1(&mut plan, &mut ws.a4, &ws.a2, &ws.a2);
            have_a4 = true;
        }
        let n6 = gemm_norm1(&mut plan, &mut ws.a6, &ws.a2, &ws.a4);
        have_a6 = true;
        let d6 = n6.powf(1.0 / 6.0);
        let d8_bound = (n4 * n4).min(n2 * n6).powf(1.0 / 8.0);
        let mut d8_est: Option<f64> = None;
        // Lines 9-11: m = 7, 9 unscaled (double precision only; in single, 7 is m_max). The
        // ℓ(A, m) = 0 test goes before the d8 estimate: the same decision, and the passes it
        // makes serve the later ℓ tests, while a failed test spares the estimate.
        for m in [7usize, 9] {
            if m < m_max {
                let tm = th(m).expect("θ");
                // η3 = max(d6, d8) ≤ θm and ℓ(A, m) = 0
                if d6 <= tm
                    && ell_is_zero(ws, norm, m)
                    && (d8_bound <= tm
                        || *d8_est.get_or_insert_with(|| d_power(ws, nonneg, 8, f64::INFINITY))
                            <= tm)
                {
                    chosen = Some(m);
                    break;
                }
            }
        }
        if chosen.is_none() {
            // Lines 12-15: η4 = max(d8, d10), η5 = min(η3, η4), s = max(⌈log2(η5/θ)⌉, 0), then
            // s + ℓ(2^{-s}A, m) = max(s, ℓ(A, m)) (see `squarings_with_ell`). η5 grows with d8
            // and d10, so their bounds bound s from above; when ℓ(A, m) alone asks for more
            // squarings than that bound, s does not matter and neither estimate is made
            // (Gaussian A, ‖A‖₁ = 50, n = 32–256: ℓ asks for 3–4, η5 for 1–2).
            let d10_bound = (n4 * n6).powf(0.1);
            let squarings_for = |eta5: f64| {
                let base = (eta5 / theta_max).log2().ceil();
                if base.is_finite() && base > 0.0 {
                    base as u32
                } else {
                    0
                }
            };
            let d8_upper = d8_est.unwrap_or(d8_bound);
            let s_upper = squarings_for(d6.max(d8_upper).min(d8_upper.max(d10_bound)));
            let by_ell = squarings_with_ell(ws, norm, m_max, s_upper);
            s = if by_ell > s_upper {
                by_ell
            } else {
                // η5 needs d10 only when it can be below η3 = max(d6, d8), i.e. when d8 < d6
                // and d10's bound is not already ≤ d8.
                let d8 = *d8_est.get_or_insert_with(|| d_power(ws, nonneg, 8, f64::INFINITY));
                let eta3 = d6.max(d8);
                let eta4 = if d8 >= d6 || d10_bound <= d8 {
                    d8
                } else {
                    d8.max(d_power(ws, nonneg, 10, f64::INFINITY))
                };
                squarings_with_ell(ws, norm, m_max, squarings_for(eta3.min(eta4)))
            };
            chosen = Some(m_max);
        }
    }
    let m = chosen.expect("a degree is always chosen");
    if m >= 5 && !have_a4 {
        gemm(&mut plan, &mut ws.a4, Accum::Replace, &ws.a2, &ws.a2, one);
    }
    if m >= 7 && !have_a6 {
        gemm(&mut plan, &mut ws.a6, Accum::Replace, &ws.a2, &ws.a4, one);
    }

    // Line 16, folded: A_k ← 2^{-ks} A_k becomes a factor σ^k on every coefficient and product
    // (exact, σ is a power of two), which saves four passes over memory.
    let sg = (-(s as f64)).exp2();
    let c = |k: i32| T::from_f64(sg.powi(k));
    let b = pade_coeffs(m);
    let bb = |j: usize, k: i32| T::from_f64(b[j] * sg.powi(k));
    let ExpmWorkspace {
        a,
        a2,
        a4,
        a6,
        u,
        v,
        t1,
        t2,
        t3,
        ..
    } = ws;
    let zero = T::from_f64(0.0);
    // Line 17: U and V (U + V = p_m(A), V − U = p_m(−A)); the odd part's sum (t3) and V in one
    // pass over the powers.
    match m {
        3 => {
            lincomb2(
                &[a2],
                (t3, &[bb(3, 2)], bb(1, 0)),
                (v, &[bb(2, 2)], bb(0, 0)),
            );
            gemm(&mut plan, u, Accum::Replace, a, t3, c(1));
        }
        5 => {
            lincomb2(
                &[a4, a2],
                (t3, &[bb(5, 4), bb(3, 2)], bb(1, 0)),
                (v, &[bb(4, 4), bb(2, 2)], bb(0, 0)),
            );
            gemm(&mut plan, u, Accum::Replace, a, t3, c(1));
        }
        7 => {
            lincomb2(
                &[a6, a4, a2],
                (t3, &[bb(7, 6), bb(5, 4), bb(3, 2)], bb(1, 0)),
                (v, &[bb(6, 6), bb(4, 4), bb(2, 2)], bb(0, 0)),
            );
            gemm(&mut plan, u, Accum::Replace, a, t3, c(1));
        }
        9 => {
            // A8 = A4² in t1.
            gemm(&mut plan, t1, Accum::Replace, a4, a4, one);
            lincomb2(
                &[t1, a6, a4, a2],
                (t3, &[bb(9, 8), bb(7, 6), bb(5, 4), bb(3, 2)], bb(1, 0)),
                (v, &[bb(8, 8), bb(6, 6), bb(4, 4), bb(2, 2)], bb(0, 0)),
            );
            gemm(&mut plan, u, Accum::Replace, a, t3, c(1));
        }
        13 => {
            // The paper's (3.2): U = A[A6(b13 A6 + b11 A4 + b9 A2) + b7 A6 + b5 A4 + b3 A2 + b1 I],
            // V = A6(b12 A6 + b10 A4 + b8 A2) + b6 A6 + b4 A4 + b2 A2 + b0 I: 3 products here.
            let powers = [&*a6, &*a4, &*a2];
            lincomb2(
                &powers,
                (v, &[bb(13, 6), bb(11, 4), bb(9, 2)], zero),
                (t1, &[bb(7, 6), bb(5, 4), bb(3, 2)], bb(1, 0)),
            );
            gemm(&mut plan, t1, Accum::Add, a6, v, c(6));
            gemm(&mut plan, u, Accum::Replace, a, t1, c(1));
            lincomb2(
                &powers,
                (t1, &[bb(12, 6), bb(10, 4), bb(8, 2)], zero),
                (v, &[bb(6, 6), bb(4, 4), bb(2, 2)], bb(0, 0)),
            );
            gemm(&mut plan, v, Accum::Add, a6, t1, c(6));
        }
        _ => unreachable!(),
    }
    // Line 18's R ← R^{2^s} ping-pongs between t2 and t3. The last result goes straight into
    // the caller's `out` when that is column-major (the passes, the solve and the tiles write
    // it in place, with the same bits as into the workspace), else it is copied there.
    let total = s + s0;
    let direct = crate::gemm::column_major(out.as_ref());
    let tri = info.upper || info.lower;
    {
        // (V − U) R = U + V, one LU; R into `out` when no squaring follows.
        let mut r = if direct && total == 0 {
            out.as_mut()
        } else {
            t2.as_mut()
        };
        sum_and_diff(r.as_mut(), u, v);
        // V − U and the right-hand side are n×n (the workspace's, or the checked `out`).
        ws.lu.factor(v.as_mut()).expect("V − U is n×n");
        ws.lu
            .solve(v.as_ref(), r.as_mut())
            .expect("n×n right-hand side");
        // For triangular A, Code Fragment 2.1 of the paper: after the Padé step and after
        // every squaring, the diagonal and first off-diagonal of X ≈ exp(2^{-j}A) are replaced
        // by their exact values, which removes the error the squarings would accumulate there
        // (this is what keeps e.g. a Jordan block with a large off-diagonal accurate).
        if tri {
            fix_triangular(r, a, info.upper, -(s as i32));
        }
    }
    plan.lu = true;
    for k in 0..total {
        let e = k as i32 + 1 - s as i32;
        if direct && k + 1 == total {
            gemm_into(
                &mut plan,
                out.as_mut(),
                Accum::Replace,
                t2.as_ref(),
                t2.as_ref(),
                one,
            );
            if tri {
                fix_triangular(out.as_mut(), a, info.upper, e);
            }
        } else {
            gemm(&mut plan, t3, Accum::Replace, t2, t2, one);
            std::mem::swap(t2, t3);
            if tri {
                fix_triangular(t2.as_mut(), a, info.upper, e);
            }
        }
    }
    if !direct {
        out.copy_from(t2.as_ref());
    }
    plan.degree = m;
    plan.squarings = total;
    ws.plan = plan;
}

/// For triangular A (held, scaled by 2^{-s0}, in `a`): set the diagonal of X to
/// exp(2^e a_ii) and its first super- (or sub-) diagonal to the exact (i, i+1) entry of the
/// exponential of the 2×2 block [[λ1, t], [0, λ2]] = 2^e·A[i..i+2, i..i+2], namely
/// t·exp((λ1+λ2)/2)·sinh((λ2−λ1)/2)/((λ2−λ1)/2) (Higham 2008, "Functions of Matrices",
/// eq. (10.42), the form that avoids cancellation when λ1 ≈ λ2). Al-Mohy & Higham (2009a)
/// Code Fragment 2.1.
fn fix_triangular<T: ExpmScalar>(mut x: MatMut<'_, T>, a: &Mat<T>, upper: bool, e: i32) {
    let n = x.nrows();
    let sc = (e as f64).exp2();
    for i in 0..n {
        x[(i, i)] = T::from_f64((a[(i, i)].to_f64() * sc).exp());
    }
    for i in 0..n.saturating_sub(1) {
        let (r, c) = if upper { (i, i + 1) } else { (i + 1, i) };
        let t = a[(r, c)].to_f64() * sc;
        let l1 = a[(i, i)].to_f64() * sc;
        let l2 = a[(i + 1, i + 1)].to_f64() * sc;
        let half = 0.5 * (l2 - l1);
        let dd = if half == 0.0 {
            (0.5 * (l1 + l2)).exp()
        } else {
            (0.5 * (l1 + l2)).exp() * half.sinh() / half
        };
        x[(r, c)] = T::from_f64(t * dd);
    }
}

// ---------------------------------------------------------------------------------------------
// Fréchet derivative: Al-Mohy & Higham (2009b) Algorithm 6.4
// ---------------------------------------------------------------------------------------------

/// The s ≥ 0 with ‖2^{-s}A‖₁ ≤ `target`: ⌈log2(norm / target)⌉, for the 1-norm `norm` of a
/// finite n×n A. Summed in f64, that norm overflows to +∞ when a column's entries add up past
/// f64::MAX (finite entries near it); it is then below n·2^1024, which bounds s instead of
/// turning +∞ into u32::MAX squarings (a hang the fuzzer found in the adjoint, whose Aᵀ had
/// such a column).
fn halvings_to(norm: f64, target: f64, n: usize) -> u32 {
    let log2_norm = if norm.is_finite() {
        norm.log2()
    } else {
        1024.0 + (n.max(1) as f64).log2()
    };
    let s = (log2_norm - target.log2()).ceil();
    if s > 0.0 {
        s as u32
    } else {
        0
    }
}

fn frechet_core<T: ExpmScalar>(
    ws: &mut ExpmWorkspace<T>,
    info: LoadInfo,
    mut exp_out: MatMut<'_, T>,
    mut l_out: MatMut<'_, T>,
) {
    let one = T::from_f64(1.0);
    let zero = T::from_f64(0.0);
    let mut plan = ExpmPlan::default();
    let ell = T::ELL;
    let (m_max, ell_max) = ell[ell.len() - 1];
    // Lines 1-2: the smallest degree whose ℓ_m covers ‖A‖₁, else scale to ‖2^{-s}A‖₁ ≤ ℓ_max.
    let mut m = m_max;
    let mut s = 0u32;
    if let Some(&(mm, _)) = ell[..ell.len() - 1].iter().find(|t| info.norm1 <= t.1) {
        m = mm;
    } else {
        s = halvings_to(info.norm1, ell_max, ws.a.nrows());
    }
    if s > 0 {
        // A ← 2^{-s}A, E ← 2^{-s}E (exact). Two factors so that 2^{-s} itself never
        // underflows for the largest finite inputs.
        let h1 = T::from_f64((-((s / 2) as f64)).exp2());
        let h2 = T::from_f64((-((s - s / 2) as f64)).exp2());
        for mat in [&mut ws.a, &mut ws.e] {
            scale_in_place(mat, h1);
            scale_in_place(mat, h2);
        }
    }
    let b = pade_coeffs(m);
    let bb = |j: usize| T::from_f64(b[j]);
    let ExpmWorkspace {
        a,
        e,
        a2,
        a4,
        a6,
        m2,
        m4,
        m6,
        u,
        v,
        t1,
        t2,
        t3,
        t4,
        ..
    } = ws;
    let p = &mut plan;
    // Powers A_{2k} and their derivatives M_{2k} = L_{x^{2k}}(A, E) (2009b eqs. (3.3), (6.11)).
    gemm(p, a2, Accum::Replace, a, a, one);
    gemm(p, m2, Accum::Replace, a, e, one);
    gemm(p, m2, Accum::Add, e, a, one);
    if m >= 5 {
        gemm(p, a4, Accum::Replace, a2, a2, one);
        gemm(p, m4, Accum::Replace, a2, m2, one);
        gemm(p, m4, Accum::Add, m2, a2, one);
    }
    if m >= 7 {
        gemm(p, a6, Accum::Replace, a2, a4, one);
        gemm(p, m6, Accum::Replace, a4, m2, one);
        gemm(p, m6, Accum::Add, m4, a2, one);
    }
    // At the end of each branch: u = U, v = V, t3 = Lu, t4 = Lv (2009b eqs. (6.12), (6.13)).
    match m {
        3 | 5 | 7 | 9 => {
            if m == 9 {
                // A8 = A4² in t3, M8 = A4·M4 + M4·A4 in t4.
                gemm(p, t3, Accum::Replace, a4, a4, one);
                gemm(p, t4, Accum::Replace, a4, m4, one);
                gemm(p, t4, Accum::Add, m4, a4, one);
            }
            // The sums' terms, highest power first: (m − 1)/2 of A8, A6, A4, A2 (and of the
            // M's) with the odd coefficients b9, b7, b5, b3 and the even ones b8, b6, b4, b2.
            let k = (m - 1) / 2;
            let b_or_0 = |j: usize| if j <= m { bb(j) } else { zero };
            let odd = [b_or_0(9), b_or_0(7), b_or_0(5), bb(3)];
            let even = [b_or_0(8), b_or_0(6), b_or_0(4), bb(2)];
            let (odd, even) = (&odd[4 - k..], &even[4 - k..]);
            // t1 = Σ_{k odd} b_k A_{k-1}, U = A·t1; V = Σ_{k even} b_k A_k.
            lincomb2(
                &[&*t3, a6, a4, a2][4 - k..],
                (t1, odd, bb(1)),
                (v, even, bb(0)),
            );
            gemm(p, u, Accum::Replace, a, t1, one);
            // t2 = Σ_{k odd ≥ 3} b_k M_{k-1}, Lv = Σ_{k even ≥ 2} b_k M_k; Lu = A·t2 + E·t1.
            if m == 9 {
                // Lv into t3 (A8 is dead now) while M8 in t4 is read; Lu into t4 after it,
                // then the two swapped to where the other degrees leave them.
                lincomb2(&[&*t4, m6, m4, m2], (t2, odd, zero), (t3, even, zero));
                gemm(p, t4, Accum::Replace, a, t2, one);
                gemm(p, t4, Accum::Add, e, t1, one);
                std::mem::swap(t3, t4);
            } else {
                lincomb2(&[&*m6, m4, m2][3 - k..], (t2, odd, zero), (t4, even, zero));
                gemm(p, t3, Accum::Replace, a, t2, one);
                gemm(p, t3, Accum::Add, e, t1, one);
            }
        }
        13 => {
            let powers = [&*a6, &*a4, &*a2];
            let derivatives = [&*m6, &*m4, &*m2];
            // W1 = b13 A6 + b11 A4 + b9 A2 (t1); W = A6·W1 + W2 (t2); U = A·W.
            let (w1, w2) = ([bb(13), bb(11), bb(9)], [bb(7), bb(5), bb(3)]);
            lincomb2(&powers, (t1, &w1, zero), (t2, &w2, bb(1)));
            gemm(p, t2, Accum::Add, a6, t1, one);
            gemm(p, u, Accum::Replace, a, t2, one);
            // Lw = A6·Lw1 + M6·W1 + Lw2 (t4), Lu = A·Lw + E·W (t3).
            lincomb2(&derivatives, (t3, &w1, zero), (t4, &w2, zero));
            gemm(p, t4, Accum::Add, a6, t3, one);
            gemm(p, t4, Accum::Add, m6, t1, one);
            gemm(p, t3, Accum::Replace, a, t4, one);
            gemm(p, t3, Accum::Add, e, t2, one);
            // Z1 (t1), V = A6·Z1 + Z2 (v).
            let (z1, z2) = ([bb(12), bb(10), bb(8)], [bb(6), bb(4), bb(2)]);
            lincomb2(&powers, (t1, &z1, zero), (v, &z2, bb(0)));
            gemm(p, v, Accum::Add, a6, t1, one);
            // Lv = A6·Lz1 + M6·Z1 + Lz2 (t4), Lz1 in t2.
            lincomb2(&derivatives, (t2, &z1, zero), (t4, &z2, zero));
            gemm(p, t4, Accum::Add, a6, t2, one);
            gemm(p, t4, Accum::Add, m6, t1, one);
        }
        _ => unreachable!(),
    }
    // R = (V − U)⁻¹(U + V) in t1, L = (V − U)⁻¹(Lu + Lv + (Lu − Lv)R) in t2; the squarings
    // ping-pong them with t4 and t3. Each last result goes straight into the caller's output
    // when that is column-major (the same bits as in the workspace), else it is copied there.
    let (r_direct, l_direct) = (
        crate::gemm::column_major(exp_out.as_ref()),
        crate::gemm::column_major(l_out.as_ref()),
    );
    {
        let mut r = if r_direct && s == 0 {
            exp_out.as_mut()
        } else {
            t1.as_mut()
        };
        let mut l = if l_direct && s == 0 {
            l_out.as_mut()
        } else {
            t2.as_mut()
        };
        sum_and_diff(r.as_mut(), u, v);
        // l = Lu + Lv, t3 = Lu − Lv (Lu is in t3, Lv in t4).
        sum_and_diff(l.as_mut(), t4, t3);
        // V − U and the right-hand sides are n×n (the workspace's, or the checked outputs).
        ws.lu.factor(v.as_mut()).expect("V − U is n×n");
        ws.lu
            .solve(v.as_ref(), r.as_mut())
            .expect("n×n right-hand side");
        gemm_into(p, l.as_mut(), Accum::Add, t3.as_ref(), r.as_ref(), one);
        ws.lu.solve(v.as_ref(), l).expect("n×n right-hand side");
    }
    p.lu = true;
    // Squaring phase: L ← R·L + L·R, R ← R² (R in t1, L in t2).
    for k in 0..s {
        let last = k + 1 == s;
        if l_direct && last {
            gemm_into(
                p,
                l_out.as_mut(),
                Accum::Replace,
                t1.as_ref(),
                t2.as_ref(),
                one,
            );
            gemm_into(p, l_out.as_mut(), Accum::Add, t2.as_ref(), t1.as_ref(), one);
        } else {
            gemm(p, t3, Accum::Replace, t1, t2, one);
            gemm(p, t3, Accum::Add, t2, t1, one);
            std::mem::swap(t2, t3);
        }
        if r_direct && last {
            gemm_into(
                p,
                exp_out.as_mut(),
                Accum::Replace,
                t1.as_ref(),
                t1.as_ref(),
                one,
            );
        } else {
            gemm(p, t4, Accum::Replace, t1, t1, one);
            std::mem::swap(t1, t4);
        }
    }
    if !r_direct {
        exp_out.copy_from(t1.as_ref());
    }
    if !l_direct {
        l_out.copy_from(t2.as_ref());
    }
    plan.degree = m;
    plan.squarings = s;
    ws.plan = plan;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(k: u128) -> u128 {
        (1..=k).product::<u128>().max(1)
    }

    /// b_j = (2m − j)! / (j! (m − j)!), exactly, for every degree; 1/|c_{2m+1}| = C(2m, m)(2m+1)!.
    #[test]
    fn pade_and_error_coefficients_match_their_closed_forms() {
        for m in [3u128, 5, 7, 9, 13] {
            let b = pade_coeffs(m as usize);
            assert_eq!(b.len(), m as usize + 1);
            for j in 0..=m {
                let exact = fact(2 * m - j) / (fact(j) * fact(m - j));
                assert_eq!(b[j as usize] as u128, exact, "b_{j} of m = {m}");
                assert_eq!(
                    b[j as usize], exact as f64,
                    "b_{j} of m = {m} not exact in f64"
                );
            }
            let c = fact(2 * m) / (fact(m) * fact(m)) * fact(2 * m + 1);
            assert_eq!(abs_c_recip(m as usize), c as f64, "1/|c_(2m+1)| of m = {m}");
        }
        for m in [3usize, 5, 7] {
            for &bj in pade_coeffs(m) {
                assert_eq!((bj as f32) as f64, bj, "b of m = {m} not exact in f32");
            }
        }
    }

    /// The thresholds increase with m and ℓ_m < θ_m (the Fréchet derivative needs more).
    #[test]
    fn threshold_tables_are_consistent() {
        for (theta, ell) in [
            (&THETA_F64[..], &ELL_F64[..]),
            (&THETA_F32[..], &ELL_F32[..]),
        ] {
            assert_eq!(theta.len(), ell.len());
            for w in theta.windows(2) {
                assert!(w[0].1 < w[1].1);
            }
            for (t, l) in theta.iter().zip(ell) {
                assert_eq!(t.0, l.0);
                assert!(l.1 < t.1);
            }
        }
    }

    #[test]
    fn normest_is_a_tight_lower_bound_on_small_powers() {
        let n = 12;
        let mut ws = ExpmWorkspace::<f64>::new(n);
        // A deterministic, sign-mixed matrix.
        let a = Mat::from_fn(n, n, |i, j| (((i * 7 + j * 3) % 11) as f64 - 5.0) / 13.0);
        ws.a2 = &a * &a;
        let exact = norm1(&(&ws.a2 * &ws.a2 * &ws.a2));
        let est = normest1(&mut ws, PowOp::A2(3), f64::INFINITY);
        assert!(est <= exact * (1.0 + 1e-12), "{est} > {exact}");
        assert!(est >= exact / 3.0, "{est} ≪ {exact}");
    }

    /// The flags and norm `load_checked` derives in its vectorised pass: a column of finite
    /// entries whose sum overflows is still finite, NaN or ±∞ anywhere is not, −0 counts as
    /// non-negative, and the triangular flags look at both sides of the diagonal.
    #[test]
    fn load_checked_flags_and_norm() {
        let load = |m: &Mat<f64>| {
            let mut dst = Mat::<f64>::zeros(m.nrows(), m.ncols());
            let info = load_checked(dst.as_mut(), m.as_ref());
            assert!(
                dst.col_iter().zip(m.col_iter()).all(|(d, s)| d
                    .iter()
                    .zip(s.iter())
                    .all(|(x, y)| x.to_bits() == y.to_bits())),
                "the copy is bit-exact"
            );
            info
        };
        // 19 rows: two full chunks of eight and a tail of three.
        let n = 19;
        let upper = Mat::from_fn(n, n, |i, j| if i <= j { (i + j) as f64 + 1.0 } else { 0.0 });
        let info = load(&upper);
        assert!(info.finite && info.nonneg && info.upper && !info.lower);
        let colsum = |j: usize| (0..n).map(|i| upper[(i, j)].abs()).sum::<f64>();
        assert_eq!(info.norm1, (0..n).map(colsum).fold(0.0, f64::max));
        let lower = upper.transpose().to_owned();
        let info = load(&lower);
        assert!(info.finite && info.nonneg && info.lower && !info.upper);
        let mut signed = upper.clone();
        signed[(3, 17)] = -0.0;
        assert!(load(&signed).nonneg, "−0 is ≥ 0");
        signed[(18, 18)] = -1e-300;
        assert!(!load(&signed).nonneg);
        let huge = Mat::from_fn(n, n, |_, _| 1e308);
        let info = load(&huge);
        assert!(info.finite && info.norm1 == f64::INFINITY);
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            for (i, j) in [(0, 0), (9, 4), (18, 18)] {
                let mut m = upper.clone();
                m[(i, j)] = bad;
                assert!(!load(&m).finite, "{bad} at ({i}, {j})");
            }
        }
        let diag = Mat::from_fn(n, n, |i, j| if i == j { -2.0 } else { 0.0 });
        let info = load(&diag);
        assert!(info.upper && info.lower && !info.nonneg && info.norm1 == 2.0);
    }

    /// Test matrices for the ℓ test's bounds: spread-out ones of many norms, non-negative,
    /// triangular (slow, uneven growth), one with a zero column (no growth bound) and one
    /// with a dominant entry, from a small deterministic generator.
    fn ell_test_matrices(n: usize) -> Vec<Mat<f64>> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        let mut out = Vec::new();
        for norm in [1e-3, 0.05, 0.3, 1.0, 2.0, 5.0, 20.0, 100.0] {
            let g = Mat::from_fn(n, n, |_, _| next());
            let scale = |m: Mat<f64>| {
                let c = norm / norm1(&m);
                Mat::from_fn(n, n, |i, j| m[(i, j)] * c)
            };
            out.push(scale(g.clone()));
            out.push(scale(Mat::from_fn(n, n, |i, j| g[(i, j)].abs())));
            out.push(scale(Mat::from_fn(n, n, |i, j| {
                if i <= j {
                    g[(i, j)]
                } else {
                    0.0
                }
            })));
            out.push(scale(Mat::from_fn(n, n, |i, j| {
                if j == 1 {
                    0.0
                } else {
                    g[(i, j)]
                }
            })));
            out.push(scale(Mat::from_fn(n, n, |i, j| {
                g[(i, j)] * if (i, j) == (2, 3) { 50.0 } else { 1.0 }
            })));
        }
        out
    }

    /// The least and greatest growth g_k, G_k of each pass bound every later power:
    /// ‖|A|^k‖₁ g_k^{p−k} ≤ ‖|A|^p‖₁ ≤ ‖|A|^k‖₁ G_k^{p−k}; they are defined (finite) for a
    /// positive matrix, and close in on each other as the passes go on.
    #[test]
    fn abs_power_growth_bounds_later_powers() {
        let n = 9;
        for (t, a) in ell_test_matrices(n).into_iter().enumerate() {
            let mut ws = ExpmWorkspace::<f64>::new(n);
            ws.a = a;
            abs_power_log2(&mut ws, 20, true);
            let (norms, growth) = (ws.abs_log2.clone(), ws.abs_growth_log2.clone());
            let positive = (0..n).all(|j| (0..n).any(|i| ws.a[(i, j)] != 0.0))
                && (0..n).all(|i| (0..n).any(|j| ws.a[(i, j)] != 0.0));
            if positive && t % 5 == 1 {
                assert!(
                    growth[1..]
                        .iter()
                        .all(|g| g.0.is_finite() && g.1.is_finite()),
                    "matrix {t}: {growth:?}"
                );
                let width = |k: usize| growth[k].1 - growth[k].0;
                assert!(width(20) < 1e-3 * width(1), "matrix {t}: {growth:?}");
            }
            for k in 1..=20 {
                let (least, most) = growth[k];
                if !least.is_finite() {
                    continue;
                }
                for p in k + 1..=20 {
                    let below = norms[k] + (p - k) as f64 * least;
                    let above = norms[k] + (p - k) as f64 * most;
                    let tol = 1e-12 * (1.0 + above.abs());
                    assert!(
                        below - tol <= norms[p] && norms[p] <= above + tol,
                        "matrix {t}, k = {k}, p = {p}: {} not in [{below}, {above}]",
                        norms[p]
                    );
                }
            }
        }
    }

    /// abs_dot_columns as abs_power_log2 calls it (inlined into pulp's dispatch): w·|A| to the
    /// rounding of a dot product, and the step's largest entry and least and greatest growth
    /// w2_j / w_j exactly those of the w2 it wrote, wherever the extremes are (a lane, the
    /// tail, either block of a split); f32 too; NaN growth when a w_j is 0.
    #[test]
    fn abs_dot_columns_takes_every_columns_growth() {
        fn pass<T: ExpmScalar>(a: &Mat<T>, w: &[T], split: usize) -> (Vec<T>, PassStep) {
            let n = w.len();
            let mut w2 = vec![T::from_f64(0.0); n];
            let (left, right) = w2.split_at_mut(split);
            let f = |j0: usize, out: &mut [T]| {
                simd(
                    #[inline(always)]
                    || abs_dot_columns(a, w, j0, out),
                )
            };
            let step = PassStep::join(f(0, left), f(split, right));
            (w2, step)
        }
        for n in [1usize, 7, 8, 9, 16, 23] {
            for at in 0..n {
                let mut a = Mat::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 5) as f64 * 0.01 - 0.02);
                let w: Vec<f64> = (0..n).map(|i| 1.0 + (i * 3 % 4) as f64 * 1e-3).collect();
                for big in [true, false] {
                    for i in 0..n {
                        a[(i, at)] = if big { -3.0 } else { 1e-3 };
                    }
                    let split = n / 2;
                    let (w2, step) = pass(&a, &w, split);
                    for j in 0..n {
                        let exact: f64 = (0..n).map(|i| w[i] * a[(i, j)].abs()).sum();
                        assert!(
                            (w2[j] - exact).abs() <= 1e-15 * exact,
                            "n = {n}, column {j}"
                        );
                    }
                    let r: Vec<f64> = w2.iter().zip(&w).map(|(v, d)| v / d).collect();
                    let least = r.iter().copied().fold(f64::INFINITY, f64::min);
                    let most = r.iter().copied().fold(0.0, f64::max);
                    let top = w2.iter().copied().fold(0.0, f64::max);
                    assert_eq!(
                        step.growth_range(),
                        (least, most),
                        "n = {n}, at {at}, {big}"
                    );
                    assert_eq!(step.most, top, "n = {n}, at {at}");

                    let a32 = Mat::from_fn(n, n, |i, j| a[(i, j)] as f32);
                    let w32: Vec<f32> = w.iter().map(|&x| x as f32).collect();
                    let (w2_32, step32) = pass(&a32, &w32, split);
                    let (lo, hi) = step32.growth_range();
                    let r32 = |j: usize| w2_32[j] as f64 / w32[j] as f64;
                    assert_eq!(lo, (0..n).map(r32).fold(f64::INFINITY, f64::min));
                    assert_eq!(hi, (0..n).map(r32).fold(0.0, f64::max));
                    assert!((lo / least - 1.0).abs() < 1e-6 && (hi / most - 1.0).abs() < 1e-6);

                    let mut zero = w.clone();
                    zero[at] = 0.0;
                    let (_, step0) = pass(&a, &zero, split);
                    let got = step0.growth_range();
                    assert!(got.0.is_nan() && got.1.is_nan(), "n = {n}, zero at {at}");
                }
            }
        }
    }

    /// ℓ(A, m) of eq. (5.1) (f64), from all 2m+1 passes.
    fn exact_ell(a: &Mat<f64>, m: usize) -> u32 {
        let mut ws = ExpmWorkspace::<f64>::new(a.nrows());
        ws.a = a.clone();
        let log2_abs = abs_power_log2(&mut ws, 2 * m + 1, false);
        let log2_alpha = log2_abs - norm1(a).log2() - abs_c_recip(m).log2();
        let ell =
            ((log2_alpha - <f64 as sealed::Sealed>::UNIT_ROUNDOFF.log2()) / (2 * m) as f64).ceil();
        if ell.is_finite() {
            ell.max(0.0) as u32
        } else {
            0
        }
    }

    /// Al-Mohy & Higham (2009a) Algorithm 6.1 line by line in f64: every d_k it names taken
    /// from the estimator (or the exact norm it names), every ℓ from all 2m+1 passes, no
    /// shortcut. Returns (m, s, s from η5 alone, ℓ(A, 13)); the last two are 0 below m = 13.
    fn algorithm_6_1(a: &Mat<f64>) -> (usize, u32, u32, u32) {
        let n = a.nrows();
        let nonneg = a.col_iter().all(|c| c.iter().all(|&x| x >= 0.0));
        let th = |m: usize| THETA_F64.iter().find(|t| t.0 == m).unwrap().1;
        let mut ws = ExpmWorkspace::<f64>::new(n);
        ws.a = a.clone();
        ws.a2 = a * a;
        ws.a4 = &ws.a2 * &ws.a2;
        ws.a6 = &ws.a2 * &ws.a4;
        let mut d = |k: usize| d_power(&mut ws, nonneg, k, f64::INFINITY);
        let d6_est = d(6);
        let eta1 = d(4).max(d6_est);
        if eta1 <= th(3) && exact_ell(a, 3) == 0 {
            return (3, 0, 0, 0);
        }
        let d4 = norm1(&ws.a4).powf(0.25);
        if d4.max(d6_est) <= th(5) && exact_ell(a, 5) == 0 {
            return (5, 0, 0, 0);
        }
        let d6 = norm1(&ws.a6).powf(1.0 / 6.0);
        let d8 = d_power(&mut ws, nonneg, 8, f64::INFINITY);
        let eta3 = d6.max(d8);
        for m in [7, 9] {
            if eta3 <= th(m) && exact_ell(a, m) == 0 {
                return (m, 0, 0, 0);
            }
        }
        let eta4 = d8.max(d_power(&mut ws, nonneg, 10, f64::INFINITY));
        let eta5 = eta3.min(eta4);
        let s = (eta5 / th(13)).log2().ceil().max(0.0) as u32;
        let ell = exact_ell(a, 13);
        (13, s + ell.saturating_sub(s), s, ell)
    }

    /// The degree and squarings expm chooses, with its bounds and early stops, are those of
    /// Algorithm 6.1 as written, on matrices where η5 decides s and where ℓ(A, 13) does.
    #[test]
    fn degree_and_squarings_are_algorithm_6_1s() {
        let (mut by_eta, mut by_ell) = (0, 0);
        for n in [9, 24] {
            let mut ws = ExpmWorkspace::<f64>::new(n);
            let mut out = Mat::<f64>::zeros(n, n);
            let mut cases = ell_test_matrices(n);
            // Normal matrices (ℓ small even at large norms): symmetric, and a rotation block.
            for (t, norm) in [0.7, 3.0, 12.0, 40.0, 250.0].into_iter().enumerate() {
                let g = &cases[5 * t];
                let sym = Mat::from_fn(n, n, |i, j| g[(i, j)] + g[(j, i)]);
                let c = norm / norm1(&sym);
                cases.push(Mat::from_fn(n, n, |i, j| sym[(i, j)] * c));
                cases.push(Mat::from_fn(n, n, |i, j| match (i, j) {
                    (0, 1) => norm,
                    (1, 0) => -norm,
                    _ => 0.0,
                }));
            }
            for (t, a) in cases.iter().enumerate() {
                let (m, s, s_eta, ell) = algorithm_6_1(a);
                expm_into(a.as_ref(), out.as_mut(), &mut ws).unwrap();
                let plan = ws.last_plan();
                assert_eq!(
                    (plan.degree, plan.squarings),
                    (m, s),
                    "n = {n}, matrix {t}, ‖A‖₁ = {}",
                    norm1(a)
                );
                if m == 13 {
                    by_eta += usize::from(s_eta > ell);
                    by_ell += usize::from(ell > s_eta);
                }
            }
        }
        assert!(by_eta > 0 && by_ell > 0, "η5 decided {by_eta}, ℓ {by_ell}");
    }

    /// The ℓ test stopped early by its bounds decides as the test on all 2m+1 passes does.
    #[test]
    fn ell_scan_decides_as_the_exact_value() {
        let n = 9;
        for (t, a) in ell_test_matrices(n).into_iter().enumerate() {
            let norm = norm1(&a);
            for m in [3usize, 5, 7, 9, 13] {
                let exact = exact_ell(&a, m);
                for s in 0..4u32 {
                    let mut ws = ExpmWorkspace::<f64>::new(n);
                    ws.a = a.clone();
                    assert_eq!(
                        squarings_with_ell(&mut ws, norm, m, s),
                        exact.max(s),
                        "matrix {t}, m = {m}, s = {s}"
                    );
                }
                let mut ws = ExpmWorkspace::<f64>::new(n);
                ws.a = a.clone();
                assert_eq!(
                    ell_is_zero(&mut ws, norm, m),
                    exact == 0,
                    "matrix {t}, m = {m}"
                );
            }
        }
    }

    #[test]
    fn abs_power_norms_are_exact() {
        let n = 7;
        let mut ws = ExpmWorkspace::<f64>::new(n);
        ws.a = Mat::from_fn(n, n, |i, j| ((i + 2 * j) % 5) as f64 - 2.0);
        let abs = Mat::from_fn(n, n, |i, j| ws.a[(i, j)].abs());
        let mut p = abs.clone();
        for k in 1..=9 {
            let l = abs_power_log2(&mut ws, k, true);
            let exact = norm1(&p).log2();
            assert!((l - exact).abs() < 1e-12, "k={k}: {l} vs {exact}");
            p = &p * &abs;
        }
    }

    /// lincomb2_block and sum_and_diff give the same bits on contiguous blocks (one pass over
    /// the block) as on strided ones (column by column), for every term count, and the values
    /// an entry-by-entry loop gives (products and sums rounded one by one, left to right); the
    /// diagonal terms land on the entries (j, j) of the block's columns j and nowhere else.
    #[test]
    fn block_passes_match_the_column_passes() {
        let (n, j0, w) = (16usize, 5usize, 7usize);
        let m = |s: usize| Mat::from_fn(n, n, |i, j| ((i * 7 + j * 3 + s) % 11) as f64 / 3.0 - 1.4);
        let (m0, m1, m2, m3) = (m(1), m(2), m(3), m(4));
        let mats = [&m0, &m1, &m2, &m3];
        let (ca, cb) = ([0.3, -1.7, 2.5e-3, 7.0], [-0.9, 1.0 / 3.0, 11.0, -2.0e-4]);
        let (diag_a, diag_b) = (0.625, -1.5);
        let old = m(5);
        for k in 1..=4 {
            let (terms, ca, cb) = (&mats[..k], &ca[..k], &cb[..k]);
            // The contiguous blocks: columns j0..j0+w of n×n matrices, through `simd` as
            // lincomb2 runs them (the widest SIMD the CPU has).
            let (mut da, mut db) = (old.clone(), old.clone());
            assert!(flat(da.as_ref()).is_some());
            simd(
                #[inline(always)]
                || {
                    lincomb2_block(
                        (da.as_mut().subcols_mut(j0, w), ca, diag_a),
                        (db.as_mut().subcols_mut(j0, w), cb, diag_b),
                        j0,
                        terms,
                    )
                },
            );
            // The same blocks inside taller matrices: column stride n + 3, so by columns (and
            // compiled for the baseline x86-64 here).
            let tall = || Mat::from_fn(n + 3, n, |i, j| if i < n { old[(i, j)] } else { 9.0 });
            let (mut ta, mut tb) = (tall(), tall());
            let va = ta.as_mut().submatrix_mut(0, j0, n, w);
            assert!(flat(va.as_ref()).is_none());
            lincomb2_block(
                (va, ca, diag_a),
                (tb.as_mut().submatrix_mut(0, j0, n, w), cb, diag_b),
                j0,
                terms,
            );
            for j in 0..n {
                for i in 0..n {
                    let want = |c: &[f64], diag: f64| {
                        if !(j0..j0 + w).contains(&j) {
                            return old[(i, j)];
                        }
                        let x = (1..k)
                            .fold(c[0] * terms[0][(i, j)], |x, t| x + c[t] * terms[t][(i, j)]);
                        if i == j {
                            x + diag
                        } else {
                            x
                        }
                    };
                    let (wa, wb) = (want(ca, diag_a), want(cb, diag_b));
                    for (got, want, what) in [
                        (da[(i, j)], wa, "a"),
                        (db[(i, j)], wb, "b"),
                        (ta[(i, j)], wa, "a, strided"),
                        (tb[(i, j)], wb, "b, strided"),
                    ] {
                        assert_eq!(got.to_bits(), want.to_bits(), "{what}, k = {k}, ({i}, {j})");
                    }
                }
            }
        }
        // sum_and_diff on a matrix whose columns are padded (n = 13: column stride 16, by
        // columns) and on one whose are not (16: one pass).
        for (n, contiguous) in [(13usize, false), (16, true)] {
            let a = Mat::from_fn(n, n, |i, j| ((i * 5 + j) % 9) as f64 / 7.0 - 0.6);
            let b = Mat::from_fn(n, n, |i, j| ((i + 3 * j) % 13) as f64 / 5.0 - 1.1);
            let (mut p, mut v) = (Mat::<f64>::zeros(n, n), a.clone());
            assert_eq!(flat(v.as_ref()).is_some(), contiguous, "n = {n}");
            sum_and_diff(p.as_mut(), &b, &mut v);
            for j in 0..n {
                for i in 0..n {
                    let (x, y) = (a[(i, j)], b[(i, j)]);
                    assert_eq!(
                        p[(i, j)].to_bits(),
                        (x + y).to_bits(),
                        "n = {n}, ({i}, {j})"
                    );
                    assert_eq!(
                        v[(i, j)].to_bits(),
                        (x - y).to_bits(),
                        "n = {n}, ({i}, {j})"
                    );
                }
            }
        }
    }
}
