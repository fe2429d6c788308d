"""Job inputs and outputs on local compute, with real runs: read-only inputs that even root cannot
change, download copies, http(s) inputs fetched once, outputs registered and consumed again."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.api import Engine
from engine.errors import TrainyardError
from engine.specs.jobs import load_job

TRY_WRITES = """
import os, sys
d = sys.argv[1]
f = os.path.join(d, "train.csv")
print("uid", os.geteuid(), "input", d)
def attempt(what, fn):
    try:
        fn()
        print(what, "SUCCEEDED")
    except OSError as e:
        print(what, "FAILED", e.errno)
attempt("append", lambda: open(f, "a").write("evil\\n"))
attempt("create", lambda: open(os.path.join(d, "new.txt"), "w").write("x"))
attempt("chmod", lambda: os.chmod(f, 0o666))
attempt("unlink", lambda: os.unlink(f))
def link_then_write():
    os.link(f, "linked.csv")  # in the working folder, which is writable
    open("linked.csv", "a").write("evil\\n")
attempt("link", link_then_write)
def link_inside():
    os.link(f, os.path.join(d, "again.csv"))
attempt("link-inside", link_inside)
"""


def write_job(root: Path, body: str, script: str = "print('hi')\\n", name: str = "job.yml") -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "main.py").write_text(script)
    path = root / name
    path.write_text(body)
    return path


def run_job(eng: Engine, path: Path, timeout: float = 120) -> tuple[str, str]:
    run = eng.submit(load_job(path))
    run = eng.wait(run.name, timeout=timeout)
    log = (Path(run.run_dir) / "azureml-logs" / "70_driver_log.txt").read_text()
    assert run.status == "Completed", (run.error, log)
    return run.name, log


@pytest.fixture
def data_project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "data").mkdir(parents=True)
    (root / "data" / "train.csv").write_text("a,b\n1,2\n")
    return root


def test_ro_mount_folder_cannot_be_changed_even_by_root(eng: Engine, data_project: Path) -> None:
    job = write_job(
        data_project,
        """\
command: python main.py ${{inputs.data}}
code: src
inputs:
  data:
    type: uri_folder
    path: ./data
""",
        TRY_WRITES,
    )
    name, log = run_job(eng, job)
    print(log)
    assert f"uid {os.geteuid()}" in log
    for what in ("append", "create", "chmod", "unlink", "link", "link-inside"):
        assert f"{what} FAILED" in log, what
    assert "SUCCEEDED" not in log
    # The user's folder is exactly as it was.
    assert sorted(p.name for p in (data_project / "data").iterdir()) == ["train.csv"]
    assert (data_project / "data" / "train.csv").read_text() == "a,b\n1,2\n"
    assert oct((data_project / "data" / "train.csv").stat().st_mode & 0o777) == oct(0o644)
    # The script got a path in the run folder, and the lineage names the folder and its content hash.
    run = eng.get_run(name)
    assert f"input {run.run_dir}/inputs/data" in log
    (record,) = eng.run_data(name)
    assert (
        record.direction == "input"
        and record.mode == "ro_mount"
        and record.path == str(data_project / "data")
    )
    assert record.content_hash and len(record.content_hash) == 64


def test_download_mode_is_a_private_writable_copy(eng: Engine, data_project: Path) -> None:
    job = write_job(
        data_project,
        """\
command: python main.py ${{inputs.data}}
code: src
inputs:
  data:
    type: uri_file
    path: data/train.csv
    mode: download
""",
        "import sys\nopen(sys.argv[1], 'a').write('3,4\\n')\nprint('wrote', sys.argv[1])\n",
    )
    name, log = run_job(eng, job)
    copy = Path(eng.get_run(name).run_dir) / "inputs" / "data" / "train.csv"
    assert f"wrote {copy}" in log
    assert copy.read_text() == "a,b\n1,2\n3,4\n"
    assert (data_project / "data" / "train.csv").read_text() == "a,b\n1,2\n"


def test_literals_optional_inputs_and_optional_segments(eng: Engine, data_project: Path) -> None:
    job = write_job(
        data_project,
        """\
command: >-
  python main.py --lr ${{inputs.lr}} --flag ${{inputs.flag}}
  $[[--extra ${{inputs.extra}}]] $[[--epochs ${{inputs.epochs}}]]
code: src
inputs:
  lr: {type: number, default: 0.5}
  flag: {type: boolean, value: true}
  extra: {type: string, optional: true}
  epochs: {type: integer, default: 3, optional: true}
""",
        "import sys\nprint('argv', sys.argv[1:])\n",
    )
    _name, log = run_job(eng, job)
    assert "argv ['--lr', '0.5', '--flag', 'true', '--epochs', '3']" in log


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    served = tmp_path / "served"
    served.mkdir()
    (served / "iris.csv").write_text("x,y\n" + "1,2\n" * 50000)
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):  # type: ignore[no-untyped-def]
            super().__init__(*a, directory=str(served), **kw)

        def do_GET(self) -> None:
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *_a) -> None:  # type: ignore[no-untyped-def]
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()


def test_http_input_is_downloaded_once_for_two_runs(
    eng: Engine, data_project: Path, http_server: tuple[str, list[str]]
) -> None:
    url, requests = http_server
    job = write_job(
        data_project,
        f"""\
command: python main.py ${{{{inputs.table}}}}
code: src
inputs:
  table:
    type: uri_file
    path: {url}/iris.csv
""",
        "import sys\nlines = open(sys.argv[1]).read().splitlines()\nprint('rows', len(lines), sys.argv[1])\n",
    )
    progress: list[str] = []
    first = eng.submit(load_job(job), on_progress=progress.append)
    second = eng.submit(load_job(job), on_progress=progress.append)
    for run in (first, second):
        done = eng.wait(run.name, timeout=120)
        log = (Path(done.run_dir) / "azureml-logs" / "70_driver_log.txt").read_text()
        assert done.status == "Completed", log
        assert "rows 50001" in log
    assert requests == ["/iris.csv"]  # one download, re-used by the second run
    assert any("downloaded" in p and "iris.csv" in p for p in progress)
    (a,), (b,) = eng.run_data(first.name), eng.run_data(second.name)
    assert a.path == b.path == f"{url}/iris.csv" and a.content_hash == b.content_hash


def test_model_output_registered_and_consumed_as_latest(eng: Engine, data_project: Path) -> None:
    train = write_job(
        data_project,
        """\
command: python main.py ${{outputs.model}}
code: src
outputs:
  model:
    type: custom_model
    name: tiny-model
""",
        "import os, sys\nopen(os.path.join(sys.argv[1], 'weights.txt'), 'w').write('w=42')\n",
        "train.yml",
    )
    producer, _ = run_job(eng, train)
    model = eng.get_model("tiny-model")
    assert model.version == 1 and model.run_name == producer
    score = data_project / "score.yml"
    score.write_text("""\
command: python score.py ${{inputs.model}}
code: src
inputs:
  model:
    type: custom_model
    path: azureml:tiny-model@latest
""")
    (data_project / "src" / "score.py").write_text(
        "import os, sys\nprint('weights', open(os.path.join(sys.argv[1], 'weights.txt')).read())\n"
    )
    consumer, log = run_job(eng, score)
    assert "weights w=42" in log
    (used,) = eng.run_data(consumer)
    assert (used.asset_kind, used.asset_name, used.asset_version) == ("model", "tiny-model", 1)
    (made,) = eng.run_data(producer)
    assert made.direction == "output" and made.asset_name == "tiny-model" and made.asset_version == 1
    assert made.content_hash == used.content_hash


def test_data_output_registered_and_failed_run_keeps_its_output(eng: Engine, data_project: Path) -> None:
    job = write_job(
        data_project,
        """\
command: python main.py ${{outputs.features}} ${{inputs.fail}}
code: src
inputs:
  fail: {type: integer, default: 0}
outputs:
  features:
    type: uri_folder
    name: features
""",
        "import os, sys\nopen(os.path.join(sys.argv[1], 'f.csv'), 'w').write('f\\n1\\n')\nsys.exit(int(sys.argv[2]))\n",
    )
    name, _ = run_job(eng, job)
    asset = eng.get_data_asset("features")
    assert asset.version == 1 and asset.run_name == name and asset.kind == "uri_folder"
    assert (Path(asset.path) / "f.csv").read_text() == "f\n1\n"
    failed = eng.submit(load_job(job, ["inputs.fail=3"]))
    done = eng.wait(failed.name, timeout=120)
    assert done.status == "Failed"
    assert (Path(done.run_dir) / "outputs" / "features" / "f.csv").read_text() == "f\n1\n"
    assert [a.version for a in eng.list_data_assets()] == [1]  # a failed run registers nothing


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("inputs:\n  d: {type: uri_folder, path: ./nowhere}\n", ["'d'", "nowhere", "does not exist"]),
        (
            "inputs:\n  d: {type: uri_folder, path: 'azureml:no-such-data@latest'}\n",
            ["no data asset 'no-such-data'"],
        ),
        ("inputs:\n  d: {type: uri_folder, path: 'azureml:tiny:7'}\n", ["tiny", "no version 7"]),
        ("inputs:\n  d: {type: uri_folder, path: data/train.csv}\n", ["uri_folder", "is a file"]),
        ("inputs:\n  d: {type: uri_file, path: 'azureml:tiny:1'}\n", ["uri_file", "tiny:1 is a uri_folder"]),
        ("inputs:\n  d: {type: integer, value: many}\n", ["integer", "'many'", "not a whole number"]),
        (
            "inputs:\n  d: {type: uri_folder, path: 'wasbs://c@acct.blob.core.windows.net/x'}\n",
            ["Azure Blob Storage", "does not reach", "trainyard data create"],
        ),
        ("outputs:\n  a: {name: same}\n  b: {name: same}\n", ["'a'", "'b'", "both register 'same'"]),
        ("outputs:\n  a: {}\n  a: {}\n", ["'a' appears twice"]),
        ("outputs:\n  a: {path: ../../elsewhere}\n", ["leaves the run's folder"]),
        ("outputs:\n  a: {path: /tmp/x}\n", ["absolute path"]),
        ("outputs:\n  a: {name: tiny, version: 1}\n", ["tiny:1", "already exists"]),
    ],
)
def test_bad_inputs_and_outputs_fail_clearly_and_register_nothing(
    eng: Engine, data_project: Path, body: str, words: list[str]
) -> None:
    eng.create_data_asset("tiny", str(data_project / "data"))
    job = write_job(data_project, "command: python main.py\ncode: src\n" + body)
    runs_before = len(eng.list_runs())
    with pytest.raises(TrainyardError) as info:
        eng.submit(load_job(job))
    text = info.value.one_line()
    for w in words:
        assert w in text, text
    assert len(eng.list_runs()) == runs_before
    assert [(a.name, a.version) for a in eng.list_data_assets()] == [("tiny", 1)]
    assert eng.list_models() == []
    assert not (eng.location.runs_dir.exists() and any(eng.location.runs_dir.iterdir()))


def test_rerun_mounts_the_inputs_in_its_own_run_folder(eng: Engine, data_project: Path) -> None:
    job = write_job(
        data_project,
        """\
command: python main.py ${{inputs.data}} ${{outputs.out}}
code: src
inputs:
  data: {type: uri_folder, path: ./data}
outputs:
  out: {type: uri_folder}
""",
        "import os, sys\nprint('rows', open(os.path.join(sys.argv[1], 'train.csv')).read().split(), sys.argv[1])\n"
        "open(os.path.join(sys.argv[2], 'done'), 'w').write('ok')\n",
    )
    first, _ = run_job(eng, job)
    again = eng.wait(eng.rerun(first).name, timeout=120)
    log = (Path(again.run_dir) / "azureml-logs" / "70_driver_log.txt").read_text()
    assert again.status == "Completed", log
    assert f"rows ['a,b', '1,2'] {again.run_dir}/inputs/data" in log
    assert (Path(again.run_dir) / "outputs" / "out" / "done").read_text() == "ok"
    assert [r.direction for r in eng.run_data(again.name)] == ["input", "output"]


def test_the_script_reads_its_inputs_from_run_input_datasets(eng: Engine, data_project: Path) -> None:
    """An SDK v1 script finds its data through `Run.get_context().input_datasets`: a data input's
    value is the path the script reads it at (the same as `${{inputs.data}}`), a literal its value."""
    job = write_job(
        data_project,
        """\
command: python main.py ${{inputs.data}}
code: src
inputs:
  data:
    type: uri_folder
    path: ./data
  epochs: 3
""",
        "import sys\nfrom azureml.core import Run\n"
        "given = Run.get_context().input_datasets\n"
        "print('same path', given['data'] == sys.argv[1])\n"
        "print('epochs', given['epochs'])\n"
        "print('rows', open(given['data'] + '/train.csv').read().splitlines())\n",
    )
    _name, log = run_job(eng, job)
    assert "same path True" in log
    assert "epochs 3" in log
    assert "rows ['a,b', '1,2']" in log
