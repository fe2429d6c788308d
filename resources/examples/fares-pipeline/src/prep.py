"""Step 1: keep the trips that make sense (positive distance and fare) and write them as clean.csv."""

import argparse
import csv
import os

from azureml.core import Run

p = argparse.ArgumentParser()
p.add_argument("--raw", required=True, help="folder with trips.csv")
p.add_argument("--out", required=True, help="folder to write clean.csv to")
a = p.parse_args()

with open(os.path.join(a.raw, "trips.csv"), newline="") as f:
    rows = list(csv.DictReader(f))
kept = [r for r in rows if float(r["distance_km"]) > 0 and float(r["fare"]) > 0]
os.makedirs(a.out, exist_ok=True)
with open(os.path.join(a.out, "clean.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=["distance_km", "fare"])
    w.writeheader()
    w.writerows({"distance_km": r["distance_km"], "fare": r["fare"]} for r in kept)
Run.get_context().log("rows_kept", len(kept))
print(f"kept {len(kept)} of {len(rows)} trips")
