"""Child runs: the runs.parent_name column (migration 0004), Engine.children and the SDK's
Run.submit_child / get_children."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from engine.api import Engine
from engine.errors import NotFound
from engine.jobs.spec import JobSpec
from engine.sdk import Experiment, ScriptRunConfig, Workspace
from engine.sdk.run import Run
from engine.store.models import Base
from engine.store.schema import HEAD_REVISION, alembic_config, current_revision
from engine.store.sql import SqlStore, make_engine
from engine.store.textsearch import unmodeled


def test_a_0003_store_upgrades_to_0004_keeping_its_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    eng = make_engine(url)
    try:
        with eng.begin() as conn:
            command.upgrade(alembic_config(conn), "0003_compute_targets")
            conn.execute(sa.text("INSERT INTO experiments (id, name, created_at) VALUES (1, 'e', 1.0)"))
            conn.execute(sa.text(
                "INSERT INTO runs (name, experiment_id, display_name, description, status, created_at, updated_at,"
                " run_dir, arguments, compute, inputs, params, tags, properties, cancel_requested, archived)"
                " VALUES ('old_run', 1, 'old_run', '', 'Completed', 1.0, 1.0, '/x', '[]', 'local', '{}', '{}',"
                " '{}', '{}', 0, 0)"))
            conn.execute(sa.text("INSERT INTO run_status_events (run_name, status, time) VALUES ('old_run', 'Completed', 1.0)"))
        assert current_revision(eng) == "0003_compute_targets"
    finally:
        eng.dispose()

    store = SqlStore(url)  # opening migrates
    try:
        assert current_revision(store.engine) == HEAD_REVISION  # 0004_parent_runs and every later one
        with store.engine.connect() as conn:
            opts = {"include_name": lambda name, type_, parent: not unmodeled(name)}  # the run search's own
            assert compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata) == []
            indexes = {ix["name"] for ix in sa.inspect(conn).get_indexes("runs")}
        assert "ix_runs_parent_name" in indexes
        run = store.get_run("old_run")
        assert run.parent_name is None and run.status == "Completed"
        # The column was added in place: the run's history (ON DELETE CASCADE) is still there.
        assert [e.status for e in run.status_history] == ["Completed"]
        store.create_run(name="kid", experiment_name="e", run_dir="/y", parent_name="old_run")
        assert [r.name for r in store.list_children("old_run")] == ["kid"]
        assert store.get_run("kid").parent_name == "old_run"
    finally:
        store.close()


def test_list_children_of_an_unknown_run_is_not_found(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 's.db'}")
    try:
        with pytest.raises(NotFound):
            store.list_children("nope")
        with pytest.raises(sa.exc.IntegrityError):  # a parent must exist
            store.create_run(name="orphan", experiment_name="e", run_dir="/z", parent_name="nope")
    finally:
        store.close()


def _project(tmp_path: Path) -> Path:
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "train.py").write_text("import sys\nprint('child says', sys.argv[1:])\n")
    return folder


def test_sdk_submit_child_runs_a_child_of_the_run(tmp_path: Path) -> None:
    engine = Engine.open(tmp_path / "ws")
    try:
        folder = _project(tmp_path)
        parent = engine.submit(JobSpec(experiment_name="sweep", code_dir=folder, script="train.py"))
        exp = Experiment(Workspace(engine=engine), "sweep")
        parent_run = Run(exp, parent.name)
        assert parent_run.get_children() == [] and parent_run.parent is None
        kids = [parent_run.submit_child(ScriptRunConfig(source_directory=str(folder), script="train.py",
                                                        arguments=["--lr", str(lr)]), tags={"lr": lr})
                for lr in (0.1, 0.01)]
        assert [r.name for r in engine.children(parent.name)] == [k.id for k in kids]
        assert [r.id for r in parent_run.get_children()] == [k.id for k in kids]
        assert [r.id for r in parent_run.get_children(tags={"lr": 0.01})] == [kids[1].id]
        for kid in kids:
            assert kid.parent is not None and kid.parent.id == parent.name
            stored = engine.get_run(kid.id)
            assert stored.parent_name == parent.name and stored.experiment_name == "sweep"
        deadline = time.monotonic() + 60
        for kid in kids:
            final = engine.wait(kid.id, timeout=max(1.0, deadline - time.monotonic()))
            assert final.status == "Completed"
        assert "child says ['--lr', '0.1']" in (Path(engine.get_run(kids[0].id).run_dir)
                                                / "azureml-logs" / "70_driver_log.txt").read_text()
        with pytest.raises(NotFound):
            engine.submit(JobSpec(experiment_name="sweep", code_dir=folder, script="train.py", parent_run="nope"))
        engine.wait(parent.name, timeout=60)
    finally:
        engine.close()
