"""Benchmark: the cost of logging a scalar metric from a training script.

Compares Trainyard's in-run client (``run.log('loss', v)``, 1,000,000 calls inside a live run
with the flush thread running) with MLflow's ``mlflow.log_metric('loss', v, step=i)`` against a
local file store (2,000 calls: it is much slower), and measures how fast the engine parses the
resulting record file. Prints a markdown table.

    .venv/bin/python bench/bench_log.py [--calls 1000000] [--mlflow-calls 2000]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INJECT = ROOT / "engine" / "tracking" / "inject"


def bench_trainyard(tmp: Path, calls: int, repeats: int) -> dict[str, float]:
    """Per-call cost of run.log inside a live run, the final flush, and parse throughput.

    The logging loop runs ``repeats`` times (median reported): this machine is shared, and one
    run of a second is easily disturbed.
    """
    tracking = tmp / "tracking"
    os.environ.update(
        TRAINYARD_RUN_ID="bench-run",
        TRAINYARD_EXPERIMENT="bench",
        TRAINYARD_TRACKING_DIR=str(tracking),
        TRAINYARD_FLUSH_INTERVAL="0.2",
    )
    sys.path.insert(0, str(INJECT))
    from trainyard_run import Run

    from engine.tracking.records import read_key_definitions, read_scalar_block, split_scalars, writers

    run = Run.get_context()
    values = [random.random() for _ in range(calls)]
    log = run.log
    for v in values[:1000]:  # warm up: first-key path, file creation
        log("warmup", v)
    run.flush()

    log_s, log_cpu, flush_s = [], [], []
    for rep in range(repeats):
        key = f"loss{rep}"
        log(key, 0.0)  # the key's first call (validation, counter) is not the steady state
        start, start_cpu = time.perf_counter(), time.process_time()
        for v in values:
            log(key, v)
        logged, logged_cpu = time.perf_counter(), time.process_time()
        run.flush()
        flushed = time.perf_counter()
        log_s.append(logged - start)
        log_cpu.append(logged_cpu - start_cpu)  # both threads: the flush thread's share included
        flush_s.append(flushed - logged)

    # The empty loop, to show how much of the per-call figure is the benchmark's own loop.
    start_loop = time.perf_counter()
    for v in values:
        pass
    loop = time.perf_counter() - start_loop

    (writer,) = writers(tracking)
    size = sum(p.stat().st_size for p in tracking.iterdir() if p.stem == writer)

    # Reading back: the binary scalar file as arrays (what the supervisor's ingestion does).
    scalars = tracking / f"{writer}.scalars"
    keys = read_key_definitions(tracking / f"{writer}.jsonl")
    read_cpu = []
    for _ in range(3):
        t0 = time.process_time()
        block, _offset = read_scalar_block(scalars, 0, 1 << 26)
        columns, used = split_scalars(block, keys)
        read_cpu.append(time.process_time() - t0)
    assert used == len(block)
    for rep in range(repeats):
        steps, got, _stamps = columns[f"loss{rep}"]
        assert got.tolist() == [0.0, *values] and steps.tolist() == list(range(calls + 1)), "lost points"
    n_records = len(block)
    return {
        "log_us": statistics.median(log_s) / calls * 1e6,
        "log_cpu_us": statistics.median(log_cpu) / calls * 1e6,
        "loop_us": loop / calls * 1e6,
        "flush_ms": statistics.median(flush_s) * 1e3,
        "total_us": statistics.median([a + b for a, b in zip(log_s, flush_s)]) / calls * 1e6,
        "worst_total_us": max(a + b for a, b in zip(log_s, flush_s)) / calls * 1e6,
        "bytes_per_record": size / n_records,
        "read_per_s": n_records / min(read_cpu),
    }


STAND_IN = """
import statistics, sys, time
import mlflow
assert mlflow.__file__.startswith(sys.argv[2]), mlflow.__file__  # Trainyard's stand-in, not MLflow
calls = int(sys.argv[1])
with mlflow.start_run():
    for i in range(1000):
        mlflow.log_metric("warmup", 0.5, step=i)
    times = []
    for rep in range(3):
        start = time.perf_counter()
        for i in range(calls):
            mlflow.log_metric("loss%d" % rep, 0.25, step=i)
        times.append(time.perf_counter() - start)
print(statistics.median(times) / calls * 1e6)
"""


def bench_mlflow_stand_in(tmp: Path, calls: int) -> float:
    """Per-call cost of the same ``mlflow.log_metric(key, v, step=i)`` inside a Trainyard run, where
    ``import mlflow`` is the stand-in: in a child process, as a run's script sees it."""
    env = {**os.environ, "PYTHONPATH": str(INJECT), "TRAINYARD_RUN_ID": "bench-mlflow",
           "TRAINYARD_EXPERIMENT": "bench", "TRAINYARD_TRACKING_DIR": str(tmp / "stand-in"),
           "TRAINYARD_FLUSH_INTERVAL": "0.2"}
    out = subprocess.run([sys.executable, "-c", STAND_IN, str(calls), str(INJECT)], env=env, check=True,
                         capture_output=True, text=True, timeout=600)
    return float(out.stdout.strip().splitlines()[-1])


def bench_mlflow(tmp: Path, calls: int, store: str) -> dict[str, float] | None:
    """Per-call cost of mlflow.log_metric against a local store (``sqlite`` or ``file``)."""
    try:
        import mlflow
    except ImportError:
        return None
    warnings.filterwarnings("ignore")
    if store == "sqlite":
        mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    else:
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3 refuses file stores otherwise
        mlflow.set_tracking_uri((tmp / "mlruns").as_uri())
    mlflow.set_experiment(f"bench-{store}")
    values = [random.random() for _ in range(calls)]
    with mlflow.start_run():
        for i in range(20):  # warm up
            mlflow.log_metric("warmup", 0.5, step=i)
        start = time.perf_counter()
        for i, v in enumerate(values):
            mlflow.log_metric("loss", v, step=i)
        logged = time.perf_counter()
    ended = time.perf_counter()
    return {
        "log_us": (logged - start) / calls * 1e6,
        "flush_ms": (ended - logged) * 1e3,  # end_run: MLflow writes synchronously, so this is small
        "total_us": (ended - start) / calls * 1e6,
        "version": mlflow.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--mlflow-calls", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    random.seed(1)
    with tempfile.TemporaryDirectory(prefix="trainyard-bench-") as tmp:
        ml = bench_mlflow(Path(tmp), args.mlflow_calls, "sqlite")
        ml_file = bench_mlflow(Path(tmp), args.mlflow_calls, "file")
        stand_in_us = bench_mlflow_stand_in(Path(tmp), args.calls // 5)
        gc.collect()
        ty = bench_trainyard(Path(tmp), args.calls, args.repeats)

    def ratio(a: float, b: float) -> str:
        return f"{b / a:,.0f}x faster" if a < b else f"{a / b:,.1f}x slower"

    def row(what: str, ours: str, theirs: str = "", rat: str = "") -> None:
        print(f"| {what} | {ours} | {theirs} | {rat} |")

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, load {load}")
    print(
        f"trainyard: {args.repeats} x {args.calls:,} calls (median), flush interval 0.2 s; "
        f"mlflow(-skinny) {ml['version'] if ml else 'n/a'}: {args.mlflow_calls:,} calls, sqlite store"
    )
    print()
    row("what", "trainyard", "mlflow", "ratio")
    print("|---|---|---|---|")
    ml_log = f"{ml['log_us']:,.0f} µs" if ml else "n/a"
    row(
        "log a scalar, per call",
        f"{ty['log_us']:.2f} µs",
        ml_log,
        ratio(ty["log_us"], ml["log_us"]) if ml else "",
    )
    row("  same, CPU per call (both threads)", f"{ty['log_cpu_us']:.2f} µs")
    row("final flush / end_run", f"{ty['flush_ms']:.0f} ms", f"{ml['flush_ms']:.0f} ms" if ml else "n/a")
    row(
        "per point incl. final flush",
        f"{ty['total_us']:.2f} µs (worst repeat {ty['worst_total_us']:.2f})",
        f"{ml['total_us']:,.0f} µs" if ml else "n/a",
        ratio(ty["total_us"], ml["total_us"]) if ml else "",
    )
    if ml_file:
        row(
            "log a scalar, per call, mlflow file store",
            f"{ty['log_us']:.2f} µs",
            f"{ml_file['log_us']:,.0f} µs",
            ratio(ty["log_us"], ml_file["log_us"]),
        )
    row(
        "`mlflow.log_metric(k, v, step=i)` in a script, per call (Trainyard run: its stand-in)",
        f"{stand_in_us:.2f} µs",
        ml_log,
        ratio(stand_in_us, ml["log_us"]) if ml else "",
    )
    row("(the benchmark's empty loop, per call)", f"{ty['loop_us']:.2f} µs")
    row("record file size, per point", f"{ty['bytes_per_record']:.0f} B")
    row("read the records back as arrays (best of 3, CPU)", f"{ty['read_per_s']:,.0f} points/s")


if __name__ == "__main__":
    main()
