"""Extra metric references beyond ../shared/reference/graph.json, made with networkx and scipy.

Run: ~/.cache/cortical-peers-venv/bin/python tests/data/make_metrics_extra.py > tests/data/metrics_extra.json
(numpy 2.4, scipy 1.17, networkx 3.6.1). Cases stress CNM tie-breaking (graphs with many exactly
equal ΔQ: the karate club, a ring lattice, a grid, two cliques joined by a path) and size
(an N = 312 weight matrix binarized as METHOD.md §6 says). bctpy is not installed here, so
clustering / path length / efficiency come from networkx functions with the same definitions on
connected graphs (average_clustering counts degree < 2 as 0 like clustering_coef_bu;
average_shortest_path_length and global_efficiency average over ordered pairs i != j).
"""
import json
import sys
import warnings

import networkx as nx
import numpy as np
import scipy.stats as st

warnings.simplefilter("ignore")  # networkx warns on the NaN assortativity of a regular graph


def none_if_nan(x):
    return None if np.isnan(x) else x


def metrics(G):
    n = G.number_of_nodes()
    com = nx.community.greedy_modularity_communities(G)
    out = {
        "n": n,
        "edges": sorted([sorted(e) for e in G.edges()]),
        "modularity_cnm": nx.community.modularity(G, com),
        "communities_cnm": [sorted(c) for c in com],
        # NaN (a regular graph) is written as null: JSON has no NaN
        "degree_assortativity": none_if_nan(nx.degree_assortativity_coefficient(G)),
        "clustering_mean": nx.average_clustering(G),
    }
    if nx.is_connected(G):
        out["characteristic_path_length"] = nx.average_shortest_path_length(G)
    out["global_efficiency"] = nx.global_efficiency(G)
    return out


def binarize(W):
    A = np.abs(W)
    t = np.quantile(A, 0.9)
    M = A > t
    B = (M | M.T).astype(int)
    np.fill_diagonal(B, 0)
    return B


cases = []
for name, G in [
    ("karate", nx.karate_club_graph()),
    ("ring_lattice_40_k4", nx.watts_strogatz_graph(40, 4, 0.0)),
    ("grid_6x7", nx.convert_node_labels_to_integers(nx.grid_2d_graph(6, 7))),
    ("barbell_8_3", nx.barbell_graph(8, 3)),
]:
    # plain unweighted copy: the karate club carries edge weights, which modularity() would use
    H = nx.Graph()
    H.add_nodes_from(sorted(G))
    H.add_edges_from(G.edges())
    G = H
    c = metrics(G)
    c["name"] = name
    cases.append(c)

rng = np.random.default_rng(20261128)
for n in (312,):
    # a trained-W-like matrix: Gaussian bulk with heavy-tailed entries
    W = rng.standard_normal((n, n)) * 0.1 + rng.standard_t(3, (n, n)) * 0.02
    # six decimals keep the file small; the ties this creates in |W| exercise the threshold rule
    W = np.round(W, 6)
    B = binarize(W)
    G = nx.from_numpy_array(B)
    c = metrics(G)
    x = W.ravel()
    p = st.gaussian_kde(x)(np.linspace(x.min(), x.max(), 100))
    p = p / p.sum()
    c["name"] = f"random_w_n{n}"
    c["w"] = x.tolist()
    c["kde_entropy_bits"] = float(st.entropy(p, base=2))
    cases.append(c)

json.dump({"generator": "make_metrics_extra.py", "cases": cases}, sys.stdout, allow_nan=False)
