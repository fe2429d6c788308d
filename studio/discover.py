"""Finding things: the command palette's entries (Ctrl+K), the Help menu (the bundled docs, the
keyboard-shortcut sheet)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QMenu, QScrollArea, QVBoxLayout, QWidget

from studio.navigation import NAV_LABELS, PAGES
from studio.palette import CommandPalette, Entry

DOCS_DIR = Path(__file__).resolve().parents[1] / "docs"
# Titles of the bundled docs (docs/*.md of the source tree); others are listed by file name.
DOC_TITLES = {
    "cli.md": "The trainyard command",
    "sdk.md": "The Python SDK",
    "azure-compatibility.md": "Azure ML compatibility",
    "environments.md": "Environments",
    "compute.md": "Compute targets",
    "gpus-and-ssh.md": "GPUs and SSH hosts",
    "distributed.md": "Distributed runs",
    "mlflow-tensorboard-system.md": "MLflow, TensorBoard and system metrics",
    "data.md": "Data inputs, outputs and assets",
    "pipelines.md": "Pipelines: job files and components",
    "pipelines-sdk.md": "Pipelines from Python, and their graph",
    "slurm.md": "Slurm clusters",
    "team-workspace.md": "A team workspace",
    "packaging.md": "Installing Trainyard",
    "studio.md": "The studio",
    "architecture.md": "Architecture",
}
RUN_TABS = ("overview", "metrics", "logs", "outputs", "snapshot", "children")
# Keys handled by widgets rather than by menu actions (the menus' own shortcuts are read from them).
WIDGET_KEYS = [
    ("Ctrl+K", "Command palette: go to any page, run or action"),
    ("Enter", "Submit dialog: submit (when the form is valid)"),
    ("Enter", "Runs table: open the selected run"),
    ("Ctrl+F", "Logs: find in the log"),
    ("F3 / Shift+F3", "Logs: next / previous match"),
]


def docs() -> list[tuple[str, Path]]:
    """(title, file) of the bundled docs, in DOC_TITLES order, then the rest."""
    if not DOCS_DIR.is_dir():
        return []
    files = sorted(
        DOCS_DIR.glob("*.md"),
        key=lambda p: (list(DOC_TITLES).index(p.name) if p.name in DOC_TITLES else len(DOC_TITLES), p.name),
    )
    return [(DOC_TITLES.get(p.name, p.stem.replace("-", " ").capitalize()), p) for p in files]


def open_doc(path: Path) -> bool:
    return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))))


def fill_help_menu(window: Any, menu: QMenu) -> None:
    palette = QAction("Command &palette…", window)
    palette.setShortcut(QKeySequence("Ctrl+K"))
    palette.triggered.connect(lambda: open_palette(window))
    window.addAction(palette)  # the shortcut works wherever the focus is
    menu.addAction(palette)
    sheet = QAction("&Keyboard shortcuts", window)
    sheet.setShortcut(QKeySequence("Ctrl+/"))
    sheet.triggered.connect(lambda: shortcut_sheet(window).exec())
    menu.addAction(sheet)
    menu.addSeparator()
    found = docs()
    for title, path in found:
        action = menu.addAction(title, lambda p=path: open_doc(p))
        action.setStatusTip(str(path))
    if not found:
        missing = menu.addAction("Documentation (not bundled with this installation)")
        missing.setEnabled(False)
    menu.addSeparator()


def shortcuts(window: Any) -> list[tuple[str, str]]:
    """(keys, what) of every menu action with a shortcut, and of the keys widgets handle."""
    rows = []
    for bar_action in window.menuBar().actions():
        sub = bar_action.menu()
        if sub is None:
            continue
        for action in sub.actions():
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            if keys:
                rows.append((keys, f"{bar_action.text().replace('&', '')}: {action.text().replace('&', '')}"))
    known = {k for k, _ in rows}
    return rows + [(k, w) for k, w in WIDGET_KEYS if k not in known or k == "Enter"]


def shortcut_sheet(window: Any) -> QDialog:
    dialog = QDialog(window)
    dialog.setWindowTitle("Keyboard shortcuts")
    lay = QVBoxLayout(dialog)
    rows = "".join(
        f"<tr><td style='padding:2px 18px 2px 0'><b>{html.escape(k)}</b></td><td>{html.escape(w)}</td></tr>"
        for k, w in shortcuts(window)
    )
    label = QLabel(f"<table>{rows}</table>")
    scroll = QScrollArea()
    scroll.setWidget(label)
    scroll.setWidgetResizable(True)
    lay.addWidget(scroll)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    lay.addWidget(buttons)
    dialog.resize(520, 420)
    dialog.sheet_label = label  # type: ignore[attr-defined]  # for the tests
    return dialog


def palette_entries(window: Any) -> list[Entry]:
    """Every page, every known run (and its tabs), every menu action."""
    entries = [Entry(NAV_LABELS[k], "page", lambda k=k: window.show_page(k)) for k in PAGES]
    for bar_action in window.menuBar().actions():
        sub = bar_action.menu()
        if sub is None:
            continue
        for action in sub.actions():
            text = action.text().replace("&", "")
            if text and action.isEnabled() and action.menu() is None and "palette" not in text.lower():
                entries.append(Entry(text, bar_action.text().replace("&", "").lower(), action.trigger))
    entries.append(Entry("Compare the selected runs", "action", window.runs_page.compare_selected))
    runs = sorted(window.runs_model.runs(), key=lambda r: r.created_at, reverse=True)
    for r in runs:
        label = r.display_name or r.name
        detail = f"run · {r.experiment_name} · {r.status}"
        entries.append(Entry(label, detail, lambda n=r.name: window.show_run(n)))
    for r in runs[:50]:  # the newest runs' tabs
        for tab in RUN_TABS[1:]:
            entries.append(
                Entry(
                    f"{r.display_name or r.name} ▸ {tab.capitalize()}",
                    "run tab",
                    lambda n=r.name, t=tab: window.show_run(n).show_tab(t),
                )
            )
        entries.append(
            Entry(f"Re-run {r.display_name or r.name}", "action", lambda n=r.name: window.runs_page.rerun(n))
        )
        entries.append(
            Entry(f"Clone & edit {r.display_name or r.name}", "action", lambda n=r.name: window.clone_run(n))
        )
    return entries


def open_palette(window: Any, parent: QWidget | None = None) -> CommandPalette:
    dialog = CommandPalette(palette_entries(window), parent or window)
    window.palette_dialog = dialog
    dialog.open()
    dialog.edit.setFocus()
    return dialog
