"""Reference communicability C(A) of real MICrONS connectomes for tests/reg.rs.

Run from the repository root:
    ~/.cache/cortical-peers-venv/bin/python tests/data/make_communicability_reference.py
It reads ../shared/data/microns/<field>/connectome_<field>.csv and writes
tests/data/communicability_ref.json.

Definition (METHOD.md §3, Crofts & Higham 2009), exactly as computed here:
  A  = connectome counts as float64, A[i, j] = synapses from neuron i (row, presynaptic)
       to neuron j (column, postsynaptic), parsed from the CSV (header row and index column dropped)
  r  = A.sum(axis=1) + eps, eps = 1e-10          (row sums, i.e. out-strength, plus eps)
  X  = diag(r)^-1/2 @ A @ diag(r)^-1/2
  C  = scipy.linalg.expm(X), then diag(C) = 0
C is stored sparsely (most entries are exactly 0: no walk connects the pair): every entry with
C != 0 as a little-endian record (u16 row, u16 col, f64 value), sorted by (row, col), in
tests/data/communicability_<field>.bin; tests/data/communicability_ref.json holds eps, N, the
record count and a few summary numbers of each field.
"""
import json
import os
import sys

import numpy as np
import scipy
import scipy.linalg

EPS = 1e-10
FIELDS = ["5_3_8", "6_6_2"]


def load_connectome(path):
    with open(path) as f:
        lines = [ln.strip() for ln in f if ln.strip()]
    header = lines[0].split(",")
    n = len(header) - 1
    rows = []
    for k, ln in enumerate(lines[1:]):
        parts = ln.split(",")
        assert int(parts[0]) == k, (path, k, parts[0])
        rows.append([float(x) for x in parts[1:]])
    a = np.array(rows, dtype=np.float64)
    assert a.shape == (n, n), a.shape
    return a


def communicability(a, eps):
    r = a.sum(axis=1) + eps
    s = 1.0 / np.sqrt(r)
    x = s[:, None] * a * s[None, :]
    c = scipy.linalg.expm(x)
    np.fill_diagonal(c, 0.0)
    return c


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    data = os.environ.get("CORTICAL_DATA") or os.path.join(root, "..", "shared", "data", "microns")
    out = {"generator": "tests/data/make_communicability_reference.py", "scipy": scipy.__version__,
           "numpy": np.__version__, "eps": EPS, "fields": {}}
    for fid in FIELDS:
        a = load_connectome(os.path.join(data, fid, f"connectome_{fid}.csv"))
        c = communicability(a, EPS)
        nz = np.argwhere(c != 0.0)
        out["fields"][fid] = {
            "n": int(a.shape[0]),
            "connectome_nnz": int(np.count_nonzero(a)),
            "connectome_sum": float(a.sum()),
            "c_frobenius": float(np.linalg.norm(c)),
            "c_nonzeros": int(len(nz)),
            "c_file": f"communicability_{fid}.bin",
        }
        rec = np.zeros(len(nz), dtype=[("i", "<u2"), ("j", "<u2"), ("v", "<f8")])
        rec["i"], rec["j"] = nz[:, 0], nz[:, 1]
        rec["v"] = c[nz[:, 0], nz[:, 1]]
        rec.tofile(os.path.join(root, "tests", "data", f"communicability_{fid}.bin"))
        print(fid, a.shape, "A nnz", np.count_nonzero(a), "C nnz", len(nz), "max C", c.max(), file=sys.stderr)
    path = os.path.join(root, "tests", "data", "communicability_ref.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
