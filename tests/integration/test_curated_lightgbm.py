"""`environment: azureml:AzureML-lightgbm-3.3@latest` holds what the public LightGBM example
imports (pandas, lightgbm, scikit-learn, matplotlib.pyplot, mlflow), as Azure ML's curated
environment of that name does: a job in the example's shape, run by the real `trainyard` CLI,
builds the curated environment (uv, from PyPI) and completes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("trainyard")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "engine.cli.main"]

JOB = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
code: src
command: >-
  python train.py --table ${{inputs.table}} --rate ${{inputs.rate}}
inputs:
  table:
    type: uri_file
    path: data/flowers.csv
  rate: 0.2
environment: azureml:AzureML-lightgbm-3.3@latest
compute: azureml:cpu-cluster
experiment_name: curated-lightgbm
"""
TRAIN = """\
import argparse
import os

import lightgbm
import matplotlib.pyplot as plt
import mlflow
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder

parser = argparse.ArgumentParser()
parser.add_argument("--table")
parser.add_argument("--rate", type=float)
args = parser.parse_args()
mlflow.autolog()
frame = pd.read_csv(args.table)
labels = LabelEncoder().fit_transform(frame.pop("kind"))
x_train, x_test, y_train, y_test = train_test_split(frame, labels, test_size=0.25, random_state=0)
booster = lightgbm.train({"objective": "multiclass", "num_class": 3, "learning_rate": args.rate, "verbose": -1,
                          "min_data_in_leaf": 2}, lightgbm.Dataset(x_train, label=y_train), num_boost_round=5)
accuracy = float((booster.predict(x_test).argmax(axis=1) == y_test).mean())
mlflow.log_metric("accuracy", accuracy)
os.makedirs("outputs", exist_ok=True)
plt.plot(range(len(y_test)), y_test)
plt.savefig("outputs/labels.png")
print("accuracy", accuracy, "lightgbm", lightgbm.__version__, flush=True)
"""


def test_the_lightgbm_example_shape_runs_in_the_curated_environment(tmp_path: Path) -> None:
    project = tmp_path / "lightgbm"
    (project / "src").mkdir(parents=True)
    (project / "data").mkdir()
    (project / "job.yml").write_text(JOB)
    (project / "src" / "train.py").write_text(TRAIN)
    rows = ["a,b,kind"] + [
        f"{i % 7 + k * 3}.{i},{(i * 3) % 5 + k * 4}.5,{kind}"
        for k, kind in enumerate(("red", "green", "blue"))
        for i in range(12)
    ]
    (project / "data" / "flowers.csv").write_text("\n".join(rows) + "\n")
    env = {
        **os.environ,
        "TRAINYARD_WORKSPACE": str(tmp_path / "ws"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.run(
        [*CLI, "job", "create", "-f", "job.yml", "--set", "compute=local", "--stream", "-o", "json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-5000:])
    doc = json.loads(proc.stdout)
    assert doc["status"] == "Completed" and doc["environment"].startswith("trainyard-lightgbm")
    assert 0.0 <= doc["metrics"]["accuracy"] <= 1.0
    assert "No module named" not in proc.stderr
    assert (Path(doc["run_dir"]) / "outputs" / "labels.png").stat().st_size > 1000
