"""The in-run client, run in a real subprocess as the engine runs it: only the inject folder on
PYTHONPATH, no site-packages (``python -S``), the TRAINYARD_* variables set. The record files it
writes are read back with ``engine.tracking.records``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from engine.tracking.records import Record, read_complete_lines, read_writer, scalar_columns, writers

INJECT = Path(__file__).resolve().parents[3] / "engine" / "tracking" / "inject"

METRIC_ERROR = (
    "run.log('loss', 'abc'): metric values must be numbers (int or float), got str 'abc'. "
    "Log text with run.tag(...) or several values with run.log_list(...)"
)


def run_script(
    tmp_path: Path,
    code: str,
    *,
    live: bool = True,
    bare: bool = True,
    interval: float = 0.05,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as a training script; ``bare`` hides site-packages (nothing installed)."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(code))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
    env["PYTHONPATH"] = str(INJECT)
    if live:
        env.update(
            TRAINYARD_RUN_ID="run-123",
            TRAINYARD_EXPERIMENT="exp-a",
            TRAINYARD_TRACKING_DIR=str(tmp_path / "tracking"),
            TRAINYARD_FLUSH_INTERVAL=str(interval),
            TRAINYARD_RUN_DIR=str(tmp_path),
        )
    cmd = [sys.executable, *(["-S"] if bare else []), str(script)]
    work = tmp_path / "cwd"
    work.mkdir(exist_ok=True)
    return subprocess.run(
        cmd, cwd=work, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def read_all(tmp_path: Path) -> dict[str, list[Record]]:
    """Every writer's records, by file name; fails on any malformed line."""
    out: dict[str, list[Record]] = {}
    for writer in writers(tmp_path / "tracking"):
        path = tmp_path / "tracking" / f"{writer}.jsonl"
        _lines, offset = read_complete_lines(path, 0)
        assert offset == path.stat().st_size, "the file ends with a partial line"
        records, errors = read_writer(tmp_path / "tracking", writer)
        assert errors == []
        assert [r.seq for r in records] == list(range(1, len(records) + 1))
        out[path.name] = records
    return out


def test_every_point_arrives_once_with_its_seq_step_and_value(tmp_path: Path) -> None:
    proc = run_script(
        tmp_path,
        """
        import time
        from trainyard_run import Run
        run = Run.get_context()
        for i in range(3000):
            run.log("loss", 1.0 / (i + 1))
            run.log("acc", i)  # ints stay exact
            if i % 7 == 0:
                run.log("sparse", i * 0.5, step=i * 10)
            if i == 1500:
                time.sleep(0.2)  # let the flush thread write a batch mid-way
        print(run.id, run.experiment, run.experiment.name, run.display_name)
        """,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["run-123", "exp-a", "exp-a", "run-123"]
    files = read_all(tmp_path)
    assert len(files) == 1
    (records,) = files.values()
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    cols = scalar_columns(records)
    steps, values, stamps = cols["loss"]
    assert steps == list(range(3000))
    assert values == [1.0 / (i + 1) for i in range(3000)]
    assert stamps == sorted(stamps)
    assert cols["acc"][1] == [float(i) for i in range(3000)]
    assert cols["sparse"][0] == [i * 10 for i in range(0, 3000, 7)]
    assert cols["sparse"][1] == [i * 0.5 for i in range(0, 3000, 7)]


def test_scalars_and_other_records_keep_their_order(tmp_path: Path) -> None:
    proc = run_script(
        tmp_path,
        """
        import time
        from trainyard_run import Run
        run = Run.get_context()
        for i in range(2000):
            if i % 3 == 0:
                run.log_row("row", i=i)
            run.log("a", i)
            if i % 5 == 0:
                run.tag("i", i)
                run.log("b", -i)
            if i % 400 == 0:
                run.flush()
        """,
    )
    assert proc.returncode == 0, proc.stderr
    (records,) = read_all(tmp_path).values()
    expected: list[tuple[str, object]] = []
    for i in range(2000):
        if i % 3 == 0:
            expected.append(("r", {"i": i}))
        expected.append(("m", float(i)))
        if i % 5 == 0:
            expected += [("g", {"i": str(i)}), ("m", float(-i))]
    assert [(r.kind, r.value) for r in records] == expected
    assert [r.seq for r in records] == list(range(1, len(expected) + 1))


def test_threads_logging_at_once_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    proc = run_script(
        tmp_path,
        """
        import threading
        from trainyard_run import get_run
        run = get_run()
        def work(t):
            for i in range(20000):
                run.log("shared", t * 100000 + i)
                run.log("own-%d" % t, i)
        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads: th.start()
        for th in threads: th.join()
        """,
        interval=0.01,
    )
    assert proc.returncode == 0, proc.stderr
    (records,) = read_all(tmp_path).values()
    assert [r.seq for r in records] == list(range(1, 160001))
    cols = scalar_columns(records)
    assert sorted(cols["shared"][0]) == list(range(80000))  # auto steps: each index exactly once
    assert sorted(cols["shared"][1]) == sorted(float(t * 100000 + i) for t in range(4) for i in range(20000))
    for t in range(4):
        assert cols[f"own-{t}"][1] == [float(i) for i in range(20000)]


def test_non_finite_values_round_trip(tmp_path: Path) -> None:
    proc = run_script(
        tmp_path,
        """
        from trainyard_run import Run
        run = Run.get_context()
        nan, inf = float("nan"), float("inf")
        for v in (nan, inf, -inf, -0.0, 1e-310, 1.7976931348623157e308, True, 10**30):
            run.log("v", v)
        """,
    )
    assert proc.returncode == 0, proc.stderr
    (records,) = read_all(tmp_path).values()
    values = [r.value for r in records]
    assert values[0] != values[0]
    assert values[1:] == [float("inf"), float("-inf"), -0.0, 1e-310, 1.7976931348623157e308, 1.0, 1e30]


def test_bad_values_raise_at_once_with_a_clear_message(tmp_path: Path) -> None:
    proc = run_script(
        tmp_path,
        """
        import json
        from trainyard_run import Run
        run = Run.get_context()
        out = []
        for call in (
            lambda: run.log("loss", "abc"),
            lambda: run.log("loss", None),
            lambda: run.log("loss", [1, 2]),
            lambda: run.log("loss", b"1"),
            lambda: run.log("loss", 1.0, step=1.5),
            lambda: run.log("loss", 1.0, step="3"),
            lambda: run.log(3, 1.0),
            lambda: run.log_list("l", "abc"),
            lambda: run.log_row("r", x=object()),
            lambda: run.log_table("t", [1, 2]),
            lambda: run.upload_file("../escape.txt", __file__),
            lambda: run.log_image("img"),
        ):
            try:
                call()
                out.append(["ok"])
            except (TypeError, ValueError) as exc:
                kind = type(exc).__name__
                out.append([kind, isinstance(exc, TypeError), isinstance(exc, ValueError), str(exc)])
        run.log("loss", 0.5)  # still works after the errors
        print(json.dumps(out))
        """,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out[0] == ["MetricValueError", True, True, METRIC_ERROR]
    assert "got NoneType None" in out[1][3]
    assert "got list [1, 2]" in out[2][3]
    assert "got bytes b'1'" in out[3][3]
    assert out[4][:1] == ["TypeError"] and "step must be an int, got float" in out[4][3]
    assert "step must be an int, got str" in out[5][3]
    assert "name must be a non-empty string" in out[6][3]
    assert "expected a list of values, got str" in out[7][3]
    assert "values must be numbers, bools or strings, got object" in out[8][3]
    assert "expected a dict of column -> list of values" in out[9][3]
    assert "relative path inside the run" in out[10][3]
    assert "exactly one of path=... or plot=..." in out[11][3]
    (records,) = read_all(tmp_path).values()
    assert [(r.seq, r.key, r.value, r.step) for r in records] == [(1, "loss", 0.5, 0)]  # nothing counted


def test_numpy_and_torch_scalars_are_accepted(tmp_path: Path) -> None:
    import numpy  # noqa: F401  (a dependency of the engine: must be there)
    torch_code = "import torch; run.log('t', torch.tensor(0.25)); run.log('t', torch.tensor(3))"
    try:
        import torch  # noqa: F401
    except ImportError:
        torch_code = ""
    proc = run_script(
        tmp_path,
        f"""
        import numpy as np
        from trainyard_run import Run
        run = Run.get_context()
        run.log("n", np.float32(0.5))
        run.log("n", np.float64(1.5))
        run.log("n", np.int64(7), step=np.int64(9))
        run.log("n", np.array(2.5))
        try:
            run.log("n", np.array([1.0, 2.0]))
        except TypeError as exc:
            print("rejected:", exc)
        run.log_list("arr", np.arange(3)); run.log_table("tab", {{"a": np.array([0.5, 1.5])}})
        {torch_code}
        """,
        bare=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "rejected: run.log('n', array([1., 2.])): metric values must be numbers" in proc.stdout
    (records,) = read_all(tmp_path).values()
    cols = scalar_columns(records)
    assert cols["n"] == ([0, 1, 9, 3], [0.5, 1.5, 7.0, 2.5], cols["n"][2])
    if torch_code:
        assert cols["t"][1] == [0.25, 3.0]
    others = {r.key: r.value for r in records if r.kind != "m"}
    assert others == {"arr": [0, 1, 2], "tab": {"a": [0.5, 1.5]}}


def test_lists_rows_tables_tags_params_images_and_uploads(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "pic.png").write_bytes(b"\x89PNG fake image")
    (src / "data.csv").write_text("a,b\n1,2\n")
    proc = run_script(
        tmp_path,
        f"""
        import io
        from trainyard_run import Run
        run = Run.get_context()
        run.log_list("accs", [0.5, 0.75, float("nan")], description="per class")
        run.log_row("Y over X", x=1, y=0.4)
        run.log_table("tbl", {{"x": [1, 2], "name": ["a", "b"]}})
        run.tag("team", "vision"); run.tag("flag"); run.set_tags({{"n": 3}})
        run.log_param("lr", 0.01); run.log_params({{"opt": "adam", "layers": [1, 2], "none": None}})
        run.log_image("pic", path={str(src / "pic.png")!r}, description="a picture")

        class Fig:  # what log_image needs of a matplotlib figure
            def savefig(self, path, format=None):
                with open(path, "wb") as f:
                    f.write(b"figure as " + format.encode())
        run.log_image("curve", plot=Fig())
        run.upload_file("outputs/data.csv", {str(src / "data.csv")!r})
        run.upload_file("outputs/stream.bin", io.BytesIO(b"bytes from a stream"))
        run.upload_file("outputs/text.txt", io.StringIO("text from a stream"))
        run.upload_folder("outputs/folder", {str(src)!r})
        run.log("loss", 0.1)
        run.complete()
        print(run.get_status())
        """,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "Running"
    (records,) = read_all(tmp_path).values()
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    by_kind: dict[str, list[Record]] = {}
    for r in records:
        by_kind.setdefault(r.kind, []).append(r)
    (lst,) = by_kind["l"]
    assert (lst.key, lst.value[:2], lst.description) == ("accs", [0.5, 0.75], "per class")
    assert lst.value[2] != lst.value[2]
    assert [(r.key, r.value) for r in by_kind["r"]] == [("Y over X", {"x": 1, "y": 0.4})]
    assert [(r.key, r.value) for r in by_kind["t"]] == [("tbl", {"x": [1, 2], "name": ["a", "b"]})]
    assert [r.value for r in by_kind["g"]] == [{"team": "vision"}, {"flag": ""}, {"n": "3"}]
    assert [r.value for r in by_kind["p"]] == [
        {"lr": 0.01},
        {"opt": "adam", "layers": "[1, 2]", "none": None},
    ]
    tracking = tmp_path / "tracking"
    images = {r.key: r for r in by_kind["i"]}
    assert images["pic"].description == "a picture"
    assert (tracking / str(images["pic"].value)).read_bytes() == b"\x89PNG fake image"
    assert (tracking / str(images["curve"].value)).read_bytes() == b"figure as png"
    uploads = {str(r.key): (tracking / str(r.value)).read_bytes() for r in by_kind["u"]}
    assert uploads == {
        "outputs/data.csv": b"a,b\n1,2\n",
        "outputs/stream.bin": b"bytes from a stream",
        "outputs/text.txt": b"text from a stream",
        "outputs/folder/data.csv": b"a,b\n1,2\n",
        "outputs/folder/pic.png": b"\x89PNG fake image",
    }
    for r in by_kind["i"] + by_kind["u"]:
        assert str(r.value).startswith("files/")
    assert not list((tracking / "files").glob(".tmp-*"))


def test_offline_run_prints_instead_of_logging(tmp_path: Path) -> None:
    proc = run_script(
        tmp_path,
        """
        from trainyard_run import Run
        run = Run.get_context()
        assert run is Run.get_context()
        print(run.id.startswith("OfflineRun_"), run.experiment.name, isinstance(run, Run))
        run.log("loss", 0.5)
        run.log_list("l", [1, 2])
        run.tag("k", "v")
        run.upload_file("outputs/a.txt", "nowhere.txt")
        run.complete()
        try:
            run.log("loss", "abc")
        except ValueError as exc:
            print(exc)
        try:
            Run.get_context(allow_offline=False)
        except RuntimeError as exc:
            print("no offline:", exc)
        """,
        live=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "True offline_experiment True",
        "Attempted to log scalar metric loss:",
        "0.5",
        "Attempted to log list metric l:",
        "[1, 2]",
        "Attempted to set tag k:",
        "v",
        "Attempted to upload file outputs/a.txt:",
        "nowhere.txt",
        METRIC_ERROR,
        (
            "no offline: Run.get_context(allow_offline=False): this script is not running inside a "
            "Trainyard run (TRAINYARD_TRACKING_DIR is not set)"
        ),
    ]
    assert not (tmp_path / "tracking").exists()


def test_client_imports_only_the_standard_library(tmp_path: Path) -> None:
    proc = run_script(
        tmp_path,
        """
        import json, sys, sysconfig
        before = set(sys.modules)
        import trainyard_run
        import azureml.core, azureml.core.run, azureml.core.runconfig
        azureml.core.Run.get_context().log("x", 1)
        stdlib = sysconfig.get_paths()["stdlib"]
        foreign = []
        for name in sorted(set(sys.modules) - before):
            path = getattr(sys.modules[name], "__file__", None) or ""
            if path and not path.startswith(stdlib):
                foreign.append((name, path))
        print(json.dumps(foreign))
        """,
    )
    assert proc.returncode == 0, proc.stderr
    foreign = json.loads(proc.stdout)
    assert {n for n, _p in foreign} >= {"trainyard_run", "azureml", "azureml.core"}
    assert [(n, p) for n, p in foreign if not p.startswith(str(INJECT))] == []
