"""Metric ingestion and history reads: Trainyard's store vs MLflow's SQLAlchemy store (SQLite),
measured in the same run on the same machine. Prints a markdown table.

    python bench/bench_store.py [--points 1000000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.runs.files import RunFiles
from engine.runs.ingest import RecordIngestor
from engine.store.sql import SqlStore


def write_records(tracking: Path, n: int) -> None:
    """Have the real in-run client log n points of 'loss' (a script in its own process)."""
    import subprocess

    inject = Path(__file__).resolve().parents[1] / "engine" / "tracking" / "inject"
    code = f"from azureml.core import Run\nrun = Run.get_context()\nfor i in range({n}):\n    run.log('loss', 1.0 / (i + 1))\n"
    env = {**os.environ, "PYTHONPATH": str(inject), "TRAINYARD_TRACKING_DIR": str(tracking),
           "TRAINYARD_RUN_ID": "bench"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def bench_trainyard(root: Path, n: int) -> dict[str, float]:
    store = SqlStore(f"sqlite:///{root / 'store.db'}")
    files = RunFiles(root / "run")
    files.tracking.mkdir(parents=True)
    store.create_run(name="bench", experiment_name="bench", run_dir=str(files.root))
    write_records(files.tracking, n)
    t0 = time.perf_counter()
    RecordIngestor(store, "bench", files).poll()
    ingest = time.perf_counter() - t0
    reads = []
    for _ in range(5):
        t0 = time.perf_counter()
        hist = store.metric_history("bench", "loss")
        reads.append(time.perf_counter() - t0)
    assert len(hist) == n and hist.values[-1] == 1.0 / n
    # A slow logger: 2,000 batches of 10 points (what a 0.2 s flush of a slow loop gives).
    store.create_run(name="slow", experiment_name="bench", run_dir=str(files.root))
    t0 = time.perf_counter()
    for b in range(2000):
        steps = list(range(b * 10, b * 10 + 10))
        store.ingest("slow", source="s", offset=b, last_seq=b, scalars={"loss": (steps, [0.5] * 10, [1.0] * 10)})
    small = time.perf_counter() - t0
    t0 = time.perf_counter()
    assert len(store.metric_history("slow", "loss")) == 20000
    slow_read = time.perf_counter() - t0
    store.close()
    return {"ingest_pps": n / ingest, "read_s": statistics.median(reads), "small_batch_s": small / 2000,
            "slow_read_s": slow_read}


def bench_mlflow(root: Path, n: int) -> dict[str, float] | str:
    try:
        import logging

        logging.getLogger("alembic").setLevel(logging.WARNING)
        logging.getLogger("mlflow").setLevel(logging.WARNING)
        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        return f"mlflow not importable: {exc}"
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    exp = client.create_experiment("bench", artifact_location=str(root / "artifacts"))
    run = client.create_run(exp)
    t_base = int(time.time() * 1000)
    t0 = time.perf_counter()
    for start in range(0, n, 1000):  # MLflow's log_batch takes at most 1,000 metrics
        client.log_batch(run.info.run_id, metrics=[
            Metric("loss", 1.0 / (i + 1), t_base + i, i) for i in range(start, min(n, start + 1000))])
    ingest = time.perf_counter() - t0
    t0 = time.perf_counter()
    hist = client.get_metric_history(run.info.run_id, "loss")
    read = time.perf_counter() - t0
    assert len(hist) == n
    t0 = time.perf_counter()
    for b in range(200):
        client.log_batch(run.info.run_id, metrics=[Metric("slow", 0.5, t_base, b * 10 + j) for j in range(10)])
    small = (time.perf_counter() - t0) / 200
    return {"ingest_pps": n / ingest, "read_s": read, "read_n": n, "small_batch_s": small}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--mlflow-points", type=int, default=50_000,
                    help="MLflow is measured on fewer points (it is slow); its read time is scaled to --points")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ty = bench_trainyard(Path(tmp) / "ty", args.points) if (Path(tmp) / "ty").mkdir() is None else {}
        (Path(tmp) / "ml").mkdir()
        ml = bench_mlflow(Path(tmp) / "ml", args.mlflow_points)
    n = args.points
    print(f"### Metric store ({n:,} points of one metric, SQLite; MLflow measured on {args.mlflow_points:,})\n")
    print("| what | trainyard | mlflow | ratio (mlflow / trainyard) | target |")
    print("|---|---|---|---|---|")
    if isinstance(ml, str):
        print(f"| (peer) | | {ml} | | |")
        ml = {}
    ing_ml = ml.get("ingest_pps")
    print(f"| ingestion, points/s | {ty['ingest_pps']:,.0f} | {ing_ml or 0:,.0f} | "
          f"{(ty['ingest_pps'] / ing_ml) if ing_ml else float('nan'):.0f}x faster | ≥ 500,000 |")
    read_ml_scaled = ml["read_s"] * n / ml["read_n"] if ml else None
    print(f"| read {n:,}-point history, ms | {ty['read_s'] * 1e3:.1f} | "
          f"{(read_ml_scaled or 0) * 1e3:,.0f} (scaled from {ml.get('read_s', 0) * 1e3:,.0f} ms for "
          f"{ml.get('read_n', 0):,}) | {(read_ml_scaled / ty['read_s']) if read_ml_scaled else float('nan'):.0f}x | ≤ 200 |")
    print(f"| one small batch (10 points), ms | {ty['small_batch_s'] * 1e3:.2f} | "
          f"{ml.get('small_batch_s', 0) * 1e3:.2f} | {ml.get('small_batch_s', 0) / ty['small_batch_s']:.1f}x | |")
    print(f"| read 20,000 points logged in 2,000 small batches, ms | {ty['slow_read_s'] * 1e3:.1f} | | | |")


if __name__ == "__main__":
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    main()
