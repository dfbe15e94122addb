"""Reference graphical-lasso solutions for tests/priors.rs, from scikit-learn.

Run: ~/.cache/cortical-peers-venv/bin/python gen_glasso.py   (scikit-learn 1.9.1, numpy 2.4)
Writes glasso_sklearn.json:
  x: samples × features (row-major), drawn from a Gaussian with a sparse precision;
  fits: graphical_lasso(emp_cov, alpha) at tight tolerances (the unique optimum);
  cv: GraphicalLassoCV() with its defaults (alpha_, precision_, cv_results_ alphas/scores).
"""
import json

import numpy as np
import sklearn
from sklearn.covariance import GraphicalLassoCV, empirical_covariance, graphical_lasso

rng = np.random.default_rng(7)
p = 8
prec = np.eye(p) * 1.5
for i, j in [(0, 1), (1, 2), (2, 5), (3, 4), (6, 7), (0, 7)]:
    prec[i, j] = prec[j, i] = 0.45 * (-1) ** (i + j)
cov = np.linalg.inv(prec)
x = rng.multivariate_normal(np.zeros(p), cov, size=300) + 2.0
s = empirical_covariance(x)
fits = []
for alpha in [0.02, 0.08, 0.2]:
    c, pr = graphical_lasso(s, alpha, tol=1e-12, enet_tol=1e-12, max_iter=2000)
    fits.append({"alpha": alpha, "precision": pr.tolist(), "covariance": c.tolist()})
cv = GraphicalLassoCV().fit(x)
out = {
    "sklearn": sklearn.__version__,
    "x": x.tolist(),
    "emp_cov": s.tolist(),
    "fits": fits,
    "cv": {
        "alpha": cv.alpha_,
        "precision": cv.precision_.tolist(),
        "alphas": cv.cv_results_["alphas"][:-1].tolist(),  # last entry is the alpha = 0 baseline
        "mean_test_score": cv.cv_results_["mean_test_score"][:-1].tolist(),
    },
}
json.dump(out, open("glasso_sklearn.json", "w"))
print("cv alpha", cv.alpha_, "n alphas", len(out["cv"]["alphas"]))
print("nonzeros", [(np.abs(np.array(f["precision"])) > 1e-10).sum() for f in fits])
