"""A team workspace's config (docs/team-workspace.md): where its folders go, and the mistakes
refused with the file and key named before anything is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from engine.runtime.host import host_properties, runs_here
from engine.workspace import WorkspaceLocation, models_dir_of_run

ROOT = Path(__file__).resolve().parents[2]
PG = "postgresql+psycopg://team@db.example:5432/trainyard"


def _trainyard(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TRAINYARD_WORKSPACE", "TRAINYARD_STORE_URL")}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "PYTHONPATH": str(ROOT)},
    )


def test_a_team_workspace_keeps_runs_snapshots_models_and_data_in_the_shared_folder(tmp_path: Path) -> None:
    shared = tmp_path / "share"
    shared.mkdir()
    loc = WorkspaceLocation(tmp_path / "me").ensure(PG, str(shared))  # no database is opened here
    config = json.loads((loc.storage / "config.json").read_text())
    assert config["store_url"] == PG and config["shared_dir"] == str(shared)
    assert loc.store_url == PG and loc.shared_dir == shared
    for folder in (loc.runs_dir, loc.snapshots_dir, loc.models_dir, loc.data_dir, loc.datastores_dir):
        assert folder.parent == shared
    assert (shared / "runs").is_dir() and not (loc.storage / "runs").exists()
    assert models_dir_of_run(loc.runs_dir / "some_run") == loc.models_dir
    # A one-machine workspace is as before.
    alone = WorkspaceLocation(tmp_path / "alone").ensure()
    assert alone.shared_dir is None and alone.runs_dir == alone.storage / "runs"
    assert models_dir_of_run(alone.runs_dir / "r") == alone.models_dir


def test_init_refuses_a_missing_shared_folder_and_writes_nothing(tmp_path: Path) -> None:
    res = _trainyard(
        "init",
        str(tmp_path / "me"),
        "--store-url",
        PG,
        "--shared-dir",
        str(tmp_path / "not-mounted"),
        cwd=tmp_path,
    )
    assert res.returncode != 0
    assert "not-mounted" in res.stderr and "does not exist" in res.stderr and "shared_dir" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "me" / ".trainyard" / "config.json").exists()
    assert not (tmp_path / "not-mounted").exists()  # an unmounted share is never filled from here


def test_init_refuses_a_shared_folder_with_a_sqlite_store(tmp_path: Path) -> None:
    (tmp_path / "share").mkdir()
    res = _trainyard("init", str(tmp_path / "me"), "--shared-dir", str(tmp_path / "share"), cwd=tmp_path)
    assert res.returncode != 0
    assert "needs a database server" in res.stderr and "store_url" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "me" / ".trainyard" / "config.json").exists()


def test_a_hand_edited_relative_shared_dir_is_named_with_its_file(tmp_path: Path) -> None:
    storage = tmp_path / "me" / ".trainyard"
    storage.mkdir(parents=True)
    (storage / "config.json").write_text(json.dumps({"version": 1, "store_url": PG, "shared_dir": "share/x"}))
    res = _trainyard("-w", str(tmp_path / "me"), "job", "list", cwd=tmp_path)
    assert res.returncode != 0
    assert (
        str(storage / "config.json") in res.stderr and "`shared_dir` must be an absolute path" in res.stderr
    )
    assert "Traceback" not in res.stderr


def test_runs_are_this_machine_s_by_machine_id_then_host_name(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("TRAINYARD_HOST_ID", raising=False)
    mine = host_properties()
    assert runs_here(mine) and runs_here({})  # a run recorded before hosts: this machine's
    assert runs_here({"host": mine["host"]})  # recorded before machine ids: by host name
    assert not runs_here({"host": "elsewhere"})
    # Two machines cloned from one image share a host name: the machine id tells them apart.
    assert not runs_here({"host": mine["host"], "machine": "another-machine-id"})
    monkeypatch.setenv("TRAINYARD_HOST_ID", "machine-a")
    assert host_properties() == {"host": "machine-a", "machine": "machine-a"}
    assert not runs_here(mine)
