"""What a training script's `run.get_metrics()` costs: the in-run client reads every process's
record files itself (trainyard_run.runinfo, standard library only, so it runs on Python 3.6), and
the engine's reader (engine.tracking.records.read_writer, numpy) reads the same files as the
peer. The files are written by the real client (`run.log`), N points of one metric in one
process. Prints a table.

    python bench/bench_inrun.py [--repeat 3]
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

from engine.runtime import INJECT_DIR
from engine.tracking.records import read_writer, writers

WRITE = """
import sys
from trainyard_run import Run
run = Run.get_context()
log = run.log
for i in range(int(sys.argv[1])):
    log("loss", i * 0.5)
run.flush()
"""

READ = """
import sys, time
from trainyard_run.runinfo import RunFolder
folder = RunFolder(sys.argv[1], None)
t0 = time.perf_counter()
metrics = folder.metrics()
elapsed = time.perf_counter() - t0
assert len(metrics["loss"]) == int(sys.argv[2])
print(elapsed)
"""


def write_points(tracking: Path, n: int) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(INJECT_DIR),
        "TRAINYARD_TRACKING_DIR": str(tracking),
        "TRAINYARD_RUN_ID": "bench",
    }
    subprocess.run([sys.executable, "-c", WRITE, str(n)], env=env, check=True)


def client_read(tracking: Path, n: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(INJECT_DIR)}
    out = subprocess.run(
        [sys.executable, "-c", READ, str(tracking), str(n)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout)


def engine_read(tracking: Path, n: int) -> float:
    t0 = time.perf_counter()
    records = [r for w in writers(tracking) for r in read_writer(tracking, w)[0]]
    elapsed = time.perf_counter() - t0
    assert len(records) == n
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print("| points of one metric | in-run `run.get_metrics()` (stdlib) | engine reader (numpy), the peer |")
    print("|---|---|---|")
    for n in (10_000, 100_000, 1_000_000):
        with tempfile.TemporaryDirectory() as tmp:
            tracking = Path(tmp) / "tracking"
            write_points(tracking, n)
            client = statistics.median(client_read(tracking, n) for _ in range(args.repeat))
            engine = statistics.median(engine_read(tracking, n) for _ in range(args.repeat))
        print(f"| {n:,} | {client * 1000:,.0f} ms | {engine * 1000:,.0f} ms |")


if __name__ == "__main__":
    main()
