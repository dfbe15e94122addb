"""Condition numbers and scipy's own errors for every case of expm.json (run from this folder:
~/.cache/cortical-peers-venv/bin/python expm_cond.py > expm_cond.json).

kappa_exp: relative condition number of exp at A in the Frobenius norm,
           ||L(A)||_F-operator-norm * ||A||_F / ||exp(A)||_F (scipy.linalg.expm_cond, exact
           via the Kronecker form, fine for n <= 48).
kappa_L:   a relative condition number of the Fréchet derivative in direction E estimated by
           finite differences of L in A (second order effects): ||L(A+hZ,E)-L(A-hZ,E)||/(2h)
           maximised over a few random Z, times ||A||_F/||L(A,E)||_F.
scipy_err_expm / scipy_err_frechet: relative Frobenius errors of scipy.linalg.expm and
           scipy.linalg.expm_frechet against the references in expm.json (the bar to beat).
"""
import json
import numpy as np
import scipy
import scipy.linalg as sl

d = json.load(open("expm.json"))
rng = np.random.default_rng(1)
out = {"scipy": scipy.__version__, "cases": []}
for c in d["cases"]:
    n = c["n"]
    A = np.array(c["a"], dtype=float).reshape(n, n)
    X = np.array(c["expm"], dtype=float).reshape(n, n)
    row = {"name": c["name"], "n": n, "reference": c["reference"]}
    row["kappa_exp"] = float(sl.expm_cond(A)) if n <= 48 else None
    row["scipy_err_expm"] = float(np.linalg.norm(sl.expm(A) - X) / np.linalg.norm(X))
    if "frechet" in c:
        E = np.array(c["e"], dtype=float).reshape(n, n)
        L = np.array(c["frechet"], dtype=float).reshape(n, n)
        _, Ls = sl.expm_frechet(A, E)
        row["frechet_reference"] = c["frechet_reference"]
        row["scipy_err_frechet"] = float(np.linalg.norm(Ls - L) / np.linalg.norm(L)) if np.linalg.norm(L) > 0 else float(np.linalg.norm(Ls - L))
        h = 1e-6 * max(np.linalg.norm(A), 1.0)
        best = 0.0
        for _ in range(4):
            Z = rng.standard_normal((n, n))
            Z /= np.linalg.norm(Z)
            Lp = sl.expm_frechet(A + h * Z, E)[1]
            Lm = sl.expm_frechet(A - h * Z, E)[1]
            best = max(best, np.linalg.norm(Lp - Lm) / (2 * h))
        nl = np.linalg.norm(L)
        k = best * np.linalg.norm(A) / nl if nl > 0 else float("nan")
        row["kappa_L"] = float(k) if np.isfinite(k) else None  # None: not measurable (huge)
    out["cases"].append(row)
print(json.dumps(out, indent=1))
