"""Step 2: fit fare = base + per_km * distance by least squares; write model.json."""

import argparse
import csv
import json
import os

from azureml.core import Run

p = argparse.ArgumentParser()
p.add_argument("--data", required=True, help="folder with clean.csv")
p.add_argument("--model", required=True, help="folder to write model.json to")
p.add_argument("--min_km", type=float, default=0.0, help="ignore shorter trips")
a = p.parse_args()

with open(os.path.join(a.data, "clean.csv"), newline="") as f:
    pts = [(float(r["distance_km"]), float(r["fare"])) for r in csv.DictReader(f)]
pts = [(x, y) for x, y in pts if x >= a.min_km]
n = len(pts)
mx = sum(x for x, _ in pts) / n
my = sum(y for _, y in pts) / n
per_km = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
base = my - per_km * mx
os.makedirs(a.model, exist_ok=True)
with open(os.path.join(a.model, "model.json"), "w") as f:
    json.dump({"base": base, "per_km": per_km}, f)
run = Run.get_context()
run.log("per_km", per_km)
run.log("base", base)
print(f"fare = {base:.2f} + {per_km:.2f} * km ({n} trips)")
