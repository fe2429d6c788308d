"""The real `trainyard` CLI, run as a subprocess the way a user runs it: errors are one message
and a hint on stderr (never a traceback) with a non-zero exit code, and `-o json` prints exactly
one JSON document on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_SCRIPT = Path(sys.executable).with_name("trainyard")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "engine.cli.main"]


@dataclass
class Result:
    rc: int
    out: str
    err: str


def trainyard(*args: str, workspace: Path | str | None, cwd: Path | None = None,
              env: dict[str, str] | None = None, timeout: float = 60) -> Result:
    full_env = dict(os.environ)
    full_env.pop("TRAINYARD_WORKSPACE", None)
    if workspace is not None:
        full_env["TRAINYARD_WORKSPACE"] = str(workspace)
    full_env.update(env or {})
    proc = subprocess.run([*CLI, *args], check=False, capture_output=True, text=True, cwd=cwd, env=full_env, timeout=timeout)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def trainyard_all(*calls: tuple[tuple[str, ...], dict[str, Any]]) -> list[Result]:
    """Run several independent commands at once (each CLI start costs ~0.5 s)."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(trainyard, *args, **kwargs) for args, kwargs in calls]
        return [f.result() for f in futures]


def assert_user_error(res: Result, *needles: str) -> None:
    """Failed, said why on stderr, no traceback, nothing on stdout."""
    assert res.rc != 0, (res.out, res.err)
    assert "Traceback" not in res.err, res.err
    assert res.err.startswith("error: "), res.err
    for needle in needles:
        assert needle in res.err, (needle, res.err)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


LOGGING_SCRIPT = """\
import os
from azureml.core import Run

run = Run.get_context()
for i in range(3):
    run.log("loss", 1.0 / (i + 1))
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.txt", "w") as f:
    f.write("weights")
"""


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding one Completed job `cli_job_one` (3 `loss` points, outputs/model.txt),
    a model `net` made from it and a data asset `digits`. Tests only read it."""
    root = tmp_path_factory.mktemp("populated")
    ws = root / "ws"
    write(root / "exp" / "src" / "log.py", LOGGING_SCRIPT)
    job = write(root / "exp" / "job.yml", "command: python log.py\ncode: src\ndisplay_name: logs three points\n")
    res = trainyard("job", "create", "-f", str(job), "--name", "cli_job_one", "--stream", "-o", "json",
                    workspace=ws)
    assert res.rc == 0, res.err
    assert json.loads(res.out)["status"] == "Completed"
    res = trainyard("model", "create", "--name", "net", "--path", "outputs/model.txt", "--run", "cli_job_one",
                    workspace=ws)
    assert res.rc == 0, res.err
    res = trainyard("data", "create", "--name", "digits", "--path", str(root / "exp" / "src"), workspace=ws)
    assert res.rc == 0, res.err
    return ws


# --------------------------------------------------------------------------- job create errors
def test_missing_job_file(tmp_path: Path) -> None:
    res = trainyard("job", "create", "-f", str(tmp_path / "nope.yml"), workspace=tmp_path / "ws")
    assert_user_error(res, "nope.yml", "does not exist", "hint:")


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    job = write(tmp_path / "exp" / "job.yml", "command: echo hi\ninputs:\n\tlr: 0.1\n")
    res = trainyard("job", "create", "-f", str(job), workspace=tmp_path / "ws")
    assert_user_error(res, f"{job}:3:", "malformed YAML")


def test_unknown_key_names_file_line_key_and_suggestion(tmp_path: Path) -> None:
    job = write(tmp_path / "exp" / "job.yml", "display_name: x\ncomand: echo hi\n")
    res = trainyard("job", "create", "-f", str(job), workspace=tmp_path / "ws")
    assert_user_error(res, f"{job}:2:", "unknown key 'comand'", "did you mean 'command'?")


def test_wrong_type_names_line_and_key(tmp_path: Path) -> None:
    job = write(tmp_path / "exp" / "job.yml", "command: echo hi\ntags: 4\n")
    res = trainyard("job", "create", "-f", str(job), workspace=tmp_path / "ws")
    assert_user_error(res, f"{job}:2:", "'tags'", "wrong type")


def test_unknown_compute(tmp_path: Path) -> None:
    job = write(tmp_path / "exp" / "job.yml", "command: echo hi\ncompute: azureml:gpu-cluster\n")
    res = trainyard("job", "create", "-f", str(job), workspace=tmp_path / "ws")
    assert_user_error(res, "unknown compute target 'gpu-cluster'", "compute: local")
    listed = trainyard("job", "list", "-o", "json", workspace=tmp_path / "ws")
    assert json.loads(listed.out) == []


def test_command_running_a_missing_script(tmp_path: Path) -> None:
    write(tmp_path / "exp" / "src" / "train.py", "print(1)\n")
    job = write(tmp_path / "exp" / "job.yml", "command: python missing.py --epochs 1\ncode: src\n")
    res = trainyard("job", "create", "-f", str(job), workspace=tmp_path / "ws")
    assert_user_error(res, "'missing.py'", str(tmp_path / "exp" / "src"), "hint:")
    assert json.loads(trainyard("job", "list", "-o", "json", workspace=tmp_path / "ws").out) == []


def test_snapshot_over_the_limit_names_largest_files_and_stores_nothing(tmp_path: Path) -> None:
    src = tmp_path / "exp" / "src"
    src.mkdir(parents=True)
    for i in range(1, 11):
        (src / f"part{i:02d}.bin").write_bytes(b"x" * (1000 * i))
    (src / "train.py").write_text("print(1)\n")
    job = write(tmp_path / "exp" / "job.yml", "command: python train.py\ncode: src\n")
    ws = tmp_path / "ws"
    res = trainyard("job", "create", "-f", str(job), workspace=ws, env={"TRAINYARD_SNAPSHOT_MAX_FILES": "5"})
    assert_user_error(res, "too large", "part10.bin", "part09.bin", ".amlignore", "TRAINYARD_SNAPSHOT_MAX_FILES")
    # the largest file is listed first
    assert res.err.index("part10.bin") < res.err.index("part09.bin")
    listed = trainyard("job", "list", "-o", "json", workspace=ws)
    assert listed.rc == 0 and json.loads(listed.out) == []
    assert list((ws / ".trainyard" / "runs").iterdir()) == []
    stored = [p for p in (ws / ".trainyard" / "snapshots").rglob("*") if p.is_file()]
    assert not any(p.name.startswith("part") for p in stored)


def test_bad_set_override(tmp_path: Path) -> None:
    job = write(tmp_path / "exp" / "job.yml", "command: echo ${{inputs.lr}}\ninputs:\n  lr: 0.1\n")
    res = trainyard("job", "create", "-f", str(job), "--set", "inputs.lr", workspace=tmp_path / "ws")
    assert_user_error(res, "key=value")


# --------------------------------------------------------------------------- unknown names
def test_unknown_job_name_for_every_job_command(populated: Path, tmp_path: Path) -> None:
    subcommands = ["show", "stream", "cancel", "metrics", "download"]
    extra = {"download": ["--output", str(tmp_path / "dl")]}
    calls = [((("job", sub, "-n", name, *extra.get(sub, []))), {"workspace": populated})
             for sub in subcommands for name in ("cli_job_on", "zzzz")]
    results = trainyard_all(*calls)
    for (args, _), res in zip(calls, results):
        name = args[3]
        if name == "cli_job_on":  # a typo of an existing job: suggest it
            assert_user_error(res, "no job named 'cli_job_on'", "did you mean cli_job_one?")
        else:
            assert_user_error(res, "no job named 'zzzz'", "trainyard job list")
    assert not (tmp_path / "dl").exists()


def test_unknown_metric_of_a_job(populated: Path) -> None:
    res = trainyard("job", "metrics", "-n", "cli_job_one", "--metric", "acc", workspace=populated)
    assert_user_error(res, "no metric 'acc'", "loss")


def test_cancel_of_a_finished_job(populated: Path) -> None:
    res = trainyard("job", "cancel", "-n", "cli_job_one", workspace=populated)
    assert_user_error(res, "already ended (Completed)")


def test_unknown_model(populated: Path) -> None:
    ws = {"workspace": populated}
    res, close, version, bad = trainyard_all(
        (("model", "show", "-n", "nosuch"), ws),
        (("model", "show", "-n", "nets"), ws),
        (("model", "show", "-n", "net:7"), ws),
        (("model", "show", "-n", "net:latest"), ws),
    )
    assert_user_error(res, "no model named 'nosuch'", "trainyard model list")
    assert_user_error(close, "did you mean net?")
    assert_user_error(version, "no version 7")
    assert_user_error(bad, "'latest' in 'net:latest' is not a number", "NAME:VERSION")


def test_unknown_data_asset(populated: Path) -> None:
    res = trainyard("data", "show", "-n", "nosuch", workspace=populated)
    assert_user_error(res, "no data asset 'nosuch'", "trainyard data list")


# --------------------------------------------------------------------------- workspace
def test_unusable_workspace_path_under_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    res = trainyard("job", "list", workspace=blocker / "ws")
    assert_user_error(res, f"cannot use {blocker / 'ws'} as a workspace", "Not a directory", "-w PATH")


def test_read_only_workspace_folder(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        res = trainyard("job", "list", workspace=locked / "ws")
        if os.geteuid() == 0:
            # root writes through permission bits: the workspace is simply made
            assert res.rc == 0, res.err
            assert (locked / "ws" / ".trainyard" / "config.json").is_file()
        else:
            assert_user_error(res, "cannot use", "Permission denied")
    finally:
        locked.chmod(0o700)


def test_init_then_workspace_is_found_upward_from_cwd(tmp_path: Path) -> None:
    home = tmp_path / "home"
    project = tmp_path / "project"
    res = trainyard("init", str(project), workspace=None, env={"TRAINYARD_HOME": str(home)})
    assert res.rc == 0, res.err
    assert "Traceback" not in res.err
    assert (project / ".trainyard" / "config.json").is_file()
    assert str(project) in res.out

    deep = project / "src" / "models"
    deep.mkdir(parents=True)
    (deep / "weights.bin").write_bytes(b"\0" * 10)
    res = trainyard("data", "create", "--name", "weights", "--path", "weights.bin", workspace=None,
                    cwd=deep, env={"TRAINYARD_HOME": str(home)})
    assert res.rc == 0, res.err
    # it landed in the project's workspace, not in the per-user default one
    listed = trainyard("data", "list", "-o", "json", workspace=project)
    assert [(d["name"], d["version"]) for d in json.loads(listed.out)] == [("weights", 1)]
    from_cwd = trainyard("data", "list", "-o", "json", workspace=None, cwd=deep, env={"TRAINYARD_HOME": str(home)})
    assert [d["name"] for d in json.loads(from_cwd.out)] == ["weights"]
    default = trainyard("data", "list", "-o", "json", workspace=None, cwd=tmp_path,
                        env={"TRAINYARD_HOME": str(home)})
    assert default.rc == 0 and json.loads(default.out) == []
    assert (home / "default" / ".trainyard").is_dir()  # the default workspace was used there


def test_init_json_output(tmp_path: Path) -> None:
    res = trainyard("init", str(tmp_path / "w"), "-o", "json", workspace=None)
    assert res.rc == 0, res.err
    doc = json.loads(res.out)
    assert doc["workspace"] == str(tmp_path / "w")
    assert doc["store_url"].startswith("sqlite:///")


# --------------------------------------------------------------------------- -o json
def test_job_list_and_show_json(populated: Path) -> None:
    listed = trainyard("job", "list", "-o", "json", workspace=populated)
    assert listed.rc == 0, listed.err
    jobs = json.loads(listed.out)
    assert [j["name"] for j in jobs] == ["cli_job_one"]
    shown = trainyard("job", "show", "-n", "cli_job_one", "-o", "json", workspace=populated)
    assert shown.rc == 0, shown.err
    doc = json.loads(shown.out)
    for key in ("name", "display_name", "experiment_name", "status", "status_history", "start_time",
                "end_time", "compute", "environment", "snapshot_id", "git", "inputs", "exit_code",
                "error", "metrics"):
        assert key in doc, key
    assert doc["name"] == "cli_job_one"
    assert doc["display_name"] == "logs three points"
    assert doc["experiment_name"] == "exp"
    assert doc["status"] == "Completed" and doc["exit_code"] == 0 and doc["error"] is None
    assert doc["compute"] == "local"
    assert doc["metrics"] == {"loss": pytest.approx(1 / 3)}
    statuses = [ev["status"] for ev in doc["status_history"]]
    assert statuses[0] == "NotStarted" and statuses[-1] == "Completed" and "Running" in statuses
    assert doc["start_time"].endswith("+00:00") and doc["end_time"].endswith("+00:00")
    assert doc["end_time"] >= doc["start_time"]
    assert doc["snapshot_id"]


def test_job_metrics_json(populated: Path) -> None:
    res = trainyard("job", "metrics", "-n", "cli_job_one", "-o", "json", workspace=populated)
    assert res.rc == 0, res.err
    points = json.loads(res.out)
    assert [(p["key"], p["step"], p["value"]) for p in points] == [
        ("loss", 0, 1.0), ("loss", 1, 0.5), ("loss", 2, pytest.approx(1 / 3))]


def test_model_and_data_list_json(populated: Path) -> None:
    models = trainyard("model", "list", "-o", "json", workspace=populated)
    assert models.rc == 0, models.err
    docs = json.loads(models.out)
    assert [(m["name"], m["version"], m["run"]) for m in docs] == [("net", 1, "cli_job_one")]
    assert Path(docs[0]["path"]).read_text() == "weights"
    data = trainyard("data", "list", "-o", "json", workspace=populated)
    assert data.rc == 0, data.err
    assert [(d["name"], d["version"], d["type"]) for d in json.loads(data.out)] == [("digits", 1, "uri_folder")]


def test_json_lists_of_an_empty_workspace(tmp_path: Path) -> None:
    ws = {"workspace": tmp_path / "ws"}
    results = trainyard_all(*[((group, "list", "-o", "json"), ws) for group in ("job", "model", "data")])
    for res in results:
        assert res.rc == 0, res.err
        assert json.loads(res.out) == []


def test_threads_opening_a_new_workspace_at_once(tmp_path: Path) -> None:
    """E.g. two `job create` started together by a script on a new workspace: none may fail
    (threads here, so that the race is cheap to provoke; the store's own lock is tested in
    test_schema.py)."""
    from engine.api import Engine

    n = 8
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def open_workspace() -> None:
        barrier.wait()
        try:
            Engine.open(tmp_path / "shared").close()
        except BaseException as exc:  # noqa: BLE001 - collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_workspace, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 45
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "opening the store hung"
    assert errors == []
    assert json.loads((tmp_path / "shared" / ".trainyard" / "config.json").read_text()) == {"version": 1}
    assert sorted(p.name for p in (tmp_path / "shared" / ".trainyard").iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize(("code", "rc", "stderr"), [(0, 0, ""), (3, 3, ""), ("bad input", 1, "bad input\n"), (None, 0, "")])
def test_leaving_without_teardown_waits_for_threads_runs_atexit_and_keeps_output(
        tmp_path: Path, code: object, rc: int, stderr: str) -> None:
    """The CLI leaves with os._exit (no interpreter teardown): what sys.exit would have done
    before it still happens: a worker thread finishes, atexit handlers run, buffered output and
    the exit code (sys.exit's int, message or None) reach the caller."""
    done = tmp_path / "done"
    script = textwrap.dedent(f"""
        import atexit, sys, threading, time
        from pathlib import Path
        from engine.cli.main import leave
        atexit.register(lambda: Path({str(done)!r}).write_text(Path({str(done)!r}).read_text() + "atexit"))
        def work():
            time.sleep(0.3)
            Path({str(done)!r}).write_text("thread ")
        threading.Thread(target=work).start()
        sys.stdout.write("x" * 200_000)  # buffered: flushed on the way out
        leave({code!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert (proc.returncode, proc.stderr) == (rc, stderr)
    assert proc.stdout == "x" * 200_000
    assert done.read_text() == "thread atexit"
