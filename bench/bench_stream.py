"""`trainyard job create --stream` of a job that prints one line and exits: the whole command
(process start to exit) and process start -> the line on its stdout, against `mlflow run` of the
same script (env-manager local) measured in the same run. `--before TREE` also measures another
checkout of Trainyard (e.g. a `git worktree` of an older commit) in the same run, in turn with
this one. Prints a table.

    python bench/bench_stream.py [--repeat 7] [--before /path/to/older/checkout]
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
SCRIPT = "print('first line', flush=True)\n"


def run_once(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(seconds to the first line on stdout, seconds to exit) of one command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    first: float | None = None
    for line in proc.stdout:
        if "first line" in line and first is None:
            first = time.perf_counter() - t0
    proc.wait()
    end = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} exited {proc.returncode}")
    return (end if first is None else first), end


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--before", default=None, help="another checkout of Trainyard, measured in turn")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        proj = tmp / "proj"
        proj.mkdir()
        (proj / "first.py").write_text(SCRIPT)
        (proj / "job.yml").write_text("code: .\ncommand: python first.py\n")
        (proj / "MLproject").write_text("name: first\nentry_points:\n  main:\n    command: python first.py\n")
        base = {
            k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
        }
        trees = {"trainyard (this checkout)": ROOT}
        if args.before:
            trees = {f"trainyard ({Path(args.before).name})": Path(args.before).resolve(), **trees}
        cmds: dict[str, tuple[list[str], dict[str, str]]] = {}
        for label, tree in trees.items():
            env = {**base, "PYTHONPATH": str(tree), "TRAINYARD_WORKSPACE": str(tmp / f"ws-{len(cmds)}")}
            cmds[label] = (
                [
                    sys.executable,
                    "-c",
                    "from studio.launch import main; main()",
                    "job",
                    "create",
                    "-f",
                    "job.yml",
                    "--stream",
                ],
                env,
            )
        mlflow = Path(sys.executable).with_name("mlflow")
        if mlflow.exists():
            cmds["mlflow run (env-manager local, peer)"] = (
                [str(mlflow), "run", str(proj), "-e", "main", "--env-manager", "local"],
                {**base, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}"},
            )
        results: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
        for i in range(args.repeat + 1):  # the first round creates the stores and warms the caches
            for label, (cmd, env) in cmds.items():
                got = run_once(cmd, env, proj)
                if i:
                    results[label].append(got)
    print(f"### `job create --stream` of a one-line job, local compute (median of {args.repeat}, in turn)\n")
    print("| command | process start → first line | whole command (exit) | target |")
    print("|---|---|---|---|")
    for label, res in results.items():
        first = statistics.median(r[0] for r in res)
        end = statistics.median(r[1] for r in res)
        target = "≤ 0.3 s / ≤ 0.5 s" if label.startswith("trainyard") else ""
        print(f"| {label} | {first:.2f} s | {end:.2f} s | {target} |")


if __name__ == "__main__":
    main()
