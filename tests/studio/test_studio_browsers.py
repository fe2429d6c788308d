"""The browser pages of scope item 6, on a real workspace: experiments, environments, compute,
models and data. Each test checks what a user would see and do on the page."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socketserver
import tempfile
import threading
from pathlib import Path

import pytest
from PySide6.QtGui import QKeySequence

from engine.compute.targets import create_compute_target
from engine.entities import EnvironmentSpec
from engine.environments.resolve import register_environment
from engine.specs.compute import compute_from_mapping
from studio.models.rows import ROW_ROLE
from studio.navigation import NAV_LABELS, PAGES

LOAD_MS = 15_000


def _column(proxy, col: int) -> list[str]:
    return [proxy.index(r, col).data() for r in range(proxy.rowCount())]


def test_navigation_order_and_shortcuts(qtbot, window):
    assert [NAV_LABELS[k] for k in PAGES] == ["Experiments", "Runs", "Environments", "Compute", "Models", "Data", "Components"]
    assert [window.nav.item(i).text() for i in range(window.nav.count())] == [NAV_LABELS[k] for k in PAGES]
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    shortcuts = {a.text(): a.shortcut() for a in view_menu.actions()}
    for i, key in enumerate(PAGES):
        assert shortcuts[NAV_LABELS[key]] == QKeySequence(f"Ctrl+{i + 1}")
    for key in PAGES:
        next(a for a in view_menu.actions() if a.text() == NAV_LABELS[key]).trigger()
        assert window.current_page() == key


def test_experiments_page_shows_counts_primary_metric_and_recent_runs(qtbot, window, submit, wait_status):
    names = [submit("--points", "20", experiment="alpha"), submit("--points", "40", experiment="alpha"),
             submit("--points", "5", experiment="beta")]
    for n in names:
        wait_status(window, n, "Completed")
    page = window.experiments_page
    window.show_page("experiments")

    def rows():
        return {page.proxy.index(r, 0).data(): [page.proxy.index(r, c).data() for c in range(1, 7)]
                for r in range(page.proxy.rowCount())}

    # loss = 1/(i+1): the best point of alpha is 1/40 (the 40-point run), its newest run's last value too.
    qtbot.waitUntil(lambda: rows().get("alpha", [""] * 6)[3:] == ["loss ↓", "0.025", "0.025"], timeout=LOAD_MS)
    assert rows()["alpha"][0] == "2" and rows()["beta"][0] == "1" and rows()["beta"][3:] == ["loss ↓", "0.2", "0.2"]
    row = next(r for r in range(page.proxy.rowCount()) if page.proxy.index(r, 0).data() == "alpha")
    page.table.selectRow(row)
    assert page.detail.field("Primary metric") == "loss ↓ (lower is better)"
    assert page.detail.field("Best") == f"0.025 in {names[1]}"
    assert [page.recent_model.row_at(i).name for i in range(page.recent_model.rowCount())] == [names[1], names[0]]
    # A recent run opens its detail; the experiment itself opens the filtered runs list.
    page.recent_table.activated.emit(page.recent_model.index(0, 0))
    assert window.current_page() == "run" and window.detail.name == names[1]
    window.show_page("experiments")
    page.all_runs_button.click()
    assert window.current_page() == "runs" and window.runs_page.filter_edit.text() == "alpha"


def test_environments_page_lists_shows_spec_and_builds(qtbot, window, engine, tmp_path):
    folder = tmp_path / "env"
    folder.mkdir()
    register_environment(engine.store, EnvironmentSpec(name="bare-venv", description="nothing installed",
                                                       pip_requirements=(), pip_source=str(folder / "requirements.txt")))
    page = window.environments_page
    window.show_page("environments")
    qtbot.waitUntil(lambda: "bare-venv" in _column(page.proxy, 0), timeout=LOAD_MS)
    names = _column(page.proxy, 0)
    assert "trainyard-python" in names  # curated ones are listed with the registered ones
    assert page.select("bare-venv")
    row = page.selected()
    assert row.spec.kind == "venv" and page.detail.field("Build") == "Not built"
    assert page.build_button.text() == "Build" and page.build_button.isVisible()
    qtbot.waitUntil(lambda: page.tabs.count() == 3, timeout=LOAD_MS)
    tabs = {page.tabs.tabText(i): page.tabs.widget(i).toPlainText() for i in range(page.tabs.count())}
    assert "pip_requirements: requirements.txt" in tabs["Environment YAML"]
    assert "Pip requirements" in tabs and "Build log" in tabs

    counts: list[int] = []
    page.buildsInProgressChanged.connect(counts.append)
    page.build(row)
    assert counts[-1] == 1 and window.statusBar().currentMessage() == "Building environment bare-venv:1…"
    assert not page.build_button.isEnabled()
    qtbot.waitUntil(lambda: counts[-1] == 0, timeout=120_000)
    qtbot.waitUntil(lambda: page.detail.field("Build") == "Built (cached)", timeout=LOAD_MS)
    assert "Creating virtual environment with uv" in page.log_view.toPlainText()
    assert page.build_button.text() == "Rebuild"
    assert engine.environment_build_status(row.spec).state == "built"
    prefix = Path(page.detail.field("Location"))
    assert (prefix / "bin" / "python").exists()


# What `nvidia-smi --query-gpu=index,name,memory.total,memory.used,utilization.gpu
# --format=csv,noheader,nounits` printed on a machine with four GPUs (the engine's GPU tests read it too),
# and what it prints without a driver.
NVIDIA_SMI_FOUR_GPUS = (Path(__file__).parents[1] / "engine" / "fixtures" / "nvidia_smi_query_gpu.csv").read_text()
NVIDIA_SMI_NO_DRIVER = ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
                        "Make sure that the latest NVIDIA driver is installed and running.\n")


def fake_nvidia_smi(folder: Path, stdout: str, code: int = 0) -> str:
    """A folder holding an `nvidia-smi` that prints `stdout` and exits with `code`: put it first on PATH, so
    the test sees the same whichever nvidia-smi (or none) the machine has."""
    folder.mkdir(parents=True)
    (folder / "output.txt").write_text(stdout)
    script = folder / "nvidia-smi"
    script.write_text(f"#!/bin/sh\ncat '{folder / 'output.txt'}'\nexit {code}\n")
    script.chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ['PATH']}"


class _FakeDockerHandler(http.server.BaseHTTPRequestHandler):
    """The two calls a daemon ping makes: GET /_ping and GET /version."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.endswith("/_ping"):
            body, kind = b"OK", "text/plain"
        elif self.path.endswith("/version"):
            body, kind = json.dumps({"Version": "27.0.3", "ApiVersion": "1.45", "MinAPIVersion": "1.24"}).encode(), \
                "application/json"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Api-Version", "1.45")
        self.send_header("Connection", "close")  # one request per connection: no handler outlives the test
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *_args: object) -> None:
        pass


class _UnixHttpServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


@pytest.fixture
def fake_docker_daemon():
    """DOCKER_HOST value of a socket that answers like a running Docker daemon 27.0.3."""
    folder = Path(tempfile.mkdtemp(prefix="ty-docker-"))  # a short path: sockets have a length limit
    server = _UnixHttpServer(str(folder / "docker.sock"), _FakeDockerHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"unix://{folder / 'docker.sock'}"
    server.shutdown()
    server.server_close()
    shutil.rmtree(folder, ignore_errors=True)


def test_compute_page_lists_targets_states_and_gpus(qtbot, window, engine, monkeypatch, tmp_path, fake_docker_daemon):
    create_compute_target(engine.store, compute_from_mapping(
        {"name": "gpu-docker", "type": "docker", "gpus": "all", "image": "python:3.11-slim", "network": "bridge"}))
    create_compute_target(engine.store, compute_from_mapping({"name": "lab-box", "type": "ssh",
                                                              "host": "lab.example.org", "user": "ml"}))
    # This machine's GPUs and Docker daemon, as the test says rather than as the machine has them.
    monkeypatch.setenv("PATH", fake_nvidia_smi(tmp_path / "four-gpus", NVIDIA_SMI_FOUR_GPUS))
    monkeypatch.setenv("DOCKER_HOST", fake_docker_daemon)
    page = window.compute_page
    window.show_page("compute")
    qtbot.waitUntil(lambda: "gpu-docker" in _column(page.proxy, 0), timeout=LOAD_MS)
    assert _column(page.proxy, 0) == ["local", "docker", "gpu-docker", "lab-box"]
    states = dict(zip(_column(page.proxy, 0), _column(page.proxy, 2)))
    assert states == {"local": "ready", "docker": "ready", "gpu-docker": "ready",
                      "lab-box": "unavailable"}  # stored and shown; its host does not resolve here
    gpus = dict(zip(_column(page.proxy, 0), _column(page.proxy, 4)))
    assert gpus["local"] == "NVIDIA A100-SXM4-80GB, NVIDIA A100-SXM4-80GB, NVIDIA GeForce RTX 3090, Tesla K80"
    assert gpus["gpu-docker"] == "all requested" and gpus["docker"] == "none requested"
    assert gpus["lab-box"] == "unknown (host not reached)"  # an SSH host's GPUs are asked only when it answers
    assert page.select("gpu-docker")
    assert page.detail.field("State") == "ready: Docker 27.0.3 is running"
    assert page.detail.field("Network") == "bridge" and page.detail.field("Default image") == "python:3.11-slim"
    assert page.detail.field("GPUs requested") == "all"
    assert page.detail.field("GPUs here").splitlines() == [
        "0: NVIDIA A100-SXM4-80GB (1.2 / 80.0 GiB, 35%)", "1: NVIDIA A100-SXM4-80GB (0.0 / 80.0 GiB, 0%)",
        "2: NVIDIA GeForce RTX 3090 (21.5 / 24.0 GiB, 98%)", "3: Tesla K80 (11.2 GiB)"]
    assert page.select("lab-box") and page.detail.field("Host") == "lab.example.org"

    # No driver, no daemon: no GPUs (and why), Docker targets unavailable.
    monkeypatch.setenv("PATH", fake_nvidia_smi(tmp_path / "no-driver", NVIDIA_SMI_NO_DRIVER, code=9))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-daemon.sock'}")
    page.refresh()
    qtbot.waitUntil(lambda: dict(zip(_column(page.proxy, 0), _column(page.proxy, 2)))["docker"] == "unavailable",
                    timeout=LOAD_MS)
    gpus = dict(zip(_column(page.proxy, 0), _column(page.proxy, 4)))
    assert gpus["local"] == "none" and gpus["gpu-docker"] == "all (none here)"
    assert page.select("gpu-docker")
    assert page.detail.field("State").startswith("unavailable: ") and "no-daemon.sock" in page.detail.field("State")
    assert page.detail.field("GPUs here") == f"none found ({NVIDIA_SMI_NO_DRIVER.strip()})"


def test_compute_page_lists_the_runs_active_on_a_target(qtbot, window, submit, wait_status, tmp_path):
    stop = tmp_path / "stop"
    name = submit("--hold", str(stop))
    wait_status(window, name, "Running")
    page = window.compute_page
    window.show_page("compute")
    qtbot.waitUntil(lambda: page.proxy.rowCount() > 0 and page.select("local"), timeout=LOAD_MS)
    qtbot.waitUntil(lambda: page.jobs_model.rowCount() == 1, timeout=LOAD_MS)
    assert page.jobs_model.row_at(0).name == name and page.detail.field("State").startswith("ready")
    page.jobs_table.activated.emit(page.jobs_proxy.index(0, 0))
    assert window.current_page() == "run" and window.detail.name == name
    stop.write_text("")
    wait_status(window, name, "Completed")
    window.show_page("compute")
    qtbot.waitUntil(lambda: page.jobs_model.rowCount() == 0, timeout=LOAD_MS)


def test_models_page_shows_size_opens_run_and_downloads(qtbot, window, engine, submit, wait_status, tmp_path):
    name = submit("--points", "2")
    wait_status(window, name, "Completed")
    engine.register_model("tiny", "outputs/model.bin", run_name=name, tags={"framework": "none"})
    page = window.models_page
    window.show_page("models")
    qtbot.waitUntil(lambda: page.proxy.rowCount() == 1 and page.proxy.index(0, 5).data() == "1.2 KB",
                    timeout=LOAD_MS)
    assert [page.proxy.index(0, c).data() for c in range(3)] == ["tiny", "1", name]
    assert page.detail.field("Produced by") == name and page.detail.field("Tags") == "framework=none"
    op = page.download(page.selected(), tmp_path / "dl")
    qtbot.waitUntil((tmp_path / "dl" / "tiny" / "1" / "model.bin").exists, timeout=LOAD_MS)
    assert op is not None and (tmp_path / "dl" / "tiny" / "1" / "model.bin").stat().st_size == 1234
    page.run_button.click()
    assert window.current_page() == "run" and window.detail.name == name


def test_data_page_registers_an_asset(qtbot, window, engine, tmp_path):
    page = window.data_page
    window.show_page("data")
    qtbot.waitUntil(page.is_ready, timeout=LOAD_MS)
    assert page.stack.currentWidget() is page.empty and "Register data" in page.empty.text.text()
    data = tmp_path / "train.csv"
    data.write_text("a,b\n1,2\n")
    dialog = page.open_register_dialog()
    assert not dialog.register_button.isEnabled()
    dialog.set_path(str(data))
    assert dialog.name_edit.text() == "train" and dialog.register_button.isEnabled()
    dialog.description_edit.setText("the training split")
    dialog.register_button.click()
    qtbot.waitUntil(lambda: page.proxy.rowCount() == 1, timeout=LOAD_MS)
    assert [a.name for a in engine.list_data_assets()] == ["train"]
    qtbot.waitUntil(lambda: page.detail.field("On disk") == "yes", timeout=LOAD_MS)
    copy = Path(page.detail.field("Path"))
    assert copy.name == "train.csv" and copy.is_relative_to(engine.location.data_dir)
    assert page.detail.field("Kind") == "file" and page.detail.field("Copy") == "a snapshot in the workspace"
    assert page.detail.field("In a job") == "path: azureml:train:1"
    # The asset is a snapshot: the user's file going away does not change it...
    data.unlink()
    page.refresh()
    qtbot.wait(300)
    assert page.proxy.index(0, 4).data() == "yes"
    # ...but a workspace copy that disappears shows as missing at the next refresh.
    copy.chmod(0o644)
    shutil.rmtree(copy.parent)
    page.refresh()
    qtbot.waitUntil(lambda: page.proxy.index(0, 4).data() == "missing", timeout=LOAD_MS)
    assert page.proxy.index(0, 0).data(ROW_ROLE).exists is False


def test_data_page_previews_rows_and_shows_lineage_both_ways(qtbot, window, engine, project, tmp_path):
    from engine.jobs.spec import DataInput, DataOutput, JobSpec

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "rows.csv").write_text("city,temp\nOslo,3\nLima,19\n")
    engine.create_data_asset("weather", str(raw))
    (project / "copy.py").write_text(
        "import os, shutil, sys\nshutil.copy(os.path.join(sys.argv[1], 'rows.csv'), sys.argv[2])\n")
    spec = JobSpec(experiment_name="exp-a", code_dir=project, command="python copy.py ${{inputs.w}} ${{outputs.o}}",
                   data_inputs={"w": DataInput("uri_folder", "azureml:weather@latest")},
                   outputs={"o": DataOutput("uri_folder", asset_name="weather-copy")})
    run = engine.wait(engine.submit(spec).name, timeout=120)
    assert run.status == "Completed", run.error
    page = window.data_page
    window.show_page("data")
    page.refresh()
    qtbot.waitUntil(lambda: page.proxy.rowCount() == 2, timeout=LOAD_MS)
    assert page.select("weather", 1)
    qtbot.waitUntil(lambda: page.detail.field("Consumed by") == run.name, timeout=LOAD_MS)
    assert page.detail.field("Produced by") == "registered by hand, not by a run"
    assert not page.producer_button.isEnabled() and page.consumers.count() == 2
    assert page.preview_label.text() == "Preview of rows.csv"
    assert [page.preview.horizontalHeaderItem(c).text() for c in range(page.preview.columnCount())] == ["city", "temp"]
    assert [[page.preview.item(r, c).text() for c in range(2)] for r in range(page.preview.rowCount())] == [
        ["Oslo", "3"], ["Lima", "19"]]
    assert page.select("weather-copy", 1)
    qtbot.waitUntil(lambda: page.detail.field("Produced by") == run.name, timeout=LOAD_MS)
    assert page.detail.field("Consumed by") == "no run yet"
    page.producer_button.click()
    assert window.current_page() == "run" and window.detail.name == run.name


def test_run_overview_lists_inputs_and_outputs_with_links(qtbot, window, engine, project, tmp_path):
    from engine.jobs.spec import DataInput, DataOutput, JobSpec

    (project / "make.py").write_text("import os, sys\nopen(os.path.join(sys.argv[1], 'm.txt'), 'w').write('m')\n")
    made = engine.submit(JobSpec(experiment_name="exp-a", code_dir=project, command="python make.py ${{outputs.m}}",
                                 outputs={"m": DataOutput("custom_model", asset_name="mini")}))
    assert engine.wait(made.name, timeout=120).status == "Completed"
    (project / "use.py").write_text("import sys\nprint(sys.argv[1])\n")
    used = engine.submit(JobSpec(experiment_name="exp-a", code_dir=project, command="python use.py ${{inputs.m}}",
                                 data_inputs={"m": DataInput("custom_model", "azureml:mini@latest")}))
    assert engine.wait(used.name, timeout=120).status == "Completed"
    detail = window.show_run(used.name)
    label = detail.overview.values["data_inputs"]
    qtbot.waitUntil(lambda: "azureml:mini:1" in label.text(), timeout=LOAD_MS)
    assert f"from run <a href='run:{made.name}'>" in label.text() and "custom_model, ro_mount" in label.text()
    detail.overview._link("model:mini:1")  # what clicking the asset link does
    assert window.current_page() == "models"
    qtbot.waitUntil(lambda: getattr(window.models_page.selected(), "name", None) == "mini", timeout=LOAD_MS)
    detail = window.show_run(made.name)
    out = detail.overview.values["data_outputs"]
    qtbot.waitUntil(lambda: "azureml:mini:1" in out.text(), timeout=LOAD_MS)
    detail.overview._link(f"run:{made.name}")
    assert window.current_page() == "run"
