"""Expected seed-compatible export of results.csv, written by pandas itself.

The seed's training notebook (neurovium/CorticalBlueprintRNN, Model/CorticalBlueprintRNN.ipynb,
cell "Save") builds `pd.DataFrame({variant: [value per simulation]})`, sets
`index.name = 'simulation'` and calls `to_csv(index=True)`; this script does the same from our
tidy results.csv (last-epoch training accuracy as `Accuracy`, failed runs as NaN), so
tests/report.rs can compare our export with pandas' bytes.

Run: python make_expected.py   (pandas 3.1.1 made the files here)
"""
import math
import os

import pandas as pd

FIELD = "synthetic-n24-seed5"
ARM = "free/corr-sttc"
VARIANTS = ["W*D*C", "WD*"]  # the paper's order
TASKS = {"Task1": "one-choice-inference", "Task3": "perceptual-decision-making"}
METRICS = {
    "Accuracy": "train_accuracy",
    "Loss": "train_loss",
    "Validation_Accuracy": "val_accuracy",
    "Validation_Loss": "val_loss",
    "Modularity": "modularity",
    "SmallWorldness": "small_worldness",
    "Assortativity": "assortativity",
    "Entropy": "entropy",
}
SIMULATIONS = 3

res = pd.read_csv("results.csv")
status = res[res.metric == "status"].set_index(["variant", "task", "simulation"]).value
for folder, task in TASKS.items():
    out = os.path.join("expected", f"{FIELD}_sttc-corr", folder)
    os.makedirs(out, exist_ok=True)
    for stem, metric in METRICS.items():
        table = {}
        for v in VARIANTS:
            col = []
            for sim in range(SIMULATIONS):
                rows = res[
                    (res.arm == ARM) & (res.variant == v) & (res.task == task)
                    & (res.simulation == sim) & (res.metric == metric)
                ]
                ok = status.get((v, task, sim), 0) == 1
                col.append(float(rows.value.iloc[0]) if ok and len(rows) else math.nan)
            table[v] = col
        df = pd.DataFrame(table)
        df.index.name = "simulation"
        df.to_csv(os.path.join(out, f"{stem}_raw.csv"), index=True)
