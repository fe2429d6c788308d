"""Render a pipeline run's page, running and finished, to PNGs (docs/screenshots).

    .venv/bin/python scripts/pipeline_screenshots.py OUT_DIR

A five-step pipeline in the style of the nyc-taxi example (prep -> transform -> train -> predict
-> score, CSV files between the steps), built with `from trainyard import command, pipeline` and
run for real in a fresh workspace. It runs once to the end; then train's command changes and it is
submitted again: prep and transform are reused, train is held running while
OUT_DIR/pipeline-running.png is taken, then released, and OUT_DIR/pipeline-finished.png shows
the end (each in OUT_DIR/dark/ too).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STEP = textwrap.dedent('''
    """A pipeline step: copy the CSV rows from --inp (if any) to --out, adding a column; train waits
    for --hold to exist, so that a screenshot can catch it running."""
    import argparse, csv, os, random, time
    from azureml.core import Run

    p = argparse.ArgumentParser()
    p.add_argument("--inp", action="append", default=[])
    p.add_argument("--out", required=True)
    p.add_argument("--hold", default="")
    p.add_argument("--name", required=True)
    p.add_argument("--version", default="1")
    a = p.parse_args()
    rows = []
    for folder in a.inp:
        with open(os.path.join(folder, "data.csv"), newline="") as f:
            rows += list(csv.DictReader(f))
    if not rows:
        rnd = random.Random(3)
        rows = [{"distance": round(rnd.uniform(1, 20), 2), "fare": round(rnd.uniform(5, 60), 2)} for _ in range(200)]
    if a.version != "1":  # another model: the steps after it get other data, so they run again
        rows = [dict(r, model_version=a.version) for r in rows]
    run = Run.get_context()
    for i in range(20):
        run.log("loss", 1.0 / (i + 1))
        time.sleep(0.05)
    while a.hold and not os.path.exists(a.hold):
        time.sleep(0.1)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "data.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    run.log("rows", len(rows))
    print(a.name, "wrote", len(rows), "rows")
''')


def build(src: Path, hold: Path, version: int):  # type: ignore[no-untyped-def]
    from trainyard import Input, Output, command, pipeline

    def step(name: str, inputs: tuple[str, ...], extra: str = "") -> object:
        args = " ".join(f"--inp ${{{{inputs.{i}}}}}" for i in inputs)
        return command(
            code=src,
            command=f"python step.py --name {name} {args} --out ${{{{outputs.out}}}} {extra}".strip(),
            inputs={i: Input(type="uri_folder") for i in inputs},
            outputs={"out": Output(type="uri_folder")},
        )

    prep_cmd, transform_cmd = step("prep", ()), step("transform", ("clean",))
    train_cmd = step("train", ("features",), f"--hold {hold} --version {version}")
    predict_cmd, score_cmd = step("predict", ("model", "test")), step("score", ("predictions", "model"))

    @pipeline(experiment_name="nyc-taxi", default_compute="local", display_name="nyc-taxi fares")
    def taxi() -> dict:
        prep = prep_cmd()
        transform = transform_cmd(clean=prep.outputs.out)
        train = train_cmd(features=transform.outputs.out)
        predict = predict_cmd(model=train.outputs.out, test=transform.outputs.out)
        score = score_cmd(predictions=predict.outputs.out, model=train.outputs.out)
        return {"scores": score.outputs.out}

    return taxi()


def shoot(ws: Path, run: str, png: Path, theme: str) -> None:
    cmd = [
        sys.executable,
        "-m",
        "studio.app",
        "--workspace",
        str(ws),
        "--screenshot",
        str(png),
        "--page",
        "run-pipeline",
        "--run",
        run,
    ]
    subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "TRAINYARD_THEME": theme})
    print("wrote", png)


def main() -> int:
    from engine.api import Engine
    from trainyard import submit

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots").resolve()
    work = out / "pipeline-ws"
    shutil.rmtree(work, ignore_errors=True)
    src = work / "project" / "src"
    src.mkdir(parents=True)
    (src / "step.py").write_text(STEP)
    hold = work / "release"
    hold.touch()
    ws = work / "ws"
    engine = Engine.open(ws)
    try:
        first = submit(build(src, hold, 1), workspace=str(ws))
        engine.wait(first.id, timeout=300)
        hold.unlink()
        # train's command changes: train and the steps after it run again, prep and transform are reused
        second = submit(build(src, hold, 2), workspace=str(ws)).id

        def train_running() -> bool:
            steps = {s.name: s.status for s in engine.pipeline_graph(second).steps}
            return steps.get("train") == "Running"

        import time

        deadline = time.monotonic() + 120
        while not train_running() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # a few seconds of running on the clock
        for theme, folder in (("light", out), ("dark", out / "dark")):
            shoot(ws, second, folder / "pipeline-running.png", theme)
        hold.touch()
        engine.wait(second, timeout=300)
        for theme, folder in (("light", out), ("dark", out / "dark")):
            shoot(ws, second, folder / "pipeline-finished.png", theme)
    finally:
        hold.touch()
        engine.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
