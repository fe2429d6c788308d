"""Benchmark: the real MLflow client's ``mlflow.log_metric`` into a Trainyard run (the ``trainyard``
tracking-store plugin) against the same client into MLflow's own local SQLite store.

Each side runs in its own fresh process with the same interpreter and the same script: start a
run, log ``--calls`` points (the key's first call is left out), end the run (Trainyard: the record
writer's flush). Prints a markdown table.

    .venv/bin/python bench/bench_mlflow_client.py [--calls 20000] [--sqlite-calls 1000] [--python PY]

The interpreter needs MLflow (mlflow or mlflow-skinny, with SQLAlchemy for the SQLite store).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INJECT = ROOT / "engine" / "tracking" / "inject"

SCRIPT = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import mlflow
calls = int(sys.argv[1])
with mlflow.start_run():
    mlflow.log_metric("warmup", 0.0, step=0)
    log = mlflow.log_metric
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(calls):
        log("loss", 1.0 / (i + 1), step=i)
    elapsed, cpu_used = time.perf_counter() - start, time.process_time() - cpu
    end = time.perf_counter()
print(json.dumps({"per_call_us": elapsed / calls * 1e6, "cpu_us": cpu_used / calls * 1e6,
                  "end_ms": (time.perf_counter() - end) * 1e3, "module": mlflow.__file__,
                  "version": mlflow.__version__}))
"""


def run_side(python: str, tmp: Path, calls: int, trainyard: bool) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRAINYARD_", "MLFLOW_"))}
    if trainyard:
        env.update(
            PYTHONPATH=str(INJECT),
            TRAINYARD_RUN_ID="bench-run",
            TRAINYARD_EXPERIMENT="bench",
            TRAINYARD_TRACKING_DIR=str(tmp / "tracking"),
            TRAINYARD_RUN_DIR=str(tmp),
            MLFLOW_TRACKING_URI="trainyard://runs/bench-run",
            MLFLOW_RUN_ID="bench-run",
            MLFLOW_EXPERIMENT_NAME="bench",
        )
    else:
        env.update(MLFLOW_TRACKING_URI=f"sqlite:///{tmp / 'mlflow.db'}")
    res = subprocess.run(
        [python, "-c", SCRIPT, str(calls)],
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if res.returncode != 0:
        sys.exit(f"the {'Trainyard' if trainyard else 'SQLite'} side failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--sqlite-calls", type=int, default=1000)
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        ty = run_side(args.python, Path(a), args.calls, trainyard=True)
        sq = run_side(args.python, Path(b), args.sqlite_calls, trainyard=False)
    assert "trainyard_standins" not in ty["module"], "the real MLflow must be the one measured"
    ratio = sq["per_call_us"] / ty["per_call_us"]
    print(
        f"### Real MLflow client: `mlflow.log_metric(k, v, step=i)` per call (MLflow {ty['version']}; "
        f"{args.calls:,} calls into Trainyard, {args.sqlite_calls:,} into SQLite; target ≥ 10x)\n"
    )
    print("| what | trainyard plugin | mlflow sqlite store | ratio |")
    print("|---|---|---|---|")
    print(
        f"| log_metric, per call | {ty['per_call_us']:,.1f} µs | {sq['per_call_us']:,.1f} µs | "
        f"{ratio:,.0f}x faster |"
    )
    print(f"|   CPU per call | {ty['cpu_us']:,.1f} µs | {sq['cpu_us']:,.1f} µs | |")
    print(
        f"| end_run (Trainyard: writes what is buffered) | {ty['end_ms']:,.1f} ms | {sq['end_ms']:,.1f} ms | |"
    )


if __name__ == "__main__":
    main()
