"""References for the notebook profile's small-worldness (METHOD.md §8).

Writes small_world_refs.json beside this script:
* `loops`: random symmetric 0/1 matrices WITH self-loops, and bctpy 0.6's `clustering_coef_bu`
  (per node) and `efficiency_bin` on them: the statistics of the notebook's null graphs.
* `sigma`: for a few graphs G (top-decile binarization of a random or structured W, as the
  notebook does it), the notebook's own σ code run verbatim with numpy's generator and 1000
  nulls, plus the Monte Carlo standard error of C_null and E_null, so a re-implementation with
  another generator can be checked within a few standard errors.

Run: ~/.cache/cortical-peers-venv/bin/python make_small_world_refs.py  (numpy, networkx, bctpy)
"""
import json
import os

import bct
import networkx as nx
import numpy as np

rng = np.random.default_rng(20261128)
out = {"bctpy": bct.__version__ if hasattr(bct, "__version__") else "0.6", "loops": [], "sigma": []}

for n, p in [(12, 0.3), (30, 0.18), (47, 0.5), (64, 0.1)]:
    u = rng.random((n, n))
    a = ((u + u.T) / 2 > 1 - p).astype(float)  # diagonal included, as the notebook's nulls
    out["loops"].append({
        "n": n,
        "adj": a.astype(int).ravel().tolist(),
        "clustering": bct.clustering_coef_bu(a).tolist(),
        "efficiency": float(bct.efficiency_bin(a)),
    })


def notebook_sigma(W, nperm, seed):
    """The notebook's model_metrics σ block, verbatim but for the seeded global generator."""
    np.random.seed(seed)
    RNN_weight_matrix = np.abs(W)
    thresh = np.quantile(RNN_weight_matrix, q=0.9)
    binary_weight_matrix = (RNN_weight_matrix > thresh).astype(int)
    G = nx.from_numpy_array(binary_weight_matrix)
    G.remove_edges_from(nx.selfloop_edges(G))
    A = nx.to_numpy_array(G)
    nodes = A.shape[0]
    clu = np.mean(bct.clustering_coef_bu(A))
    pth = bct.efficiency_bin(A)
    cluperm = np.zeros((nperm, 1))
    pthperm = np.zeros((nperm, 1))
    for perm in range(nperm):
        Wperm = np.random.rand(nodes, nodes)
        Wperm = np.matrix(Wperm)
        Wperm = Wperm + Wperm.T
        Wperm = np.divide(Wperm, 2)
        Aperm = np.where(Wperm > 0.7, 1, 0)
        cluperm[perm] = np.mean(bct.clustering_coef_bu(Aperm))
        pthperm[perm] = bct.efficiency_bin(Aperm)
    clunull = np.mean(cluperm)
    pthnull = np.mean(pthperm)
    smw = np.divide(np.divide(clu, clunull), np.divide(pthnull, pth))
    return {
        "c": float(clu), "efficiency": float(pth),
        "c_null": float(clunull), "efficiency_null": float(pthnull),
        "c_null_se": float(np.std(cluperm, ddof=1) / np.sqrt(nperm)),
        "efficiency_null_se": float(np.std(pthperm, ddof=1) / np.sqrt(nperm)),
        "sigma": float(smw), "nulls": nperm,
    }


for n, kind in [(40, "gaussian"), (80, "banded")]:
    if kind == "gaussian":
        W = rng.standard_normal((n, n))
    else:
        i, j = np.indices((n, n))
        W = np.exp(-np.abs(i - j) / 3.0) * (1 + 0.1 * rng.standard_normal((n, n)))
    rec = notebook_sigma(W, 1000, 7)
    rec.update({"n": n, "kind": kind, "w": W.ravel().tolist()})
    out["sigma"].append(rec)

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "small_world_refs.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", path)
