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
    /// The notebook profile: the user's grid tuple (e.g. `[283, 1, 1]`, degenerate for prime N);
    /// first N points in lexicographic order. Must hold at least N points.
    Explicit([usize; 3]),
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
        Grid::Explicit(dims) => {
            let cap = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
            match cap {
                Some(c) if c >= n => Ok(dims),
                _ => Err(Error::Invalid {
                    what: "grid".into(),
                    reason: format!(
                        "explicit grid {}×{}×{} holds fewer than N = {n} points",
                        dims[0], dims[1], dims[2]
                    ),
                }),
            }
        }
    }
}

/// D: Euclidean distances between the first `n` points of a unit-spacing 3-D grid, in
/// lexicographic order `(i, j, k)` with `k` fastest (`itertools.product(range(a), range(b),
/// range(c))`). Errors when an explicit grid holds fewer than `n` points.
pub fn grid_distance(n: usize, grid: Grid) -> Result<Mat<f64>> {
    let [_, b, c] = grid_shape(n, grid)?;
    let coords: Vec<[f64; 3]> = (0..n)
        .map(|p| [(p / (b * c)) as f64, ((p / c) % b) as f64, (p % c) as f64])
        .collect();
    Ok(euclidean(&coords, n))
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
    fn most_cubic_shapes() {
        assert_eq!(grid_shape(1, Grid::MostCubic).unwrap(), [1, 1, 1]);
        assert_eq!(grid_shape(8, Grid::MostCubic).unwrap(), [2, 2, 2]);
        assert_eq!(grid_shape(9, Grid::MostCubic).unwrap(), [3, 3, 3]);
        assert_eq!(grid_shape(283, Grid::MostCubic).unwrap(), [7, 7, 7]);
        assert!(grid_shape(10, Grid::Explicit([3, 3, 1])).is_err());
    }
}
