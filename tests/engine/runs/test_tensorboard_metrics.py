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


IMAGES = """
import io, struct, zlib
import numpy as np
from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from torch.utils.tensorboard import SummaryWriter

def png(w, h, rgb):
    raw = b"".join(b"\\0" + bytes(rgb) * w for _ in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

w = SummaryWriter("logs/tb")
for step in range(2):  # PyTorch's add_image: an encoded image per event
    w.add_image("samples/input", np.full((3, 8, 8), 0.5 * step), step)
# TensorFlow 2's tf.summary.image: a string tensor of width, height, then one PNG per sample.
tensor = TensorProto(dtype=7, string_val=[b"4", b"4", png(4, 4, (255, 0, 0)), png(4, 4, (0, 0, 255))])
meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="images"))
w._get_file_writer().add_summary(Summary(value=[Summary.Value(tag="val/batch", tensor=tensor, metadata=meta)]), 5)
w.add_scalar("loss", 1.0, 0)
w.close()
"""


def test_event_file_images_go_to_the_runs_gallery_once(eng: Engine, project) -> None:  # type: ignore[no-untyped-def]
    code = project({"train.py": IMAGES})
    run = eng.wait(eng.submit(JobSpec(experiment_name="tb", code_dir=code, script="train.py")).name, timeout=120)
    assert run.status == "Completed", run.error
    run_dir = Path(run.run_dir)
    pytorch = eng.metric_objects(run.name, "samples/input")
    assert [(o.kind, o.step) for o in pytorch] == [("image", 0), ("image", 1)]
    tf2 = eng.metric_objects(run.name, "val/batch")
    assert [(o.kind, o.step) for o in tf2] == [("image", 5), ("image", 5)]
    files = [run_dir / o.value["path"] for o in pytorch + tf2]
    assert all(f.read_bytes().startswith(b"\x89PNG") for f in files)
    assert len(set(files)) == 4
    # A restarted supervisor's reader finds nothing new: no image is recorded twice.
    store = SqlStore(eng.store_url, migrate=False)
    try:
        files_ = RunFiles(run_dir)
        again = TensorBoardIngestor(store, run.name, files_.logs, images=files_.tracking)
        again.poll(force=True)
    finally:
        store.close()
    assert len(eng.metric_objects(run.name, "samples/input")) == 2
    assert len(eng.metric_objects(run.name, "val/batch")) == 2
