"""Job inputs and outputs in Docker containers against the real daemon: a read-only input is bound
into the container without a copy and cannot be changed by the script (which runs as this user,
root here); a download input is a private copy; an output registered as a model is consumed by a
second container job as azureml:NAME@latest."""

from __future__ import annotations

import contextlib
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.api import Engine
from engine.errors import InvalidState
from engine.specs.jobs import load_job

BASE = "trainyard-test-base:latest"

TRY = """\
import os, sys
d, out = sys.argv[1], sys.argv[2]
f = os.path.join(d, "big.bin")
print("uid", os.geteuid(), "sees", sorted(os.listdir(d)), os.path.getsize(f), flush=True)
def attempt(what, fn):
    try:
        fn()
        print(what, "SUCCEEDED", flush=True)
    except OSError as e:
        print(what, "FAILED", e.errno, flush=True)
attempt("append", lambda: open(f, "ab").write(b"x"))
attempt("create", lambda: open(os.path.join(d, "new"), "w").write("x"))
attempt("chmod", lambda: os.chmod(f, 0o777))
def link_then_write():
    os.link(f, "linked.bin")
    open("linked.bin", "ab").write(b"x")
attempt("link", link_then_write)
open(os.path.join(out, "weights.txt"), "w").write("w=7")
print("output at", out, flush=True)
"""


@pytest.fixture
def eng(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_client: Any) -> Iterator[Engine]:
    ws = tmp_path / "ws"
    monkeypatch.setenv("TRAINYARD_WORKSPACE", str(ws))
    monkeypatch.setenv("TRAINYARD_CANCEL_GRACE", "2")
    e = Engine.open(ws)
    e.store.add_compute_target("box", "docker", {"image": BASE})
    yield e
    for run in e.list_runs():
        if not run.is_terminal:
            with contextlib.suppress(InvalidState):
                e.cancel(run.name)
            e.wait(run.name, timeout=60)
    e.close()


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def _run(eng: Engine, job: Path) -> tuple[Any, str]:
    run = eng.wait(eng.submit(load_job(job)).name, timeout=300)
    log = (Path(run.run_dir) / "azureml-logs" / "70_driver_log.txt").read_text()
    assert run.status == "Completed", (run.error, log)
    return run, log


def _du(path: Path) -> int:
    return sum(os.lstat(os.path.join(d, f)).st_size for d, _, files in os.walk(path) for f in files)


def test_read_only_input_is_bound_without_copy_and_a_model_output_is_consumed_again(
    eng: Engine, tmp_path: Path
) -> None:
    proj = tmp_path / "proj"
    (proj / "data").mkdir(parents=True)
    big = proj / "data" / "big.bin"
    big.write_bytes(os.urandom(20 * 1024 * 1024))
    before = big.read_bytes()
    _write(proj / "src" / "train.py", TRY)
    train = _write(
        proj / "train.yml",
        """\
        command: python train.py ${{inputs.data}} ${{outputs.model}}
        code: src
        compute: azureml:box
        inputs:
          data: {type: uri_folder, path: ./data}
        outputs:
          model: {type: custom_model, name: dock-model}
        """,
    )
    run, log = _run(eng, train)
    assert "sees ['big.bin'] 20971520" in log
    for what in ("append", "create", "chmod", "link"):
        assert f"{what} FAILED" in log, log
    assert "SUCCEEDED" not in log
    assert "output at /trainyard/run/outputs/model" in log
    assert big.read_bytes() == before and sorted(p.name for p in big.parent.iterdir()) == ["big.bin"]
    # Bound, not copied: the run folder holds an empty mount point, not 20 MB.
    mount_point = Path(run.run_dir) / "inputs" / "data"
    assert mount_point.is_dir() and list(mount_point.iterdir()) == []
    assert _du(Path(run.run_dir)) < 1024 * 1024
    model = eng.get_model("dock-model")
    assert model.run_name == run.name and (Path(model.path) / "weights.txt").read_text() == "w=7"

    _write(
        proj / "src" / "score.py",
        """\
        import os, sys
        print("loaded", open(os.path.join(sys.argv[1], "weights.txt")).read(), flush=True)
        """,
    )
    score = _write(
        proj / "score.yml",
        """\
        command: python score.py ${{inputs.model}}
        code: src
        compute: azureml:box
        inputs:
          model: {type: custom_model, path: "azureml:dock-model@latest"}
        """,
    )
    consumer, log = _run(eng, score)
    assert "loaded w=7" in log
    (used,) = eng.run_data(consumer.name)
    assert (used.asset_name, used.asset_version) == ("dock-model", 1)


def test_download_input_in_a_container_is_a_private_copy(eng: Engine, tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    _write(proj / "rows.csv", "a\n1\n")
    _write(
        proj / "src" / "edit.py",
        """\
        import sys
        open(sys.argv[1], "a").write("2\\n")
        print("edited", sys.argv[1], open(sys.argv[1]).read().split(), flush=True)
        """,
    )
    job = _write(
        proj / "job.yml",
        """\
        command: python edit.py ${{inputs.rows}}
        code: src
        compute: azureml:box
        inputs:
          rows: {type: uri_file, path: rows.csv, mode: download}
        """,
    )
    run, log = _run(eng, job)
    assert "edited /trainyard/run/inputs/rows/rows.csv ['a', '1', '2']" in log
    assert (proj / "rows.csv").read_text() == "a\n1\n"
    assert (Path(run.run_dir) / "inputs" / "rows" / "rows.csv").read_text() == "a\n1\n2\n"
