"""Step 3: the model's error on the clean trips; writes scores.csv and logs rmse."""

import argparse
import csv
import json
import math
import os

from azureml.core import Run

p = argparse.ArgumentParser()
p.add_argument("--model", required=True, help="folder with model.json")
p.add_argument("--data", required=True, help="folder with clean.csv")
p.add_argument("--scores", required=True, help="folder to write scores.csv to")
a = p.parse_args()

with open(os.path.join(a.model, "model.json")) as f:
    m = json.load(f)
with open(os.path.join(a.data, "clean.csv"), newline="") as f:
    rows = [(float(r["distance_km"]), float(r["fare"])) for r in csv.DictReader(f)]
os.makedirs(a.scores, exist_ok=True)
errors = []
with open(os.path.join(a.scores, "scores.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["distance_km", "fare", "predicted"])
    for x, y in rows:
        pred = m["base"] + m["per_km"] * x
        errors.append((pred - y) ** 2)
        w.writerow([x, y, round(pred, 2)])
rmse = math.sqrt(sum(errors) / len(errors))
Run.get_context().log("rmse", rmse)
print(f"rmse {rmse:.3f} on {len(rows)} trips")
