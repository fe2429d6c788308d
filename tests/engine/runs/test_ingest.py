"""Ingestion of a real client's record files: restarts, partial writes, and ordering."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from engine.runs.files import RunFiles
from engine.runs.ingest import RecordIngestor
from engine.store.sql import SqlStore

INJECT = Path(__file__).resolve().parents[3] / "engine" / "tracking" / "inject"


def log_points(tracking: Path, code: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(INJECT), "TRAINYARD_TRACKING_DIR": str(tracking),
           "TRAINYARD_RUN_ID": "r"}
    subprocess.run([sys.executable, "-c", "from azureml.core import Run\nrun = Run.get_context()\n" + code],
                   env=env, check=True)


def make_store(tmp_path: Path) -> tuple[SqlStore, RunFiles]:
    store = SqlStore(f"sqlite:///{tmp_path / 'store.db'}")
    files = RunFiles(tmp_path / "run")
    files.tracking.mkdir(parents=True)
    store.create_run(name="r", experiment_name="e", run_dir=str(files.root))
    return store, files


def test_a_restarted_ingestor_continues_without_loss_or_duplicates(tmp_path: Path) -> None:
    store, files = make_store(tmp_path)
    log_points(files.tracking, "for i in range(1000):\n    run.log('a', i)\n    run.log('b', -i)\n")
    (writer,) = {p.stem for p in files.tracking.iterdir()}
    scalars = files.tracking / f"{writer}.scalars"
    full = scalars.read_bytes()
    # The supervisor saw only part of the file (and half a record) before it died.
    scalars.write_bytes(full[: 36 * 700 + 20])
    assert RecordIngestor(store, "r", files).poll() == 700
    scalars.write_bytes(full)
    # A new supervisor process: cursors and key ids come back from the store and the files.
    assert RecordIngestor(store, "r", files).poll() == 1300
    assert RecordIngestor(store, "r", files).poll() == 0
    a = store.metric_history("r", "a")
    b = store.metric_history("r", "b")
    assert a.values.tolist() == [float(i) for i in range(1000)]
    assert b.values.tolist() == [float(-i) for i in range(1000)]
    assert a.steps.tolist() == list(range(1000))


def test_scalars_whose_key_is_not_defined_yet_wait_for_the_definition(tmp_path: Path) -> None:
    store, files = make_store(tmp_path)
    log_points(files.tracking, "run.log('x', 1.0)\nrun.log_list('l', [1, 2])\nrun.log('y', 2.0)\n")
    (writer,) = {p.stem for p in files.tracking.iterdir()}
    jsonl = files.tracking / f"{writer}.jsonl"
    lines = jsonl.read_bytes()
    jsonl.write_bytes(b"")  # the binary file was read before the definitions were visible
    ing = RecordIngestor(store, "r", files)
    assert ing.poll() == 0
    assert store.metric_summaries("r") == []
    jsonl.write_bytes(lines)
    ing.poll()
    assert store.metric_history("r", "x").values.tolist() == [1.0]
    assert store.metric_history("r", "y").values.tolist() == [2.0]
    assert [o.value for o in store.metric_objects("r", "l")] == [[1, 2]]


def test_tags_params_and_uploads_land_in_the_run(tmp_path: Path) -> None:
    store, files = make_store(tmp_path)
    src = tmp_path / "report.csv"
    src.write_text("a,b\n1,2\n")
    log_points(files.tracking, f"run.tag('stage', 'dev')\nrun.log_param('lr', 0.1)\n"
                               f"run.upload_file('outputs/report.csv', {str(src)!r})\n")
    RecordIngestor(store, "r", files).poll()
    run = store.get_run("r")
    assert run.tags == {"stage": "dev"}
    assert run.params == {"lr": 0.1}
    assert (files.outputs / "report.csv").read_text() == "a,b\n1,2\n"
