"""Saved views of the Runs page: a name for a query (words or MLflow search syntax) and the
metric columns shown with it, kept in the application's settings."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QInputDialog, QMenu, QWidget

SETTINGS_KEY = "runsTable/savedViews"


def settings() -> QSettings:
    return QSettings("Trainyard", "Trainyard")


def saved_views() -> dict[str, dict[str, Any]]:
    """name -> {"query": str, "columns": [metric keys]}, in the order they were saved."""
    raw = settings().value(SETTINGS_KEY, "")
    try:
        views = json.loads(str(raw)) if raw else {}
    except ValueError:
        return {}
    return {str(k): v for k, v in views.items() if isinstance(v, dict)} if isinstance(views, dict) else {}


def save_view(name: str, query: str, columns: list[str]) -> None:
    views = saved_views()
    views[name] = {"query": query, "columns": list(columns)}
    settings().setValue(SETTINGS_KEY, json.dumps(views))


def delete_view(name: str) -> None:
    views = saved_views()
    views.pop(name, None)
    settings().setValue(SETTINGS_KEY, json.dumps(views))


def fill_views_menu(
    menu: QMenu,
    parent: QWidget,
    current: Callable[[], tuple[str, list[str]]],
    apply: Callable[[str, list[str]], None],
) -> None:
    """The Views menu: each saved view, then 'Save this view…' and 'Delete a view'."""
    menu.clear()
    views = saved_views()
    for name, view in views.items():
        action = menu.addAction(
            name, lambda v=view: apply(str(v.get("query", "")), list(v.get("columns", [])))
        )
        action.setToolTip(str(view.get("query", "")))
    if not views:
        none = menu.addAction("No saved views yet")
        none.setEnabled(False)
    menu.addSeparator()

    def save() -> None:
        query, columns = current()
        name, ok = QInputDialog.getText(
            parent, "Save this view", "Name of the view (its query and columns):", text=query[:40]
        )
        if ok and name.strip():
            save_view(name.strip(), query, columns)

    menu.addAction("Save this view…", save)
    if views:
        delete = menu.addMenu("Delete a view")
        for name in views:
            delete.addAction(name, lambda n=name: delete_view(n))
