"""Render the Compute page and its Add compute… dialog against a real SSH host, to PNGs.

    .venv/bin/python scripts/compute_screenshots.py OUT_DIR

A throwaway sshd on 127.0.0.1 plays a GPU box: its sessions' PATH starts with a folder holding
the test-only FAKE nvidia-smi (tests/fixtures/fake_nvidia_smi, a recorded four-GPU inventory), so
the pictures show four GPUs "on the host" on a machine that has none. This process holds two of
them for a pretend run, so the page shows GPUs in use. Everything lives in a temporary folder.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _sshd_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "compute_shots_sshd", ROOT / "tests" / "engine" / "runs" / "sshd.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main(out: Path) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="trainyard-compute-shots-"))
    os.environ.update(
        HOME=str(tmp / "home"),
        TRAINYARD_HOME=str(tmp / "th"),
        QT_QPA_PLATFORM="offscreen",
        TRAINYARD_GPU_LEASES=str(tmp / "leases"),
    )
    os.environ.pop("SSH_AUTH_SOCK", None)
    (tmp / "home" / ".ssh").mkdir(parents=True)
    fake = tmp / "fake-gpu-bin"
    fake.mkdir()
    shutil.copy(ROOT / "tests" / "fixtures" / "fake_nvidia_smi", fake / "nvidia-smi")
    shutil.copy(ROOT / "tests" / "engine" / "fixtures" / "nvidia_smi_query_gpu.csv", fake)
    sshd_mod = _sshd_module()
    folder = tmp / "sshd"
    # The sessions of this sshd find the FAKE nvidia-smi first (SetEnv is applied after sshd's PATH).
    server = None
    try:
        server = sshd_mod.start_sshd(folder)
        config = folder / "sshd_config"
        config.write_text(config.read_text() + f"SetEnv PATH={fake}:/usr/local/bin:/usr/bin:/bin\n")
        server.stop()
        time.sleep(0.5)
        subprocess.run(
            [sshd_mod.sshd_binary(), "-f", str(config), "-E", str(folder / "sshd.log")], check=True
        )
        time.sleep(0.5)
        server.pid = int((folder / "sshd.pid").read_text())
        (tmp / "home" / ".ssh" / "config").write_text(
            f"Host gpu-box\n    HostName {server.host}\n    Port {server.port}\n    User {server.user}\n"
            f"    IdentityFile {server.key}\n\nHost lab-a100\n    HostName 10.0.0.7\n"
        )
        return _render(out, tmp, server)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _render(out: Path, tmp: Path, server) -> int:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QEvent

    from engine.api import Engine
    from engine.compute.gpupool import Claim, GpuPool, this_process
    from engine.runs.gpuassign import ssh_pool_key
    from engine.specs.compute import compute_from_mapping
    from studio import tasks
    from studio.app import make_app
    from studio.mainwindow import MainWindow

    app = make_app()
    engine = Engine.open(tmp / "ws")
    engine.create_compute_target(
        compute_from_mapping({"name": "cpu-cluster", "type": "local", "max_concurrent_runs": 4})
    )
    engine.create_compute_target(
        compute_from_mapping(
            {
                "name": "gpu-box",
                "type": "ssh",
                "host": "gpu-box",
                "known_hosts": str(server.known_hosts),
                "description": "the A100 box under the desk",
            }
        )
    )
    pool = GpuPool(ssh_pool_key(f"{server.user}@{server.host}:{server.port}"))
    pool.try_acquire(this_process("brave_falcon_7k2", time.time()), Claim(count=2), [0, 1, 2, 3])
    window = MainWindow(engine, restore=False)
    out.mkdir(parents=True, exist_ok=True)

    def settle(check, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not check():
            app.processEvents()
            time.sleep(0.02)
        for _ in range(20):
            app.processEvents()
            # Widgets a page replaced are deleteLater()'d: outside app.exec() only this deletes them.
            app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
            time.sleep(0.01)

    try:
        window.resize(1280, 800)
        window.show()
        settle(lambda: window.bridge.is_loaded)
        page = window.compute_page
        window.show_page("compute")
        settle(lambda: page.is_ready() and page.select("gpu-box"))
        page.select("gpu-box")
        settle(lambda: False, 1.0)
        window.grab().save(str(out / "compute-page-ssh-gpus.png"))

        dialog = page.open_dialog()
        dialog.set_kind("ssh")
        dialog.name_edit.setText("gpu-box-2")
        settle(lambda: dialog.host_combo.count() == 2)
        dialog.host_combo.setCurrentText("gpu-box")
        dialog.known_hosts_edit.setText(str(tmp / "home" / ".ssh" / "known_hosts"))
        dialog.test_connection()
        settle(dialog.trust_button.isVisible)
        dialog.grab().save(str(out / "compute-add-ssh-first-use.png"))
        dialog.trust_button.click()
        settle(lambda: dialog.report is not None)
        dialog.grab().save(str(out / "compute-add-ssh-tested.png"))
        dialog.close()
    finally:
        window.shutdown()
        tasks.wait_all()
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")))
