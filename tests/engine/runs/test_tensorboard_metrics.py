"""TensorBoard event files under ./logs become metrics of the run, live, read incrementally from
offsets kept in the store: a new reader (a restarted supervisor) neither re-reads nor duplicates."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from engine.api import Engine
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles
from engine.runs.tbingest import TensorBoardIngestor
from engine.store.sql import SqlStore
from engine.tracking.tbevents import read_events

TRAIN = """
import os, time
import numpy as np
from torch.utils.tensorboard import SummaryWriter
w = SummaryWriter("logs/tb")
for step in range(20):
    w.add_scalar("Loss/train", 1.0 / (step + 1), step)
w.add_scalars("acc", {"train": 0.5, "val": 0.25}, 0)
w.add_histogram("weights", np.array([0.1, 0.2, 0.3]), 0)  # not a metric
w.flush()
deadline = time.time() + 120
while not os.path.exists("go") and time.time() < deadline:
    time.sleep(0.05)
for step in range(20, 30):
    w.add_scalar("Loss/train", 1.0 / (step + 1), step)
w.close()
"""


def expected(n: int) -> list[float]:
    return [float(np.float32(1.0 / (s + 1))) for s in range(n)]  # TensorBoard keeps float32


def test_event_files_become_metrics_live_and_are_never_read_twice(
    eng: Engine, project, cli, cli_popen
) -> None:  # type: ignore[no-untyped-def]
    code = project({"train.py": TRAIN})
    run = eng.submit(JobSpec(experiment_name="tb", code_dir=code, script="train.py"))
    files = RunFiles(Path(eng.get_run(run.name).run_dir))
    deadline = time.monotonic() + 90
    while len(eng.metric_history(run.name, "Loss/train").values) < 20 and time.monotonic() < deadline:
        time.sleep(0.2)
    # Live: the first 20 points are there while the script still waits.
    assert eng.get_run(run.name).status == "Running"
    assert eng.metric_history(run.name, "Loss/train").values.tolist() == expected(20)
    (files.wd / "go").write_text("")
    final = eng.wait(run.name, timeout=90)
    assert final.status == "Completed", final.error
    loss = eng.metric_history(run.name, "Loss/train")
    assert loss.steps.tolist() == list(range(30))
    assert loss.values.tolist() == expected(30)
    # add_scalars writes one event file per series (logs/tb/acc_train/, logs/tb/acc_val/), tag "acc".
    assert sorted(eng.metric_history(run.name, "acc").values.tolist()) == [0.25, 0.5]
    assert "weights" not in eng.latest_metrics(run.name)

    # A restarted supervisor's reader: it starts at the stored offsets and finds nothing new.
    store = SqlStore(eng.store_url, migrate=False)
    try:
        again = TensorBoardIngestor(store, run.name, files.logs)
        assert again.poll(force=True) == 0
        assert len(eng.metric_history(run.name, "Loss/train").values) == 30
    finally:
        store.close()

    # `trainyard job metrics` lists them like the script's own metrics.
    listed = cli("job", "metrics", "-n", run.name, "--metric", "Loss/train", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert [p["step"] for p in json.loads(listed.stdout)] == list(range(30))

    # `trainyard job tensorboard`: the tensorboard package on a free port, over the run's logs.
    proc = cli_popen("job", "tensorboard", "-n", run.name)
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"TensorBoard for {run.name}: http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split(": ", 1)[1].split(" ")[0]
        deadline = time.monotonic() + 60
        tags: dict = {}
        # TensorBoard loads the logs in the background; its runs are NAME/<folder under logs>.
        while f"{run.name}/tb" not in tags and time.monotonic() < deadline:
            with urllib.request.urlopen(url + "data/plugin/scalars/tags", timeout=10) as r:
                tags = json.loads(r.read())
            time.sleep(0.5)
        assert "Loss/train" in tags[f"{run.name}/tb"]
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) is not None
    with pytest.raises(OSError):  # TensorBoard ended with the command
        urllib.request.urlopen(url, timeout=5)


def test_a_record_still_being_written_is_left_for_the_next_read(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(str(tmp_path))
    for step in range(3):
        w.add_scalar("loss", float(step), step)
    w.close()
    (path,) = tmp_path.glob("events.out.tfevents.*")
    whole = path.read_bytes()
    first = read_events(path, 0)
    assert first.scalars["loss"][0] == [0, 1, 2] and first.offset == len(whole) and first.error is None
    # The same file cut in the middle of its last record: that record waits, nothing is lost.
    cut = tmp_path / "cut" / path.name
    cut.parent.mkdir()
    cut.write_bytes(whole[:-5])
    part = read_events(cut, 0)
    assert part.scalars["loss"][0] == [0, 1] and part.offset < len(whole) - 5
    cut.write_bytes(whole)
    rest = read_events(cut, part.offset)
    assert rest.scalars["loss"][0] == [2] and rest.offset == len(whole)
    # A damaged record is reported, not read past.
    bad = bytearray(whole)
    bad[part.offset + 20] ^= 0xFF
    cut.write_bytes(bytes(bad))
    damaged = read_events(cut, part.offset)
    assert damaged.events == 0 and damaged.error and "damaged record" in damaged.error
