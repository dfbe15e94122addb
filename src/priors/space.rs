//! Spatial embeddings (METHOD.md §3): D\* from soma positions and D from a regular 3-D grid.
//! Both are symmetric N×N Euclidean distance matrices with a zero diagonal.
use crate::error::{Error, Result};
use faer::Mat;

/// Size of one EM voxel in micrometres: 4 × 4 × 40 nm (METHOD.md §1).
pub const VOXEL_UM: [f64; 3] = [0.004, 0.004, 0.040];

/// How soma coordinates are scaled before taking distances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SomaScale {
    /// The paper: each axis min–max normalized to [0, 1] (an axis on which all somata share
    /// one coordinate contributes 0).
    #[default]
    MinMaxPerAxis,
    /// Physical distance in µm (voxel size 4 × 4 × 40 nm).
    Micrometres,
}

/// D\*: Euclidean distances between soma positions given in EM voxels `(x, y, z)`.
pub fn soma_distance(positions_vox: &[[i64; 3]], scale: SomaScale) -> Mat<f64> {
    let n = positions_vox.len();
    let coords: Vec<[f64; 3]> = match scale {
        SomaScale::Micrometres => positions_vox
            .iter()
            .map(|p| std::array::from_fn(|a| p[a] as f64 * VOXEL_UM[a]))
            .collect(),
        SomaScale::MinMaxPerAxis => {
            let mut lo = [i64::MAX; 3];
            let mut hi = [i64::MIN; 3];
            for p in positions_vox {
                for a in 0..3 {
                    lo[a] = lo[a].min(p[a]);
                    hi[a] = hi[a].max(p[a]);
                }
            }
            positions_vox
                .iter()
                .map(|p| {
                    std::array::from_fn(|a| {
                        let range = (hi[a] - lo[a]) as f64;
                        if range > 0.0 {
                            (p[a] - lo[a]) as f64 / range
                        } else {
                            0.0
                        }
                    })
                })
                .collect()
        }
    };
    euclidean(&coords, n)
}

/// Which regular grid holds the N units for D.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Grid {
    /// The paper profile: the cube `k × k × k` with `k = ⌈∛N⌉` (the most cubic grid holding
    /// N points), first N points in lexicographic order.
    #[default]
    MostCubic,
    /// The notebook profile: the user's grid tuple `(a, b, c)` with `a·b·c = N` exactly (the
    /// notebook raises otherwise; degenerate for prime N, e.g. `283 × 1 × 1`), points in the
    /// order of `np.meshgrid(arange(a), arange(b), arange(c))` raveled — numpy's default `xy`
    /// indexing, so the *second* axis varies slowest and the third fastest.
    Meshgrid([usize; 3]),
}

/// The grid dimensions [`grid_distance`] uses for `n` units.
pub fn grid_shape(n: usize, grid: Grid) -> Result<[usize; 3]> {
    match grid {
        Grid::MostCubic => {
            let mut k = (n as f64).cbrt().round() as usize;
            while k.saturating_pow(3) < n {
                k += 1;
            }
            while k > 0 && (k - 1).pow(3) >= n {
                k -= 1;
            }
            Ok([k, k, k])
        }
        Grid::Meshgrid(dims) => {
            let cap = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
            match cap {
                Some(c) if c == n => Ok(dims),
                _ => Err(Error::Invalid {
                    what: "grid".into(),
                    reason: format!(
                        "grid {}×{}×{} does not hold exactly N = {n} points (the notebook's \
                         network_grid must match number_of_nodes)",
                        dims[0], dims[1], dims[2]
                    ),
                }),
            }
        }
    }
}

/// The notebook's grid tuple for `n` units: its published `network_grid = (12, 13, 2)` for
/// N = 312 (field 6_6_2), otherwise the most cubic exact factorization `a ≥ b ≥ c`, `a·b·c = n`
/// (what a user must type for the notebook to run; `n × 1 × 1` for prime n).
pub fn notebook_grid_tuple(n: usize) -> [usize; 3] {
    if n == 312 {
        return [12, 13, 2];
    }
    let mut best = [n.max(1), 1, 1];
    let spread = |d: &[usize; 3]| d[0] - d[2];
    for c in 1..=n {
        if c * c * c > n {
            break;
        }
        if !n.is_multiple_of(c) {
            continue;
        }
        let m = n / c;
        for b in c..=m {
            if b * b > m {
                break;
            }
            if m.is_multiple_of(b) {
                let d = [m / b, b, c];
                if spread(&d) < spread(&best) {
                    best = d;
                }
            }
        }
    }
    best
}

/// D: Euclidean distances between `n` points of a unit-spacing 3-D grid. [`Grid::MostCubic`]:
/// the first `n` points in lexicographic order `(i, j, k)` with `k` fastest
/// (`itertools.product(range(a), range(b), range(c))`); [`Grid::Meshgrid`]: the notebook's
/// order. Errors when a meshgrid does not hold exactly `n` points.
pub fn grid_distance(n: usize, grid: Grid) -> Result<Mat<f64>> {
    let [a, b, c] = grid_shape(n, grid)?;
    let coords: Vec<[f64; 3]> = match grid {
        Grid::MostCubic => (0..n)
            .map(|p| [(p / (b * c)) as f64, ((p / c) % b) as f64, (p % c) as f64])
            .collect(),
        // ravel index p = (y·a + x)·c + z, coordinate (x, y, z)
        Grid::Meshgrid(_) => (0..n)
            .map(|p| [((p / c) % a) as f64, (p / (a * c)) as f64, (p % c) as f64])
            .collect(),
    };
    Ok(euclidean(&coords, n))
}

/// The notebook's soma coordinates: `np.array(positions.tolist()).reshape(3, -1)` reads the
/// N×3 array (one row per neuron) as 3×N, so "axis" `a` of neuron `j` is the flattened entry
/// `3N`-array`[a·N + j]` — coordinates of different neurons mixed together. [`soma_distance`] of
/// the result is the notebook's D\*.
pub fn scrambled_positions(positions_vox: &[[i64; 3]]) -> Vec<[i64; 3]> {
    let n = positions_vox.len();
    let flat: Vec<i64> = positions_vox.iter().flatten().copied().collect();
    (0..n)
        .map(|j| [flat[j], flat[n + j], flat[2 * n + j]])
        .collect()
}

fn euclidean(coords: &[[f64; 3]], n: usize) -> Mat<f64> {
    let mut d = Mat::<f64>::zeros(n, n);
    for j in 0..n {
        for i in 0..j {
            let v = (0..3)
                .map(|a| (coords[i][a] - coords[j][a]).powi(2))
                .sum::<f64>()
                .sqrt();
            d[(i, j)] = v;
            d[(j, i)] = v;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notebook_tuples() {
        assert_eq!(notebook_grid_tuple(312), [12, 13, 2]);
        assert_eq!(notebook_grid_tuple(283), [283, 1, 1]);
        assert_eq!(notebook_grid_tuple(64), [4, 4, 4]);
        assert_eq!(notebook_grid_tuple(60), [5, 4, 3]);
        for n in 1..200 {
            let [a, b, c] = notebook_grid_tuple(n);
            assert_eq!(a * b * c, n);
        }
    }

    #[test]
    fn most_cubic_shapes() {
        assert_eq!(grid_shape(1, Grid::MostCubic).unwrap(), [1, 1, 1]);
        assert_eq!(grid_shape(8, Grid::MostCubic).unwrap(), [2, 2, 2]);
        assert_eq!(grid_shape(9, Grid::MostCubic).unwrap(), [3, 3, 3]);
        assert_eq!(grid_shape(283, Grid::MostCubic).unwrap(), [7, 7, 7]);
        assert!(grid_shape(10, Grid::Meshgrid([3, 3, 1])).is_err());
        assert!(grid_shape(10, Grid::Meshgrid([5, 2, 1])).is_ok());
    }
}
