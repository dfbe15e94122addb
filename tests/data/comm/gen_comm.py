"""Reference communicability C(A) = expm(S^-1/2 A S^-1/2), S = diag(row sums + eps), diag 0,
for tests/priors.rs. Run: ~/.cache/cortical-peers-venv/bin/python gen_comm.py (scipy 1.17).
Cases: a small dense non-negative matrix with a zero row, and the connectome of field 5_3_8
(read from ../shared/data/microns at generation time; only C is stored, not the data)."""
import json

import numpy as np
import scipy.linalg


def comm(a, eps):
    d = 1.0 / np.sqrt(a.sum(axis=1) + eps)
    c = scipy.linalg.expm(d[:, None] * a * d[None, :])
    np.fill_diagonal(c, 0.0)
    return c


rng = np.random.default_rng(3)
a = rng.integers(0, 4, (7, 7)).astype(float) * (rng.random((7, 7)) < 0.5)
a[2, :] = 0.0
cases = [{"name": "small", "eps": 1e-10, "a": a.tolist(), "c": comm(a, 1e-10).tolist()}]
conn = np.loadtxt("/work/shared/data/microns/5_3_8/connectome_5_3_8.csv", delimiter=",", skiprows=1)[:, 1:]
cases.append({"name": "5_3_8", "eps": 1e-10, "c": comm(conn, 1e-10).tolist()})
json.dump(cases, open("comm_scipy.json", "w"))
print(conn.shape, conn.sum(), np.abs(cases[1]["c"]).max())
