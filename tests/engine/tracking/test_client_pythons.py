"""The injected client (the azureml stand-in, the mlflow stand-in, trainyard_run and the run's
sitecustomize) runs on every CPython from 3.6 on, as the seeds' `python=3.6.2` needs:

- vermin, which reads the source, finds nothing that needs a newer Python (annotations included:
  they are evaluated at definition time on 3.6);
- every interpreter this machine has (the system's, pyenv's, uv's) runs a script that logs through
  `azureml.core.Run`, `trainyard_run` and the mlflow stand-in, reads its run back (get_metrics,
  get_file_names), registers a model and makes a child run, and the records it writes read back
  right; older interpreters (2.7) get a message that says what to do, not a SyntaxError;
- a real run on the oldest interpreter found, started by the engine, completes with its metrics.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.api import Engine
from engine.jobs.spec import JobSpec
from engine.runtime import INJECT_DIR
from engine.tracking.records import read_writer, writers


def _version(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print('%d %d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            env={"PATH": "/usr/bin:/bin"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    major, minor = out.stdout.split()
    return int(major), int(minor)


def interpreters() -> dict[str, str]:
    """'X.Y' -> one interpreter of that version on this machine (nothing is downloaded)."""
    candidates = sorted(
        glob.glob("/usr/bin/python[23]*")
        + glob.glob("/usr/local/bin/python[23]*")
        + glob.glob(os.path.expanduser("~/.pyenv/versions/*/bin/python"))
    )
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if os.path.exists(uv):
        listed = subprocess.run(
            [uv, "python", "list", "--only-installed", "--offline", "--output-format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if listed.returncode == 0:
            candidates += [entry["path"] for entry in json.loads(listed.stdout or "[]") if entry.get("path")]
    found: dict[str, str] = {}
    seen: set[str] = set()
    for path in candidates:
        if path.endswith("-config") or not os.access(path, os.X_OK) or os.path.realpath(path) in seen:
            continue
        seen.add(os.path.realpath(path))
        version = _version(path)
        if version is not None:
            found.setdefault(f"{version[0]}.{version[1]}", path)
    return dict(sorted(found.items(), key=lambda kv: tuple(int(x) for x in kv[0].split("."))))


PYTHONS = interpreters()
SUPPORTED = {v: p for v, p in PYTHONS.items() if tuple(int(x) for x in v.split(".")) >= (3, 6)}
TOO_OLD = {v: p for v, p in PYTHONS.items() if v not in SUPPORTED}

LOGS = """
import os, sys
from azureml.core import Run
import trainyard_run
import mlflow

run = Run.get_context()
assert type(run).__name__ == "LiveRun", type(run)
for step in range(3):
    run.log("loss", 1.0 / (step + 1))
run.log_list("accuracies", [0.5, 0.75])
run.log_row("table", epoch=1, acc=0.5)
run.tag("python", "%d.%d" % sys.version_info[:2])
run.log_param("lr", 0.01)
with open("model.txt", "w") as f:
    f.write("weights")
run.upload_file("outputs/model.txt", "model.txt")
# Azure's reads and writes of the run from inside it (run.flush() first, as they do).
assert run.get_metrics()["loss"] == [1.0, 0.5, 1.0 / 3], run.get_metrics()
assert "outputs/model.txt" in run.get_file_names(), run.get_file_names()
run.register_model("model", "model.txt", tags={"python": "%d.%d" % sys.version_info[:2]})
fold = run.child_run("fold")
fold.log("fold_loss", 0.1)
fold.complete()
trainyard_run.get_run().log("native", 7)
if os.path.dirname(mlflow.__file__).startswith(os.environ["INJECT"]):  # the stand-in, not a real MLflow
    mlflow.log_metric("mlflow_metric", 3.5)
else:
    trainyard_run.get_run().log("mlflow_metric", 3.5)
run.flush()
"""


def test_vermin_finds_nothing_that_needs_more_than_python_3_6() -> None:
    vermin = Path(sys.executable).with_name("vermin")
    assert vermin.exists(), "vermin is in the dev extra: pip install -e .[dev]"
    res = subprocess.run(
        [str(vermin), "--target=3.6-", "--no-tips", "--violations", "--eval-annotations", str(INJECT_DIR)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Target versions not met" not in res.stdout


def test_this_machine_has_python_3_6_and_a_newer_one() -> None:
    # The seeds pin python=3.6.2: CI proves the lower bound on a real 3.6 (pyenv's, on this kind of
    # machine) and on at least one newer interpreter.
    assert "3.6" in SUPPORTED, PYTHONS
    assert len(SUPPORTED) >= 2, PYTHONS


@pytest.mark.parametrize("version", list(SUPPORTED))
def test_the_client_logs_right_under_every_python(version: str, tmp_path: Path) -> None:
    tracking = tmp_path / "tracking"
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(LOGS))
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(INJECT_DIR),
        "INJECT": str(INJECT_DIR),
        "TRAINYARD_TRACKING_DIR": str(tracking),
        "TRAINYARD_RUN_ID": "run-1",
        "TRAINYARD_EXPERIMENT": "exp",
        "TRAINYARD_RUN_DIR": str(tmp_path),
    }
    res = subprocess.run(
        [SUPPORTED[version], str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    records = []
    for writer in writers(tracking):
        found, errors = read_writer(tracking, writer)
        assert errors == []
        records += found
    scalars = [(r.key, r.value, r.step) for r in records if r.kind == "m"]
    assert [s for s in scalars if s[0] == "loss"] == [("loss", 1.0, 0), ("loss", 0.5, 1), ("loss", 1 / 3, 2)]
    assert ("native", 7.0, 0) in scalars and ("mlflow_metric", 3.5, 0) in scalars
    by_kind = {r.kind: r for r in records if r.kind not in ("m", "u", "c")}
    assert by_kind["l"].key == "accuracies" and by_kind["l"].value == [0.5, 0.75]
    assert by_kind["r"].value == {"epoch": 1, "acc": 0.5}
    assert by_kind["g"].value == {"python": version}
    assert by_kind["p"].value == {"lr": 0.01}
    uploads = {r.key: r.value for r in records if r.kind == "u"}
    assert sorted(uploads) == ["model.txt", "outputs/model.txt"]
    assert (tracking / str(uploads["outputs/model.txt"])).read_text() == "weights"
    assert by_kind["M"].key == "model" and by_kind["M"].value["path"] == "model.txt"
    assert [r.value["status"] for r in records if r.kind == "c"] == ["Running", "Completed"]


@pytest.mark.parametrize(
    "version",
    list(TOO_OLD)
    or [pytest.param("none", marks=pytest.mark.skip(reason="no interpreter older than 3.6 on this machine"))],
)
def test_an_older_python_is_told_what_to_do(version: str, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(INJECT_DIR)}
    for statement in ("from azureml.core import Run", "import trainyard_run"):
        res = subprocess.run(
            [TOO_OLD[version], "-c", statement],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode != 0
        assert (
            "Trainyard's in-run client (azureml.core.Run, trainyard_run, mlflow) needs Python 3.6 or newer; "
            f"this run's interpreter is Python {version}" in res.stderr
        ), res.stderr
        assert "SyntaxError" not in res.stderr and "sitecustomize" not in res.stderr


def test_a_run_on_the_oldest_python_completes_with_its_metrics(tmp_path: Path) -> None:
    oldest = next(iter(SUPPORTED))
    code = tmp_path / "src"
    code.mkdir()
    (code / "train.py").write_text(textwrap.dedent(LOGS))
    eng = Engine.open(tmp_path / "ws")
    try:
        spec = JobSpec(
            experiment_name="old-python",
            code_dir=code,
            script="train.py",
            interpreter_path=SUPPORTED[oldest],
            environment_variables={"INJECT": str(INJECT_DIR)},
        )
        final = eng.wait(eng.submit(spec).name, timeout=120)
        assert final.status == "Completed", final.error
        assert eng.metric_history(final.name, "loss").values.tolist() == [1.0, 0.5, 1 / 3]
        assert final.tags["python"] == oldest
        assert (Path(final.run_dir) / "outputs" / "model.txt").read_text() == "weights"
        (model,) = eng.list_models("model")
        assert model.tags == {"python": oldest} and Path(model.path).read_text() == "weights"
        (child,) = eng.children(final.name)
        assert child.status == "Completed"
        assert eng.metric_history(child.name, "fold_loss").values.tolist() == [0.1]
    finally:
        eng.close()
