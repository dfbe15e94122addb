"""Summaries of every real field, computed with numpy/pandas-free numpy code, for tests/data_loading.rs.

    CORTICAL_DATA=/work/shared/data/microns ~/.cache/cortical-peers-venv/bin/python real_fields_summary.py

Writes real_fields_summary.json: per field the values the Rust loader must reproduce
(N, connectome non-zeros/sum/max, sums of the matrices with STTC symmetrized, id sums,
position sums and the first position, spike counts and the first/last spike).
"""
import glob
import json
import os

import numpy as np

root = os.environ.get("CORTICAL_DATA", "../../../../shared/data/microns")
out = {}
for d in sorted(glob.glob(os.path.join(root, "*", ""))):
    fid = os.path.basename(os.path.dirname(d))
    c = np.loadtxt(f"{d}/connectome_{fid}.csv", delimiter=",", skiprows=1)[:, 1:]
    st = np.load(f"{d}/sttc_matrix.npy")
    st = np.tril(st) + np.tril(st, -1).T
    pos = np.stack(np.load(f"{d}/positions_{fid}.npy", allow_pickle=True))
    rec = {
        "n": int(c.shape[0]),
        "connectome_nonzeros": int((c != 0).sum()),
        "connectome_sum": float(c.sum()),
        "connectome_max": float(c.max()),
        "corr_sum": float(np.load(f"{d}/corr_matrix.npy").sum()),
        "sttc_sym_sum": float(st.sum()),
        "precision_sum": float(np.load(f"{d}/precision_matrix.npy").sum()),
        "root_ids_sum_mod_1e9": int(np.load(f"{d}/root_ids_{fid}.npy").astype(object).sum() % 10**9),
        "unit_ids_sum": int(np.load(f"{d}/unit_ids_{fid}.npy").sum()),
        "target_ids_sum": int(np.load(f"{d}/target_ids_{fid}.npy").sum()),
        "positions_sum": [int(x) for x in pos.sum(0)],
        "position_0": [int(x) for x in pos[0]],
    }
    sp = f"{d}/spikes_{fid}.npy"
    if os.path.exists(sp):
        s = np.load(sp, allow_pickle=True)
        rec["spike_counts_sum"] = int(sum(len(x) for x in s))
        rec["spike_times_sum"] = float(sum(x.sum() for x in s))
        rec["first_spike_0"] = float(s[0][0])
        rec["last_spike"] = float(max(x.max() for x in s if len(x)))
    out[fid] = rec
json.dump(out, open("real_fields_summary.json", "w"), indent=1)
print(len(out), "fields")
