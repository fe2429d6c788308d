"""`trainyard job list` / `job show` on a workspace of 1,000 runs, wall time of the whole command
(process start included), against `python -c pass` (the floor), the same listing through the
full Engine (SQLAlchemy, what `job list` did before engine.lookup) and `mlflow runs list` on an
MLflow SQLite store of 1,000 runs, all in the same run. Prints a table.

    python bench/bench_cli.py [--repeat 9]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

N_RUNS = 1000
TARGET_MS = 150
FULL_ENGINE_LIST = (
    "from engine.api import Engine; e = Engine.open(); [print(r.name, r.status) for r in e.list_runs()]"
)


def wall(cmd: list[str], env: dict[str, str], repeat: int) -> list[float]:
    subprocess.run(cmd, env=env, capture_output=True, check=True)  # warm the page cache
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=True)
        out.append(time.perf_counter() - t0)
    return out


def seed_mlflow(uri: str, n: int) -> str | None:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        return None
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("bench")
    for i in range(n):
        run = client.create_run(exp, run_name=f"run_{i:06d}", tags={"seed": str(i % 3)})
        client.log_metric(run.info.run_id, "loss", 1.0 / (i + 1))
        client.set_terminated(run.info.run_id)
    return exp


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    from bench_studio_table import seed

    from engine.api import Engine

    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        ws = tmp / "ws"
        eng = Engine.open(ws)
        seed(eng.store, N_RUNS)
        eng.close()
        Engine.open(ws).close()  # as any first open after an upgrade: stamps the schema
        env = {
            **os.environ,
            "TRAINYARD_WORKSPACE": str(ws),
            "PYTHONPATH": str(ROOT),
            "PYTHONWARNINGS": "ignore",
        }
        # As installed (pip compiles the bytecode at install): cached bytecode, written now. A shell with
        # PYTHONDONTWRITEBYTECODE=1 and no __pycache__ compiles every module on every start (last row).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("PYTHONPYCACHEPREFIX", None)
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(ROOT / "engine"), str(ROOT / "studio")],
            env=env,
            capture_output=True,
            check=False,
        )
        no_cache = {**env, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(tmp / "empty-pycache")}
        ty = [sys.executable, "-c", "from studio.launch import main; main()"]
        rows = {
            "python -c pass (floor)": wall([sys.executable, "-c", "pass"], env, args.repeat),
            "trainyard job list": wall([*ty, "job", "list"], env, args.repeat),
            "trainyard job show -n run_000500": wall(
                [*ty, "job", "show", "-n", "run_000500"], env, args.repeat
            ),
            "the same list through the full Engine (before)": wall(
                [sys.executable, "-c", FULL_ENGINE_LIST], env, args.repeat
            ),
            "trainyard job list, no cached bytecode (compiled each start)": wall(
                [*ty, "job", "list"], no_cache, args.repeat
            ),
        }
        mlflow_cli = Path(sys.executable).with_name("mlflow")
        uri = f"sqlite:///{tmp / 'mlflow.db'}"
        exp = seed_mlflow(uri, N_RUNS) if mlflow_cli.exists() else None
        if exp is not None:
            rows["mlflow runs list (SQLite store, peer)"] = wall(
                [str(mlflow_cli), "runs", "list", "--experiment-id", exp],
                {**env, "MLFLOW_TRACKING_URI": uri},
                args.repeat,
            )
    med = {k: statistics.median(v) for k, v in rows.items()}
    floor = med["python -c pass (floor)"]
    print(f"### CLI on a workspace of {N_RUNS:,} runs: whole command, wall (median of {args.repeat})\n")
    print("| command | wall | over `python -c pass` | target |")
    print("|---|---|---|---|")
    for k, v in med.items():
        target = f"≤ {TARGET_MS} ms" if k.startswith("trainyard") and "bytecode" not in k else ""
        print(f"| {k} | {v * 1000:,.0f} ms | +{(v - floor) * 1000:,.0f} ms ({v / floor:.1f}x) | {target} |")


if __name__ == "__main__":
    main()
