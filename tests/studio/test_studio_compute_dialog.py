"""The Compute page's Add compute… dialog driven like a user would, against a real throwaway sshd
(tests/engine/runs/sshd.py): pick the host from ~/.ssh/config, Test connection shows the host key's
fingerprint to trust on first use and then Python, GPUs, Docker and free disk; a protected key asks
for its passphrase (kept nowhere); save, edit and delete the target."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

LOAD_MS = 30_000
_SSHD = Path(__file__).parents[1] / "engine" / "runs" / "sshd.py"
_spec = importlib.util.spec_from_file_location("studio_test_sshd", _SSHD)
assert _spec is not None and _spec.loader is not None
sshd_module = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = sshd_module  # dataclasses look their module up there
_spec.loader.exec_module(sshd_module)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    (folder / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return folder


@pytest.fixture
def sshd(tmp_path: Path, home: Path) -> Iterator[Any]:
    server = sshd_module.start_sshd(tmp_path / "sshd")
    yield server
    server.stop()


def _fingerprint(pub: Path) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(pub)], capture_output=True, text=True, check=True
    ).stdout
    return out.split()[1]


def _rows(page: Any) -> dict[str, str]:
    return {
        page.proxy.index(r, 0).data(): page.proxy.index(r, 1).data() for r in range(page.proxy.rowCount())
    }


def test_add_an_ssh_host_from_ssh_config_trusting_its_key_then_edit_and_delete(
    qtbot, window, engine, sshd, home, tmp_path
):
    (home / ".ssh" / "config").write_text(
        f"Host lab-gpu\n    HostName {sshd.host}\n    Port {sshd.port}\n    User {sshd.user}\n"
        f"    IdentityFile {sshd.key}\n\nHost *\n    ServerAliveInterval 30\n"
    )
    known = tmp_path / "known_hosts"
    known.touch()  # nothing trusted yet
    page = window.compute_page
    window.show_page("compute")
    qtbot.waitUntil(lambda: "local" in _rows(page), timeout=LOAD_MS)
    page.add_button.click()
    dialog = page.dialog
    assert dialog is not None and dialog.isVisible() and dialog.windowTitle() == "Add compute target"
    assert not dialog.save_button.isEnabled()  # no name yet
    dialog.set_kind("ssh")
    assert dialog.ssh_box.isVisible() and not dialog.docker_box.isVisible()
    # The hosts of ~/.ssh/config are offered (not the `*` pattern).
    qtbot.waitUntil(lambda: dialog.host_combo.count() == 1, timeout=LOAD_MS)
    assert dialog.host_combo.itemText(0) == "lab-gpu"
    qtbot.keyClicks(dialog.name_edit, "lab")
    dialog.host_combo.setCurrentIndex(0)
    dialog.known_hosts_edit.setText(str(known))

    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    assert (
        "Connecting to lab-gpu" in dialog.result_text()
    )  # the GUI thread went on: the work is in the background
    qtbot.waitUntil(dialog.trust_button.isVisible, timeout=LOAD_MS)
    fingerprint = _fingerprint(sshd.dir / "host_ed25519.pub")
    assert f"First connection to lab-gpu. Its host key is ssh-ed25519 {fingerprint}." in dialog.result_text()
    assert known.read_text() == ""  # nothing trusted until the user says so
    qtbot.mouseClick(dialog.trust_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=LOAD_MS)
    text = dialog.result_text()
    assert f"Host key {fingerprint} added to {known}." in text
    assert f"Host key\nssh-ed25519 {fingerprint}" in text
    assert f"Connected\n{sshd.user}@{sshd.host}:{sshd.port}" in text
    assert "Python\nPython 3." in text and "GPUs\n" in text and "Docker\n" in text
    assert "Disk\n" in text and "GiB free in " in text
    assert known.read_text().startswith(f"[{sshd.host}]:{sshd.port} ssh-ed25519 ")

    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=LOAD_MS)
    qtbot.waitUntil(lambda: _rows(page).get("lab") == "SSH", timeout=LOAD_MS)
    target = engine.get_compute_target("lab")
    assert target.config == {"host": "lab-gpu", "port": 22, "docker": False, "known_hosts": str(known)}
    qtbot.waitUntil(
        lambda: page.selected() is not None and page.selected().target.name == "lab", timeout=LOAD_MS
    )
    assert page.detail.field("Host") == "lab-gpu"
    qtbot.waitUntil(lambda: page.detail.field("State").startswith("ready"), timeout=LOAD_MS)

    # Edit: the form comes filled in; a change is saved in place.
    qtbot.mouseClick(page.edit_button, Qt.MouseButton.LeftButton)
    edit = page.dialog
    assert edit.windowTitle() == "Edit compute target lab" and edit.host_combo.currentText() == "lab-gpu"
    assert edit.kind() == "ssh" and edit.known_hosts_edit.text() == str(known)
    edit.work_dir_edit.setText("~/ty-runs")
    qtbot.mouseClick(edit.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not edit.isVisible(), timeout=LOAD_MS)
    assert engine.get_compute_target("lab").config["work_dir"] == "~/ty-runs"

    # Delete asks first.
    qtbot.waitUntil(
        lambda: page.selected() is not None and page.selected().target.name == "lab", timeout=LOAD_MS
    )
    box = page.delete_selected()
    assert box is not None and "Delete compute target lab?" in box.text()
    box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: "lab" not in _rows(page), timeout=LOAD_MS)
    assert [t.name for t in engine.list_compute_targets()] == ["local", "docker"]


def test_a_protected_key_asks_for_its_passphrase_and_keeps_it_nowhere(
    qtbot, window, engine, sshd, home, workspace, tmp_path
):
    key = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "correct horse", "-f", str(key)], check=True)
    (sshd.dir / "authorized_keys").write_text((tmp_path / "locked.pub").read_text())
    page = window.compute_page
    window.show_page("compute")
    dialog = page.open_dialog()
    dialog.set_kind("ssh")
    dialog.name_edit.setText("locked-box")
    dialog.host_combo.setEditText(sshd.host)
    dialog.port_spin.setValue(sshd.port)
    dialog.user_edit.setText(sshd.user)
    dialog.key_edit.setText(str(key))
    dialog.known_hosts_edit.setText(str(sshd.known_hosts))  # already trusted: straight to the login
    dialog.test_connection()
    qtbot.waitUntil(dialog.secret_row.isVisible, timeout=LOAD_MS)
    assert dialog.secret_label.text() == "Passphrase"
    assert (
        f"the SSH key {key} for {sshd.user}@{sshd.host}:{sshd.port} is protected by a passphrase"
        in dialog.result_text()
    )
    qtbot.keyClicks(dialog.secret_edit, "correct horse")
    qtbot.keyClick(dialog.secret_edit, Qt.Key.Key_Return)
    assert dialog.secret_edit.text() == ""  # not kept in the form either
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=LOAD_MS)
    assert not dialog.secret_row.isVisible() and "Python\nPython 3." in dialog.result_text()
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "locked-box" in _rows(page), timeout=LOAD_MS)
    assert "correct horse" not in repr(engine.get_compute_target("locked-box").config)
    for path in Path(workspace).rglob("*"):
        if path.is_file():
            assert b"correct horse" not in path.read_bytes(), path


def test_a_local_alias_and_a_docker_target_and_a_bad_value_said_in_the_dialog(qtbot, window, engine):
    page = window.compute_page
    window.show_page("compute")
    dialog = page.open_dialog()
    dialog.name_edit.setText("cpu-cluster")  # Local alias is the first type
    dialog.max_runs.setValue(2)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _rows(page).get("cpu-cluster") == "local", timeout=LOAD_MS)
    assert engine.get_compute_target("cpu-cluster").config == {"max_concurrent_runs": 2}

    dialog = page.open_dialog()
    dialog.set_kind("docker")
    dialog.name_edit.setText("gpu-docker")
    dialog.gpus_edit.setText("lots")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.error_label.isVisible, timeout=LOAD_MS)
    assert "`gpus:` 'lots'" in dialog.error_label.text() and "device=0,1" in dialog.error_label.text()
    assert dialog.isVisible() and dialog.save_button.isEnabled()  # fix it and save again
    dialog.gpus_edit.setText("all")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _rows(page).get("gpu-docker") == "Docker", timeout=LOAD_MS)
    assert engine.get_compute_target("gpu-docker").config["gpus"] == -1
    QApplication.processEvents()
