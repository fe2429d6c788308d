"""Submit -> the script's first line, through Trainyard on a Slurm target vs `sbatch` of the same
script by hand: the overhead Trainyard adds (staging the code and the in-run client, writing the
batch script, recording the run, pulling the log back). Runs against the one-node test cluster
(tests/infra/slurm_setup.sh, started here when needed), alternating the two ways. Prints a table.

    python bench/bench_slurm.py [--repeats 5]

Two times per submission, both from the moment the submit command is started:
- started: the script's first line runs (it prints time.time());
- seen: that line is in the file a user reads (the run's azureml-logs/70_driver_log.txt, pulled
  back by offset for Trainyard; sbatch's own --output file by hand), polled every 10 ms.
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
SCRIPT = "import time\nprint('FIRST', time.time(), flush=True)\n"


def start_slurm() -> None:
    res = subprocess.run(["bash", str(ROOT / "tests" / "infra" / "slurm_setup.sh")], capture_output=True, text=True,
                         env={**os.environ, "DIR": "/tmp/trainyard-slurm"}, check=False)
    if res.returncode != 0:
        sys.exit(f"Slurm could not start:\n{res.stderr}")
    for line in res.stdout.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        os.environ[key] = value


def wait_line(path: Path, timeout: float = 120) -> tuple[float, float]:
    """(when the script printed its first line, when this process saw it in `path`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for line in path.read_text().splitlines():
                if line.startswith("FIRST "):
                    return float(line.split()[1]), time.time()
        except OSError:
            pass
        time.sleep(0.01)
    raise TimeoutError(f"no first line in {path}")


def wait_idle() -> None:
    while subprocess.run(["squeue", "-h"], capture_output=True, text=True, check=False).stdout.strip():
        time.sleep(0.1)


def by_hand(work: Path, i: int) -> tuple[float, float]:
    folder = work / f"hand{i}"
    folder.mkdir()
    (folder / "first.py").write_text(SCRIPT)
    out = folder / "out.txt"
    (folder / "job.sh").write_text(f"#!/bin/bash\n#SBATCH --output={out}\n#SBATCH --chdir={folder}\n"
                                   f"#SBATCH --partition=debug\n#SBATCH --nodes=1\n#SBATCH --ntasks=1\n"
                                   f"{sys.executable} first.py\n")
    t0 = time.time()
    subprocess.run(["sbatch", "--parsable", str(folder / "job.sh")], check=True, capture_output=True)
    started, seen = wait_line(out)
    return started - t0, seen - t0


def through_trainyard(work: Path, ws: Path, i: int) -> tuple[float, float]:
    proj = work / f"ty{i}"
    proj.mkdir()
    (proj / "first.py").write_text(SCRIPT)
    (proj / "job.yml").write_text(f"command: python first.py\ncode: .\ncompute: azureml:cluster\n"
                                  f"environment:\n  python: {{interpreter_path: {sys.executable}}}\n")
    t0 = time.time()
    out = subprocess.run([sys.executable, "-m", "engine.cli.main", "job", "create", "-f", str(proj / "job.yml"),
                          "-o", "json", "-w", str(ws)], capture_output=True, text=True, check=True, cwd=ROOT)
    import json

    name = json.loads(out.stdout)["name"]
    started, seen = wait_line(ws / ".trainyard" / "runs" / name / "azureml-logs" / "70_driver_log.txt")
    subprocess.run([sys.executable, "-m", "engine.cli.main", "job", "stream", "-n", name, "-w", str(ws)],
                   capture_output=True, check=False, cwd=ROOT)
    return started - t0, seen - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    start_slurm()
    os.environ["PYTHONPATH"] = str(ROOT)
    with tempfile.TemporaryDirectory(prefix="bench-slurm-") as tmp:
        work = Path(tmp)
        ws = work / "ws"
        subprocess.run([sys.executable, "-m", "engine.cli.main", "init", str(ws)], check=True, capture_output=True,
                       cwd=ROOT)
        (work / "cluster.yml").write_text("name: cluster\ntype: slurm\nlocal: true\npartition: debug\n")
        subprocess.run([sys.executable, "-m", "engine.cli.main", "compute", "create", "-f", str(work / "cluster.yml"),
                        "-w", str(ws)], check=True, capture_output=True, cwd=ROOT)
        through_trainyard(work, ws, -1)  # warm: the first supervisor start imports everything once
        results: dict[str, list[tuple[float, float]]] = {"sbatch by hand": [], "trainyard job create": []}
        for i in range(args.repeats):
            wait_idle()
            results["sbatch by hand"].append(by_hand(work, i))
            wait_idle()
            results["trainyard job create"].append(through_trainyard(work, ws, i))
    print(f"submit -> the script's first line on Slurm (one-node test cluster, {args.repeats} runs each, "
          f"alternating; seconds)")
    print(f"{'how':24} {'started (median)':>17} {'started (min)':>14} {'seen (median)':>14} {'seen (min)':>11}")
    for how, rows in results.items():
        st, se = [r[0] for r in rows], [r[1] for r in rows]
        print(f"{how:24} {statistics.median(st):17.2f} {min(st):14.2f} {statistics.median(se):14.2f} {min(se):11.2f}")


if __name__ == "__main__":
    main()
