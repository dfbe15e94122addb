"""Summary statistics of the real MICrONS fields, to calibrate and test the synthetic field.

    ~/.cache/cortical-peers-venv/bin/python field_stats.py [DATA_DIR]      (default /work/shared/data/microns)

Writes real_field_stats.json: one record per field. tests/synthetic.rs computes the same
statistics (same definitions, numpy's linear quantiles) for the synthetic field and checks
that each lies within the real fields' range.

Definitions (off-diagonal entries only, i != j):
- density: fraction of ordered pairs with a synapse; count_*: over the non-zero entries.
- span_um: max - min of the soma positions per axis (voxels 4x4x40 nm); dist_*: Euclidean
  distances in um over all pairs / over connected pairs.
- corr/sttc "stored": the seed's matrices (STTC symmetrized from its lower triangle);
  "recomputed": METHOD.md section 2 on the stored spikes (20 ms bins over [0, t_stop),
  STTC dt = 5 ms, t_start = 0, t_stop = last spike + 0.1 s), implemented here in numpy.
- rate_median_hz: median over neurons of spikes / t_stop.
- precision_diag_mean, precision_offdiag_nonzero: the stored precision matrix's mean diagonal
  and the fraction of non-zero off-diagonal entries.
"""
import glob
import json
import os
import sys

import numpy as np

root = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/microns"


def dist_stats(v):
    return {
        "mean": float(v.mean()),
        "sd": float(v.std()),
        "q01": float(np.quantile(v, 0.01)),
        "q50": float(np.quantile(v, 0.5)),
        "q99": float(np.quantile(v, 0.99)),
    }


def pearson(spikes, bin_s, t_stop):
    n_bins = int(np.floor(t_stop / bin_s))
    n = len(spikes)
    idx = [np.minimum((np.asarray(s) / bin_s).astype(np.int64), n_bins - 1) for s in spikes]
    occ = np.unique(np.concatenate(idx))
    x = np.zeros((n, len(occ)))
    for i, b in enumerate(idx):
        np.add.at(x[i], np.searchsorted(occ, b), 1.0)
    counts = x.sum(1)
    cov = (x @ x.T - np.outer(counts, counts) / n_bins) / (n_bins - 1)
    sd = np.sqrt(np.diag(cov))
    return cov / np.outer(sd, sd)


def coverage(a, dt, t0, t1):
    lo = np.maximum(a - dt, t0)
    hi = np.minimum(a + dt, t1)
    # union of sorted intervals
    total, cur_lo, cur_hi = 0.0, None, None
    for l, h in zip(lo, hi):
        if cur_hi is None or l > cur_hi:
            if cur_hi is not None:
                total += cur_hi - cur_lo
            cur_lo, cur_hi = l, h
        else:
            cur_hi = max(cur_hi, h)
    if cur_hi is not None:
        total += cur_hi - cur_lo
    return total / (t1 - t0)


def prop(a, b, dt):
    if len(a) == 0 or len(b) == 0:
        return 0.0
    j = np.searchsorted(b, a - dt, side="left")
    ok = j < len(b)
    hit = np.zeros(len(a), dtype=bool)
    hit[ok] = b[j[ok]] <= a[ok] + dt
    return hit.mean()


def sttc(spikes, dt, t0, t1):
    n = len(spikes)
    s = [np.asarray(x) for x in spikes]
    t = [coverage(x, dt, t0, t1) for x in s]
    m = np.full((n, n), np.nan)
    for i in range(n):
        for j in range(i, n):
            pa, pb = prop(s[i], s[j], dt), prop(s[j], s[i], dt)
            h1 = 1.0 if pa * t[j] == 1 else (pa - t[j]) / (1 - pa * t[j])
            h2 = 1.0 if pb * t[i] == 1 else (pb - t[i]) / (1 - pb * t[i])
            m[i, j] = m[j, i] = 0.5 * (h1 + h2)
    return m


def field_stats(d, fid):
    c = np.loadtxt(f"{d}/connectome_{fid}.csv", delimiter=",", skiprows=1)[:, 1:]
    n = len(c)
    off = ~np.eye(n, dtype=bool)
    nz = c[off][c[off] != 0]
    pos = np.stack(np.load(f"{d}/positions_{fid}.npy", allow_pickle=True)).astype(float)
    pos *= np.array([4.0, 4.0, 40.0]) / 1000.0
    dist = np.sqrt(((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1))
    st = np.load(f"{d}/sttc_matrix.npy")
    st = np.tril(st) + np.tril(st, -1).T
    rec = {
        "n": n,
        "density": float((c[off] != 0).mean()),
        "count_frac1": float((nz == 1).mean()),
        "count_mean": float(nz.mean()),
        "count_max": float(nz.max()),
        "span_um": [float(x) for x in np.ptp(pos, axis=0)],
        "dist_median_um": float(np.median(dist[off])),
        "dist_max_um": float(dist.max()),
        "dist_conn_median_um": float(np.median(dist[off][c[off] != 0])),
        "corr_stored": dist_stats(np.load(f"{d}/corr_matrix.npy")[off]),
        "sttc_stored": dist_stats(st[off]),
    }
    prec = np.load(f"{d}/precision_matrix.npy")
    rec["precision_diag_mean"] = float(np.diag(prec).mean())
    rec["precision_offdiag_nonzero"] = float((prec[off] != 0).mean())
    sp = f"{d}/spikes_{fid}.npy"
    if os.path.exists(sp):
        s = list(np.load(sp, allow_pickle=True))
        t_stop = max(x.max() for x in s if len(x)) + 0.1
        rec["recording_s"] = float(t_stop)
        rec["rate_median_hz"] = float(np.median([len(x) / t_stop for x in s]))
        rec["corr_recomputed"] = dist_stats(pearson(s, 0.02, t_stop)[off])
        rec["sttc_recomputed"] = dist_stats(sttc(s, 0.005, 0.0, t_stop)[off])
    return rec


if __name__ == "__main__":
    out = {}
    for d in sorted(glob.glob(os.path.join(root, "*", ""))):
        fid = os.path.basename(os.path.dirname(d))
        out[fid] = field_stats(d, fid)
        print(fid, out[fid].get("sttc_recomputed"), file=sys.stderr)
    json.dump(out, open("real_field_stats.json", "w"), indent=1)
