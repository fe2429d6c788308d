"""The Components page: the workspace's registered command components (`trainyard component
create -f`), each version's command, environment, inputs and outputs, and how a pipeline step
uses it (`component: azureml:NAME@latest` or `azureml:NAME:VERSION`)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from engine.jobs.pipeline import ComponentSpec
from studio.browsers.detail import DetailPane, split
from studio.browsers.page import RefreshedPage
from studio.browsers.refresh import Refresher
from studio.models.rows import SORT_ROLE, RowTableModel
from studio.style import fmt_time_full, plural
from studio.widgets import EmptyState, FilterProxy, make_table

__all__ = ["ComponentBrowser", "ComponentTableModel", "describe_inputs", "describe_outputs"]

REFRESH_MS = 15_000  # components registered from the CLI show up while the page is open
COLUMNS = ("Component", "Version", "Display name", "Inputs", "Outputs", "Created")
COL_NAME, COL_VERSION, COL_DISPLAY, COL_INPUTS, COL_OUTPUTS, COL_CREATED = range(len(COLUMNS))


def describe_inputs(c: ComponentSpec) -> str:
    """'data (uri_folder), epochs (integer = 10), mode (string: fast|slow, optional)'."""
    parts = []
    for name, i in c.inputs.items():
        text = f"{name} ({i.type}" + (f" = {i.default}" if i.default is not None else "")
        text += (": " + "|".join(map(str, i.enum)) if i.enum else "") + (", optional" if i.optional else "")
        parts.append(text + ")")
    return ", ".join(parts)


def describe_outputs(c: ComponentSpec) -> str:
    return ", ".join(f"{name} ({o.type})" for name, o in c.outputs.items())


class ComponentTableModel(RowTableModel[ComponentSpec]):
    COLUMNS = COLUMNS

    def display(self, row: ComponentSpec, col: int) -> str:
        if col == COL_NAME:
            return row.name
        if col == COL_VERSION:
            return str(row.version or "")
        if col == COL_DISPLAY:
            return row.display_name or ""
        if col == COL_INPUTS:
            return ", ".join(row.inputs)
        if col == COL_OUTPUTS:
            return ", ".join(row.outputs)
        return fmt_time_full(row.created_at) if row.created_at else ""

    def sort_key(self, row: ComponentSpec, col: int) -> Any:
        if col == COL_VERSION:
            return int(row.version) if str(row.version or "").isdigit() else 0
        if col == COL_CREATED:
            return row.created_at or 0.0
        return super().sort_key(row, col)

    def key(self, row: ComponentSpec) -> Any:
        return (row.name, row.version)


class ComponentBrowser(RefreshedPage):
    def __init__(self, engine: Any, parent: QWidget | None = None) -> None:
        super().__init__("Components", parent)
        self.setObjectName("components")
        self.engine = engine
        self.model = ComponentTableModel(self)
        self.proxy = FilterProxy(SORT_ROLE, self)
        self.proxy.setSourceModel(self.model)
        self.filter_edit = self.add_filter("Filter components by name, input or output", self.proxy)
        self.table = make_table(self.proxy, ["prep-taxi-data", "Version", "Prepare the taxi data",
                                             "raw_data, min_rows", "prep_data", "Yesterday 00:00"],
                                stretch=COL_DISPLAY)
        self.table.setColumnHidden(COL_CREATED, True)  # in the detail pane
        self.table.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._show_selected())
        self.detail = DetailPane("Select a component to see what it runs and how a pipeline step uses it.")
        self.detail.body.addStretch(1)
        self.empty = EmptyState(
            "No components registered",
            "A command component is a reusable pipeline step: register one with "
            "`trainyard component create -f component.yml`, then use it in a pipeline job as "
            "`component: azureml:NAME@latest`.",
        )
        self.set_body(split(self.table, self.detail), self.empty)
        self.refresher = Refresher(self, engine.list_components, self._loaded, every_ms=REFRESH_MS)

    def _loaded(self, components: list[ComponentSpec]) -> None:
        self.model.set_rows(components)
        self.show_table(bool(components))
        names = len({c.name for c in components})
        self.count_label.setText(f"{plural(names, 'component')}, {plural(len(components), 'version')}")
        if self.table.selectionModel().hasSelection():
            self._show_selected()
        elif components:
            self.table.selectRow(0)

    def select(self, name: str, version: str | None = None) -> bool:
        return self.select_where(lambda c: c.name == name and (version is None or str(c.version) == version))

    def _show_selected(self) -> None:
        c = self.selected()
        if c is None:
            self.detail.show_hint()
            return
        versions = sorted((str(x.version) for x in self.model.rows() if x.name == c.name),
                          key=lambda v: int(v) if v.isdigit() else 0)
        env = c.environment or (c.environment_spec.reference if c.environment_spec else "the step's own")
        self.detail.set_header(f"{c.name}:{c.version}", c.description or c.display_name or "")
        self.detail.set_fields([
            ("Versions", ", ".join(versions)),
            ("Command", c.command),
            ("Environment", env),
            ("Inputs", describe_inputs(c) or "none"),
            ("Outputs", describe_outputs(c) or "none"),
            ("Deterministic", "yes: a step with the same code, inputs and command is reused"
             if c.is_deterministic else "no: every pipeline run runs it again"),
            ("Code", f"snapshot {c.snapshot_id[:12]}" if c.snapshot_id else "none"),
            ("In a pipeline", f"component: azureml:{c.name}:{c.version}"),
            ("Created", fmt_time_full(c.created_at) if c.created_at else ""),
        ])
