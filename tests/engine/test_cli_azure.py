"""The seed "train models with CLI 2.0" as a user types it, with `az ml` replaced by `trainyard`:
real `trainyard` processes against a temporary workspace, a job file in the 2021 preview
spelling, and the Azure CLI conventions (-o json|yaml|tsv|table, --query, --web, validate,
archive/restore/update, parent_job_name, model create -f)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from engine.cli.web import ENV_STUDIO_COMMAND, studio_command

_SCRIPT = Path(sys.executable).with_name("trainyard")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "engine.cli.main"]
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    rc: int
    out: str
    err: str


def run_cli(
    *args: str, ws: Path, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 180
) -> Result:
    full = dict(os.environ)
    full["TRAINYARD_WORKSPACE"] = str(ws)
    full["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), full.get("PYTHONPATH")]))
    full.update(env or {})
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, env=full, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    return Result(proc.returncode, proc.stdout, proc.stderr)


def ok(res: Result) -> str:
    assert res.rc == 0, (res.out, res.err)
    return res.out


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# A project in the seed's layout, with the job file spelled as in May 2021.
PREVIEW_JOB = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
code:
  local_path: src
command: >
  python main.py
  --iris-csv {inputs.iris}
inputs:
  iris:
    data:
      local_path: data/iris.csv
    mode: mount
compute:
  target: azureml:cpu-cluster
experiment_name: iris-preview-example
description: Count the rows of a CSV, as the seed's lightgbm job reads its input.
"""
MAIN = """\
import argparse
import os

from azureml.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--iris-csv")
args = parser.parse_args()
rows = open(args.iris_csv).read().splitlines()[1:]
print("read", len(rows), "rows from", args.iris_csv, flush=True)
Run.get_context().log("rows", len(rows))
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.txt", "w") as f:
    f.write(f"rows={len(rows)}")
"""
RECORDER = """\
import json, sys
with open(sys.argv[1], "a") as f:
    f.write(json.dumps(sys.argv[2:]) + "\\n")
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("azure-cli") / "cli"
    job = root / "jobs" / "train" / "iris"
    write(job / "job.yml", PREVIEW_JOB)
    write(job / "src" / "main.py", MAIN)
    write(job / "data" / "iris.csv", "sepal,petal,species\n5.1,1.4,setosa\n6.2,4.5,versicolor\n")
    write(root / "recorder.py", RECORDER)
    return root


def recorded(path: Path, count: int, timeout: float = 60) -> list[list[str]]:
    """The argv of each studio start the recorder saw (it runs detached: wait for it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            calls = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            if len(calls) >= count:
                return calls
        time.sleep(0.1)
    raise AssertionError(f"the studio command was not started {count} time(s): {path}")


def test_the_seed_commands_on_a_preview_job_file(project: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    calls = tmp_path / "studio-calls.jsonl"
    web_env = {ENV_STUDIO_COMMAND: f"{sys.executable} {project / 'recorder.py'} {calls}"}
    job = "jobs/train/iris/job.yml"

    # validate: the same error a create gives (the cluster does not exist here), nothing created
    bad = run_cli("job", "validate", "-f", job, ws=ws, cwd=project)
    made = run_cli("job", "create", "-f", job, ws=ws, cwd=project)
    assert bad.rc != 0 and made.rc == bad.rc
    assert bad.err.splitlines()[-2:] == made.err.splitlines()[-2:]
    assert "error: unknown compute target 'cpu-cluster'" in bad.err and "--set compute=local" in bad.err
    assert "`compute.target` (Azure ML preview schema) read as `compute`" in bad.err
    assert json.loads(ok(run_cli("job", "list", "-o", "json", "--include-archived", ws=ws))) == []
    assert "valid: jobs/train/iris/job.yml (command job on compute local)" in ok(
        run_cli("job", "validate", "-f", job, "--set", "compute.target=local", ws=ws, cwd=project)
    )
    # az ml compute create -n cpu-cluster --type AmlCompute ...: then the file is valid unchanged
    other = tmp_path / "ws-with-cluster"
    ok(
        run_cli(
            "compute",
            "create",
            "-n",
            "cpu-cluster",
            "--type",
            "AmlCompute",
            "--min-instances",
            "0",
            "--max-instances",
            "40",
            ws=other,
        )
    )
    assert "valid: jobs/train/iris/job.yml (command job on compute azureml:cpu-cluster)" in ok(
        run_cli("job", "validate", "-f", job, ws=other, cwd=project)
    )

    # az ml job create -f jobs/train/lightgbm/iris/job.yml --set compute.target=local --web --stream
    res = run_cli(
        "job",
        "create",
        "-f",
        job,
        "--set",
        "compute.target=local",
        "--web",
        "--stream",
        ws=ws,
        cwd=project,
        env=web_env,
    )
    assert res.rc == 0, (res.out, res.err)
    # the input reaches the script as a local file (mounted read-only in the run folder: mode ro_mount)
    assert re.search(r"read 2 rows from \S+/inputs/iris/iris\.csv", res.out), res.out
    for note in (
        "`code.local_path` (Azure ML preview schema) read as `code`",
        "`inputs.iris.data.local_path` (Azure ML preview schema) read as `inputs.iris.path (type: uri_file)`",
        "`{inputs.iris}` (Azure ML preview schema) read as `${{inputs.iris}}`",
    ):
        assert note in res.err, res.err
    first = ok(run_cli("job", "list", "--query", "[0].name", "-o", "tsv", ws=ws)).strip()
    assert recorded(calls, 1)[0] == ["--workspace", str(ws.resolve()), "--run", first]
    assert f"Opening job {first} in the studio (trainyard://runs/{first}" in res.err

    # run_id=$(az ml job create -f ... --query name -o tsv); az ml job stream / show --query status -o tsv
    out = ok(
        run_cli(
            "job",
            "create",
            "-f",
            job,
            "--set",
            "compute.target=local",
            "--query",
            "name",
            "-o",
            "tsv",
            ws=ws,
            cwd=project,
        )
    )
    assert re.fullmatch(r"[a-z0-9_]+\n", out), out
    run_id = out.strip()
    ok(run_cli("job", "stream", "-n", run_id, ws=ws))
    assert ok(run_cli("job", "show", "-n", run_id, "--query", "status", "-o", "tsv", ws=ws)) == "Completed\n"

    # az ml job download -n $run_id --outputs
    dest = tmp_path / "download"
    ok(run_cli("job", "download", "-n", run_id, "--outputs", "--download-path", str(dest), ws=ws))
    assert [p.read_text() for p in dest.rglob("model.txt")] == ["rows=2"]

    # az ml job show -n $run_id --web
    ok(run_cli("job", "show", "-n", run_id, "--web", "-o", "none", ws=ws, env=web_env))
    assert recorded(calls, 2)[1] == ["--workspace", str(ws.resolve()), "--run", run_id]

    # -o yaml / tsv / table with --query
    doc = yaml.safe_load(ok(run_cli("job", "show", "-n", run_id, "-o", "yaml", ws=ws)))
    assert (doc["name"], doc["type"], doc["status"], doc["parent_job_name"]) == (
        run_id,
        "command",
        "Completed",
        None,
    )
    assert doc["metrics"] == {"rows": 2}
    table = ok(run_cli("job", "list", "--query", "[].{name:name, status:status}", ws=ws))
    rows = [line.split() for line in table.splitlines()]
    assert rows[0] == ["NAME", "STATUS"] and [run_id, "Completed"] in rows[1:]
    bad_query = run_cli("job", "show", "-n", run_id, "--query", "status[", ws=ws)
    assert bad_query.rc != 0 and bad_query.err.startswith(
        "error: --query 'status[' is not a JMESPath expression"
    )

    # update, archive, restore
    ok(
        run_cli(
            "job",
            "update",
            "-n",
            run_id,
            "--set",
            "display_name=iris-first",
            "--set",
            "description=counted",
            "--set",
            "tags.stage=try",
            ws=ws,
        )
    )
    shown = json.loads(ok(run_cli("job", "show", "-n", run_id, "-o", "json", ws=ws)))
    assert (shown["display_name"], shown["description"], shown["tags"]) == (
        "iris-first",
        "counted",
        {"stage": "try"},
    )
    refused = run_cli("job", "update", "-n", run_id, "--set", "command=echo", ws=ws)
    assert refused.rc != 0 and "a job's command cannot change after it was created" in refused.err
    ok(run_cli("job", "archive", "-n", run_id, ws=ws))
    assert run_id not in ok(run_cli("job", "list", "--query", "[].name", "-o", "tsv", ws=ws)).split()
    assert (
        run_id
        in ok(run_cli("job", "list", "--include-archived", "--query", "[].name", "-o", "tsv", ws=ws)).split()
    )
    ok(run_cli("job", "restore", "-n", run_id, ws=ws))
    assert run_id in ok(run_cli("job", "list", "--query", "[].name", "-o", "tsv", ws=ws)).split()

    # az ml model create -f model.yml, with the job's output as its path
    model_yml = write(
        tmp_path / "model.yml",
        f"""\
        $schema: https://azuremlschemas.azureedge.net/latest/model.schema.json
        name: iris-rows
        version: 1
        path: azureml://jobs/{run_id}/outputs/artifacts/paths/model.txt
        type: custom_model
        description: rows counted by the preview job
        tags:
          source: seed
        """,
    )
    model = json.loads(ok(run_cli("model", "create", "-f", str(model_yml), "-o", "json", ws=ws)))
    assert (model["name"], model["version"], model["run"]) == ("iris-rows", 1, run_id)
    assert model["tags"] == {"source": "seed", "model_type": "custom_model"}
    assert Path(model["path"]).read_text() == "rows=2"
    again = run_cli("model", "create", "-f", str(model_yml), ws=ws)
    assert again.rc != 0 and f"error: {model_yml}:3: model iris-rows version 1 already exists" in again.err
    assert "set `version: 2`" in again.err


def test_sweep_trials_name_their_parent(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    sweep = write(
        tmp_path / "sweep.yml",
        """\
        $schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json
        type: sweep_job
        algorithm: grid
        trial:
          command: python -c "print('size', {search_space.size})"
          compute:
            target: local
        search_space:
          size:
            type: choice
            values: [1, 2]
        objective:
          primary_metric: loss
          goal: minimize
        max_total_trials: 2
        max_concurrent_trials: 2
        """,
    )
    assert ok(run_cli("job", "validate", "-f", str(sweep), ws=ws)).startswith("valid: ")
    bad_env = ("job", "validate", "-f", str(sweep), "--set", "trial.environment=azureml:NoSuchEnv@latest")
    refused = run_cli(*bad_env, ws=ws)
    created = run_cli("job", "create", *bad_env[2:], ws=ws)
    assert refused.rc != 0 and refused.rc == created.rc and "NoSuchEnv" in refused.err
    assert refused.err.splitlines()[-2:] == created.err.splitlines()[-2:]
    assert json.loads(ok(run_cli("job", "list", "-o", "json", ws=ws))) == []
    parent = ok(run_cli("job", "create", "-f", str(sweep), "--query", "name", "-o", "tsv", ws=ws)).strip()
    deadline = time.monotonic() + 300
    while ok(run_cli("job", "show", "-n", parent, "--query", "status", "-o", "tsv", ws=ws)).strip() not in (
        "Completed",
        "Failed",
        "Canceled",
    ):
        assert time.monotonic() < deadline, "the sweep did not end"
        time.sleep(1)
    children = json.loads(ok(run_cli("job", "list", "--parent-job-name", parent, "-o", "json", ws=ws)))
    assert len(children) == 2 and {c["parent_job_name"] for c in children} == {parent}
    assert json.loads(ok(run_cli("job", "show", "-n", parent, "-o", "json", ws=ws)))["type"] == "sweep"
    child = children[0]["name"]
    assert (
        ok(run_cli("job", "show", "-n", child, "--query", "parent_job_name", "-o", "tsv", ws=ws))
        == parent + "\n"
    )
    assert child not in ok(run_cli("job", "list", "--parent-job-name", child, "-o", "tsv", ws=ws))
    missing = run_cli("job", "list", "--parent-job-name", "no_such_sweep", ws=ws)
    assert missing.rc != 0 and "no_such_sweep" in missing.err


def test_web_starts_the_real_studio_on_the_run(tmp_path: Path) -> None:
    """The command `--web` spawns opens the studio on that run (rendered offscreen to a PNG here);
    without a display the studio says so and the command still succeeds."""
    ws = tmp_path / "ws"
    job = write(tmp_path / "job.yml", "command: python -c \"print('for the studio')\"\n")
    name = ok(
        run_cli("job", "create", "-f", str(job), "--stream", "--query", "name", "-o", "tsv", ws=ws)
    ).strip()
    png = tmp_path / "run.png"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    env.pop(ENV_STUDIO_COMMAND, None)
    proc = subprocess.run(
        [*studio_command(name, ws.resolve()), "--screenshot", str(png), "--page", "run-overview"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert png.stat().st_size > 10_000

    no_display = {"QT_QPA_PLATFORM": "", "DISPLAY": "", "WAYLAND_DISPLAY": "", ENV_STUDIO_COMMAND: ""}
    res = run_cli("job", "show", "-n", name, "--web", "--query", "status", "-o", "tsv", ws=ws, env=no_display)
    assert res.rc == 0 and res.out == "Completed\n"
    # The studio says why in its log (and the command says so too when the studio ends within a
    # few seconds: on a loaded machine it may take longer to start).
    log = ws / ".trainyard" / "studio-web.log"
    deadline = time.monotonic() + 120
    while "no display to open the studio on" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, (res.err, log.read_text() if log.exists() else "no log")
        time.sleep(0.2)
    if "note: the studio did not open" in res.err:
        assert "note: the studio did not open: no display to open the studio on" in res.err, res.err
