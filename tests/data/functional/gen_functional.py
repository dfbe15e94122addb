"""Reference STTC / Pearson values for tests/functional.rs, from elephant 1.2.1.

Run: ~/.cache/cortical-peers-venv/bin/python gen_functional.py  (elephant==1.2.1, neo, quantities)
Writes synthetic_functional.json: each case has spike trains, the settings, elephant's
STTC (np.isclose with its default rtol=1e-5), an exact-definition STTC (|a-b| <= dt, no rtol,
written out below independently of elephant) and elephant's correlation_coefficient.
"""
import json
import warnings

import numpy as np
import neo
import quantities as pq
from elephant.conversion import BinnedSpikeTrain
from elephant.spike_train_correlation import correlation_coefficient, spike_time_tiling_coefficient

warnings.simplefilter("ignore")


def exact_sttc(a, b, dt, t0, t1):
    def T(s):
        s = np.sort(s)
        # union of [t-dt, t+dt] clipped to [t0, t1], by brute-force interval merging
        iv = sorted((max(t - dt, t0), min(t + dt, t1)) for t in s)
        tot, cs, ce = 0.0, iv[0][0], iv[0][1]
        for lo, hi in iv[1:]:
            if lo <= ce:
                ce = max(ce, hi)
            else:
                tot += ce - cs
                cs, ce = lo, hi
        tot += ce - cs
        return tot / (t1 - t0)

    def P(x, y):
        return np.mean([np.any(np.abs(t - y) <= dt) for t in x])

    if len(a) == 0 or len(b) == 0:
        return float("nan")
    ta, tb, pa, pb = T(a), T(b), P(a, b), P(b, a)
    h1 = 1.0 if pa * tb == 1 else (pa - tb) / (1 - pa * tb)
    h2 = 1.0 if pb * ta == 1 else (pb - ta) / (1 - pb * ta)
    return 0.5 * h1 + 0.5 * h2


def case(name, trains, dt, t0, t1, bin_size=None):
    trains = [np.asarray(sorted(t), dtype=float) for t in trains]
    sts = [neo.SpikeTrain(t * pq.s, t_start=t0 * pq.s, t_stop=t1 * pq.s) for t in trains]
    n = len(trains)
    el = np.full((n, n), np.nan)
    ex = np.full((n, n), np.nan)
    for i in range(n):
        for j in range(n):
            el[i, j] = spike_time_tiling_coefficient(sts[i], sts[j], dt=dt * pq.s)
            ex[i, j] = exact_sttc(trains[i], trains[j], dt, t0, t1)
    out = {
        "name": name, "dt": dt, "t_start": t0, "t_stop": t1,
        "spikes": [t.tolist() for t in trains],
        "sttc_elephant": el.tolist(), "sttc_exact": ex.tolist(),
    }
    if bin_size is not None:
        assert t0 == 0.0
        bst = BinnedSpikeTrain(sts, bin_size=bin_size * pq.s, t_start=0 * pq.s, t_stop=t1 * pq.s)
        cc = correlation_coefficient(bst, fast=False)
        out["bin"] = bin_size
        out["corr_elephant"] = np.asarray(cc).tolist()
        out["counts"] = np.asarray(bst.to_array()).sum(axis=1).tolist()
    return out


def to_json(x):
    if isinstance(x, float) and np.isnan(x):
        return None
    if isinstance(x, list):
        return [to_json(v) for v in x]
    if isinstance(x, dict):
        return {k: to_json(v) for k, v in x.items()}
    return x


rng = np.random.default_rng(20261127)
cases = []
# Dyadic times: differences are exact, so "exactly dt apart" is exactly dt.
cases.append(case("edges", [
    [0.0, 1.0, 2.0, 9.75, 10.0],            # at both ends of the recording
    [1.25, 2.25 + 2**-20, 5.0],             # exactly dt after 1.0, just over dt after 2.0
    [0.125, 9.875],                          # windows clipped at the ends
    [1.0, 1.0, 4.5],                         # duplicate spike
    [5.25, 5.5, 5.75, 6.0],                  # overlapping windows
    [],                                      # empty
], 0.25, 0.0, 10.0, bin_size=0.5))
# T = 1: a train whose windows cover the whole recording; P·T == 1 branches.
cases.append(case("full_tiling", [
    list(np.arange(0.0, 4.01, 0.5)),
    [0.5, 2.0],
    list(np.arange(0.0, 4.01, 0.5)),
], 0.25, 0.0, 4.0, bin_size=0.25))
# Poisson trains with t_start > 0.
for k, (n, rate, t1) in enumerate([(6, 8.0, 30.0), (5, 3.0, 60.0)]):
    tr = [np.sort(rng.uniform(2.0, t1, rng.poisson(rate * (t1 - 2.0)))) for _ in range(n)]
    cases.append(case(f"poisson{k}", tr, 0.005, 2.0, t1))
# Correlated trains binned, with spikes exactly on bin edges.
base = np.sort(rng.uniform(0, 50, 400))
tr = []
for _ in range(4):
    keep = base[rng.random(400) < 0.6]
    tr.append(np.sort(keep + rng.normal(0, 0.003, keep.size)))
tr.append(np.arange(0, 50, 0.02)[::7])   # on bin edges (20 ms)
tr.append(np.sort(rng.uniform(0, 50, 300)))
cases.append(case("binned", [np.clip(t, 0, 50) for t in tr], 0.005, 0.0, 50.0, bin_size=0.02))
# Late, jittered spikes where numpy isclose's rtol (1e-5·|t| ≈ 10 ms at 1000 s) matters.
base = np.sort(rng.uniform(1000, 1100, 200))
tr = [base + rng.uniform(-0.012, 0.012, base.size) for _ in range(3)]
cases.append(case("rtol_matters", [np.sort(t) for t in tr], 0.005, 0.0, 1101.0))

json.dump(to_json(cases), open("synthetic_functional.json", "w"), indent=None)
for c in cases:
    el, ex = np.array(c["sttc_elephant"], float), np.array(c["sttc_exact"], float)
    print(c["name"], "max |elephant - exact|", np.nanmax(np.abs(el - ex)))
