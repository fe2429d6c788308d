"""Submit -> first line of the user's script, on local compute: Trainyard vs `mlflow run`
(local env manager) on the same one-line script, measured in the same run. Prints a table.

    python bench/bench_submit.py [--repeat 7]
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

from engine.api import Engine
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles

SCRIPT = "print('first line', flush=True)\n"


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


def bench_sdk(tmp: Path, repeat: int) -> list[float]:
    proj = tmp / "proj"
    proj.mkdir()
    (proj / "first.py").write_text(SCRIPT)
    eng = Engine.open(tmp / "ws")
    times = []
    for _ in range(repeat + 1):
        t0 = time.perf_counter()
        run = eng.submit(JobSpec(experiment_name="bench", code_dir=proj, script="first.py"))
        t1 = wait_for(RunFiles(Path(run.run_dir)).driver_log, "first line")
        times.append(t1 - t0)
        eng.wait(run.name, timeout=60)
    return times[1:]  # the first one creates the store and warms the page cache


def bench_env(tmp: Path, repeat: int, env: object) -> list[float] | str:
    """Submit -> first line with an environment that is already built (the first run builds it)."""
    proj = tmp / "envproj"
    proj.mkdir(exist_ok=True)
    (proj / "first.py").write_text(SCRIPT)
    eng = Engine.open(tmp / "ws")
    times = []
    try:
        for _ in range(repeat + 1):
            t0 = time.perf_counter()
            run = eng.submit(JobSpec(experiment_name="bench", code_dir=proj, script="first.py",
                                     environment_spec=env))  # type: ignore[arg-type]
            t1 = wait_for(RunFiles(Path(run.run_dir)).driver_log, "first line", timeout=300)
            final = eng.wait(run.name, timeout=120)
            if final.status != "Completed":
                return f"failed: {final.error}"
            times.append(t1 - t0)
    except TimeoutError as exc:
        return str(exc)
    return times[1:]


def bench_cli(tmp: Path, repeat: int) -> list[float]:
    proj = tmp / "cliproj"
    (proj / "src").mkdir(parents=True)
    (proj / "src" / "first.py").write_text(SCRIPT)
    (proj / "job.yml").write_text("code: src\ncommand: python first.py\n")
    env = {**os.environ, "TRAINYARD_WORKSPACE": str(tmp / "ws")}
    eng = Engine.open(tmp / "ws")
    times = []
    for _ in range(repeat + 1):
        before = {r.name for r in eng.list_runs()}
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "engine.cli.main", "job", "create", "-f", str(proj / "job.yml")],
                       env=env, check=True, capture_output=True)
        name = next(r.name for r in eng.list_runs() if r.name not in before)
        t1 = wait_for(RunFiles(Path(eng.get_run(name).run_dir)).driver_log, "first line")
        times.append(t1 - t0)
        eng.wait(name, timeout=60)
    return times[1:]


def bench_mlflow(tmp: Path, repeat: int) -> list[float] | str:
    mlflow = Path(sys.executable).with_name("mlflow")
    if not mlflow.exists():
        return "mlflow CLI not installed"
    proj = tmp / "mlproj"
    proj.mkdir()
    (proj / "first.py").write_text(SCRIPT)
    (proj / "MLproject").write_text("name: first\nentry_points:\n  main:\n    command: python first.py\n")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}"}
    times = []
    for _ in range(repeat + 1):
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(mlflow), "run", str(proj), "-e", "main", "--env-manager", "local"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            if "first line" in line:
                times.append(time.perf_counter() - t0)
                break
        proc.wait()
    return times[1:]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        sdk = bench_sdk(tmp, args.repeat)
        cli = bench_cli(tmp, args.repeat)
        ml = bench_mlflow(tmp, args.repeat)
        from engine.entities import EnvironmentSpec

        venv = bench_env(tmp, args.repeat, EnvironmentSpec(name="bench-venv", pip_requirements=("six",)))
        image = bench_env(tmp, args.repeat, EnvironmentSpec(name="bench-docker", image="trainyard-test-base:latest",
                                                            pip_requirements=("six",)))
    med = statistics.median
    print(f"### Submit → first line of the script, local compute (median of {args.repeat})\n")
    print("| how | trainyard | mlflow run (env-manager local) | ratio (mlflow / trainyard) | target |")
    print("|---|---|---|---|---|")
    ml_med = med(ml) if isinstance(ml, list) else None
    ml_cell = f"{ml_med:.2f} s" if ml_med else str(ml)
    print(f"| SDK / in-process submit | {med(sdk):.3f} s | {ml_cell} | "
          f"{(ml_med / med(sdk)) if ml_med else float('nan'):.1f}x | ≤ 0.5 s |")
    print(f"| CLI `job create` (process start included) | {med(cli):.3f} s | {ml_cell} | "
          f"{(ml_med / med(cli)) if ml_med else float('nan'):.1f}x | |")
    for label, res, target in (("SDK, cached uv venv environment", venv, "≤ 0.5 s over no environment"),
                               ("SDK, cached Docker image (container start)", image, "")):
        if isinstance(res, str):
            print(f"| {label} | {res} | | | {target} |")
        else:
            over = med(res) - med(sdk)
            print(f"| {label} | {med(res):.3f} s (+{over:.3f} s over no environment) | {ml_cell} | "
                  f"{(ml_med / med(res)) if ml_med else float('nan'):.1f}x | {target} |")


if __name__ == "__main__":
    main()
