//! Clustering, path length, global efficiency and small-worldness σ (Humphries & Gurney 2008)
//! against density-matched Erdős–Rényi nulls.
//!
//! Conventions follow bctpy 0.6, the reference's implementation:
//! * clustering `clustering_coef_bu`: `C_i = (links among the neighbours of i)·2 / (k_i² − k_i)`,
//!   0 for `k_i < 2`; C is the mean over all nodes;
//! * characteristic path length `charpath(distance_bin(G))` with its defaults
//!   (`include_diagonal=False, include_infinite=True`): the mean shortest-path length over all
//!   ordered pairs `i ≠ j`, which is **+∞ as soon as one pair is disconnected**;
//! * global efficiency `efficiency_bin(G)`: the mean of `1/d_ij` over ordered pairs `i ≠ j`,
//!   with `1/∞ = 0` (the notebook's measure).
//!
//! σ = (C / C_null) / (L / L_null) with C_null, L_null the means over the null graphs. A
//! disconnected G therefore has σ = 0, and if any null graph is disconnected L_null = ∞ and
//! σ = ∞; [`SmallWorld`] reports how many nulls were disconnected so a caller can tell. At the
//! paper's density (≈ 19% of pairs at N = 312) a G(n, m) null is connected with overwhelming
//! probability.
//!
//! Every null graph k is drawn from its own generator `Xoshiro256PlusPlus::seed_from_u64` of a
//! SplitMix64 mix of `(seed, k)`, and the per-null results are reduced in index order, so σ is
//! the same for a seed whatever the number of rayon threads.
use rand::{Rng, RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use super::graph::{BitIter, Graph};

/// Shortest-path statistics of a graph.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathStats {
    /// Σ d_ij over connected ordered pairs i ≠ j.
    pub sum_dist: u64,
    /// Σ 1/d_ij over connected ordered pairs.
    pub sum_inv: f64,
    /// Number of ordered pairs i ≠ j with no path.
    pub disconnected: u64,
    /// Number of nodes.
    pub n: usize,
}

impl PathStats {
    /// bctpy `charpath` λ: mean distance over ordered pairs, +∞ if any pair is disconnected,
    /// NaN for fewer than two nodes.
    pub fn characteristic_path_length(&self) -> f64 {
        if self.n < 2 {
            return f64::NAN;
        }
        if self.disconnected > 0 {
            return f64::INFINITY;
        }
        self.sum_dist as f64 / (self.n * (self.n - 1)) as f64
    }

    /// Mean distance over the connected pairs only (bctpy `include_infinite=False`).
    pub fn mean_finite_path_length(&self) -> f64 {
        let pairs = (self.n * self.n.saturating_sub(1)) as u64 - self.disconnected;
        self.sum_dist as f64 / pairs as f64
    }

    /// bctpy `efficiency_bin` (global): mean of 1/d_ij over ordered pairs, 1/∞ = 0.
    pub fn global_efficiency(&self) -> f64 {
        if self.n < 2 {
            return f64::NAN;
        }
        self.sum_inv / (self.n * (self.n - 1)) as f64
    }
}

/// Reusable buffers for clustering and breadth-first search on graphs of one size.
#[derive(Debug, Clone)]
pub struct Workspace {
    words: usize,
    visited: Vec<u64>,
    frontier: Vec<u64>,
    next: Vec<u64>,
    /// per node: Σ over neighbours v of |N(u) ∩ N(v)| (twice the triangles at u)
    tri: Vec<u64>,
    /// per node: degree
    deg: Vec<u64>,
}

impl Workspace {
    /// Buffers for graphs with `n` nodes.
    pub fn new(n: usize) -> Workspace {
        let words = n.div_ceil(64);
        Workspace {
            words,
            visited: vec![0; words],
            frontier: vec![0; words],
            next: vec![0; words],
            tri: vec![0; n],
            deg: vec![0; n],
        }
    }
}

/// Whether the CPU has POPCNT. The crate is built for baseline x86-64, where `count_ones` is a
/// dozen instructions; the bitset loops below are mostly popcounts, so they are compiled a
/// second time with POPCNT enabled and picked at run time (`is_x86_feature_detected!` caches).
#[inline]
fn has_popcnt() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("popcnt")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Per-node binary clustering coefficients (bctpy `clustering_coef_bu`).
pub fn clustering_coefficients(g: &Graph) -> Vec<f64> {
    let mut ws = Workspace::new(g.n());
    triangle_sums(g, &mut ws);
    (0..g.n())
        .map(|u| node_clustering(ws.deg[u], ws.tri[u]))
        .collect()
}

#[inline]
fn node_clustering(k: u64, s: u64) -> f64 {
    if k < 2 {
        0.0
    } else {
        s as f64 / (k * k - k) as f64
    }
}

/// `ws.tri[u] = Σ_{v ∈ N(u)} |N(u) ∩ N(v)|`, visiting each edge once (u < v) and crediting
/// both ends: half the popcounts of the per-node formula.
fn triangle_sums(g: &Graph, ws: &mut Workspace) {
    #[cfg(target_arch = "x86_64")]
    if has_popcnt() {
        // SAFETY: the CPU supports POPCNT (checked just above).
        unsafe { triangle_sums_popcnt(g, ws) };
        return;
    }
    triangle_sums_impl(g, ws)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn triangle_sums_popcnt(g: &Graph, ws: &mut Workspace) {
    triangle_sums_impl(g, ws)
}

#[inline(always)]
fn triangle_sums_impl(g: &Graph, ws: &mut Workspace) {
    let n = g.n();
    ws.tri[..n].fill(0);
    for u in 0..n {
        let ru = g.row(u);
        ws.deg[u] = ru.iter().map(|w| w.count_ones() as u64).sum();
        // only neighbours v > u: mask the words below u's position
        for v in BitIter::new(ru).skip_while(|&v| v <= u) {
            let t: u64 = ru
                .iter()
                .zip(g.row(v))
                .map(|(a, b)| (a & b).count_ones() as u64)
                .sum();
            ws.tri[u] += t;
            ws.tri[v] += t;
        }
    }
}

/// Mean clustering using the workspace's buffers (no allocation).
pub fn mean_clustering_with(g: &Graph, ws: &mut Workspace) -> f64 {
    if g.n() == 0 {
        return f64::NAN;
    }
    triangle_sums(g, ws);
    (0..g.n())
        .map(|u| node_clustering(ws.deg[u], ws.tri[u]))
        .sum::<f64>()
        / g.n() as f64
}

/// Mean binary clustering coefficient C (NaN for an empty graph).
pub fn mean_clustering(g: &Graph) -> f64 {
    mean_clustering_with(g, &mut Workspace::new(g.n()))
}

/// All-pairs shortest-path statistics by one bitset breadth-first search per source: each
/// level ORs the rows of the frontier and masks the visited set, so a search costs at most
/// O(n · words) word operations, and allocates nothing.
pub fn path_stats_with(g: &Graph, ws: &mut Workspace) -> PathStats {
    #[cfg(target_arch = "x86_64")]
    if has_popcnt() {
        // SAFETY: the CPU supports POPCNT (checked just above).
        return unsafe { path_stats_popcnt(g, ws) };
    }
    path_stats_impl(g, ws)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn path_stats_popcnt(g: &Graph, ws: &mut Workspace) -> PathStats {
    path_stats_impl(g, ws)
}

#[inline(always)]
fn path_stats_impl(g: &Graph, ws: &mut Workspace) -> PathStats {
    let n = g.n();
    let words = g.words();
    debug_assert_eq!(ws.words, words);
    let mut counts_by_d = [0u64; 64];
    let mut far = Vec::new(); // (distance, count) beyond 63: only very sparse graphs
    let mut reached_total = 0u64;
    for s in 0..n {
        ws.visited.fill(0);
        ws.visited[s / 64] |= 1 << (s % 64);
        ws.frontier.fill(0);
        ws.frontier[s / 64] |= 1 << (s % 64);
        let mut d = 0usize;
        let mut reached = 0usize;
        // Stop as soon as every node is reached: in a dense graph (diameter 2–3) that skips the
        // last level, which would OR most rows only to find nothing new.
        while reached + 1 < n {
            ws.next.fill(0);
            for v in BitIter::new(&ws.frontier) {
                for (x, r) in ws.next.iter_mut().zip(g.row(v)) {
                    *x |= r;
                }
            }
            let mut found = 0u64;
            for k in 0..words {
                let nx = ws.next[k] & !ws.visited[k];
                ws.next[k] = nx;
                ws.visited[k] |= nx;
                found += nx.count_ones() as u64;
            }
            if found == 0 {
                break;
            }
            d += 1;
            reached += found as usize;
            reached_total += found;
            if d < 64 {
                counts_by_d[d] += found;
            } else {
                far.push((d, found));
            }
            std::mem::swap(&mut ws.frontier, &mut ws.next);
        }
    }
    let mut sum_dist = 0u64;
    let mut sum_inv = 0.0f64;
    for (d, &c) in counts_by_d.iter().enumerate().skip(1) {
        sum_dist += d as u64 * c;
        sum_inv += c as f64 / d as f64;
    }
    for &(d, c) in &far {
        sum_dist += d as u64 * c;
        sum_inv += c as f64 / d as f64;
    }
    let pairs = (n * n.saturating_sub(1)) as u64;
    PathStats {
        sum_dist,
        sum_inv,
        disconnected: pairs - reached_total,
        n,
    }
}

/// [`path_stats_with`] with a fresh workspace.
pub fn path_stats(g: &Graph) -> PathStats {
    path_stats_with(g, &mut Workspace::new(g.n()))
}

/// Characteristic path length L (bctpy conventions; +∞ if disconnected).
pub fn characteristic_path_length(g: &Graph) -> f64 {
    path_stats(g).characteristic_path_length()
}

/// Global efficiency (bctpy `efficiency_bin`).
pub fn global_efficiency(g: &Graph) -> f64 {
    path_stats(g).global_efficiency()
}

/// Fills `g` (n nodes, cleared) with a uniform random graph of exactly `m` edges, G(n, m).
/// Draws ordered pairs and rejects loops and repeats, which is uniform over unordered pairs;
/// above half density it deletes edges from the complete graph instead, so the expected number
/// of rejections stays below one per draw.
pub fn erdos_renyi_gnm_into(g: &mut Graph, m: usize, rng: &mut Xoshiro256PlusPlus) {
    let n = g.n();
    let total = n * n.saturating_sub(1) / 2;
    let m = m.min(total);
    g.clear();
    if m * 2 <= total {
        let mut placed = 0;
        while placed < m {
            let (u, v) = random_pair(n, rng);
            if u != v && !g.has_edge(u, v) {
                g.add_edge(u, v);
                placed += 1;
            }
        }
    } else {
        for u in 0..n {
            for v in u + 1..n {
                g.add_edge(u, v);
            }
        }
        let mut removed = 0;
        while removed < total - m {
            let (u, v) = random_pair(n, rng);
            if u != v && g.has_edge(u, v) {
                g.remove_edge(u, v);
                removed += 1;
            }
        }
    }
}

/// Two independent uniform integers below `n` from one u64: each 32-bit half goes through
/// Lemire's multiply-shift with its rejection step, so both are exactly uniform. Falls back to
/// `random_range` for n ≥ 2³² (never a brain network).
#[inline]
fn random_pair(n: usize, rng: &mut Xoshiro256PlusPlus) -> (usize, usize) {
    if n > u32::MAX as usize {
        return (rng.random_range(0..n), rng.random_range(0..n));
    }
    let n32 = n as u32;
    loop {
        let x = rng.next_u64();
        if let (Some(u), Some(v)) = (lemire32(x as u32, n32), lemire32((x >> 32) as u32, n32)) {
            return (u as usize, v as usize);
        }
    }
}

/// `⌊x·n / 2³²⌋` if x is not in the biased low slice, else None (probability < n / 2³²).
#[inline]
fn lemire32(x: u32, n: u32) -> Option<u32> {
    let prod = x as u64 * n as u64;
    let low = prod as u32;
    if low < n {
        let threshold = n.wrapping_neg() % n;
        if low < threshold {
            return None;
        }
    }
    Some((prod >> 32) as u32)
}

/// The generator of null graph `k` for `seed`.
pub fn null_rng(seed: u64, k: u64) -> Xoshiro256PlusPlus {
    let mut z = seed ^ k.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    Xoshiro256PlusPlus::seed_from_u64(z ^ (z >> 31))
}

/// Small-world analysis of one graph.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmallWorld {
    /// Mean clustering of G.
    pub c: f64,
    /// Characteristic path length of G.
    pub l: f64,
    /// Global efficiency of G.
    pub efficiency: f64,
    /// Mean clustering over the nulls.
    pub c_null: f64,
    /// Mean characteristic path length over the nulls (NaN for the notebook's method, which
    /// does not compute it).
    pub l_null: f64,
    /// Mean global efficiency over the nulls.
    pub efficiency_null: f64,
    /// σ = (C / C_null) / (L / L_null), or for the notebook's method
    /// (C / C_null) / (E_null / E).
    pub sigma: f64,
    /// Number of null graphs drawn.
    pub nulls: usize,
    /// How many null graphs were disconnected (each makes L_null infinite).
    pub disconnected_nulls: usize,
}

/// Small-worldness σ of `g` against `nulls` density-matched G(n, m) graphs (m = edges of g),
/// computed in parallel, deterministic in `seed`. See the module docs for the conventions.
pub fn small_world(g: &Graph, nulls: usize, seed: u64) -> SmallWorld {
    let n = g.n();
    let m = g.num_edges();
    let stats = path_stats(g);
    let c = mean_clustering(g);
    let l = stats.characteristic_path_length();
    let per_null = over_nulls(n, nulls, seed, |h, ws, rng| {
        erdos_renyi_gnm_into(h, m, rng);
        let p = path_stats_with(h, ws);
        [
            mean_clustering_with(h, ws),
            p.characteristic_path_length(),
            p.global_efficiency(),
        ]
    });
    let disconnected_nulls = per_null.iter().filter(|p| p[1].is_infinite()).count();
    let [c_null, l_null, efficiency_null] = means(&per_null);
    SmallWorld {
        c,
        l,
        efficiency: stats.global_efficiency(),
        c_null,
        l_null,
        efficiency_null,
        sigma: (c / c_null) / (l / l_null),
        nulls,
        disconnected_nulls,
    }
}

/// Runs `draw` on `nulls` null graphs in parallel and returns its results in index order.
/// Chunks of 8 nulls share one graph and one workspace (allocation per chunk, not per null),
/// and the chunking is fixed, so the work split never changes a result.
fn over_nulls<F>(n: usize, nulls: usize, seed: u64, draw: F) -> Vec<[f64; 3]>
where
    F: Fn(&mut Graph, &mut Workspace, &mut Xoshiro256PlusPlus) -> [f64; 3] + Sync,
{
    let mut per_null = vec![[0.0f64; 3]; nulls];
    per_null
        .par_chunks_mut(8)
        .enumerate()
        .for_each(|(chunk, out)| {
            let mut h = Graph::empty(n);
            let mut ws = Workspace::new(n);
            for (i, slot) in out.iter_mut().enumerate() {
                let mut rng = null_rng(seed, (chunk * 8 + i) as u64);
                *slot = draw(&mut h, &mut ws, &mut rng);
            }
        });
    per_null
}

fn means(per_null: &[[f64; 3]]) -> [f64; 3] {
    let k = per_null.len() as f64;
    std::array::from_fn(|a| per_null.iter().map(|p| p[a]).sum::<f64>() / k)
}

/// The published notebook's small-worldness (METHOD.md §8, `--profile notebook`):
/// σ = (C / C_null) / (E_null / E) with E the global efficiency (bctpy `efficiency_bin`) in
/// place of the path length, and null graphs that are *not* density-matched: a uniform
/// n × n matrix U, symmetrized `(U + Uᵀ)/2`, thresholded at 0.7 (about 18% of pairs, whatever
/// the density of G), *diagonal included*. The self-loops change bctpy's `clustering_coef_bu`
/// of the nulls (a looped node counts itself among its neighbours; see
/// [`clustering_with_loops`]) but not their efficiency. The notebook draws with numpy's global
/// generator; here each null has its own seeded generator as in [`small_world`], so the null
/// means agree in distribution, not bit for bit.
pub fn small_world_notebook(g: &Graph, nulls: usize, seed: u64) -> SmallWorld {
    let n = g.n();
    let stats = path_stats(g);
    let c = mean_clustering(g);
    let e = stats.global_efficiency();
    let per_null = over_nulls(n, nulls, seed, |h, ws, rng| {
        let loops = notebook_null_into(h, rng);
        let p = path_stats_with(h, ws);
        let cl = clustering_with_loops(h, &loops, ws);
        [
            cl.iter().sum::<f64>() / n as f64,
            f64::NAN,
            p.global_efficiency(),
        ]
    });
    let [c_null, _, efficiency_null] = means(&per_null);
    SmallWorld {
        c,
        l: stats.characteristic_path_length(),
        efficiency: e,
        c_null,
        l_null: f64::NAN,
        efficiency_null,
        sigma: (c / c_null) / (efficiency_null / e),
        nulls,
        disconnected_nulls: 0,
    }
}

/// One null graph of the notebook: pair `i < j` is an edge when `(U_ij + U_ji)/2 > 0.7`; node
/// `i` has a self-loop when `U_ii > 0.7`. Writes the loop-free part into `h` and returns the
/// loop flags.
fn notebook_null_into(h: &mut Graph, rng: &mut Xoshiro256PlusPlus) -> Vec<bool> {
    let n = h.n();
    h.clear();
    let mut loops = vec![false; n];
    for (i, looped) in loops.iter_mut().enumerate() {
        *looped = rng.random::<f64>() > 0.7;
        for j in i + 1..n {
            if (rng.random::<f64>() + rng.random::<f64>()) / 2.0 > 0.7 {
                h.add_edge(i, j);
            }
        }
    }
    loops
}

/// bctpy `clustering_coef_bu` of a graph whose nodes may carry self-loops (`loops[u]`): bctpy
/// takes the neighbours `V` of `u` as the non-zeros of row `u`, so a looped `u` is its own
/// neighbour, and sums the whole sub-matrix `G[V, V]`, diagonal included:
/// `C_u = (2 t_u + |N(u) ∩ loops| + [u looped](2 k_u + 1)) / (k'² − k')` with `k_u` the
/// loop-free degree, `2 t_u = Σ_{v ∈ N(u)} |N(u) ∩ N(v)|` and `k' = k_u + [u looped]`; 0 when
/// `k' < 2`.
pub fn clustering_with_loops(g: &Graph, loops: &[bool], ws: &mut Workspace) -> Vec<f64> {
    triangle_sums(g, ws);
    (0..g.n())
        .map(|u| {
            let k = ws.deg[u];
            let looped_nbrs = BitIter::new(g.row(u)).filter(|&v| loops[v]).count() as u64;
            let own = u64::from(loops[u]);
            let kk = k + own;
            if kk < 2 {
                0.0
            } else {
                (ws.tri[u] + looped_nbrs + own * (2 * k + 1)) as f64 / (kk * kk - kk) as f64
            }
        })
        .collect()
}

/// σ of [`small_world`].
pub fn small_worldness(g: &Graph, nulls: usize, seed: u64) -> f64 {
    small_world(g, nulls, seed).sigma
}
