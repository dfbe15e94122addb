"""Reference values for src/stats (checked by tests/stats.rs).

Run:  ~/.cache/cortical-peers-venv/bin/python tests/data/stats/make_refs.py
Writes tests/data/stats/refs.json next to this script. Deterministic: every sample comes from a
fixed numpy seed. Versions used are recorded in the file.

What is independent of the Rust code:
  * t quantiles, t/chi2/normal tails, t intervals: scipy.stats / scipy.special;
  * Kruskal-Wallis, Mann-Whitney U: scipy.stats.kruskal / mannwhitneyu (method='auto');
  * Holm: statsmodels.stats.multitest.multipletests(method='holm');
  * bootstrap: a pure-Python re-implementation of SplitMix64 seeding + xoshiro256++ (the
    generator behind rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64), the index rule
    floor(u*n/2^64), and numpy's np.percentile (default 'linear') of the resulting means;
    plus scipy.stats.bootstrap(method='percentile') for a Monte-Carlo-tolerance check.
"""
import json
import pathlib
import sys

import mpmath as mp
import numpy as np
import scipy
import scipy.special as sp
import statsmodels
from scipy import stats
from statsmodels.stats.multitest import multipletests

OUT = pathlib.Path(__file__).with_name("refs.json")
M64 = (1 << 64) - 1


def f(x):
    return float(x)


# ---------------------------------------------------------------- special functions
def special_cases():
    tq = []
    dfs = list(range(1, 201)) + [1e4, 0.5, 1.5, 2.5, 7.3, 1e5, 1e6, 1e8]
    for df in dfs:
        for p in (0.975, 0.995, 0.9, 0.6, 0.025, 1e-6):
            tq.append({"p": p, "df": f(df), "q": f(stats.t.ppf(p, df))})
    # scipy itself, cross-checked in 40-digit arithmetic where the parameters are extreme
    mp.mp.dps = 40
    for c in tq:
        if c["df"] >= 1e4 or c["df"] < 1:
            df, p = mp.mpf(c["df"]), mp.mpf(c["p"])
            tail = p if p < 0.5 else 1 - p
            sf = lambda t: mp.betainc(df / 2, mp.mpf(1) / 2, 0, df / (df + t * t), regularized=True) / 2
            t = mp.findroot(lambda t: sf(t) - tail, abs(c["q"]))
            want = float(t if p > 0.5 else -t)
            assert abs(want - c["q"]) <= 1e-14 * abs(want), (c, want)
    tsf = []
    for df in (1, 2, 3, 5, 10, 30, 100, 1000, 1e4, 1e5, 1e6, 0.7, 4.5):
        for t in (0.0, 0.01, 0.5, 1.0, 1.96, 2.5, 5.0, 12.0, 100.0, 1e4, -0.5, -3.0):
            tsf.append({"t": t, "df": f(df), "sf": f(stats.t.sf(t, df))})
    chi2 = []
    for df in (1, 2, 3, 4, 5, 7, 10, 20, 50):
        for x in (0.0, 0.1, 0.5, 1.0, 2.0, 3.84, 7.0, 15.0, 30.0, 60.0, 120.0, 300.0):
            chi2.append({"x": x, "df": f(df), "sf": f(sp.chdtrc(df, x))})
    norm = [{"z": z, "sf": f(sp.ndtr(-z))}
            for z in (-5.0, -2.0, -0.5, 0.0, 1e-3, 0.3, 1.0, 1.5, 1.96, 3.0, 5.0, 8.0, 12.0, 20.0, 37.0)]
    lgam = [{"x": x, "lgamma": f(sp.gammaln(x))}
            for x in (1e-8, 0.1, 0.5, 1.0, 1.5, 2.0, 2.5, 3.7, 9.99, 10.0, 10.5, 25.0, 100.5, 5000.0, 1e6)]
    return {"t_quantile": tq, "t_sf": tsf, "chi2_sf": chi2, "normal_sf": norm, "ln_gamma": lgam}


# ---------------------------------------------------------------- t intervals
def t_ci_cases(rng):
    out = []
    for n in range(2, 51):
        x = rng.normal(0.8, 0.05 + 0.01 * n, size=n)
        lo, hi = stats.t.interval(0.95, n - 1, loc=np.mean(x), scale=stats.sem(x))
        out.append({"x": x.tolist(), "mean": f(np.mean(x)), "sd": f(np.std(x, ddof=1)),
                    "lo": f(lo), "hi": f(hi)})
    return out


# ---------------------------------------------------------------- Mann-Whitney U
def mwu_case(x, y, kind):
    r = stats.mannwhitneyu(x, y)  # two-sided, continuity, method='auto'
    xy = np.concatenate([x, y])
    ties = len(np.unique(xy)) < len(xy)
    exact = not ((len(x) > 8 and len(y) > 8) or ties)  # scipy 1.17 _mwu_choose_method
    r_exact = None
    if exact:
        r_exact = stats.mannwhitneyu(x, y, method="exact")
        assert r_exact.pvalue == r.pvalue
    return {"kind": kind, "x": list(map(float, x)), "y": list(map(float, y)),
            "u": f(r.statistic), "p": f(r.pvalue), "exact": exact}


def mwu_cases(rng):
    out = []
    # small, continuous (no ties): exact
    for n1 in range(3, 9):
        for n2 in range(3, 9):
            shift = rng.choice([0.0, 0.5, 1.5, 4.0])
            out.append(mwu_case(rng.normal(0, 1, n1), rng.normal(shift, 1, n2), "exact-small"))
    # fully separated (smallest p) and interleaved (p = 1)
    out.append(mwu_case(np.arange(1.0, 9.0), np.arange(9.0, 17.0), "exact-separated"))
    out.append(mwu_case(np.array([1.0, 4.0, 5.0, 8.0]), np.array([2.0, 3.0, 6.0, 7.0]), "exact-middle"))
    out.append(mwu_case(np.array([19.0, 22, 16, 29, 24]), np.array([20.0, 11, 17, 12]), "scipy-doc"))
    # one small, one large, no ties: still exact under scipy's rule
    for n2 in (20, 60, 200):
        out.append(mwu_case(rng.normal(0.3, 1, 5), rng.normal(0, 1, n2), "exact-unbalanced"))
    out.append(mwu_case(rng.normal(0.3, 1, 8), rng.normal(0, 1, 500), "exact-unbalanced"))
    out.append(mwu_case(rng.normal(0.0, 1, 1), rng.normal(0, 1, 7), "exact-n1"))
    # both > 8, no ties: normal approximation
    for n1, n2 in ((9, 9), (10, 15), (20, 20), (40, 33), (100, 80)):
        out.append(mwu_case(rng.normal(0, 1, n1), rng.normal(0.4, 1, n2), "asymptotic"))
    # ties (small and large): normal approximation with tie correction
    for n1, n2 in ((3, 4), (5, 5), (8, 8), (6, 12), (20, 20), (30, 25)):
        out.append(mwu_case(np.round(rng.normal(0, 1, n1), 1), np.round(rng.normal(0.3, 1, n2), 1), "ties"))
    # accuracies as real runs give them: few distinct values, many exact ties at 0.625 etc.
    levels = np.array([0.5, 0.5625, 0.625, 0.6875, 0.75])
    for n in (5, 10, 20):
        a = rng.choice(levels, n, p=[0.1, 0.2, 0.4, 0.2, 0.1])
        b = rng.choice(levels, n, p=[0.05, 0.1, 0.3, 0.3, 0.25])
        out.append(mwu_case(a, b, "accuracy-ties"))
    out.append(mwu_case(np.full(6, 0.625), np.full(7, 0.625), "all-equal"))
    out.append(mwu_case(np.full(5, 0.625), np.array([0.625, 0.625, 0.625, 0.625, 0.6875]), "near-all-equal"))
    return out


# ---------------------------------------------------------------- Kruskal-Wallis
def kw_cases(rng):
    out = []

    def add(groups, kind):
        h, p = stats.kruskal(*groups)
        out.append({"kind": kind, "groups": [list(map(float, g)) for g in groups], "h": f(h), "p": f(p)})

    for k in (2, 3, 4, 6):
        for n in (3, 5, 12):
            add([rng.normal(0.2 * i, 1, n + i) for i in range(k)], "no-ties")
    for k in (2, 3, 5):
        add([np.round(rng.normal(0.3 * i, 1, 8 + 2 * i), 0) for i in range(k)], "ties")
    levels = np.array([0.5, 0.5625, 0.625, 0.6875, 0.75])
    add([rng.choice(levels, 20, p=[0.1, 0.2, 0.4, 0.2, 0.1]) for _ in range(8)], "accuracy-ties")
    add([np.arange(1.0, 11.0), np.arange(11.0, 21.0), np.arange(21.0, 31.0)], "separated")
    return out


# ---------------------------------------------------------------- Holm
def holm_cases(rng):
    vecs = [
        [0.01, 0.04, 0.03, 0.005],
        [0.5, 0.5, 0.5],
        [0.001, 0.001, 0.02, 0.02, 0.3],
        [0.99, 0.999, 1.0, 0.4],
        [0.0, 1e-300, 0.05, 1.0],
        [0.2],
        [0.04, 0.01, 0.04, 0.03, 0.04, 0.9, 0.049, 0.011],
        list(rng.uniform(0, 1, 28)),
        list(rng.uniform(0, 0.01, 15)),
        list(np.round(rng.uniform(0, 0.1, 20), 2)),
    ]
    out = []
    for v in vecs:
        _, adj, _, _ = multipletests(v, alpha=0.05, method="holm")
        out.append({"p": list(map(float, v)), "adj": list(map(float, adj))})
    return out


# ---------------------------------------------------------------- pairwise + Holm
def pairwise_cases(rng):
    levels = np.array([0.5, 0.5625, 0.625, 0.6875, 0.75])
    groups = {
        "random": rng.choice(levels, 10, p=[0.2, 0.3, 0.3, 0.1, 0.1]),
        "W*": rng.choice(levels, 10, p=[0.0, 0.05, 0.2, 0.35, 0.4]),
        "W!": rng.choice(levels, 10, p=[0.1, 0.2, 0.4, 0.2, 0.1]),
        "ECDF": rng.choice(levels, 10, p=[0.05, 0.15, 0.4, 0.25, 0.15]),
        "orth": np.round(rng.normal(0.55, 0.01, 10), 4),
    }
    labels = list(groups)
    tests = []
    for i in range(len(labels)):
        for j in range(i + 1, len(labels)):
            r = stats.mannwhitneyu(groups[labels[i]], groups[labels[j]])
            tests.append({"a": i, "b": j, "u": f(r.statistic), "p": f(r.pvalue)})
    _, adj, _, _ = multipletests([t["p"] for t in tests], alpha=0.05, method="holm")
    for t, a in zip(tests, adj):
        t["p_holm"] = f(a)
    return [{"labels": labels, "groups": [list(map(float, groups[l])) for l in labels], "tests": tests}]


# ---------------------------------------------------------------- bootstrap
def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class Xoshiro256pp:
    """xoshiro256++ seeded like rand_xoshiro's seed_from_u64: four SplitMix64 outputs."""

    def __init__(self, seed):
        st = seed & M64
        self.s = []
        for _ in range(4):
            st, z = splitmix64(st)
            self.s.append(z)

    def next_u64(self):
        s = self.s
        result = (rotl((s[0] + s[3]) & M64, 23) + s[0]) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result


def boot_means(x, resamples, seed):
    rng = Xoshiro256pp(seed)
    n = len(x)
    means = np.empty(resamples)
    for b in range(resamples):
        s = 0.0
        for _ in range(n):
            s += x[(rng.next_u64() * n) >> 64]  # sequential float sum, as the Rust code
        means[b] = s / n
    return means


def bootstrap_cases(rng):
    stream = {}
    for seed in (0, 42, 2**64 - 1):
        g = Xoshiro256pp(seed)
        stream[str(seed)] = [str(g.next_u64()) for _ in range(6)]  # decimal strings: u64 > 2^53
    levels = [0.5, 0.5625, 0.625, 0.6875, 0.75]
    datasets = [
        ("normal-n5", list(rng.normal(0.7, 0.05, 5)), 10000, 7),
        ("normal-n20", list(rng.normal(0.7, 0.05, 20)), 10000, 42),
        ("accuracy-ties-n10", list(rng.choice(levels, 10)), 10000, 3),
        ("skewed-n12", list(rng.exponential(1.0, 12)), 2000, 11),
        ("odd-B", list(rng.normal(0, 1, 7)), 999, 5),
        ("n1", [0.625], 100, 1),
    ]
    cases = []
    for name, x, b, seed in datasets:
        x = [float(v) for v in x]
        means = boot_means(x, b, seed)
        lo, hi = np.percentile(means, [2.5, 97.5])
        cases.append({"name": name, "x": x, "resamples": b, "seed": seed,
                      "first_means": list(map(float, means[:5])),
                      "lo": f(lo), "hi": f(hi)})
    # percentile rule on its own, incl. both branches of numpy's _lerp and ties
    pct = []
    qs = [0.0, 2.5, 25.0, 50.0, 62.5, 97.5, 99.9, 100.0]
    for n in (1, 2, 3, 10, 101, 10000):
        a = rng.normal(0, 1, n)
        if n >= 10:
            a[: n // 3] = a[0]  # ties
        # as repr strings: the test parses them with Rust's correctly rounded str::parse
        # (serde_json's default float parser can be 1 ulp off, and this comparison is bitwise)
        pct.append({"x": [repr(float(v)) for v in a], "q": qs,
                    "v": [repr(float(np.percentile(a, q))) for q in qs]})
    # scipy's own percentile bootstrap (its RNG): agreement only up to Monte-Carlo error
    x = rng.normal(0.7, 0.05, 30)
    res = stats.bootstrap((x,), np.mean, n_resamples=10000, method="percentile",
                          rng=np.random.default_rng(123))
    scipy_boot = {"x": list(map(float, x)), "lo": f(res.confidence_interval.low),
                  "hi": f(res.confidence_interval.high),
                  "se": f(np.std(x, ddof=0) / np.sqrt(len(x)))}
    return {"stream": stream, "cases": cases, "percentile": pct, "scipy": scipy_boot}


def main():
    rng = np.random.default_rng(20261127)
    refs = {
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__,
                     "scipy": scipy.__version__, "statsmodels": statsmodels.__version__},
        "special": special_cases(),
        "t_ci": t_ci_cases(rng),
        "mwu": mwu_cases(rng),
        "kruskal": kw_cases(rng),
        "holm": holm_cases(rng),
        "pairwise": pairwise_cases(rng),
        "bootstrap": bootstrap_cases(rng),
    }
    OUT.write_text(json.dumps(refs, indent=1) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
