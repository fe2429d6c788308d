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

    from engine.tracking.records import parse_records, read_complete_lines, scalar_columns

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

    files = list(tracking.glob("*.jsonl"))
    assert len(files) == 1, files
    size = files[0].stat().st_size

    t0 = time.perf_counter()
    lines, _offset = read_complete_lines(files[0], 0, max_bytes=1 << 30)
    read_s = time.perf_counter() - t0
    records, errors = parse_records(lines, str(files[0]))
    assert not errors, errors[:3]
    columns = scalar_columns(records)
    for rep in range(repeats):
        steps, got, _stamps = columns[f"loss{rep}"]
        assert got == [0.0, *values] and steps == list(range(calls + 1)), "lost or changed points"

    # Parse throughput on the 1M lines of one repeat: best of 3, CPU time (the machine is shared).
    first = 1001 + 1  # the warm-up records and the key's first call
    chunk = lines[first : first + calls]
    parse_cpu, parse_wall, col_cpu = [], [], []
    for _ in range(3):
        del records
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        records, errors = parse_records(chunk, str(files[0]))
        t1, c1 = time.perf_counter(), time.process_time()
        scalar_columns(records)
        c2 = time.process_time()
        parse_wall.append(t1 - t0)
        parse_cpu.append(c1 - c0)
        col_cpu.append(c2 - c1)
    assert len(records) == calls
    return {
        "log_us": statistics.median(log_s) / calls * 1e6,
        "log_cpu_us": statistics.median(log_cpu) / calls * 1e6,
        "loop_us": loop / calls * 1e6,
        "flush_ms": statistics.median(flush_s) * 1e3,
        "total_us": statistics.median([a + b for a, b in zip(log_s, flush_s)]) / calls * 1e6,
        "worst_total_us": max(a + b for a, b in zip(log_s, flush_s)) / calls * 1e6,
        "bytes_per_record": size / len(lines),
        "read_per_s": len(lines) / read_s,
        "parse_per_s": calls / min(parse_cpu),
        "parse_wall_per_s": calls / min(parse_wall),
        "columns_per_s": calls / min(col_cpu),
    }


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
    row("(the benchmark's empty loop, per call)", f"{ty['loop_us']:.2f} µs")
    row("record file size, per point", f"{ty['bytes_per_record']:.0f} B")
    row("read_complete_lines", f"{ty['read_per_s']:,.0f} lines/s")
    row(
        "parse_records (best of 3, CPU)",
        f"{ty['parse_per_s']:,.0f} records/s (wall {ty['parse_wall_per_s']:,.0f})",
    )
    row("scalar_columns (best of 3, CPU)", f"{ty['columns_per_s']:,.0f} records/s")


if __name__ == "__main__":
    main()
