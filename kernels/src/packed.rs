//! `C (+)= A·B` in f32 with the right-hand side packed once and reused for many products.
//!
//! The RNN's recurrences multiply a fresh `[rows, n]` block of states (or gradients) by the
//! same `W_rec` (or `W_recᵀ`) at every one of `T` steps. A general GEMM repacks `B` in every
//! call; here [`PackedRhs::pack`] lays `B` out once per pass in the order the micro-kernel
//! reads it, and [`gemm_packed_rhs`] only packs the small `A` block it is working on.
//!
//! Layout: `B` (`k × n`) is cut into column panels of [`NR`] = 48 columns (three AVX-512
//! vectors; the last panel is 16, 32 or 48 wide, the columns past `n` zero), and each panel
//! into slabs of [`KC`] rows; a slab stores its rows one after another, each `width` floats.
//! The micro-kernel keeps an `MR × 48` block of `C` (`MR` ≤ 8: 24 of the 32 vector registers)
//! in registers and, for each `k`, loads three vectors of `B` and broadcasts `MR` values of the
//! packed `A`.
//!
//! Arithmetic: every element of `C` is `c + Σ_slab (Σ_{k in slab} a_ik·b_kj)` with each inner sum
//! accumulated in order of `k` by fused multiply-adds — a row's result depends only on that
//! row of `A`, so splitting the rows over threads changes no bit.
//!
//! The AVX-512 path runs where the CPU has AVX-512F (detected at run time); elsewhere
//! [`gemm_packed_rhs`] calls faer's GEMM on the unpacked copy [`PackedRhs`] keeps for it.
use crate::gemm::{gemm, rm};
use faer::{Accum, MatRef, Par};

/// Columns per panel of the packed `B` (three 16-float vectors).
pub const NR: usize = 48;
/// Rows of `B` per slab (the `k` extent of one pass of the micro-kernel).
pub const KC: usize = 256;
/// Rows of `A` (and `C`) per micro-kernel call.
const MR: usize = 8;
/// Floats per 64-byte cache line.
const LINE: usize = 16;

/// `B` packed for [`gemm_packed_rhs`]; reuse one across calls (`pack` keeps its allocation).
#[derive(Clone, Debug, Default)]
pub struct PackedRhs {
    k: usize,
    n: usize,
    /// Whether `data` holds the panel layout (AVX-512 path) or a row-major copy (fallback).
    panels: bool,
    data: Vec<f32>,
    /// Offset of the first 64-byte-aligned float in `data`.
    start: usize,
}

/// Whether this CPU runs the packed AVX-512 kernel (AVX-512F, detected at run time);
/// elsewhere [`gemm_packed_rhs`] is faer's GEMM on a plain copy of `B`.
pub fn kernel_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Floats of the packed panel layout for a `k × n` matrix.
fn packed_len(k: usize, n: usize) -> usize {
    k * n.div_ceil(LINE) * LINE
}

impl PackedRhs {
    /// An empty packing (0 × 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// Rows of the packed `B` (the inner dimension of the product).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Columns of the packed `B`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Pack `b` (`k × n`, any strides: a transposed view packs `Bᵀ`), reusing the allocation.
    pub fn pack(&mut self, b: MatRef<'_, f32>) {
        self.pack_as(b, kernel_available())
    }

    /// [`PackedRhs::pack`] into the plain row-major copy that the fallback (faer) path of
    /// [`gemm_packed_rhs`] reads, whatever the CPU: lets the tests check that path here.
    #[doc(hidden)]
    pub fn pack_plain(&mut self, b: MatRef<'_, f32>) {
        self.pack_as(b, false)
    }

    fn pack_as(&mut self, b: MatRef<'_, f32>, panels: bool) {
        let (k, n) = (b.nrows(), b.ncols());
        self.k = k;
        self.n = n;
        self.panels = panels;
        let len = if self.panels { packed_len(k, n) } else { k * n };
        self.data.clear();
        self.data.resize(len + LINE, 0.0);
        self.start = self.data.as_ptr().align_offset(64).min(LINE);
        let out = &mut self.data[self.start..self.start + len];
        if !self.panels {
            for (i, row) in out.chunks_exact_mut(n.max(1)).take(k).enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = b[(i, j)];
                }
            }
            return;
        }
        // Walk the source along its unit stride: rows of `b` when it is row-major, columns
        // when it is a transposed row-major matrix (Bᵀ, the backward pass's case).
        let by_rows = b.col_stride().unsigned_abs() <= b.row_stride().unsigned_abs();
        let mut off = 0;
        for j0 in (0..n).step_by(NR) {
            let w = (n - j0).min(NR);
            let width = w.div_ceil(LINE) * LINE;
            let panel = &mut out[off..off + k * width];
            if by_rows {
                for (i, row) in panel.chunks_exact_mut(width).enumerate() {
                    for (jj, v) in row[..w].iter_mut().enumerate() {
                        *v = b[(i, j0 + jj)];
                    }
                }
            } else {
                for jj in 0..w {
                    for i in 0..k {
                        panel[i * width + jj] = b[(i, j0 + jj)];
                    }
                }
            }
            off += k * width;
        }
    }

    fn packed(&self) -> &[f32] {
        let len = if self.panels {
            packed_len(self.k, self.n)
        } else {
            self.k * self.n
        };
        &self.data[self.start..self.start + len]
    }
}

/// `c ← a·b` (`Accum::Replace`) or `c += a·b` (`Accum::Add`) for row-major `a` (`[m, k]`, row
/// stride `lda`) and `c` (`[m, n]`, row stride `ldc`), with `b` packed. Sequential.
///
/// # Panics
/// If `a` or `c` is too short for its shape and stride, or a stride is below the row length.
pub fn gemm_packed_rhs(
    c: &mut [f32],
    ldc: usize,
    accum: Accum,
    a: &[f32],
    lda: usize,
    m: usize,
    b: &PackedRhs,
) {
    let (k, n) = (b.k, b.n);
    assert!(
        lda >= k && ldc >= n,
        "gemm_packed_rhs: strides lda = {lda}, ldc = {ldc} below the row lengths k = {k}, n = {n}"
    );
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        a.len() >= (m - 1) * lda + k,
        "gemm_packed_rhs: a has length {} < (m − 1)·lda + k = {}",
        a.len(),
        (m - 1) * lda + k
    );
    assert!(
        c.len() >= (m - 1) * ldc + n,
        "gemm_packed_rhs: c has length {} < (m − 1)·ldc + n = {}",
        c.len(),
        (m - 1) * ldc + n
    );
    if k == 0 {
        if accum == Accum::Replace {
            for r in 0..m {
                c[r * ldc..r * ldc + n].fill(0.0);
            }
        }
        return;
    }
    if !b.panels {
        // The transpose of a column-major view: faer 0.24.4's
        // `MatMut::from_row_major_slice_with_stride_mut` swaps the two strides (it builds a
        // column-major view and writes outside its slice; tests/packed.rs caught it).
        let cv =
            faer::MatMut::from_column_major_slice_with_stride_mut(c, n, m, ldc).transpose_mut();
        let av = MatRef::from_row_major_slice_with_stride(a, m, k, lda);
        gemm(cv, accum, av, rm(b.packed(), k, n), Par::Seq);
        return;
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `b.panels` is set only where AVX-512F was detected; the asserts above bound every
    // row of `a` and `c` the kernel touches, and `b.packed()` has the panel layout of k × n.
    unsafe {
        avx512::gemm(c, ldc, accum == Accum::Add, a, lda, m, k, n, b.packed());
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("the panel layout is only built on x86_64");
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{KC, LINE, MR, NR};
    use core::arch::x86_64::*;

    /// See [`super::gemm_packed_rhs`]; `bp` is the panel layout of `k × n`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn gemm(
        c: &mut [f32],
        ldc: usize,
        add: bool,
        a: &[f32],
        lda: usize,
        m: usize,
        k: usize,
        n: usize,
        bp: &[f32],
    ) {
        for r0 in (0..m).step_by(MR) {
            let mr = (m - r0).min(MR);
            for k0 in (0..k).step_by(KC) {
                let kc = (k - k0).min(KC);
                let ap = a.as_ptr().add(r0 * lda + k0);
                let load_c = add || k0 > 0;
                let mut off = 0;
                for j0 in (0..n).step_by(NR) {
                    let w = (n - j0).min(NR);
                    let width = w.div_ceil(LINE) * LINE;
                    let b = bp.as_ptr().add(off + k0 * width);
                    let cp = c.as_mut_ptr().add(r0 * ldc + j0);
                    let masks = [mask(w, 0), mask(w, 1), mask(w, 2)];
                    dispatch(mr, width / LINE, kc, ap, lda, b, cp, ldc, masks, load_c);
                    off += k * width;
                }
            }
        }
    }

    /// Lane mask of vector `v` of a panel `w` columns wide.
    fn mask(w: usize, v: usize) -> u16 {
        let lanes = w.saturating_sub(v * LINE).min(LINE);
        ((1u32 << lanes) - 1) as u16
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn dispatch(
        mr: usize,
        nv: usize,
        kc: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        masks: [u16; 3],
        load_c: bool,
    ) {
        macro_rules! go {
            ($($m:literal),*) => {
                match (mr, nv) {
                    $(
                        ($m, 3) => tile::<$m, 3>(kc, a, lda, b, c, ldc, masks, load_c),
                        ($m, 2) => tile::<$m, 2>(kc, a, lda, b, c, ldc, masks, load_c),
                        ($m, 1) => tile::<$m, 1>(kc, a, lda, b, c, ldc, masks, load_c),
                    )*
                    _ => unreachable!("tile {mr} × {nv}"),
                }
            };
        }
        go!(1, 2, 3, 4, 5, 6, 7, 8)
    }

    /// `C[0..M, 0..16·NV] (+)= A[0..M, 0..kc] · Bslab[kc × 16·NV]` (`A` row-major with row
    /// stride `lda`), the columns past the masks untouched.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn tile<const M: usize, const NV: usize>(
        kc: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        masks: [u16; 3],
        load_c: bool,
    ) {
        if load_c {
            // The block of C is read only after the k loop; ask for it now (in the RNN it
            // often comes from memory: rows the input projection wrote long before).
            for i in 0..M {
                for v in 0..NV {
                    let p = c.add(i * ldc + v * LINE) as *const i8;
                    _mm_prefetch::<_MM_HINT_T0>(p);
                    _mm_prefetch::<_MM_HINT_T0>(p.add(4 * LINE - 1));
                }
            }
        }
        let mut acc = [[_mm512_setzero_ps(); NV]; M];
        let rows: [*const f32; M] = core::array::from_fn(|i| a.add(i * lda));
        let mut bp = b;
        for kk in 0..kc {
            let mut bv = [_mm512_setzero_ps(); NV];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = _mm512_load_ps(bp.add(v * LINE));
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = _mm512_set1_ps(*rows[i].add(kk));
                for (v, x) in row.iter_mut().enumerate() {
                    *x = _mm512_fmadd_ps(ai, bv[v], *x);
                }
            }
            bp = bp.add(NV * LINE);
        }
        for (i, row) in acc.iter().enumerate() {
            for (v, x) in row.iter().enumerate() {
                let p = c.add(i * ldc + v * LINE);
                let out = if load_c {
                    _mm512_add_ps(_mm512_maskz_loadu_ps(masks[v], p), *x)
                } else {
                    *x
                };
                _mm512_mask_storeu_ps(p, masks[v], out);
            }
        }
    }
}
