"""50-digit reference for the expm cases of expm.json whose reference is scipy's own value.

../shared/reference/expm.json gives `"reference": "scipy"` for communicability_n48: its expm
is scipy.linalg.expm's double-precision result, not an exact one, so a test against it only
measures how close two double-precision computations are. This script recomputes those cases
with mpmath at 50 digits (mpmath.expm, Taylor method with scaling and squaring; checked against the
same computation at 70 digits) and records,
per case, the reference rounded to double and scipy.linalg.expm's relative Frobenius error
against it (the bar the tests hold our expm to).

Run: ~/.cache/cortical-peers-venv/bin/python tests/data/expm_mp_reference.py
(mpmath 1.3.0, scipy 1.17.1, numpy as installed by ../shared/peers/setup.sh); writes
tests/data/expm_mp.json.
"""
import json
import os

import mpmath
import numpy as np
import scipy.linalg as sl

HERE = os.path.dirname(os.path.abspath(__file__))
mpmath.mp.dps = 50

cases = json.load(open(os.path.join(HERE, "expm.json")))["cases"]
out = []
for c in cases:
    if c.get("reference") != "scipy":
        continue
    n = c["n"]
    a = np.array(c["a"], dtype=float).reshape(n, n)
    x = mpmath.expm(mpmath.matrix(a.tolist()), method="taylor")
    # Check the 50-digit result against the same computation at 70 digits.
    with mpmath.workdps(70):
        x2 = mpmath.expm(mpmath.matrix(a.tolist()), method="taylor")
        diff = mpmath.mnorm(x - x2, "f") / mpmath.mnorm(x2, "f")
    assert diff < mpmath.mpf("1e-40"), (c["name"], diff)
    ref = np.array([[float(x[i, j]) for j in range(n)] for i in range(n)])
    scipy_err = float(np.linalg.norm(sl.expm(a) - ref) / np.linalg.norm(ref))
    out.append(
        {
            "name": c["name"],
            "n": n,
            "expm": ref.reshape(-1).tolist(),
            "scipy_err_expm": scipy_err,
            "rel_diff_50_vs_70_digits": float(diff),
        }
    )
    print(c["name"], "scipy error", scipy_err, "50 vs 70 digits", float(diff))
json.dump({"dps": 50, "cases": out}, open(os.path.join(HERE, "expm_mp.json"), "w"))
