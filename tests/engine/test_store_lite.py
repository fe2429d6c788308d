"""engine.store.lite (the standard-library reader behind `job list`/`job show`) answers exactly as
the SQLAlchemy store does, trusts only the schema stamp, and the CLI's read commands use it
without loading SQLAlchemy."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.api import Engine
from engine.errors import NotFound
from engine.store import lite
from engine.store.schema import SCHEMA_STAMP
from engine.store.sql import SqlStore

ROOT = Path(__file__).resolve().parents[2]


def _seed(store: SqlStore) -> None:
    store.create_run(
        name="a",
        experiment_name="e1",
        run_dir="/x/a",
        command="python a.py",
        arguments=["--lr", "1"],
        tags={"seed": "1"},
        params={"p": 2},
        inputs={"data": {"path": "/d"}},
        git={"commit": "abc"},
    )
    store.set_status("a", "Running")
    store.set_status("a", "Completed", exit_code=0)
    store.create_run(
        name="b", experiment_name="e2", run_dir="/x/b", parent_name="a", properties={"k": [1, 2]}
    )
    store.set_status("b", "Failed", error="boom")
    store.create_run(name="c", experiment_name="e1", run_dir="/x/c", parent_name="a")
    store.set_status("c", "Canceled")
    store.update_run("c", archived=True)
    store.ingest(
        "a",
        source="w",
        offset=1,
        last_seq=1,
        scalars={"loss": ([0, 1], [0.5, 0.25], [1.0, 2.0])},
        tags={"t": "v"},
    )


def test_the_reader_answers_as_the_store_does(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = SqlStore(url)
    try:
        _seed(store)
        reader = lite.open_reader(url)
        assert reader is not None
        try:
            assert reader.get_run("a") == store.get_run("a")
            assert reader.get_run("a").status_history == store.get_run("a").status_history
            assert len(reader.get_run("a").status_history) == 3
            for filters in (
                {},
                {"include_archived": True},
                {"experiment": "e1"},
                {"statuses": ["Failed"]},
                {"limit": 1},
                {"limit": 1, "offset": 1},
            ):
                assert reader.list_runs(**filters) == store.list_runs(**filters), filters
            assert [r.name for r in reader.list_runs(include_archived=True)] == ["c", "b", "a"]
            assert reader.list_children("a") == store.list_children("a")
            assert reader.archived_among(["a", "b", "c", "zz"]) == {"c"}
            assert reader.metric_summaries("a") == store.metric_summaries("a")
            assert reader.metric_summaries("a")[0].last_value == 0.25
            with pytest.raises(NotFound) as info:
                reader.get_run("aa")
            assert info.value.hint is not None and "did you mean a?" in info.value.hint
            with pytest.raises(NotFound):
                reader.list_children("nope")
        finally:
            reader.close()
    finally:
        store.close()


def test_the_reader_trusts_only_the_current_stamp(tmp_path: Path) -> None:
    assert lite.SCHEMA_STAMP == SCHEMA_STAMP, "engine.store.lite restates the stamp: update it"
    db = tmp_path / "store.db"
    url = f"sqlite:///{db}"
    assert lite.open_reader(url) is None  # no database yet: the Engine creates it
    SqlStore(url).close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_STAMP  # the migration stamped it
        conn.execute("PRAGMA user_version = 0")  # as a workspace from before the stamp
    assert lite.open_reader(url) is None
    SqlStore(url).close()  # the full store finds it at head and stamps it without migrating
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_STAMP
        conn.execute(f"PRAGMA user_version = {SCHEMA_STAMP + 1}")  # a newer Trainyard's
    assert lite.open_reader(url) is None
    assert lite.open_reader("postgresql+psycopg://u@localhost/db") is None


def _trainyard(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRAINYARD_WORKSPACE": str(ws)}
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "from studio.launch import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_job_list_and_show_answer_without_sqlalchemy(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    eng = Engine.open(ws)
    try:
        _seed(eng.store)  # type: ignore[arg-type]
    finally:
        eng.close()
    listed = _trainyard(ws, "job", "list")
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == ["b", "a"]
    shown = _trainyard(ws, "job", "show", "-n", "a")
    assert shown.returncode == 0, shown.stderr
    assert "Completed" in shown.stdout and "loss:" in shown.stdout and "0.25" in shown.stdout
    for res in (listed, shown):
        imported = [line.rsplit("|", 1)[-1].strip() for line in res.stderr.splitlines() if "|" in line]
        assert "sqlalchemy" not in imported and "alembic" not in imported
        assert "engine.compute.vmsizes" not in imported  # the other command groups are not loaded


def test_a_run_whose_supervisor_died_is_shown_failed(tmp_path: Path) -> None:
    """The fast path must not show a dead run as Running: it hands over to the Engine, which
    reconciles (marks the run Failed) first."""
    ws = tmp_path / "ws"
    eng = Engine.open(ws)
    try:
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        eng.store.create_run(
            name="r",
            experiment_name="e",
            run_dir=str(ws / "r"),
            status="Running",
            supervisor_pid=dead.pid,
            supervisor_started=time.time(),
        )
    finally:
        eng.close()
    listed = _trainyard(ws, "job", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].split()[:3] == ["r", "e", "Failed"]
