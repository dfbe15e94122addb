//! Newman's degree assortativity (networkx `degree_assortativity_coefficient` on the undirected
//! graph): the Pearson correlation of the degrees at the two ends of every edge, each edge
//! counted in both directions.
use super::graph::Graph;

/// Degree–degree correlation r in [−1, 1]. With `M = 2m` edge ends, `S1 = Σ k`, `S2 = Σ k²`
/// and `Sxy = Σ k_u k_v` over ends, `r = (M·Sxy − S1²) / (M·S2 − S1²)`. The sums are integers,
/// so they are accumulated exactly (i128) and r is a single division of the two exact integers
/// (networkx goes through a normalized float mixing matrix and agrees to ~1e-15). NaN when every edge joins nodes of
/// one degree (zero variance, as networkx) or the graph has no edges.
pub fn degree_assortativity(g: &Graph) -> f64 {
    let deg = g.degrees();
    let (mut ends, mut s1, mut s2, mut sxy) = (0i128, 0i128, 0i128, 0i128);
    for (u, v) in g.edges() {
        let (x, y) = (deg[u] as i128, deg[v] as i128);
        ends += 2;
        s1 += x + y;
        s2 += x * x + y * y;
        sxy += 2 * x * y;
    }
    let num = ends * sxy - s1 * s1;
    let den = ends * s2 - s1 * s1;
    if den == 0 {
        return f64::NAN;
    }
    num as f64 / den as f64
}
