"""Add compute… / Edit…: a compute target as a form (a local alias, the local Docker daemon, or an
SSH host picked from ~/.ssh/config or typed), with "Test connection" for SSH hosts.

Test connection runs in the background (studio.tasks.BackgroundOp), in steps the user sees: the
server's host key first (its fingerprint to accept on first use; a changed key is refused), then a
login that reports Python, GPUs, Docker and free disk. A key with a passphrase, or a host that
wants a password, shows a password field: what is typed there is used for that one login and kept
nowhere (not in the workspace, not in the target).
"""

from __future__ import annotations

import html
import os
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from engine import entities as E
from engine.errors import TrainyardError
from studio.errors import describe
from studio.style import muted
from studio.tasks import BackgroundOp

TYPES = (
    ("local", "Local alias: jobs run as processes on this machine"),
    ("docker", "Docker: jobs run in containers of the local Docker daemon"),
    ("ssh", "SSH host: jobs run on another machine over SSH"),
    ("slurm", "Slurm cluster: jobs are submitted with sbatch on its login node"),
)
GPU_REQUESTS = (("gpus-per-node", "--gpus-per-node=N"), ("gres", "--gres=gpu:N"))
DEFAULT_WORK_DIR = "~/.trainyard/runs"


class ComputeDialog(QDialog):
    """Emits `saved(ComputeTarget)` once the engine has stored the target."""

    saved = Signal(object)

    def __init__(
        self, engine: Any, parent: QWidget | None = None, target: E.ComputeTarget | None = None
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self.editing = target
        self.setWindowTitle(f"Edit compute target {target.name}" if target else "Add compute target")
        self.setMinimumWidth(600)
        lay = QVBoxLayout(self)

        form = QFormLayout()
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. gpu-box (jobs name it as `compute: gpu-box`)")
        self.type_combo = QComboBox()
        for key, label in TYPES:
            self.type_combo.addItem(label, key)
        self.description_edit = QLineEdit()
        self.description_edit.setPlaceholderText("optional")
        self.max_runs = QSpinBox()
        self.max_runs.setRange(0, 1000)
        self.max_runs.setSpecialValueText("no limit")
        form.addRow("Name", self.name_edit)
        form.addRow("Type", self.type_combo)
        form.addRow("Description", self.description_edit)
        form.addRow("Runs at once", self.max_runs)
        lay.addLayout(form)

        # ---- Docker
        self.docker_box = QGroupBox("Docker")
        dform = QFormLayout(self.docker_box)
        self.network_combo = QComboBox()
        self.network_combo.setEditable(True)
        self.network_combo.addItems(["host", "none", "bridge"])
        self.gpus_edit = QLineEdit()
        self.gpus_edit.setPlaceholderText("e.g. 1, all or device=0,1 (default: none)")
        self.image_edit = QLineEdit()
        self.image_edit.setPlaceholderText("the image of jobs without one, e.g. python:3.11-slim")
        dform.addRow("Network", self.network_combo)
        dform.addRow("GPUs", self.gpus_edit)
        dform.addRow("Default image", self.image_edit)
        lay.addWidget(self.docker_box)

        # ---- Slurm (the login node: this machine, or the SSH host below)
        self.slurm_box = QGroupBox("Slurm cluster")
        lform = QFormLayout(self.slurm_box)
        self.slurm_local = QCheckBox("Trainyard runs on the cluster's login node (else: reach it over SSH below)")
        self.slurm_local.toggled.connect(self._type_changed)
        self.partition_edit = QLineEdit()
        self.partition_edit.setPlaceholderText("default: the cluster's default partition")
        self.account_edit = QLineEdit()
        self.account_edit.setPlaceholderText("optional (--account)")
        self.qos_edit = QLineEdit()
        self.qos_edit.setPlaceholderText("optional (--qos)")
        self.time_limit_edit = QLineEdit()
        self.time_limit_edit.setPlaceholderText('--time of jobs without a limit, e.g. 4:00:00 or 1-00:00:00')
        self.slurm_work_dir_edit = QLineEdit()
        self.slurm_work_dir_edit.setPlaceholderText("a folder on the shared filesystem, e.g. /shared/me/trainyard")
        self.gpu_request_combo = QComboBox()
        for key, label in GPU_REQUESTS:
            self.gpu_request_combo.addItem(label, key)
        self.sbatch_edit = QPlainTextEdit()
        self.sbatch_edit.setPlaceholderText("extra #SBATCH options, one per line, e.g. --constraint=a100")
        self.sbatch_edit.setFixedHeight(64)
        lform.addRow(self.slurm_local)
        lform.addRow("Partition", self.partition_edit)
        lform.addRow("Account", self.account_edit)
        lform.addRow("QOS", self.qos_edit)
        lform.addRow("Time limit", self.time_limit_edit)
        lform.addRow("Work folder", self.slurm_work_dir_edit)
        lform.addRow("GPUs as", self.gpu_request_combo)
        lform.addRow("#SBATCH lines", self.sbatch_edit)
        lay.addWidget(self.slurm_box)

        # ---- SSH
        self.ssh_box = QGroupBox("SSH host")
        sform = QFormLayout(self.ssh_box)
        self.host_combo = QComboBox()
        self.host_combo.setEditable(True)
        self.host_combo.lineEdit().setPlaceholderText("a host from ~/.ssh/config, or a name or address")
        self.port_spin = QSpinBox()
        self.port_spin.setRange(1, 65535)
        self.port_spin.setValue(22)
        self.user_edit = QLineEdit()
        self.user_edit.setPlaceholderText("default: ~/.ssh/config's User, else your user name")
        self.key_edit = QLineEdit()
        self.key_edit.setPlaceholderText("default: ~/.ssh/config's IdentityFile, ~/.ssh keys, the ssh-agent")
        key_button = QPushButton("Browse…")
        key_button.clicked.connect(self._pick_key)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_edit, 1)
        key_row.addWidget(key_button)
        self.known_hosts_edit = QLineEdit()
        self.known_hosts_edit.setPlaceholderText("default: ~/.ssh/known_hosts")
        self.work_dir_edit = QLineEdit()
        self.work_dir_edit.setPlaceholderText(DEFAULT_WORK_DIR)
        sform.addRow("Host", self.host_combo)
        sform.addRow("Port", self.port_spin)
        sform.addRow("User", self.user_edit)
        sform.addRow("Key file", key_row)
        sform.addRow("Known hosts", self.known_hosts_edit)
        sform.addRow("Work folder", self.work_dir_edit)
        test_row = QHBoxLayout()
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        self.trust_button = QPushButton("Trust this host key")
        self.trust_button.clicked.connect(self._trust)
        self.trust_button.hide()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.trust_button)
        test_row.addStretch(1)
        sform.addRow(test_row)
        self.secret_label = QLabel()
        self.secret_edit = QLineEdit()
        self.secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret_edit.returnPressed.connect(self._retry_with_secret)
        self.retry_button = QPushButton("Log in")
        self.retry_button.clicked.connect(self._retry_with_secret)
        secret_row = QHBoxLayout()
        secret_row.addWidget(self.secret_edit, 1)
        secret_row.addWidget(self.retry_button)
        self.secret_row = QWidget()
        self.secret_row.setLayout(secret_row)
        sform.addRow(self.secret_label, self.secret_row)
        self.secret_label.hide()
        self.secret_row.hide()
        self.result = QTextBrowser()  # what Test connection found (selectable, scrolls when long)
        self.result.setMinimumHeight(190)
        self.result.setFrameShape(QFrame.Shape.NoFrame)
        self.result.setPlaceholderText(
            "Test connection shows the host's key, Python, GPUs, Docker and free disk."
        )
        sform.addRow(self.result)
        lay.addWidget(self.ssh_box)

        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c0392b;")
        self.error_label.hide()
        lay.addWidget(self.error_label)
        note = muted(
            QLabel(
                "Passwords and passphrases are used for the login they are typed for and never "
                "saved. Runs log in with keys: load a protected key into your ssh-agent."
            )
        )
        note.setWordWrap(True)
        lay.addWidget(note)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setText("Save" if target else "Add")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)

        self.host_key: Any = None  # the HostKey of the last test
        self.report: Any = None  # the HostReport of the last test
        self._secret_kind: str | None = None
        self.type_combo.currentIndexChanged.connect(self._type_changed)
        self.name_edit.textChanged.connect(self._validate)
        self.host_combo.editTextChanged.connect(self._validate)
        if target is not None:
            self._fill(target)
        self._type_changed()
        self._load_ssh_hosts()

    # ---------------------------------------------------------------- the form
    def kind(self) -> str:
        return str(self.type_combo.currentData())

    def set_kind(self, kind: str) -> None:
        self.type_combo.setCurrentIndex(self.type_combo.findData(kind))

    def _fill(self, t: E.ComputeTarget) -> None:
        c = t.config
        self.name_edit.setText(t.name)
        self.set_kind(t.type)
        self.description_edit.setText(t.description)
        self.max_runs.setValue(int(c.get("max_concurrent_runs") or 0))
        self.network_combo.setCurrentText(str(c.get("network") or "host"))
        gpus = c.get("gpus")
        self.gpus_edit.setText("" if gpus is None else "all" if gpus == -1 else str(gpus))
        self.image_edit.setText(str(c.get("image") or ""))
        self.host_combo.setEditText(str(c.get("host") or ""))
        self.port_spin.setValue(int(c.get("port") or 22))
        self.user_edit.setText(str(c.get("user") or ""))
        self.key_edit.setText(str(c.get("key_file") or ""))
        self.known_hosts_edit.setText(str(c.get("known_hosts") or ""))
        self.work_dir_edit.setText(str(c.get("work_dir") or ""))
        if t.type == "slurm":
            self.slurm_local.setChecked(bool(c.get("local")))
            self.work_dir_edit.clear()
            self.slurm_work_dir_edit.setText(str(c.get("work_dir") or ""))
            for key, edit in (("partition", self.partition_edit), ("account", self.account_edit),
                              ("qos", self.qos_edit), ("time_limit", self.time_limit_edit)):
                edit.setText(str(c.get(key) or ""))
            self.gpu_request_combo.setCurrentIndex(self.gpu_request_combo.findData(c.get("gpu_request") or
                                                                                   "gpus-per-node"))
            self.sbatch_edit.setPlainText("\n".join(c.get("sbatch") or []))

    def _type_changed(self) -> None:
        self.docker_box.setVisible(self.kind() == "docker")
        self.slurm_box.setVisible(self.kind() == "slurm")
        self.ssh_box.setVisible(self.kind() == "ssh" or (self.kind() == "slurm" and not self.slurm_local.isChecked()))
        self._validate()
        self.adjustSize()

    def _validate(self) -> None:
        needs_host = self.kind() == "ssh" or (self.kind() == "slurm" and not self.slurm_local.isChecked())
        ok = bool(self.name_edit.text().strip()) and (not needs_host or bool(self.host_combo.currentText().strip()))
        self.save_button.setEnabled(ok)
        self.test_button.setEnabled(bool(self.host_combo.currentText().strip()))

    def _load_ssh_hosts(self) -> None:
        def loaded(hosts: list[str]) -> None:
            typed = self.host_combo.currentText()
            self.host_combo.blockSignals(True)
            self.host_combo.clear()
            self.host_combo.addItems(hosts)
            self.host_combo.setEditText(typed)
            self.host_combo.blockSignals(False)

        BackgroundOp(self, self.engine.compute.ssh_config_hosts).success(loaded).failure(
            lambda _e: None
        ).run()

    def _pick_key(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "SSH key", os.path.expanduser("~/.ssh"))
        if path:
            self.key_edit.setText(path)

    def mapping(self) -> dict[str, Any]:
        """The target as compute YAML keys (engine.specs.compute validates them)."""
        data: dict[str, Any] = {"name": self.name_edit.text().strip(), "type": self.kind()}
        if self.description_edit.text().strip():
            data["description"] = self.description_edit.text().strip()
        if self.max_runs.value():
            data["max_concurrent_runs"] = self.max_runs.value()
        if self.kind() == "docker":
            data["network"] = self.network_combo.currentText().strip() or "host"
            if self.gpus_edit.text().strip():
                data["gpus"] = self.gpus_edit.text().strip()
            if self.image_edit.text().strip():
                data["image"] = self.image_edit.text().strip()
        if self.kind() == "ssh":
            data.update(self.ssh_settings())
        if self.kind() == "slurm":
            data.update(self.slurm_settings())
        return data

    def slurm_settings(self) -> dict[str, Any]:
        """A Slurm target's keys: the login node (local, or the SSH host's fields), then how jobs go."""
        settings: dict[str, Any] = {"local": True} if self.slurm_local.isChecked() else {
            k: v for k, v in self.ssh_settings().items() if k != "work_dir"}
        for key, edit in (("partition", self.partition_edit), ("account", self.account_edit),
                          ("qos", self.qos_edit), ("time_limit", self.time_limit_edit),
                          ("work_dir", self.slurm_work_dir_edit)):
            if edit.text().strip():
                settings[key] = edit.text().strip()
        if self.gpu_request_combo.currentData() != "gpus-per-node":
            settings["gpu_request"] = self.gpu_request_combo.currentData()
        lines = [ln.strip() for ln in self.sbatch_edit.toPlainText().splitlines() if ln.strip()]
        if lines:
            settings["sbatch"] = lines
        return settings

    def ssh_settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {"host": self.host_combo.currentText().strip()}
        if self.port_spin.value() != 22:
            settings["port"] = self.port_spin.value()
        for key, edit in (
            ("user", self.user_edit),
            ("key_file", self.key_edit),
            ("known_hosts", self.known_hosts_edit),
            ("work_dir", self.work_dir_edit),
        ):
            if edit.text().strip():
                settings[key] = edit.text().strip()
        return settings

    # ---------------------------------------------------------------- test connection
    def _show(self, text: str, error: bool = False, facts: list[tuple[str, str]] | None = None) -> None:
        """`text`, then `facts` as an aligned table (label: value, values over several lines kept)."""
        color = " style='color:#c0392b'" if error else ""
        intro = "".join(f"<p{color}>{html.escape(line)}</p>" for line in text.splitlines() if line)
        rows = "".join(
            f"<tr><td style='padding-right:12px'><b>{html.escape(k)}</b></td>"
            f"<td>{html.escape(v).replace(chr(10), '<br>')}</td></tr>"
            for k, v in facts or []
        )
        self.result.setHtml(intro + (f"<table>{rows}</table>" if rows else ""))

    def result_text(self) -> str:
        """What the result area says, as plain text (label and value on lines of their own)."""
        return str(self.result.toPlainText())

    def _busy(self, busy: bool) -> None:
        for w in (self.test_button, self.trust_button, self.retry_button):
            w.setEnabled(not busy)

    def test_connection(self) -> BackgroundOp:
        """Step 1: the host key (shown to accept on first use); step 2 logs in (`_probe`)."""
        name, settings = self.name_edit.text().strip() or "new target", self.ssh_settings()
        self.host_key = self.report = None
        self.trust_button.hide()
        self._hide_secret()
        self._busy(True)
        self._show(f"Connecting to {settings['host']}…")

        def got_key(key: Any) -> None:
            self._busy(False)
            self.host_key = key
            if key.changed:
                self._show(
                    f"The host key of {settings['host']} has CHANGED: it is now {key.key_type} "
                    f"{key.fingerprint}, not the one in known_hosts. If the host was not reinstalled, "
                    "someone may be in between: do not connect.",
                    error=True,
                )
            elif not key.known:
                self._show(
                    f"First connection to {settings['host']}. Its host key is {key.key_type} "
                    f"{key.fingerprint}. Check it with the host's administrator "
                    "(ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub there), then trust it."
                )
                self.trust_button.show()
            else:
                self._probe()

        return (
            BackgroundOp(self, lambda: self.engine.compute.ssh_host_key(name, settings))
            .success(got_key)
            .failure(self._failed)
            .run()
        )

    def _trust(self) -> BackgroundOp:
        name, settings, key = (
            self.name_edit.text().strip() or "new target",
            self.ssh_settings(),
            self.host_key,
        )
        self._busy(True)

        def trusted(path: str) -> None:
            self.trust_button.hide()
            self.host_key = key
            self._probe(note=f"Host key {key.fingerprint} added to {path}.")

        return (
            BackgroundOp(self, lambda: self.engine.compute.accept_ssh_host_key(name, settings, key))
            .success(trusted)
            .failure(self._failed)
            .run()
        )

    def _probe(self, secret: str | None = None, note: str = "") -> BackgroundOp:
        name, settings = self.name_edit.text().strip() or "new target", self.ssh_settings()
        kind = self._secret_kind
        password = secret if kind == "password" else None
        passphrase = secret if kind == "passphrase" else None
        self._busy(True)
        self._show((note + "\n" if note else "") + "Logging in…")

        def reported(report: Any) -> None:
            self._busy(False)
            self._hide_secret()
            self.report = report
            key = self.host_key
            facts = [("Host key", f"{key.key_type} {key.fingerprint}")] if key is not None else []
            self._show(note, facts=facts + report.lines())

        return (
            BackgroundOp(
                self,
                lambda: self.engine.compute.probe_ssh(
                    name, settings, password=password, passphrase=passphrase
                ),
            )
            .success(reported)
            .failure(self._failed)
            .run()
        )

    def _failed(self, exc: BaseException) -> None:
        self._busy(False)
        message, hint = describe(exc)
        secret = getattr(exc, "secret", None)
        if isinstance(exc, TrainyardError) and secret in ("password", "passphrase"):
            self._secret_kind = secret
            self.secret_label.setText("Passphrase" if secret == "passphrase" else "Password")
            self.secret_edit.clear()
            self.secret_edit.setPlaceholderText(
                "the key's passphrase (used for this login only)"
                if secret == "passphrase"
                else "your password there (used for this login only)"
            )
            self.secret_label.show()
            self.secret_row.show()
            self.secret_edit.setFocus()
        self._show(message + (f"\n{hint[:1].upper()}{hint[1:]}" if hint else ""), error=True)

    def _retry_with_secret(self) -> None:
        secret = self.secret_edit.text()
        self.secret_edit.clear()  # held only by the login that is about to use it
        if secret:
            self._probe(secret)

    def _hide_secret(self) -> None:
        self.secret_edit.clear()
        self.secret_label.hide()
        self.secret_row.hide()

    # ---------------------------------------------------------------- save
    def save(self) -> BackgroundOp:
        data = self.mapping()
        old = self.editing.name if self.editing is not None else None
        self.save_button.setEnabled(False)
        self.error_label.hide()

        def work() -> E.ComputeTarget:
            from engine.specs.compute import compute_from_mapping  # pydantic: only when saving

            target = compute_from_mapping(data)
            if old is None:
                return self.engine.create_compute_target(target)  # type: ignore[no-any-return]
            return self.engine.compute.replace_target(old, target)  # type: ignore[no-any-return]

        def done(target: E.ComputeTarget) -> None:
            self.saved.emit(target)
            self.accept()

        def failed(exc: BaseException) -> None:
            self._validate()
            message, hint = describe(exc)
            self.error_label.setText(message + (f"\n{hint[:1].upper()}{hint[1:]}" if hint else ""))
            self.error_label.show()

        return BackgroundOp(self, work, serial=True).success(done).failure(failed).run()
