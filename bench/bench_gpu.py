"""GPU assignment costs: submit -> first line of a local run asking for a GPU vs one asking for none
(the same run, the same machine), and the lease table's take-and-give-back (engine.compute.gpupool:
a flock'd JSON file) against the same done as one SQLite transaction (BEGIN IMMEDIATE), with 1 and 8
processes at once. The GPUs are the FAKE nvidia-smi's recorded four (a real nvidia-smi adds its own
~50-100 ms to each GPU run's start). Prints tables.

    python bench/bench_gpu.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.api import Engine
from engine.compute.gpupool import Claim, GpuPool, this_process
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles

SCRIPT = "print('first line', flush=True)\n"
OPS = 300


def wait_for(path: Path, text: str, timeout: float = 60) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            if text in path.read_text():
                return time.perf_counter()
        except OSError:
            pass
        time.sleep(0.002)
    raise TimeoutError(f"{text!r} never appeared in {path}")


def submit_times(eng: Engine, proj: Path, gpus: int | None, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat + 1):
        t0 = time.perf_counter()
        run = eng.submit(JobSpec(experiment_name="bench", code_dir=proj, script="first.py", gpus=gpus))
        times.append(wait_for(RunFiles(Path(run.run_dir)).driver_log, "first line") - t0)
        eng.wait(run.name, timeout=60)
    return times[1:]


def lease_worker(args: tuple[str, int]) -> float:
    root, worker = args
    pool = GpuPool("bench", Path(root))
    holder = this_process(f"run-{worker}", float(worker))
    t0 = time.perf_counter()
    done = 0
    while done < OPS:
        if pool.try_acquire(holder, Claim(count=1), [0, 1, 2, 3, 4, 5, 6, 7]) is not None:
            pool.release(holder.run)
            done += 1
    return time.perf_counter() - t0


def sqlite_worker(args: tuple[str, int]) -> float:
    path, worker = args
    db = sqlite3.connect(path, timeout=60, isolation_level=None)
    t0 = time.perf_counter()
    for _ in range(OPS):
        db.execute("BEGIN IMMEDIATE")
        free = db.execute("SELECT gpu FROM gpus WHERE holder IS NULL LIMIT 1").fetchone()
        db.execute(
            "UPDATE gpus SET holder = ?, pid = ? WHERE gpu = ?", (f"run-{worker}", os.getpid(), free[0])
        )
        db.execute("COMMIT")
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE gpus SET holder = NULL, pid = NULL WHERE holder = ?", (f"run-{worker}",))
        db.execute("COMMIT")
    db.close()
    return time.perf_counter() - t0


def per_op_ms(worker, arg: str, processes: int) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    with mp.get_context("fork").Pool(processes) as pool:
        pool.map(worker, [(arg, i) for i in range(processes)])
    return (time.perf_counter() - t0) / (OPS * processes) * 1000


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=7)
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-gpu-"))
    try:
        fake = tmp / "fake-gpu-bin"
        fake.mkdir()
        shutil.copy(ROOT / "tests" / "fixtures" / "fake_nvidia_smi", fake / "nvidia-smi")
        shutil.copy(ROOT / "tests" / "engine" / "fixtures" / "nvidia_smi_query_gpu.csv", fake)
        os.environ["PATH"] = f"{fake}{os.pathsep}{os.environ['PATH']}"
        os.environ["TRAINYARD_GPU_LEASES"] = str(tmp / "leases")
        proj = tmp / "proj"
        proj.mkdir()
        (proj / "first.py").write_text(SCRIPT)
        eng = Engine.open(tmp / "ws")
        try:
            plain = statistics.median(submit_times(eng, proj, None, a.repeat))
            gpu = statistics.median(submit_times(eng, proj, 1, a.repeat))
        finally:
            eng.close()
        print(f"### GPU assignment: what it costs (median of {a.repeat}; lease ops: {OPS} per process)\n")
        print("| what | with a GPU request | peer | peer time | difference |")
        print("|---|---|---|---|---|")
        print(
            f"| submit -> first line, local | {gpu:.3f} s | no GPU request | {plain:.3f} s | "
            f"{(gpu - plain) * 1000:+.0f} ms |"
        )
        db = tmp / "leases.db"
        con = sqlite3.connect(db)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE gpus (gpu INTEGER PRIMARY KEY, holder TEXT, pid INTEGER)")
        con.executemany("INSERT INTO gpus (gpu) VALUES (?)", [(i,) for i in range(8)])
        con.commit()
        con.close()
        for n in (1, 8):
            ours = per_op_ms(lease_worker, str(tmp / "pool"), n)
            peer = per_op_ms(sqlite_worker, str(db), n)
            print(
                f"| take + give back one GPU, {n} process{'es' if n > 1 else ''} at once, per op | "
                f"{ours:.3f} ms | SQLite table (BEGIN IMMEDIATE, WAL) | {peer:.3f} ms | {ours / peer:.1f}x |"
            )
        print(
            "\n_Runs asking for GPUs ask nvidia-smi once before they start: here the FAKE one (a shell "
            "script); a real nvidia-smi's own time adds to that, not measured here (no GPU on this machine). "
            "The lease table is taken once per run start and given back once at its end._"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
