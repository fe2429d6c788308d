"""What telling stderr apart costs a run's script (the Logs tab's stderr colour).

A Python process writes N lines to stderr (`logging`'s default handler, the usual heavy writer)
and N to stdout, into a driver log file, three ways, in the same run, medians of --repeat:
- plain: stdout and stderr one file, nothing marked (before this change; the floor);
- marked: the same with Trainyard's sitecustomize, which notes each stderr write's byte range
  (engine.runtime.stderrmarks);
- the peer: stderr through a pipe that another process copies into the log (what runners that
  keep the streams apart do, e.g. Docker's log driver): here a thread of this process.

    python bench/bench_stderr_marks.py [--lines 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INJECT = ROOT / "engine" / "tracking" / "inject"

SCRIPT = """
import logging, sys, time
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
n = int(sys.argv[1])
t = time.perf_counter()
for i in range(n):
    logging.info("step %d loss %.4f", i, 1.0 / (i + 1))
    print("epoch", i)
with open(sys.argv[2], "w") as f:
    f.write(str(time.perf_counter() - t))
"""


def run(kind: str, folder: Path, lines: int) -> float:
    logs = folder / "azureml-logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / "70_driver_log.txt"
    for old in (log, logs / ".70_driver_log.txt.stderr"):
        old.unlink(missing_ok=True)
    took = folder / "took"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if kind == "marked":
        env.update(TRAINYARD_RUN_DIR=str(folder), PYTHONPATH=str(INJECT))
    argv = [sys.executable, "-c", SCRIPT, str(lines), str(took)]
    with open(log, "ab", buffering=0) as out:
        if kind == "peer":
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE, env=env)
            assert proc.stderr is not None
            pipe = proc.stderr

            def copy() -> None:
                with open(log, "ab", buffering=0) as err:
                    while chunk := os.read(pipe.fileno(), 65536):
                        err.write(chunk)

            relay = threading.Thread(target=copy)
            relay.start()
            proc.wait()
            relay.join()
        else:
            subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, check=True)
    if kind == "marked":
        assert (logs / ".70_driver_log.txt.stderr").stat().st_size > 0, "nothing was marked"
    return float(took.read_text())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    kinds = ("plain", "marked", "peer")
    times: dict[str, list[float]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(prefix="bench-stderr-") as tmp:
        for _ in range(args.repeat):
            for kind in kinds:  # interleaved: the machine's noise falls on all three alike
                times[kind].append(run(kind, Path(tmp), args.lines))
    med = {k: statistics.median(v) for k, v in times.items()}
    per = {k: (med[k] - med["plain"]) / args.lines * 1e6 for k in kinds}
    print(f"{args.lines:,} stderr lines + {args.lines:,} stdout lines, median of {args.repeat}")
    print("| how | loop s | vs plain | µs per stderr line over plain |")
    print("|---|---|---|---|")
    labels = {"plain": "one file, stderr not told apart (the floor)",
              "marked": "one file, stderr marked (Trainyard)",
              "peer": "stderr through a pipe copied into the log (the peer)"}
    for k in kinds:
        print(f"| {labels[k]} | {med[k]:.3f} | {med[k] / med['plain']:.2f}× | {per[k]:+.1f} |")


if __name__ == "__main__":
    main()
