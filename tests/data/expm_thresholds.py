"""Re-derive the Padé thresholds used by kernels/src/expm.rs (run: python3 expm_thresholds.py).

theta_m (expm, Higham 2005 eq. (2.8); Al-Mohy & Higham 2009a Table 3.1) is the largest theta with
    sum_{k>=2m+1} |c_k| theta^(k-1) <= u,
ell_m (Fréchet derivative, Al-Mohy & Higham 2009b Table 6.1) the largest theta with
    sum_{k>=2m+1} k |c_k| theta^(k-1) <= u,
where h_{2m+1}(x) = log(e^{-x} r_m(x)) = sum_k c_k x^k is the backward-error function of the
[m/m] Padé approximant r_m. The series is truncated at N terms (Higham used 150), evaluated in
60-digit arithmetic. The double-precision values must reproduce the published tables; the
single-precision ell_m (not published) are what expm.rs uses for f32 expm_frechet.
"""
import mpmath as mp

mp.mp.dps = 60
N = 150


def pade_coeffs(m):
    return [mp.factorial(2 * m - j) * mp.factorial(m) / (mp.factorial(2 * m) * mp.factorial(j) * mp.factorial(m - j)) for j in range(m + 1)]


def mul(a, b):
    c = [mp.mpf(0)] * N
    for i, ai in enumerate(a):
        if ai == 0:
            continue
        for j in range(N - i):
            c[i + j] += ai * b[j]
    return c


def inv(a):
    # 1/a for a[0] != 0
    b = [mp.mpf(0)] * N
    b[0] = 1 / a[0]
    for k in range(1, N):
        s = mp.mpf(0)
        for j in range(1, k + 1):
            s += a[j] * b[k - j]
        b[k] = -s / a[0]
    return b


def h_coeffs(m):
    b = pade_coeffs(m)
    p = [mp.mpf(0)] * N
    q = [mp.mpf(0)] * N
    for j, bj in enumerate(b):
        p[j] = bj
        q[j] = bj * (-1) ** j
    emx = [(-1) ** k / mp.factorial(k) for k in range(N)]
    g = mul(mul(emx, p), inv(q))  # e^{-x} r_m(x) = 1 + O(x^{2m+1})
    # log g: (log g)' = g'/g
    dg = [(k + 1) * g[k + 1] for k in range(N - 1)] + [mp.mpf(0)]
    dl = mul(dg, inv(g))
    c = [mp.mpf(0)] + [dl[k - 1] / k for k in range(1, N)]
    return c


def threshold(c, m, u, weight):
    f = lambda t: sum(weight(k) * abs(c[k]) * t ** (k - 1) for k in range(2 * m + 1, N)) - u
    lo, hi = mp.mpf("1e-12"), mp.mpf(20)
    for _ in range(200):
        mid = (lo + hi) / 2
        if f(mid) > 0:
            hi = mid
        else:
            lo = mid
    return lo


for name, u in (("double", mp.mpf(2) ** -53), ("single", mp.mpf(2) ** -24)):
    for m in (1, 2, 3, 5, 7, 9, 13):
        c = h_coeffs(m)
        assert all(abs(c[k]) < mp.mpf(10) ** -50 for k in range(1, 2 * m + 1)), m
        th = threshold(c, m, u, lambda k: 1)
        el = threshold(c, m, u, lambda k: k)
        print(f"{name} m={m:2d} 1/|c_2m+1|={mp.nstr(1 / abs(c[2 * m + 1]), 40)} theta={mp.nstr(th, 16)} ell={mp.nstr(el, 16)}")
