//! Dense LU with partial pivoting and its solve with many right-hand sides — the one linear
//! system of the Padé step in [`crate::expm`] ((V − U)·R = U + V, and the Fréchet path's second
//! right-hand side).
//!
//! faer does the arithmetic; what this module decides is how the two calls use the cores,
//! measured on the 2-core machine (scratch program timing faer's `lu_in_place` and
//! `solve_in_place` at n = 64–512, f64, minimum of five rounds, 2026-11-28 18:10 UTC):
//!
//! - The factorisation runs on one core at every size: faer's parallel LU was slower than its
//!   sequential one at every n measured (n = 128 215 µs vs 127 µs, 256 1.23 ms vs 459 µs,
//!   312 1.81 vs 1.28 ms, 512 4.72 vs 3.86 ms) — its panel steps are too thin to share.
//! - The solve with n right-hand sides splits the right-hand sides into one block of columns
//!   per thread, each solved sequentially on its own core: the columns are independent, so
//!   nothing is shared but the factors. Against faer's parallel solve: n = 128 132 µs vs
//!   199 µs, 256 0.70–0.83 ms vs 1.14 ms, 312 1.42–1.53 vs 2.16 ms, 512 4.0–4.9 vs 6.0 ms; at
//!   n = 96 it gains nothing over one core (62–76 µs vs 64 µs), hence [`SPLIT_SOLVE_MIN_N`].
//!   Inside a kernel call that holds a team of threads ([`crate::team`], as expm does) the
//!   blocks go to the team; otherwise to rayon.
//!
//! Every column goes through the same sequence of operations whichever block it is in, so the
//! result is bit-identical to one sequential solve of all columns (`tests/expm.rs`), and expm's
//! results are those of the previous faer-parallel LU and solve (a scratch program hashing
//! every output bit on 600 inputs, n = 1–300). Inside expm the two changes together measured,
//! in an in-process interleaved A/B against the previous code (a scratch program linking both,
//! alternating them on the same input, 18:22 and 18:40 UTC; old/new time per pair, median):
//! ‖A‖₁ = 1 n = 128 1.12×, 256 1.09×, 312 1.10×, 512 1.07×; ‖A‖₁ = 50 (four squarings)
//! 1.04–1.07×; the Fréchet derivative 1.09–1.10× at n = 128–312, 1.03× at 512. In f32, the
//! training path, where the LU and solve are a larger share: expm n = 128 1.46×, the Fréchet
//! derivative n = 128 1.35×, n = 312 1.24× (‖A‖₁ = 1) and 1.11× (‖A‖₁ = 50).
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::lu::partial_pivoting::{factor, solve};
use faer::perm::PermRef;
use faer::traits::RealField;
use faer::{MatMut, MatRef, Par};

use crate::team::{self, MAX_PARTS};

/// Size from which [`LuSolver::solve`] splits the right-hand sides over the rayon threads.
pub const SPLIT_SOLVE_MIN_N: usize = 128;

/// Fewest right-hand sides per block of a split solve.
const MIN_BLOCK_COLS: usize = 64;

/// Row permutation and scratch for factoring an n×n matrix in place and solving with up to n
/// right-hand sides; allocates only in [`LuSolver::new`].
pub struct LuSolver<T> {
    n: usize,
    perm: Vec<usize>,
    perm_inv: Vec<usize>,
    /// One scratch buffer per block of right-hand sides (the first also serves the LU).
    stacks: Vec<MemBuffer>,
    _t: std::marker::PhantomData<T>,
}

impl<T: RealField> LuSolver<T> {
    /// Scratch for n×n systems; the solve will use `min(rayon threads, n / 64)` blocks from
    /// n = [`SPLIT_SOLVE_MIN_N`] on (the thread count read here, once).
    pub fn new(n: usize) -> Self {
        let blocks = if n >= SPLIT_SOLVE_MIN_N {
            rayon::current_num_threads()
                .min(n / MIN_BLOCK_COLS)
                .clamp(1, MAX_PARTS)
        } else {
            1
        };
        let cols = n.div_ceil(blocks);
        let solve_req = solve::solve_in_place_scratch::<usize, T>(n, cols, Par::Seq);
        let lu_req = factor::lu_in_place_scratch::<usize, T>(n, n, Par::Seq, Default::default());
        let stacks = (0..blocks)
            .map(|b| {
                MemBuffer::new(if b == 0 {
                    lu_req.or(solve_req)
                } else {
                    solve_req
                })
            })
            .collect();
        // The identity until the first factorisation, so that the permutation is always valid.
        LuSolver {
            n,
            perm: (0..n).collect(),
            perm_inv: (0..n).collect(),
            stacks,
            _t: std::marker::PhantomData,
        }
    }

    /// The size this solver is allocated for.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Factor `q` in place: on return its strict lower triangle holds L (unit diagonal implied)
    /// and its upper triangle U, with the row permutation kept here for [`LuSolver::solve`].
    ///
    /// # Panics
    /// If `q` is not n×n.
    pub fn factor(&mut self, q: MatMut<'_, T>) {
        let n = self.n;
        assert!(
            q.nrows() == n && q.ncols() == n,
            "LuSolver::factor: q is {}×{}, the solver is for {n}×{n}",
            q.nrows(),
            q.ncols()
        );
        factor::lu_in_place(
            q,
            &mut self.perm,
            &mut self.perm_inv,
            Par::Seq,
            MemStack::new(&mut self.stacks[0]),
            Default::default(),
        );
    }

    /// Solve `q·X = rhs` in place, `lu` holding the factors [`LuSolver::factor`] left in `q`.
    ///
    /// # Panics
    /// If `lu` is not n×n, or `rhs` has not n rows or more than n columns.
    pub fn solve(&mut self, lu: MatRef<'_, T>, rhs: MatMut<'_, T>) {
        let n = self.n;
        assert!(
            lu.nrows() == n && lu.ncols() == n,
            "LuSolver::solve: lu is {}×{}, the solver is for {n}×{n}",
            lu.nrows(),
            lu.ncols()
        );
        assert!(
            rhs.nrows() == n && rhs.ncols() <= n,
            "LuSolver::solve: rhs is {}×{}, expected {n} rows and at most {n} columns",
            rhs.nrows(),
            rhs.ncols()
        );
        let perm = PermRef::new_checked(&self.perm, &self.perm_inv, n);
        solve_blocks(lu, perm, rhs, &mut self.stacks);
    }
}

/// Solve the column blocks of `rhs`, one per scratch buffer, in parallel: on the team of the
/// calling kernel when there is one ([`crate::team`]), otherwise by rayon fork/join.
fn solve_blocks<T: RealField>(
    lu: MatRef<'_, T>,
    perm: PermRef<'_, usize>,
    rhs: MatMut<'_, T>,
    stacks: &mut [MemBuffer],
) {
    let cols = rhs.ncols();
    let blocks = stacks.len().min(cols).max(1);
    if blocks == 1 {
        // L and U share the factored matrix: the unit-lower solve reads only the strict lower
        // triangle and the upper solve only the upper one.
        solve::solve_in_place(lu, lu, perm, rhs, Par::Seq, MemStack::new(&mut stacks[0]));
        return;
    }
    // Every block ends with at most ⌈n / blocks⌉ columns, what its scratch was sized for.
    let cols_of = team::split_even(cols, blocks, rhs, |m, j| m.split_at_col_mut(j));
    let mut parts: [Option<(MatMut<'_, T>, &mut MemBuffer)>; MAX_PARTS] = Default::default();
    for ((part, piece), stack) in parts.iter_mut().zip(cols_of).zip(stacks.iter_mut()) {
        *part = piece.map(|(_, x)| (x, stack));
    }
    team::for_each_part(&mut parts[..blocks], |_, part| {
        if let Some((x, stack)) = part.take() {
            solve::solve_in_place(lu, lu, perm, x, Par::Seq, MemStack::new(stack));
        }
    });
}
