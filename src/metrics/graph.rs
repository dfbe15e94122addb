//! The undirected binary graph of a weight matrix, stored as adjacency bitsets.
//!
//! Rows are bitsets of `words = ⌈n/64⌉` u64 words so that the hot loops of the metrics
//! (triangle counts, breadth-first search over 1000 null graphs) are word-wide AND/OR/popcount
//! instead of pointer chasing. At n = 312 a row is 5 words and the whole graph 12 KiB.
use faer::MatRef;

use crate::error::{Error, Result};

/// An undirected simple graph (no self-loops, no multi-edges) on nodes `0..n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    n: usize,
    words: usize,
    bits: Vec<u64>,
}

impl Graph {
    /// The graph with `n` nodes and no edges.
    pub fn empty(n: usize) -> Graph {
        let words = n.div_ceil(64);
        Graph {
            n,
            words,
            bits: vec![0; n * words],
        }
    }

    /// Builds a graph from a list of undirected edges. Self-loops are dropped and repeated edges
    /// count once. Errors if a node is out of range.
    pub fn from_edges(n: usize, edges: &[(usize, usize)]) -> Result<Graph> {
        let mut g = Graph::empty(n);
        for &(u, v) in edges {
            if u >= n || v >= n {
                return Err(Error::Invalid {
                    what: "edge".into(),
                    reason: format!("({u}, {v}) names a node outside 0..{n}"),
                });
            }
            if u != v {
                g.add_edge(u, v);
            }
        }
        Ok(g)
    }

    /// Builds a graph from a dense row-major `n × n` 0/1 adjacency (any non-zero is an edge; an
    /// edge in either direction makes the undirected edge; the diagonal is ignored).
    pub fn from_dense(n: usize, adj: &[u8]) -> Result<Graph> {
        if adj.len() != n * n {
            return Err(Error::Invalid {
                what: "adjacency".into(),
                reason: format!("length {} is not n² = {}", adj.len(), n * n),
            });
        }
        let mut g = Graph::empty(n);
        for i in 0..n {
            for j in 0..n {
                if i != j && adj[i * n + j] != 0 {
                    g.add_edge(i, j);
                }
            }
        }
        Ok(g)
    }

    /// Dense row-major 0/1 adjacency (symmetric, zero diagonal).
    pub fn to_dense(&self) -> Vec<u8> {
        let mut a = vec![0u8; self.n * self.n];
        for i in 0..self.n {
            for j in self.neighbors(i) {
                a[i * self.n + j] = 1;
            }
        }
        a
    }

    /// Number of nodes.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of u64 words per adjacency row.
    pub fn words(&self) -> usize {
        self.words
    }

    /// Adjacency row of `u` as a bitset (bit `v` set iff u–v is an edge). Panics if `u >= n`.
    pub fn row(&self, u: usize) -> &[u64] {
        &self.bits[u * self.words..(u + 1) * self.words]
    }

    /// Whether u–v is an edge. Panics if out of range.
    pub fn has_edge(&self, u: usize, v: usize) -> bool {
        self.row(u)[v / 64] >> (v % 64) & 1 == 1
    }

    /// Adds the undirected edge u–v (u ≠ v). Panics if out of range.
    pub(crate) fn add_edge(&mut self, u: usize, v: usize) {
        self.bits[u * self.words + v / 64] |= 1 << (v % 64);
        self.bits[v * self.words + u / 64] |= 1 << (u % 64);
    }

    /// Removes the undirected edge u–v. Panics if out of range.
    pub(crate) fn remove_edge(&mut self, u: usize, v: usize) {
        self.bits[u * self.words + v / 64] &= !(1 << (v % 64));
        self.bits[v * self.words + u / 64] &= !(1 << (u % 64));
    }

    /// Removes every edge, keeping the allocation (null graphs reuse one `Graph`).
    pub(crate) fn clear(&mut self) {
        self.bits.fill(0);
    }

    /// Degree of `u`.
    pub fn degree(&self, u: usize) -> usize {
        self.row(u).iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Degrees of all nodes.
    pub fn degrees(&self) -> Vec<usize> {
        (0..self.n).map(|u| self.degree(u)).collect()
    }

    /// Number of undirected edges.
    pub fn num_edges(&self) -> usize {
        self.bits
            .iter()
            .map(|w| w.count_ones() as usize)
            .sum::<usize>()
            / 2
    }

    /// Neighbours of `u` in increasing order.
    pub fn neighbors(&self, u: usize) -> BitIter<'_> {
        BitIter::new(self.row(u))
    }

    /// Edges `(u, v)` with `u < v`, in increasing lexicographic order.
    pub fn edges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.n).flat_map(move |u| {
            self.neighbors(u)
                .filter(move |&v| v > u)
                .map(move |v| (u, v))
        })
    }
}

/// Iterator over the set bits of a bitset, in increasing order.
pub struct BitIter<'a> {
    words: &'a [u64],
    i: usize,
    cur: u64,
}

impl<'a> BitIter<'a> {
    pub(crate) fn new(words: &'a [u64]) -> BitIter<'a> {
        BitIter {
            words,
            i: 0,
            cur: words.first().copied().unwrap_or(0),
        }
    }
}

impl Iterator for BitIter<'_> {
    type Item = usize;
    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.cur == 0 {
            self.i += 1;
            if self.i >= self.words.len() {
                return None;
            }
            self.cur = self.words[self.i];
        }
        let b = self.cur.trailing_zeros() as usize;
        self.cur &= self.cur - 1;
        Some(self.i * 64 + b)
    }
}

/// numpy's default quantile (`method="linear"`, Hyndman & Fan type 7) of `values`, reproduced
/// operation for operation: virtual index `(n−1)·q`, and numpy's `_lerp`, which interpolates
/// from the upper neighbour when the fraction is ≥ 0.5 so the result is monotone and exact at
/// the ends. NaN if `values` is empty or holds a NaN (numpy propagates NaN the same way).
pub fn quantile_linear(values: &[f64], q: f64) -> f64 {
    let n = values.len();
    if n == 0 || values.iter().any(|v| v.is_nan()) {
        return f64::NAN;
    }
    let virt = (n - 1) as f64 * q;
    let prev = (virt.floor() as usize).min(n - 1);
    let next = (prev + 1).min(n - 1);
    let gamma = virt - prev as f64;
    let mut v = values.to_vec();
    // Selection instead of a full sort: O(n) for the N² = 97k entries at N = 312.
    let (_, &mut a, rest) = v.select_nth_unstable_by(prev, f64::total_cmp);
    let b = if next == prev {
        a
    } else {
        rest.iter().copied().fold(f64::INFINITY, f64::min)
    };
    let diff = b - a;
    if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    }
}

/// Quantile of |W| used as the edge threshold (0.9: the top decile).
pub const TOP_DECILE: f64 = 0.9;

/// The paper's binary graph of a weight matrix W (METHOD.md §6): the 0.9 quantile `t` of |W|
/// over all N² entries (diagonal included, numpy's linear interpolation); i–j is an edge iff
/// `|W_ij| > t` or `|W_ji| > t` (strictly: "exceeds"), self-loops removed.
///
/// Errors if W is not square, is empty, or holds a non-finite entry.
pub fn binarize_top_decile(w: MatRef<'_, f64>) -> Result<Graph> {
    binarize_quantile(w, TOP_DECILE)
}

/// [`binarize_top_decile`] at another quantile `q` in `[0, 1]`.
pub fn binarize_quantile(w: MatRef<'_, f64>, q: f64) -> Result<Graph> {
    let n = w.nrows();
    if w.ncols() != n || n == 0 {
        return Err(Error::Invalid {
            what: "W".into(),
            reason: format!(
                "must be square and non-empty, got {}×{}",
                w.nrows(),
                w.ncols()
            ),
        });
    }
    if !(0.0..=1.0).contains(&q) {
        return Err(Error::Invalid {
            what: "quantile".into(),
            reason: format!("{q} is not in [0, 1]"),
        });
    }
    let mut abs = Vec::with_capacity(n * n);
    for j in 0..n {
        for i in 0..n {
            let v = w[(i, j)];
            if !v.is_finite() {
                return Err(Error::Invalid {
                    what: "W".into(),
                    reason: format!("entry ({i}, {j}) is {v}; the graph needs finite weights"),
                });
            }
            abs.push(v.abs());
        }
    }
    let t = quantile_linear(&abs, q);
    let mut g = Graph::empty(n);
    for i in 0..n {
        for j in 0..n {
            if i != j && w[(i, j)].abs() > t {
                g.add_edge(i, j);
            }
        }
    }
    Ok(g)
}
