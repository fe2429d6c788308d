"""The Submit dialog's inputs and outputs of a job file: each declared data input with where it
comes from (a file or folder picked by dialog or dropped on its field, or a registered data asset
or model of the workspace), and the declared outputs, read-only.

The editor changes nothing in the job file: what the user changed becomes `--set
inputs.NAME.path=...` overrides of the file, exactly as `trainyard job create -f FILE --set ...`
would submit it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QToolButton,
    QWidget,
)

from engine import entities as E
from engine.jobs.spec import DataInput, DataOutput
from studio.style import muted

__all__ = ["JobInputsEditor", "PathEdit", "asset_choices"]

MODEL_TYPES = ("custom_model", "mlflow_model", "triton_model")


def asset_choices(kind: str, assets: list[E.DataAsset], models: list[E.Model]) -> list[str]:
    """The `azureml:` references an input of type `kind` can take: each name's latest, then every
    version (models for the model types, data assets of the same type otherwise)."""
    if kind in MODEL_TYPES:
        pairs = sorted({(m.name, int(m.version)) for m in models})
    else:
        pairs = sorted({(a.name, a.version) for a in assets if a.kind == kind and not a.archived})
    names = sorted({n for n, _ in pairs})
    return [f"azureml:{n}@latest" for n in names] + [f"azureml:{n}:{v}" for n, v in pairs]


class PathEdit(QLineEdit):
    """A path or `azureml:` reference; a file or folder dropped on it gives its path."""

    def __init__(self, text: str = "") -> None:
        super().__init__(text)
        self.setAcceptDrops(True)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        urls: list[QUrl] = event.mimeData().urls()
        local = [u.toLocalFile() for u in urls if u.isLocalFile()]
        if local:
            self.setText(local[0])
            event.acceptProposedAction()
        else:
            super().dropEvent(event)


class JobInputsEditor(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.declared: dict[str, DataInput] = {}
        self.edits: dict[str, PathEdit] = {}

    def set_job(self, inputs: dict[str, DataInput], outputs: dict[str, DataOutput],
                assets: list[E.DataAsset], models: list[E.Model]) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.declared = dict(inputs)
        self.edits = {}
        for name, data in inputs.items():
            self.form.addRow(QLabel(f"{name} ({data.type}, {data.mode})"),
                             self._input_row(name, data, asset_choices(data.type, assets, models)))
        for name, out in outputs.items():
            where = out.path or f"outputs/{name}"
            registered = f", registered as {out.asset_name}" if out.asset_name else ""
            self.form.addRow(QLabel(f"{name} (output, {out.type})"), muted(QLabel(f"→ {where}{registered}")))

    def _input_row(self, name: str, data: DataInput, choices: list[str]) -> QWidget:
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        edit = PathEdit(data.path)
        edit.setToolTip("A local file or folder (type or drop it here), an http(s) URL, or a registered asset")
        edit.textChanged.connect(self.changed)
        self.edits[name] = edit
        lay.addWidget(edit, 1)
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda _=False, n=name: self._browse(n))
        lay.addWidget(browse)
        assets = QToolButton()
        assets.setText("Assets")
        assets.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(assets)
        for ref in choices:
            menu.addAction(ref, lambda r=ref, n=name: self.set_source(n, r))
        assets.setMenu(menu)
        assets.setEnabled(bool(choices))
        assets.setToolTip("A registered asset of this type" if choices else "No registered asset of this type yet")
        lay.addWidget(assets)
        return row

    def _browse(self, name: str) -> None:
        current = self.edits[name].text()
        start = current if current and not current.startswith(("azureml:", "http")) else str(Path.home())
        if self.declared[name].type == "uri_file":
            path, _ = QFileDialog.getOpenFileName(self, f"Input {name}: a file", start)
        else:
            path = QFileDialog.getExistingDirectory(self, f"Input {name}: a folder", start)
        if path:
            self.set_source(name, path)

    # ---------------------------------------------------------------- values
    def names(self) -> list[str]:
        return list(self.edits)

    def source(self, name: str) -> str:
        return self.edits[name].text().strip()

    def set_source(self, name: str, value: str) -> None:
        self.edits[name].setText(value)

    def problem(self) -> str:
        """What is wrong with a changed input, as a sentence; '' when nothing is."""
        for name, value in self.changed_sources().items():
            if not value:
                return f"Input {name} needs a path, a URL or a registered asset."
            if value.startswith(("azureml:", "http://", "https://")):
                continue
            path = Path(value).expanduser()
            if not path.exists():
                return f"Input {name}: {path} does not exist."
            if self.declared[name].type == "uri_file" and not path.is_file():
                return f"Input {name} is a uri_file: pick a file, not the folder {path}."
            if self.declared[name].type == "uri_folder" and not path.is_dir():
                return f"Input {name} is a uri_folder: pick a folder, not the file {path}."
        return ""

    def changed_sources(self) -> dict[str, str]:
        return {n: self.source(n) for n, d in self.declared.items() if self.source(n) != d.path}

    def overrides(self) -> list[str]:
        """The `--set` overrides of the job file for what the user changed."""
        out = []
        for name, value in self.changed_sources().items():
            local = not value.startswith(("azureml:", "http://", "https://"))
            out.append(f"inputs.{name}.path={Path(value).expanduser().resolve() if local else value}")
        return out


def declared_data(spec: Any) -> tuple[dict[str, DataInput], dict[str, DataOutput]]:
    """A command or sweep job's declared data inputs and outputs (a sweep's are its trial's)."""
    job = getattr(spec, "trial", spec)
    return dict(getattr(job, "data_inputs", {}) or {}), dict(getattr(job, "outputs", {}) or {})
