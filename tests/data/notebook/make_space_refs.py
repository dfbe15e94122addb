"""References for the notebook profile's D* and D (METHOD.md §8), from the notebook's own code.

Writes space_refs.json beside this script:
* `synthetic`: positions (N x 3 voxel integers) and the notebook's D* (positions reshaped with
  reshape(3, -1), each "axis" min-max normalized, scipy pdist) and its D for a grid tuple
  (the WD regularizer's np.meshgrid code);
* `field_6_6_2`: the same D* and D for the real field 6_6_2 with its published grid (12, 13, 2),
  stored as the row sums and a few rows (the full 312 x 312 matrices are not needed to pin them).

Run: ~/.cache/cortical-peers-venv/bin/python make_space_refs.py [path/to/data/microns]
"""
import json
import os
import sys

import numpy as np
from scipy import spatial


def notebook_dstar(positions):
    cordinates = np.array(positions.tolist()).reshape(3, -1)
    lo = cordinates.min(axis=1, keepdims=True)
    hi = cordinates.max(axis=1, keepdims=True)
    norm = (cordinates - lo) / (hi - lo)
    coords = [norm[0], norm[1], norm[2]]
    return spatial.distance.squareform(spatial.distance.pdist(np.transpose(coords)))


def notebook_grid(network_structure):
    nx = np.arange(network_structure[0])
    ny = np.arange(network_structure[1])
    nz = np.arange(network_structure[2])
    [x, y, z] = np.meshgrid(nx, ny, nz)
    coords = [x.ravel(), y.ravel(), z.ravel()]
    return spatial.distance.squareform(spatial.distance.pdist(np.transpose(coords)))


here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(5)
pos = rng.integers(0, 100_000, size=(12, 3))
out = {
    "synthetic": {
        "positions": pos.tolist(),
        "dstar": notebook_dstar(pos).ravel().tolist(),
        "grid": [3, 2, 2],
        "d": notebook_grid((3, 2, 2)).ravel().tolist(),
    }
}
data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "../../../../shared/data/microns")
p = os.path.join(data, "6_6_2", "positions_6_6_2.npy")
positions = np.load(p, allow_pickle=True)
ds = notebook_dstar(positions)
d = notebook_grid((12, 13, 2))
out["field_6_6_2"] = {
    "grid": [12, 13, 2],
    "dstar_row_sums": ds.sum(axis=1).tolist(),
    "dstar_rows_0_1": ds[:2].ravel().tolist(),
    "d_row_sums": d.sum(axis=1).tolist(),
    "d_rows_0_1": d[:2].ravel().tolist(),
}
with open(os.path.join(here, "space_refs.json"), "w") as f:
    json.dump(out, f)
print("wrote space_refs.json")
