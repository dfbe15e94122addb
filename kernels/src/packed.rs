//! f32 GEMM kernels for the RNN's products, on AVX-512 or AVX2 + FMA where the CPU has one.
//!
//! * [`gemm_packed_rhs`]: `C (+)= A·B` with `B` packed once ([`PackedRhs`]) and reused for
//!   many products. The RNN's recurrences multiply a fresh `[rows, n]` block of states (or
//!   gradients) by the same `W_rec` (or `W_recᵀ`) at every one of `T` steps; a general GEMM
//!   repacks `B` in every call, here it is laid out once per pass and `A` is read in place
//!   (eight row streams). Sequential: the RNN splits the batch over threads itself.
//! * [`gemm_at_b`]: `C (+)= Aᵀ·B` for the weight gradients `H[0..T)ᵀ·Δ` (`k = T·B` rows): each
//!   thread takes a range of columns, packs its slab of `B` per [`KC`] rows, and copies the
//!   `8 × KC` block of `Aᵀ` it is working on into one sequential buffer.
//!
//! Layout: `B` (`k × n`) is cut into column panels of [`NR`] = 48 columns (three AVX-512
//! vectors; the last panel is 16, 32 or 48 wide, the columns past `n` zero); a panel stores its
//! `k` rows one after another, each `width` floats. The micro-kernel keeps an `MR × 48` block of
//! `C` (`MR` ≤ 8: 24 of the 32 vector registers) in registers and, for each `k` of a slab of
//! [`KC`] rows, loads three vectors of `B` and broadcasts `MR` values of `A`; the block of `C`
//! is prefetched at the start and read (accumulating) and written once at the end. Loops: slab,
//! panel, then row block, so one slab of one panel (48 KiB) serves all rows while it is in
//! cache. On AVX2 (16 registers of 8 floats) the same layout is read 16 columns at a time, by
//! tiles of at most 6 rows × 16 columns (12 accumulators).
//!
//! Arithmetic: every element of `C` is `c + Σ_slab (Σ_{k in slab} a_ik·b_kj)` with each inner sum
//! accumulated in order of `k` by fused multiply-adds from zero — it depends only on that row of
//! `A` and column of `B`, so splitting rows or columns over threads changes no bit, and AVX-512
//! and AVX2 give the same bits (`tests/packed.rs` checks both against a scalar replay of that
//! order).
//!
//! Without either ([`crate::isa::tiles_isa`]: detected at run time, or `CORTICAL_TILES=none`)
//! both are faer's GEMM: [`PackedRhs`] then keeps a plain row-major copy of `B`, and the
//! results depend on how the rows are split.
use crate::gemm::{gemm, rm};
use faer::{Accum, MatRef, Par};

/// Columns per panel of the packed `B` (three 16-float vectors).
pub const NR: usize = 48;
/// Rows of `B` per slab (the `k` extent of one pass of the micro-kernel over a block of `C`).
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
    /// Whether `buf` holds the panel layout (the kernels' path) or a row-major copy (fallback).
    panels: bool,
    buf: AlignedBuf,
}

/// Whether the packed kernels run in this process (AVX-512F, or AVX2 with FMA: see
/// [`crate::isa::tiles_isa`]); elsewhere [`gemm_packed_rhs`] is faer's GEMM on a plain copy of `B`.
pub fn kernel_available() -> bool {
    crate::isa::tiles_isa().is_some()
}

/// Floats of the packed panel layout for a `k × n` matrix.
fn packed_len(k: usize, n: usize) -> usize {
    k * n.div_ceil(LINE) * LINE
}

/// One panel of the packed layout of an `n`-column matrix with `rows` rows per panel: its first
/// column `j0`, its `w` columns, its row length `width` (`w` rounded up to 16) and its offset
/// `off` in the packing.
#[derive(Clone, Copy)]
struct Panel {
    j0: usize,
    w: usize,
    width: usize,
    off: usize,
}

/// The panels of the packed layout, in order (see [`Panel`]).
fn panels(n: usize, rows: usize) -> impl Iterator<Item = Panel> {
    (0..n).step_by(NR).scan(0, move |off, j0| {
        let w = (n - j0).min(NR);
        let width = w.div_ceil(LINE) * LINE;
        let panel = Panel {
            j0,
            w,
            width,
            off: *off,
        };
        *off += rows * width;
        Some(panel)
    })
}

/// Write `b` (`k × n`, any strides) into `out` (`packed_len(k, n)` floats) in the panel layout:
/// panels of [`NR`] columns one after another, each `k` rows of `width` floats (`width` = the
/// panel's columns rounded up to 16; the padding is written as zeros).
fn pack_panels(out: &mut [f32], b: MatRef<'_, f32>) {
    let (k, n) = (b.nrows(), b.ncols());
    assert_eq!(out.len(), packed_len(k, n), "pack_panels: output length");
    let (ptr, rs, cs) = (b.as_ptr(), b.row_stride(), b.col_stride());
    // SAFETY: i < k and j < n, the view's own bounds.
    let at = |i: usize, j: usize| unsafe { *ptr.offset(i as isize * rs + j as isize * cs) };
    // Walk the source along its unit stride: rows of `b` when it is row-major, columns when it
    // is a transposed row-major matrix (Bᵀ, the backward pass's case).
    let by_rows = cs.unsigned_abs() <= rs.unsigned_abs();
    for Panel { j0, w, width, off } in panels(n, k) {
        let panel = &mut out[off..off + k * width];
        if cs == 1 {
            for (i, row) in panel.chunks_exact_mut(width).enumerate() {
                // SAFETY: row i, columns j0..j0 + w of the view, contiguous (unit column stride).
                let src =
                    unsafe { core::slice::from_raw_parts(ptr.offset(i as isize * rs).add(j0), w) };
                row[..w].copy_from_slice(src);
                row[w..].fill(0.0);
            }
        } else if by_rows {
            for (i, row) in panel.chunks_exact_mut(width).enumerate() {
                for (jj, v) in row.iter_mut().enumerate() {
                    *v = if jj < w { at(i, j0 + jj) } else { 0.0 };
                }
            }
        } else {
            for jj in 0..width {
                for i in 0..k {
                    panel[i * width + jj] = if jj < w { at(i, j0 + jj) } else { 0.0 };
                }
            }
        }
    }
}

/// `f` with this thread's buffer in `key`, or with a fresh one when the thread's is already in
/// use further up the stack (a callback of the caller that runs another product).
pub(crate) fn with_thread_buffer<B: Default + 'static, R>(
    key: &'static std::thread::LocalKey<core::cell::RefCell<B>>,
    f: impl FnOnce(&mut B) -> R,
) -> R {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut held) => f(&mut held),
        Err(_) => f(&mut B::default()),
    })
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
        let len = self.len();
        let out = self.buf.scratch(len);
        if !self.panels {
            for (i, row) in out.chunks_exact_mut(n.max(1)).take(k).enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = b[(i, j)];
                }
            }
            return;
        }
        pack_panels(out, b);
    }

    /// Floats of the packing.
    fn len(&self) -> usize {
        if self.panels {
            packed_len(self.k, self.n)
        } else {
            self.k * self.n
        }
    }

    fn packed(&self) -> &[f32] {
        self.buf.get(self.len())
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
    {
        let isa =
            crate::isa::tiles_isa().expect("the panel layout is only built where a kernel runs");
        // SAFETY: `isa` was detected; the asserts above bound every row of `a` and `c` the
        // kernel touches, and `b.packed()` has the panel layout of k × n.
        unsafe {
            tiles::gemm(
                isa,
                c,
                ldc,
                accum == Accum::Add,
                a,
                lda,
                m,
                k,
                n,
                b.packed(),
            )
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("the panel layout is only built on x86_64");
}

/// `c ← aᵀ·b` (`Accum::Replace`) or `c += aᵀ·b` (`Accum::Add`) for row-major `a` (`[k, m]`, row
/// stride `lda`), `b` (`[k, n]`, row stride `ldb`) and `c` (`[m, n]`, row stride `ldc`): the
/// weight gradients of BPTT, `H[0..T)ᵀ·Δ` with `k = T·B`.
///
/// On AVX-512 or AVX2 + FMA the columns of `c` are split over `par`'s threads (in multiples of
/// 16), each packing its columns of `b` slab by slab into a per-thread buffer (kept for the next
/// call; [`release_slab_buffer`]) and copying `a` block by block; every element of `c` is
/// accumulated in the same order whatever the number of threads or the instruction set.
/// Elsewhere this is faer's GEMM.
///
/// # Panics
/// If a slice is too short for its shape and stride, or a stride is below its row length.
#[allow(clippy::too_many_arguments)]
pub fn gemm_at_b(
    c: &mut [f32],
    ldc: usize,
    accum: Accum,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    k: usize,
    m: usize,
    n: usize,
    par: Par,
) {
    assert!(
        lda >= m && ldb >= n && ldc >= n,
        "gemm_at_b: strides lda = {lda}, ldb = {ldb}, ldc = {ldc} below the row lengths m = {m}, n = {n}"
    );
    if m == 0 || n == 0 {
        return;
    }
    let need =
        |rows: usize, ld: usize, cols: usize| if rows == 0 { 0 } else { (rows - 1) * ld + cols };
    for (name, len, rows, ld, cols) in [
        ("a", a.len(), k, lda, m),
        ("b", b.len(), k, ldb, n),
        ("c", c.len(), m, ldc, n),
    ] {
        assert!(
            len >= need(rows, ld, cols),
            "gemm_at_b: {name} has length {len} < (rows − 1)·stride + cols = {}",
            need(rows, ld, cols)
        );
    }
    let isa = crate::isa::tiles_isa();
    let Some(isa) = isa.filter(|_| k > 0) else {
        let cv =
            faer::MatMut::from_column_major_slice_with_stride_mut(c, n, m, ldc).transpose_mut();
        let av = MatRef::from_row_major_slice_with_stride(&a[..need(k, lda, m)], k, m, lda);
        let bv = MatRef::from_row_major_slice_with_stride(&b[..need(k, ldb, n)], k, n, ldb);
        gemm(cv, accum, av.transpose(), bv, par);
        return;
    };
    let vectors = n.div_ceil(LINE);
    let parts = match par {
        Par::Seq => 1,
        Par::Rayon(_) => par
            .degree()
            .min(rayon::current_num_threads())
            .min(vectors)
            .max(1),
    };
    let cp = SendPtr(c.as_mut_ptr());
    let part = |p: usize| {
        let j0 = (p * vectors / parts) * LINE;
        let j1 = (((p + 1) * vectors / parts) * LINE).min(n);
        let w = j1 - j0;
        with_thread_buffer(&SLAB, |buf| {
            let mut apack = APack([0.0; MR * KC]);
            for k0 in (0..k).step_by(KC) {
                let kc = (k - k0).min(KC);
                let slab = buf.scratch(packed_len(kc, w));
                let bv = MatRef::from_row_major_slice_with_stride(&b[k0 * ldb..], kc, n, ldb);
                pack_panels(slab, bv.subcols(j0, w));
                for r0 in (0..m).step_by(MR) {
                    // Columns r0..r0 + mr of a's rows k0..k0 + kc, one row after another: the
                    // micro-kernel then reads a from one short sequential stream instead of kc
                    // strided lines that the slab of b pushes out of L1 between panels.
                    let mr = (m - r0).min(MR);
                    if mr == MR {
                        for kk in 0..kc {
                            let src = (k0 + kk) * lda + r0;
                            let row: &[f32; MR] = a[src..src + MR].try_into().unwrap();
                            apack.0[kk * MR..(kk + 1) * MR].copy_from_slice(row);
                        }
                    } else {
                        for kk in 0..kc {
                            let src = (k0 + kk) * lda + r0;
                            apack.0[kk * mr..(kk + 1) * mr].copy_from_slice(&a[src..src + mr]);
                        }
                    }
                    // SAFETY: `isa` was detected; apack holds kc rows of mr floats and the slab
                    // the panel layout of kc × w; rows r0..r0 + mr, columns j0..j1 of c lie inside
                    // c (asserted above); this part alone writes columns j0..j1 of c, which stays
                    // borrowed for the whole call.
                    #[cfg(target_arch = "x86_64")]
                    unsafe {
                        let tile = tiles::Tile {
                            kc,
                            a: apack.0.as_ptr(),
                            lda: mr,
                            b: slab.as_ptr(),
                            ldb: 0,
                            c: cp.at(r0 * ldc + j0),
                            ldc,
                            w: 0,
                            load_c: accum == Accum::Add || k0 > 0,
                        };
                        tiles::at_b_panels(isa, mr, w, tile);
                    }
                    #[cfg(not(target_arch = "x86_64"))]
                    let _ = (isa, &apack, &slab);
                }
            }
        });
    };
    if parts == 1 {
        part(0);
    } else {
        use rayon::prelude::*;
        (0..parts).into_par_iter().for_each(part);
    }
}

/// A block of `aᵀ` packed for the micro-kernel (`KC` rows of at most `MR` floats).
#[repr(C, align(64))]
struct APack([f32; MR * KC]);

/// A raw pointer the parts of [`gemm_at_b`] share; each writes only its own columns.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: hands disjoint column ranges of one exclusively borrowed slice to the parts, which
// all finish before the borrow ends.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
impl SendPtr {
    /// The pointer `k` floats on (the caller keeps `k` in bounds).
    fn at(self, k: usize) -> *mut f32 {
        self.0.wrapping_add(k)
    }
}

/// A growable float buffer whose slice starts on a 64-byte boundary.
#[derive(Debug, Default)]
struct AlignedBuf {
    data: Vec<f32>,
    /// Offset of the first 64-byte-aligned float in `data`.
    start: usize,
}

impl Clone for AlignedBuf {
    /// A copy whose slice starts on a 64-byte boundary of its own allocation (a derived clone
    /// would keep the offset of the original's).
    fn clone(&self) -> Self {
        let len = self.data.len().saturating_sub(LINE);
        let mut copy = AlignedBuf::default();
        copy.scratch(len).copy_from_slice(self.get(len));
        copy
    }
}

impl AlignedBuf {
    /// `len` floats starting on a 64-byte boundary, holding whatever the last call left (the
    /// allocation is kept for the next call).
    fn scratch(&mut self, len: usize) -> &mut [f32] {
        if self.data.len() < len + LINE {
            self.data.resize(len + LINE, 0.0);
        }
        self.start = self.data.as_ptr().align_offset(64).min(LINE);
        &mut self.data[self.start..self.start + len]
    }

    /// The first `len` floats of the last [`AlignedBuf::scratch`].
    fn get(&self, len: usize) -> &[f32] {
        &self.data[self.start..self.start + len]
    }
}

thread_local! {
    /// This thread's slab of `b` packed by [`gemm_at_b`].
    static SLAB: core::cell::RefCell<AlignedBuf> = core::cell::RefCell::new(AlignedBuf::default());
}

/// Frees this thread's slab buffer kept by [`gemm_at_b`] between calls (`KC` rows of the
/// thread's columns of `b`); the next call on this thread allocates it again.
pub fn release_slab_buffer() {
    SLAB.with(|cell| {
        if let Ok(mut buf) = cell.try_borrow_mut() {
            *buf = AlignedBuf::default();
        }
    });
}

#[cfg(target_arch = "x86_64")]
mod tiles {
    use super::{panels, Panel, KC};
    use crate::isa::TileIsa;
    use crate::lanes::{Avx2, Avx512, Isa, Lane};
    use core::arch::x86_64::*;

    /// One micro-kernel call: `kc` deep, `A` at `a` (stride `lda`), one slab of a run of a
    /// panel's columns of `B` at `b` (row stride `ldb`, the panel's width), the block of `C` at
    /// `c` (row stride `ldc`), how many of the run's columns are real (`w`; the others are the
    /// panel's zero padding and are not stored), and whether to add to `C` (else overwrite it).
    #[derive(Clone, Copy)]
    pub(super) struct Tile {
        pub kc: usize,
        pub a: *const f32,
        pub lda: usize,
        pub b: *const f32,
        pub ldb: usize,
        pub c: *mut f32,
        pub ldc: usize,
        pub w: usize,
        pub load_c: bool,
    }

    /// The tile of `mr` rows and `nv` vectors on `I` (`mr ≤ I::PACKED_ROWS`,
    /// `nv·W ≤ I::PACKED_COLS`).
    #[inline(always)]
    unsafe fn dispatch<I: Isa, const AT: bool>(mr: usize, nv: usize, t: Tile)
    where
        f32: Lane<I>,
    {
        macro_rules! go {
            ($($m:literal),*) => {
                match (mr, nv) {
                    $(
                        ($m, 3) if $m <= I::PACKED_ROWS => tile::<f32, I, $m, 3, AT>(t),
                        ($m, 2) if $m <= I::PACKED_ROWS => tile::<f32, I, $m, 2, AT>(t),
                        ($m, 1) if $m <= I::PACKED_ROWS => tile::<f32, I, $m, 1, AT>(t),
                    )*
                    _ => unreachable!("tile {mr} × {nv}"),
                }
            };
        }
        go!(1, 2, 3, 4, 5, 6, 7, 8)
    }

    /// `C[0..M, 0..min(w, NV·W)] (+)= A[0..M, 0..kc] · Bslab[kc × NV·W]` (`T` is f32; the
    /// tile's pointers are read as `T`'s). `A[i, kk]` is at `a + i·lda + kk` (row-major), or at
    /// `a + kk·lda + i` when `AT` (`A` stored transposed, as the weight gradient's `Hᵀ`). Each
    /// element is the sum over `kk` in increasing order, one FMA per term from zero, then added
    /// to `C` (when `load_c`): the same operations on either instruction set, whatever the
    /// tile's shape.
    #[inline(always)]
    unsafe fn tile<T: Lane<I>, I: Isa, const M: usize, const NV: usize, const AT: bool>(t: Tile) {
        let Tile {
            kc,
            lda,
            ldb,
            ldc,
            w,
            load_c,
            ..
        } = t;
        let (a, b, c) = (t.a as *const T, t.b as *const T, t.c as *mut T);
        let lw = T::W;
        let masks: [u32; NV] = core::array::from_fn(|v| T::mask(0, w.saturating_sub(v * lw)));
        if load_c {
            // The block of C is read only after the k loop; ask for it now (in the RNN it
            // often comes from memory: rows the input projection wrote long before).
            for i in 0..M {
                for v in 0..NV {
                    let p = c.add(i * ldc + v * lw) as *const i8;
                    _mm_prefetch::<_MM_HINT_T0>(p);
                    _mm_prefetch::<_MM_HINT_T0>(p.add(4 * lw - 1));
                }
            }
        }
        let full = T::mask(0, lw);
        let mut acc = [[T::splat(T::zero()); NV]; M];
        let rows: [*const T; M] = core::array::from_fn(|i| a.add(i * lda));
        let mut bp = b;
        let mut at = a;
        for kk in 0..kc {
            // A loop, not `array::from_fn`: see `gemm/tiles.rs`.
            let mut bv = [T::splat(T::zero()); NV];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = T::load(full, bp.add(v * lw));
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = if AT {
                    T::splat(*at.add(i))
                } else {
                    T::splat(*rows[i].add(kk))
                };
                for (v, x) in row.iter_mut().enumerate() {
                    *x = T::fmadd(ai, bv[v], *x);
                }
            }
            bp = bp.add(ldb);
            at = at.add(lda);
        }
        for (i, row) in acc.iter().enumerate() {
            for (v, x) in row.iter().enumerate() {
                if masks[v] == 0 {
                    continue;
                }
                let p = c.add(i * ldc + v * lw);
                let out = if load_c {
                    T::add(T::load(masks[v], p), *x)
                } else {
                    *x
                };
                T::store(masks[v], p, out);
            }
        }
    }

    /// See [`super::gemm_packed_rhs`]; `bp` is the panel layout of `k × n`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_body<I: Isa>(
        c: &mut [f32],
        ldc: usize,
        add: bool,
        a: &[f32],
        lda: usize,
        m: usize,
        k: usize,
        n: usize,
        bp: &[f32],
    ) where
        f32: Lane<I>,
    {
        // Slab, then panel (then run of the panel's columns), then row block: one slab of one
        // panel of B (KC × 48 floats, 48 KiB) serves every row block while it is in L1 / L2,
        // so B larger than L2 still streams from memory only once per product.
        for k0 in (0..k).step_by(KC) {
            let kc = (k - k0).min(KC);
            for Panel { j0, w, width, off } in panels(n, k) {
                let b = bp.as_ptr().add(off + k0 * width);
                for c0 in (0..width).step_by(I::PACKED_COLS) {
                    let nv = (width - c0).min(I::PACKED_COLS) / <f32 as Lane<I>>::W;
                    for r0 in (0..m).step_by(I::PACKED_ROWS) {
                        let tile = Tile {
                            kc,
                            a: a.as_ptr().add(r0 * lda + k0),
                            lda,
                            b: b.add(c0),
                            ldb: width,
                            c: c.as_mut_ptr().add(r0 * ldc + j0 + c0),
                            ldc,
                            w: w - c0,
                            load_c: add || k0 > 0,
                        };
                        dispatch::<I, false>((m - r0).min(I::PACKED_ROWS), nv, tile);
                    }
                }
            }
        }
    }

    /// One block of `mr` rows of `C` (`t.c`, `n` columns) against every panel of one slab of
    /// `Aᵀ·B`'s packed `B` (`t.b`: its panels one after another, `t.kc` rows each; `t.a` the
    /// block of `Aᵀ`, `kc` rows of `mr` floats); `t.ldb` and `t.w` are ignored (each panel's
    /// own are used).
    #[inline(always)]
    unsafe fn at_b_body<I: Isa>(mr: usize, n: usize, t: Tile)
    where
        f32: Lane<I>,
    {
        for Panel { j0, w, width, off } in panels(n, t.kc) {
            for c0 in (0..width).step_by(I::PACKED_COLS) {
                let nv = (width - c0).min(I::PACKED_COLS) / <f32 as Lane<I>>::W;
                for r0 in (0..mr).step_by(I::PACKED_ROWS) {
                    let tile = Tile {
                        a: t.a.add(r0),
                        b: t.b.add(off + c0),
                        ldb: width,
                        c: t.c.add(r0 * t.ldc + j0 + c0),
                        w: w - c0,
                        ..t
                    };
                    dispatch::<I, true>((mr - r0).min(I::PACKED_ROWS), nv, tile);
                }
            }
        }
    }

    /// [`gemm_body`] and [`at_b_body`] for one instruction set, its features enabled.
    trait Entry: Isa {
        #[allow(clippy::too_many_arguments)]
        unsafe fn gemm(
            c: &mut [f32],
            ldc: usize,
            add: bool,
            a: &[f32],
            lda: usize,
            m: usize,
            k: usize,
            n: usize,
            bp: &[f32],
        );
        unsafe fn at_b(mr: usize, n: usize, t: Tile);
    }

    macro_rules! entry_for {
        ($isa:ty, $features:literal) => {
            impl Entry for $isa {
                #[target_feature(enable = $features)]
                #[allow(clippy::too_many_arguments)]
                unsafe fn gemm(
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
                    gemm_body::<Self>(c, ldc, add, a, lda, m, k, n, bp)
                }
                #[target_feature(enable = $features)]
                unsafe fn at_b(mr: usize, n: usize, t: Tile) {
                    at_b_body::<Self>(mr, n, t)
                }
            }
        };
    }
    entry_for!(Avx512, "avx512f");
    entry_for!(Avx2, "avx2,fma");

    /// See [`super::gemm_packed_rhs`]; `bp` is the panel layout of `k × n`.
    ///
    /// # Safety
    /// `isa` must be what [`crate::isa::tiles_isa`] found; the slices must hold the shapes and
    /// strides given.
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn gemm(
        isa: TileIsa,
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
        match isa {
            TileIsa::Avx512 => Avx512::gemm(c, ldc, add, a, lda, m, k, n, bp),
            TileIsa::Avx2 => Avx2::gemm(c, ldc, add, a, lda, m, k, n, bp),
        }
    }

    /// One row block (`mr` ≤ [`super::MR`] rows) of `Aᵀ·B` against one packed slab of `B`'s
    /// `n` columns (see [`at_b_body`]).
    ///
    /// # Safety
    /// `isa` must be what [`crate::isa::tiles_isa`] found; `t` must describe valid memory for the
    /// shapes.
    pub(super) unsafe fn at_b_panels(isa: TileIsa, mr: usize, n: usize, t: Tile) {
        match isa {
            TileIsa::Avx512 => Avx512::at_b(mr, n, t),
            TileIsa::Avx2 => Avx2::at_b(mr, n, t),
        }
    }
}
