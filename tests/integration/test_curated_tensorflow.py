"""The seed's TensorFlow job shape, unchanged in what it names: `environment:
azureml:AzureML-tensorflow-2.16-cuda12@latest` (Trainyard's curated TensorFlow, built from PyPI)
and `distribution: {type: tensorflow, worker_count: 2}`. Real TensorFlow trains with
MultiWorkerMirroredStrategy across the two worker processes (a training loop whose updates are averaged across them), each reading its TF_CONFIG, and the
script's `mlflow.tensorflow.autolog()` is accepted; the real `trainyard` CLI runs it to Completed."""

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
command: python train.py --epochs ${{inputs.epochs}}
inputs:
  epochs: 2
environment: azureml:AzureML-tensorflow-2.16-cuda12@latest
compute: azureml:gpu-cluster
resources:
  instance_count: 2
distribution:
  type: tensorflow
  worker_count: 2
experiment_name: curated-tensorflow
"""
TRAIN = """\
import argparse
import json
import os

import mlflow.tensorflow
import numpy as np
import tensorflow as tf

mlflow.tensorflow.autolog()
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int)
args = parser.parse_args()
task = json.loads(os.environ["TF_CONFIG"])["task"]
strategy = tf.distribute.MultiWorkerMirroredStrategy()
print("task", task["type"], task["index"], "replicas", strategy.num_replicas_in_sync, flush=True)
rng = np.random.default_rng(task["index"])  # each worker its own shard of the data
x = tf.constant(rng.normal(size=(128, 4)).astype("float32"))
y = tf.constant((x.numpy().sum(axis=1, keepdims=True) > 0).astype("float32"))
with strategy.scope():  # mirrored on both workers; updates are averaged across them
    w = tf.Variable(tf.zeros([4, 1]), aggregation=tf.VariableAggregation.MEAN)
    b = tf.Variable(0.0, aggregation=tf.VariableAggregation.MEAN)


@tf.function
def step():
    def replica_step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=x @ w + b))
        grad_w, grad_b = tape.gradient(loss, [w, b])
        w.assign_sub(0.5 * grad_w)
        b.assign_sub(0.5 * grad_b)
        return loss

    return strategy.reduce("MEAN", strategy.run(replica_step), axis=None)


losses = [float(step()) for _ in range(args.epochs * 10)]
assert losses[-1] < losses[0], losses
history = {"loss": losses}
print("worker", task["index"], "final loss", history["loss"][-1], flush=True)
if task["index"] == 0:
    mlflow.log_metric("loss", history["loss"][-1])
"""


def test_a_tensorflow_job_trains_across_two_workers_in_the_curated_environment(tmp_path: Path) -> None:
    project = tmp_path / "tf"
    (project / "src").mkdir(parents=True)
    (project / "job.yml").write_text(JOB)
    (project / "src" / "train.py").write_text(TRAIN)
    env = {
        **os.environ,
        "TRAINYARD_WORKSPACE": str(tmp_path / "ws"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.run(
        [*CLI, "job", "create", "-f", "job.yml", "--set", "compute=local", "--stream", "-o", "json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-6000:])
    doc = json.loads(proc.stdout)
    assert doc["status"] == "Completed" and doc["environment"].startswith("trainyard-tensorflow-cpu")
    assert "task worker 0 replicas 2" in proc.stderr  # the chief's log is the one streamed
    logs = {
        p.name: p.read_text() for p in (Path(doc["run_dir"]) / "azureml-logs").glob("70_driver_log_*.txt")
    }
    assert any("task worker 1 replicas 2" in text and "final loss" in text for text in logs.values()), list(
        logs
    )
    assert doc["metrics"]["loss"] > 0
