//! Clauset–Newman–Moore greedy modularity communities and Newman's Q, reproducing networkx 3.6
//! (`greedy_modularity_communities(G)`, `weight=None`, `resolution=1`, `cutoff=1`,
//! `best_n=None`, and `community.modularity`) exactly: same merges, same ties, same order of
//! communities, same floating-point operations.
//!
//! How networkx orders things, and how that is reproduced here:
//! * Its `MappedQueue` heaps hold `(−ΔQ, (row, col))` and break priority ties by the element,
//!   so the merge taken is the pair with the largest ΔQ and, among equal ΔQ, the
//!   lexicographically smallest `(u, v)`. ΔQ is symmetric bit for bit (every update writes the
//!   same value to both `(v, w)` and `(w, v)`), so the winner always has `u < v`, and
//!   networkx merges community `u` into `v` (key `v` survives). Only pairs of adjacent
//!   communities have a ΔQ entry; the heaps are an implementation detail of finding that
//!   maximum, so here each row keeps its best `(ΔQ, col)` and the global pick scans the rows.
//! * It stops before the first merge with ΔQ < 0 (a merge with ΔQ = 0 is taken), or when no
//!   adjacent pair is left (the communities are the connected components).
//! * The result is the surviving communities in the order of their keys (a Python dict keeps
//!   insertion order, and a merge reassigns the existing key `v`), stably sorted by size,
//!   largest first.
//! * ΔQ arithmetic: `q0 = 1/m`, `a_i = k_i·q0·0.5`, initial `ΔQ_uv = q0·1 − (a_u·a_v + a_u·a_v)`;
//!   on merging u into v, for each neighbour w of either:
//!   both → `ΔQ_vw + ΔQ_uw`; only v → `ΔQ_vw − (a_u·a_w + a_w·a_u)`;
//!   only u → `ΔQ_uw − (a_v·a_w + a_w·a_v)`; then `a_v += a_u`.
use super::graph::Graph;

/// The CNM partition of `g` as node lists (each sorted ascending), in networkx's order: largest
/// community first, ties in the order of the community's surviving key. An edgeless graph gives
/// singletons (as networkx does).
pub fn cnm_communities(g: &Graph) -> Vec<Vec<usize>> {
    let n = g.n();
    let m = g.num_edges();
    if m == 0 {
        return (0..n).map(|i| vec![i]).collect();
    }
    let mut st = Cnm::new(g, m);
    let mut communities = n;
    // `while len(communities) > cutoff` with cutoff = 1
    while communities > 1 {
        let Some((u, v, dq)) = st.best() else { break };
        if dq < 0.0 {
            break;
        }
        st.merge(u, v);
        communities -= 1;
    }
    let mut out: Vec<Vec<usize>> = (0..n)
        .filter(|&k| st.alive[k])
        .map(|k| {
            let mut c = std::mem::take(&mut st.members[k]);
            c.sort_unstable();
            c
        })
        .collect();
    // Python's sort is stable: equal sizes keep key order.
    out.sort_by_key(|c| std::cmp::Reverse(c.len()));
    out
}

/// Newman's modularity Q of a partition (γ = 1), with networkx's `community.modularity`
/// arithmetic: `Σ_c L_c/m − (Σ_{i∈c} k_i)²/(2m)²`, summed in the order of `communities`.
/// NaN for a graph without edges (networkx divides by zero there).
pub fn modularity(g: &Graph, communities: &[Vec<usize>]) -> f64 {
    let deg = g.degrees();
    let deg_sum: usize = deg.iter().sum();
    if deg_sum == 0 {
        return f64::NAN;
    }
    let m = deg_sum as f64 / 2.0;
    let norm = 1.0 / (deg_sum as f64 * deg_sum as f64);
    let mut label = vec![usize::MAX; g.n()];
    for (ci, c) in communities.iter().enumerate() {
        for &i in c {
            label[i] = ci;
        }
    }
    let mut q = 0.0;
    for (ci, c) in communities.iter().enumerate() {
        let mut l_c = 0usize;
        let mut k_c = 0usize;
        for &i in c {
            k_c += deg[i];
            l_c += g.neighbors(i).filter(|&j| j > i && label[j] == ci).count();
        }
        q += l_c as f64 / m - (k_c * k_c) as f64 * norm;
    }
    q
}

/// CNM communities and their modularity: `(Q, label)` where `label[i]` is the index of node
/// `i`'s community in [`cnm_communities`]'s order. Q is NaN for a graph without edges.
pub fn modularity_cnm(g: &Graph) -> (f64, Vec<usize>) {
    let communities = cnm_communities(g);
    let q = modularity(g, &communities);
    let mut label = vec![0; g.n()];
    for (ci, c) in communities.iter().enumerate() {
        for &i in c {
            label[i] = ci;
        }
    }
    (q, label)
}

/// Dense CNM state: ΔQ for every pair of adjacent communities, each row's best entry.
struct Cnm {
    n: usize,
    words: usize,
    /// adjacency of communities (bit (r, c) set iff ΔQ_rc exists)
    adj: Vec<u64>,
    dq: Vec<f64>,
    a: Vec<f64>,
    /// best entry of each row: max ΔQ, then smallest column
    best: Vec<Option<(f64, usize)>>,
    alive: Vec<bool>,
    members: Vec<Vec<usize>>,
    scratch: Vec<u64>,
}

/// Whether `(x, cx)` comes before `(y, cy)` in networkx's heap order (−ΔQ, col).
#[inline]
fn before(x: f64, cx: usize, y: f64, cy: usize) -> bool {
    x > y || (x == y && cx < cy)
}

impl Cnm {
    fn new(g: &Graph, m: usize) -> Cnm {
        let n = g.n();
        let words = g.words();
        let q0 = 1.0 / m as f64;
        let a: Vec<f64> = (0..n).map(|i| g.degree(i) as f64 * q0 * 0.5).collect();
        let mut dq = vec![0.0; n * n];
        let mut adj = vec![0u64; n * words];
        for u in 0..n {
            adj[u * words..(u + 1) * words].copy_from_slice(g.row(u));
            for v in g.neighbors(u) {
                dq[u * n + v] = q0 * 1.0 - (a[u] * a[v] + a[u] * a[v]);
            }
        }
        let mut st = Cnm {
            n,
            words,
            adj,
            dq,
            a,
            best: vec![None; n],
            alive: vec![true; n],
            members: (0..n).map(|i| vec![i]).collect(),
            scratch: vec![0; words],
        };
        for r in 0..n {
            st.rescan(r);
        }
        st
    }

    fn has(&self, r: usize, c: usize) -> bool {
        self.adj[r * self.words + c / 64] >> (c % 64) & 1 == 1
    }

    fn set(&mut self, r: usize, c: usize, on: bool) {
        let w = &mut self.adj[r * self.words + c / 64];
        if on {
            *w |= 1 << (c % 64);
        } else {
            *w &= !(1 << (c % 64));
        }
    }

    fn rescan(&mut self, r: usize) {
        let mut best: Option<(f64, usize)> = None;
        let row = &self.adj[r * self.words..(r + 1) * self.words];
        for c in super::graph::BitIter::new(row) {
            let x = self.dq[r * self.n + c];
            if best.is_none_or(|(y, cy)| before(x, c, y, cy)) {
                best = Some((x, c));
            }
        }
        self.best[r] = best;
    }

    /// The pair networkx pops next, or None when fewer than two rows have entries (its
    /// `while len(H) > 1` ends the generator).
    fn best(&self) -> Option<(usize, usize, f64)> {
        let mut pick: Option<(f64, usize, usize)> = None;
        let mut rows = 0;
        for r in 0..self.n {
            if let Some((x, c)) = self.best[r] {
                rows += 1;
                // rows are scanned in increasing order, so a tie keeps the smaller row
                if pick.is_none_or(|(y, _, _)| x > y) {
                    pick = Some((x, r, c));
                }
            }
        }
        if rows <= 1 {
            return None;
        }
        pick.map(|(x, r, c)| (r, c, x))
    }

    /// Merges community `u` into `v` (networkx: `communities[v] |= communities[u]`).
    fn merge(&mut self, u: usize, v: usize) {
        let n = self.n;
        let (au, av) = (self.a[u], self.a[v]);
        // all_nbrs = (N(u) ∪ N(v)) − {u, v}
        for k in 0..self.words {
            self.scratch[k] = self.adj[u * self.words + k] | self.adj[v * self.words + k];
        }
        self.scratch[u / 64] &= !(1 << (u % 64));
        self.scratch[v / 64] &= !(1 << (v % 64));
        let nbrs = std::mem::take(&mut self.scratch);
        for w in super::graph::BitIter::new(&nbrs) {
            let in_u = self.has(u, w);
            let in_v = self.has(v, w);
            let aw = self.a[w];
            let x = if in_u && in_v {
                self.dq[v * n + w] + self.dq[u * n + w]
            } else if in_v {
                self.dq[v * n + w] - (au * aw + aw * au)
            } else {
                self.dq[u * n + w] - (av * aw + aw * av)
            };
            self.dq[v * n + w] = x;
            self.dq[w * n + v] = x;
            self.set(v, w, true);
            self.set(w, v, true);
            // row w: entries (w, u) goes, (w, v) changes; rescan only if its best was one of them
            self.set(w, u, false);
            match self.best[w] {
                Some((_, c)) if c == u || c == v => self.rescan(w),
                Some((y, c)) if !before(x, v, y, c) => {}
                _ => self.best[w] = Some((x, v)),
            }
        }
        self.scratch = nbrs;
        for k in 0..self.words {
            self.adj[u * self.words + k] = 0;
        }
        self.set(v, u, false);
        self.best[u] = None;
        self.rescan(v);
        self.a[v] += self.a[u];
        self.a[u] = 0.0;
        let mu = std::mem::take(&mut self.members[u]);
        self.members[v].extend(mu);
        self.alive[u] = false;
    }
}
