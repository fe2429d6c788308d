"""Seed a demo workspace with real runs and render every studio page to a PNG.

    .venv/bin/python scripts/studio_screenshots.py OUT_DIR [--workspace PATH]

Each page twice: OUT_DIR/PAGE.png in the light theme, OUT_DIR/dark/PAGE.png in the dark one.

The runs are real (tiny scripts that log metrics through the injected azureml.core module), so
the pictures show what a user sees. One run keeps running until the pictures are taken.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TRAIN = textwrap.dedent('''
    """Train a small classifier (simulated) and log its curves."""
    import argparse, logging, math, os, random, time
    from azureml.core import Run

    log = logging.getLogger("train")  # logging's default handler writes to stderr

    def main():
        p = argparse.ArgumentParser()
        p.add_argument("--epochs", type=int, default=12)
        p.add_argument("--lr", type=float, default=0.05)
        p.add_argument("--steps-per-epoch", type=int, default=250)
        p.add_argument("--hold", default=None, help="keep running until this file exists")
        a = p.parse_args()
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        run = Run.get_context()
        log.info("data: digits-v2, %d steps per epoch", a.steps_per_epoch)
        run.set_tags({"model": "mlp", "data": "digits-v2"})
        run.log_params({"epochs": a.epochs, "lr": a.lr, "steps_per_epoch": a.steps_per_epoch})
        run.log("learning_rate", a.lr)
        rnd = random.Random(7)
        step = 0
        for epoch in range(a.epochs):
            for _ in range(a.steps_per_epoch):
                loss = 2.3 * math.exp(-step / (900 / a.lr / 20)) + 0.08 + rnd.gauss(0, 0.04)
                run.log("loss", max(loss, 0.01))
                step += 1
            acc = 1 - 0.9 * math.exp(-(epoch + 1) / 3.5) + rnd.gauss(0, 0.005)
            run.log("val_accuracy", acc)
            run.log("val_loss", 2.0 * math.exp(-(epoch + 1) / 3.0) + 0.15)
            print(f"epoch {epoch + 1:2d}/{a.epochs}  loss {loss:.4f}  val_accuracy {acc:.4f}", flush=True)
            if (epoch + 1) % 4 == 0:
                log.info("checkpoint written after epoch %d", epoch + 1)
            time.sleep(0.3 if a.hold else 0.15)  # an epoch takes a moment, as in real training
        if a.hold:
            print("waiting for more data…", flush=True)
            while not os.path.exists(a.hold):
                time.sleep(0.1)
        os.makedirs("outputs", exist_ok=True)
        with open("outputs/model.pt", "wb") as f:
            f.write(os.urandom(48_000))
        with open("outputs/metrics.json", "w") as f:
            f.write('{"val_accuracy": %.4f}\\n' % acc)
        print("saved outputs/model.pt")

    if __name__ == "__main__":
        main()
''')

PREP = textwrap.dedent('''
    import sys
    from azureml.core import Run
    run = Run.get_context()
    run.tag("stage", "prep")
    print("reading data/raw.csv")
    rows = 0
    for i in range(40):
        rows += 250
        run.log("rows_processed", rows)
    print(f"processed {rows} rows")
    print("Traceback (most recent call last):", file=sys.stderr)
    print('  File "prepare.py", line 12, in <module>', file=sys.stderr)
    print("KeyError: 'label'", file=sys.stderr)
    sys.exit(1)

    if __name__ == "__main__":
        pass
''')


# One trial of a small sweep (simulated): val_loss depends on the hyperparameters, so the bandit
# policy stops the trials that fall far behind.
TUNE = textwrap.dedent('''
    """One trial of the digits tuning sweep: train with these hyperparameters, log val_loss."""
    import argparse, math, random, time
    from azureml.core import Run

    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--optimizer", choices=["sgd", "adam"], required=True)
    p.add_argument("--dropout", type=float, required=True)
    p.add_argument("--epochs", type=int, default=8)
    a = p.parse_args()
    run = Run.get_context()
    rnd = random.Random(f"{a.lr}-{a.optimizer}-{a.dropout}")
    final = (0.08 + 0.12 * (math.log10(a.lr) + 2.6) ** 2 + (0.04 if a.optimizer == "sgd" else 0.0)
             + 0.4 * (a.dropout - 0.2) ** 2)
    for epoch in range(a.epochs):
        val_loss = final + 0.7 * math.exp(-(epoch + 1) / 5.8) + rnd.gauss(0, 0.003)
        run.log("train_loss", val_loss * 0.85)
        run.log("val_loss", val_loss)
        print(f"epoch {epoch + 1:2d}/{a.epochs}  val_loss {val_loss:.4f}", flush=True)
        time.sleep(0.25)
''')

SWEEP = textwrap.dedent('''
    $schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json
    type: sweep
    experiment_name: digits-tuning
    trial:
      code: .
      command: >-
        python tune.py --lr ${{search_space.lr}} --optimizer ${{search_space.optimizer}}
        --dropout ${{search_space.dropout}}
    sampling_algorithm: {type: random, seed: 1}
    search_space:
      lr: {type: loguniform, min_value: -9, max_value: -1}
      optimizer: {type: choice, values: [sgd, adam]}
      dropout: {type: uniform, min_value: 0.0, max_value: 0.5}
    objective: {goal: minimize, primary_metric: val_loss}
    limits: {max_total_trials: 8, max_concurrent_trials: 3, timeout: 3600}
    early_termination: {type: bandit, slack_factor: 0.5, evaluation_interval: 2, delay_evaluation: 3}
''').lstrip()


def seed_sweep(engine: object, folder: Path) -> str:
    """A real sweep of 8 trials, run to its end; its name."""
    from engine.specs.jobs import load_job

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tune.py").write_text(TUNE)
    (folder / "sweep.yml").write_text(SWEEP)
    sweep = engine.submit(load_job(folder / "sweep.yml"))  # type: ignore[attr-defined]
    final = engine.wait(sweep.name, timeout=180)  # type: ignore[attr-defined]
    stopped = [r for r in engine.children(sweep.name)  # type: ignore[attr-defined]
               if (r.error or "").startswith("early termination")]
    if final.status != "Completed" or not stopped:
        sys.stderr.write(f"warning: sweep {sweep.name} ended {final.status} with {len(stopped)} trials stopped "
                         "early; its pictures show less than they should\n")
    return str(sweep.name)


def seed(ws: Path, projects: Path) -> tuple[object, str, list[str]]:
    from engine.api import Engine
    from engine.jobs.spec import JobSpec

    classifier = projects / "digits-classifier"
    (classifier / "utils").mkdir(parents=True, exist_ok=True)
    (classifier / "train.py").write_text(TRAIN)
    (classifier / "evaluate.py").write_text("if __name__ == '__main__':\n    print('ok')\n")
    (classifier / "utils" / "__init__.py").write_text("")
    prep = projects / "data-prep"
    prep.mkdir(parents=True, exist_ok=True)
    (prep / "prepare.py").write_text(PREP)

    engine = Engine.open(ws)
    names = []
    # First, so that its trials sit below the other runs in the Runs list.
    sweep = seed_sweep(engine, projects / "digits-tuning")

    def submit(folder: Path, script: str, exp: str, *args: str) -> str:
        run = engine.submit(JobSpec(experiment_name=exp, code_dir=folder, script=script, arguments=args))
        names.append(run.name)
        return run.name

    done = [
        submit(classifier, "train.py", "digits-classifier", "--epochs", "8", "--lr", "0.02"),
        submit(classifier, "train.py", "digits-classifier", "--epochs", "12", "--lr", "0.05"),
        submit(prep, "prepare.py", "data-prep"),
        submit(classifier, "train.py", "lr-sweep", "--epochs", "10", "--lr", "0.1"),
    ]
    for n in done:
        engine.wait(n, timeout=60)
    engine.register_model("digits-cnn", "outputs/model.pt", run_name=done[1], description="12 epochs, lr 0.05")
    engine.register_model("digits-cnn", "outputs/model.pt", run_name=done[3], description="lr sweep winner")
    # A child run (what run.submit_child does), a data asset, compute targets and environments.
    child = engine.submit(JobSpec(experiment_name="digits-classifier", code_dir=classifier, script="train.py",
                                  arguments=("--epochs", "3", "--lr", "0.03"), parent_run=done[1]))
    names.append(child.name)
    engine.wait(child.name, timeout=60)
    data = projects / "digits-data"
    data.mkdir(exist_ok=True)
    (data / "train.csv").write_text("label,pixels\n" + "3,0 0 1 1\n" * 2000)
    engine.create_data_asset("digits-train", str(data), "2,000 labelled digits")
    engine.create_data_asset("digits-train-csv", str(data / "train.csv"), "the same, one file")
    (projects / "gpu-box.yml").write_text("name: gpu-box\ntype: ssh\ndescription: the GPU machine under the desk\n"
                                          "host: gpu-box.local\nuser: trainer\n")
    (projects / "env.yml").write_text("name: digits-env\nversion: 1\ndescription: the classifier's packages\n"
                                      "pip_requirements: env-requirements.txt\n")
    (projects / "env-requirements.txt").write_text("# nothing beyond Python itself\n")
    cli = [sys.executable, "-m", "engine.cli.main"]
    for args in (["compute", "create", "--name", "cpu-cluster", "--type", "local"],
                 ["compute", "create", "--name", "docker-cpu", "--type", "docker"],
                 ["compute", "create", "-f", str(projects / "gpu-box.yml")],
                 ["environment", "create", "-f", str(projects / "env.yml")]):
        subprocess.run([*cli, *args, "-w", str(ws)], check=True, cwd=ROOT)
    (classifier / "requirements.txt").write_text("numpy\n")
    canceled = submit(classifier, "train.py", "lr-sweep", "--epochs", "200", "--lr", "0.2",
                      "--hold", str(projects / "never"))
    hold = projects / "release"
    hold.unlink(missing_ok=True)
    live = submit(classifier, "train.py", "digits-classifier", "--epochs", "6", "--lr", "0.08",
                  "--hold", str(hold))
    import time

    deadline = time.monotonic() + 30
    while engine.get_run(canceled).status != "Running" and time.monotonic() < deadline:
        time.sleep(0.1)
    engine.cancel(canceled)
    engine.wait(canceled, timeout=30)
    while len(engine.metric_history(live, "val_accuracy")) < 6 and time.monotonic() < deadline + 30:
        time.sleep(0.1)
    return engine, live, [hold.as_posix(), done[1], sweep]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path)
    p.add_argument("--workspace", type=Path, default=None)
    a = p.parse_args()
    out = a.out.resolve()
    ws = a.workspace or out / "ws"
    shutil.rmtree(ws, ignore_errors=True)
    engine, live, (hold, finished, sweep) = seed(ws, out / "projects")
    # The classifier's finished runs (the sweep's experiment has more, but these are the ones to compare).
    compared = sorted((r for r in engine.list_runs()  # type: ignore[attr-defined]
                       if r.experiment_name == "digits-classifier" and r.status == "Completed"),
                      key=lambda r: r.created_at, reverse=True)[:4]
    shots = {
        "runs.png": ["--page", "runs"],
        "experiments.png": ["--page", "experiments"],
        "environments.png": ["--page", "environments"],
        "compute.png": ["--page", "compute"],
        "models.png": ["--page", "models"],
        "data.png": ["--page", "data"],
        "compare.png": ["--page", "compare", "--run", ",".join(r.name for r in compared)],
        "compare-fields.png": ["--page", "compare-fields", "--run", ",".join(r.name for r in compared)],
        "submit.png": ["--page", "submit", "--project", str(out / "projects" / "digits-classifier")],
        "run-overview.png": ["--page", "run-overview", "--run", finished],
        "run-metrics.png": ["--page", "run-metrics", "--run", finished],
        "run-logs.png": ["--page", "run-logs", "--run", finished],
        "run-outputs.png": ["--page", "run-outputs", "--run", finished],
        "run-snapshot.png": ["--page", "run-snapshot", "--run", finished],
        "run-children.png": ["--page", "run-children", "--run", finished],
        "run-live-metrics.png": ["--page", "run-metrics", "--run", live],
        "sweep-trials.png": ["--page", "run-children", "--run", sweep],
        "sweep-overview.png": ["--page", "run-overview", "--run", sweep],
        "sweep-analysis.png": ["--page", "run-sweep", "--run", sweep],
    }
    try:
        for theme, folder in (("light", out), ("dark", out / "dark")):
            for png, args in shots.items():
                cmd = [sys.executable, "-m", "studio.app", "--workspace", str(ws), "--screenshot", str(folder / png),
                       *args]
                subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "TRAINYARD_THEME": theme})
                print("wrote", folder / png)
    finally:
        Path(hold).touch()
        engine.wait(live, timeout=60)  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
