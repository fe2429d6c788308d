"""The runs table: a lazy model over the store that stays fast with 100,000 runs.

The store filters, sorts and pages (`Engine.query_runs`); this model only knows the row count
of the current query and the blocks of rows the view has asked for. A block is fetched off the
GUI thread the first time a cell of it is painted; until it arrives its cells show "…".
One fetch runs at a time, so results land in the order they were asked for.

Without a search the store lists only top-level runs; a sweep or pipeline (any run with child
runs) can be expanded to show its trials or steps below it (`studio.models.runtree`), read in
the background when expanded. A search lists every matching run, children included.

It also keeps the runs the bridge reports (active and recently changed runs, `upsert`): `get`,
`runs` and `activeCountChanged` answer from them, and a changed run that is on screen is
updated in place. A change that can add, remove or move rows re-counts and reloads the blocks
in use (debounced); rows keep their selection because persistent indexes follow run names.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from engine import entities as E
from engine.errors import TrainyardError
from studio.models.runcells import (
    COL_COMPUTE,
    COL_DURATION,
    COL_EXPERIMENT,
    COL_NAME,
    COL_STARTED,
    COL_STATUS,
    COL_TAGS,
    COL_TYPE,
    COLUMNS,
    DEPTH_ROLE,
    EXPAND_ROLE,
    RUN_ROLE,
    SORTS,
    cell_tooltip,
    fmt_value,
    parse_tags,
    tags_text,
)
from studio.models.runfetch import BLOCK, Fetch, RunQuery, fetch, run_type
from studio.models.runparents import ParentRowsMixin
from studio.models.runtree import ChildRows
from studio.style import (
    fmt_duration,
    fmt_time,
    run_duration,
    run_status_label,
    status_icon,
)
from studio.tasks import BackgroundOp

MAX_BLOCKS = 64  # blocks kept (16k rows); the least recently painted go first
MAX_WANTED = 8  # blocks waiting to be fetched: only the most recently painted matter
REFRESH_BLOCKS = 4  # blocks reloaded when rows may have moved (the most recently painted)
MAX_KNOWN = 5000  # finished runs kept from the bridge's reports (active ones always stay)
LOADING = "…"

_Index = QModelIndex | QPersistentModelIndex


class RunTableModel(ParentRowsMixin, QAbstractTableModel):
    """Runs of the workspace, read page by page from the store.

    Signals: activeCountChanged(int) — runs not yet ended; countsChanged(shown, total) — rows of
    the current query and runs in the workspace (the same unless filtered); queryApplied() — the
    rows of a new query (or a refresh) are in place.
    """

    activeCountChanged = Signal(int)
    countsChanged = Signal(int, int)
    queryApplied = Signal()
    queryError = Signal(str)  # why the store refused the query (a search that does not parse); '' once one works
    # An inline edit of a Name or Tags cell: (run, {"display_name" | "tags": value}) for the page to
    # save; the row shows the change once the store has it. editRejected: why the text cannot be saved.
    editRequested = Signal(str, dict)
    editRejected = Signal(object)

    def __init__(self, parent: QObject | None = None, engine: Any = None) -> None:
        super().__init__(parent)
        self._engine: Any = None
        self._query = RunQuery()
        self._metric_keys: list[str] = []
        self._param_keys: list[str] = []  # parameter columns, after the metric columns (from Run.params)
        self._count = 0
        self._total = 0
        self._total_of: bool | None = None  # the include_archived setting `_total` was counted with
        self._blocks: OrderedDict[int, list[E.Run]] = OrderedDict()  # LRU: last painted at the end
        self._row_of: dict[str, int] = {}
        self._latest: dict[str, dict[str, float]] = {}
        self._archived: set[str] = set()
        self._child_counts: dict[str, int] = {}
        self._tree = ChildRows(self._row_of.get)
        self._shown = 0  # rows the view knows of: top-level rows and the children shown
        self._expanding: set[str] = set()
        self._wanted: OrderedDict[int, None] = OrderedDict()
        self._busy = False
        self._need_reset = False
        self._need_refresh = False
        self._applied = False  # the first query has landed
        self._last_block = -1
        self._known: dict[str, E.Run] = {}
        self._active = 0
        self._pump_timer = QTimer(self)
        self._pump_timer.setSingleShot(True)
        self._pump_timer.setInterval(0)
        self._pump_timer.timeout.connect(self._pump)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(250)
        self._refresh_timer.timeout.connect(self.refresh)
        # Durations of active runs grow (repainted every second); their metric values too
        # (re-read every few seconds while metric columns are shown).
        self._ticks = 0
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._tick)
        if engine is not None:
            self.set_engine(engine)

    # ---------------------------------------------------------------- setup and queries
    def set_engine(self, engine: Any) -> None:
        """Start reading from `engine`'s store (once)."""
        if self._engine is None:
            self._engine = engine
            self._need_reset = True
            self._schedule()

    @property
    def query(self) -> RunQuery:
        return self._query

    def set_query(self, **changes: Any) -> None:
        """Change text / sort / descending / include_archived; the rows follow once the store answers."""
        query = replace(self._query, **changes)
        if query != self._query:
            self._query = query
            self._need_reset = True
            self._schedule()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Header clicks: the store sorts (metric columns by their latest value)."""
        descending = order == Qt.SortOrder.DescendingOrder
        if column in SORTS:
            self.set_query(sort=SORTS[column], descending=descending)
        elif len(COLUMNS) <= column < len(COLUMNS) + len(self._metric_keys):
            self.set_query(sort=f"metric:{self._metric_keys[column - len(COLUMNS)]}", descending=descending)
        elif 0 <= column - len(COLUMNS) - len(self._metric_keys) < len(self._param_keys):
            key = self._param_keys[column - len(COLUMNS) - len(self._metric_keys)]
            self.set_query(sort=f"param:{key}", descending=descending)

    def sort_column(self) -> int:
        if self._query.sort.startswith("metric:") and self._query.sort[7:] in self._metric_keys:
            return len(COLUMNS) + self._metric_keys.index(self._query.sort[7:])
        if self._query.sort.startswith("param:") and self._query.sort[6:] in self._param_keys:
            return len(COLUMNS) + len(self._metric_keys) + self._param_keys.index(self._query.sort[6:])
        return next((c for c, s in SORTS.items() if s == self._query.sort), COL_STARTED)

    def metric_columns(self) -> list[str]:
        return list(self._metric_keys)

    def param_columns(self) -> list[str]:
        return list(self._param_keys)

    def set_param_columns(self, keys: list[str]) -> None:
        """Show these parameters (as each run logged them) as extra columns, after the metrics."""
        keys = list(dict.fromkeys(keys))
        if keys != self._param_keys:
            self.beginResetModel()
            self._param_keys = keys
            self.endResetModel()

    def param_keys_loaded(self) -> list[str]:
        """The parameter names of the runs loaded so far (no store query: they come with the rows)."""
        return sorted({k for rows in self._blocks.values() for r in rows for k in r.params}
                      | {k for kids in self._tree.children.values() for r in kids for k in r.params})

    def is_param_column(self, column: int) -> bool:
        return column >= len(COLUMNS) + len(self._metric_keys)

    def set_metric_columns(self, keys: list[str]) -> None:
        """Show the latest value of these metric keys as extra columns."""
        keys = list(dict.fromkeys(keys))
        if keys == self._metric_keys:
            return
        self.beginResetModel()
        self._metric_keys = keys
        self.endResetModel()
        self.refresh()

    def refresh(self) -> None:
        """Re-count and reload the blocks in use (rows may have been added, removed or moved)."""
        self._need_refresh = True
        self._schedule()

    def is_ready(self) -> bool:
        """The first query's rows have arrived and nothing is being fetched."""
        return self._applied and not self._busy and not self._need_reset

    @property
    def total_count(self) -> int:
        return self._total

    # ---------------------------------------------------------------- the bridge's reports
    def upsert(self, runs: list[E.Run]) -> None:
        """New or changed runs (from the bridge, or just submitted by the studio)."""
        moved = False
        for run in runs:
            old = self._known.get(run.name)
            self._known[run.name] = run
            if run.parent_name in self._tree.children:
                self._upsert_child(run)
            row = self._row_of.get(run.name)
            block = self._blocks.get(row // BLOCK) if row is not None else None
            if row is None or block is None:
                moved = True  # new, or not on screen: it may belong on screen now
                continue
            shown = block[row % BLOCK]
            block[row % BLOCK] = run
            drow = self._tree.display_row(row)
            self.dataChanged.emit(self.index(drow, 0), self.index(drow, self.columnCount() - 1))
            before = old or shown
            if (before.status, before.start_time, before.end_time, before.display_name, before.compute) != (
                    run.status, run.start_time, run.end_time, run.display_name, run.compute):
                moved = True  # its place in the sort or the filter can change
        self._prune_known()
        self._update_active()
        if moved and self._engine is not None:
            self._refresh_timer.start()

    def _prune_known(self) -> None:
        if len(self._known) <= MAX_KNOWN:
            return
        ended = sorted((r for r in self._known.values() if r.is_terminal), key=lambda r: r.created_at)
        for r in ended[: len(self._known) - MAX_KNOWN]:
            del self._known[r.name]

    def _update_active(self) -> None:
        active = sum(1 for r in self._known.values() if not r.is_terminal)
        if active and not self._ticker.isActive():
            self._ticker.start()
        elif not active:
            self._ticker.stop()
        if active != self._active:
            self._active = active
            self.activeCountChanged.emit(active)

    def _tick(self) -> None:
        self._ticks += 1
        rows = [row for n, r in self._known.items() if not r.is_terminal and (row := self.row_of(n)) is not None]
        for row in rows:
            ix = self.index(row, COL_DURATION)
            self.dataChanged.emit(ix, ix, [Qt.ItemDataRole.DisplayRole])
        if rows and self._metric_keys and self._ticks % 3 == 0:
            self.refresh()

    @property
    def active_count(self) -> int:
        return self._active

    def get(self, name: str) -> E.Run | None:
        """The latest known version of run `name`: reported by the bridge, or on a loaded row."""
        run = self._known.get(name)
        if run is None and name in self._row_of:
            run = self._top_run(self._row_of[name])
        if run is None and (parent := self._tree.parent_of_child(name)) is not None:
            run = next(k for k in self._tree.children[parent] if k.name == name)
        return run

    def runs(self) -> list[E.Run]:
        """The runs the bridge reported: every active run and the recently changed ones."""
        return list(self._known.values())

    def row_of(self, name: str) -> int | None:
        """The row of run `name`, if its block is loaded (or it is a child shown under its parent)."""
        top = self._row_of.get(name)
        return self._tree.display_row(top) if top is not None else self._tree.child_row(name)

    def loaded_run(self, row: int) -> E.Run | None:
        """The run shown on `row`, if loaded."""
        top, child = self._tree.locate(row)
        return child if child is not None else self._top_run(top)

    def _top_run(self, row: int) -> E.Run | None:
        block = self._blocks.get(row // BLOCK)
        if block is None or row % BLOCK >= len(block):
            return None
        return block[row % BLOCK]

    def is_archived(self, name: str) -> bool:
        return name in self._archived

    def latest_value(self, name: str, key: str) -> float | None:
        return self._latest.get(name, {}).get(key)

    # ---------------------------------------------------------------- fetching
    def _want(self, block: int) -> None:
        self._wanted[block] = None
        self._wanted.move_to_end(block)
        while len(self._wanted) > MAX_WANTED:
            self._wanted.popitem(last=False)
        self._schedule()

    def _schedule(self) -> None:
        if not self._busy and not self._pump_timer.isActive():
            self._pump_timer.start()

    def _pump(self) -> None:
        """Start the next read: a new query first, then a refresh, then blocks the view asked for."""
        if self._busy or self._engine is None:
            return
        engine, query, keys = self._engine, self._query, list(self._metric_keys)
        if self._need_reset:
            self._need_reset = self._need_refresh = False
            self._wanted.clear()
            total = self._total_of != query.include_archived  # unknown for this archived setting
            self._start(lambda: fetch(engine, query, [0], keys, count=True, total=total), self._apply_reset)
        elif self._need_refresh:
            self._need_refresh = False
            blocks = list(self._blocks)[-REFRESH_BLOCKS:] or [0]
            self._start(lambda: fetch(engine, query, blocks, keys, count=True), self._apply_refresh)
        elif self._wanted:
            blocks = [b for b in reversed(self._wanted) if b not in self._blocks][:2]
            self._wanted.clear()
            if blocks:
                known = self._count
                self._start(lambda: fetch(engine, query, blocks, keys, count=False, known_count=known),
                            self._apply_blocks)

    def _start(self, fn: Callable[[], Fetch], apply: Callable[[Fetch], None]) -> None:
        self._busy = True
        query_of_fn = self._query

        def done(result: Fetch) -> None:
            self._busy = False
            if result.query == self._query:  # else a newer query is waiting: drop this answer
                apply(result)
            self._schedule()

        def failed(exc: BaseException) -> None:
            self._busy = False  # e.g. a locked store: the next paint or refresh asks again
            if isinstance(exc, TrainyardError) and query_of_fn == self._query:
                self.queryError.emit(exc.message)
            if self._need_reset or self._need_refresh:
                self._schedule()

        BackgroundOp(self, fn).success(done).failure(failed).run()

    def _apply_reset(self, got: Fetch) -> None:
        self.beginResetModel()
        self._count = got.count or 0
        self._blocks.clear()
        self._latest.clear()
        self._archived.clear()
        self._child_counts.clear()
        self._row_of.clear()
        self._tree.clear()
        self._store_blocks(got)
        self._shown = self._count
        self.endResetModel()
        self._set_total(got)
        self._applied = True
        self.queryError.emit("")
        self.queryApplied.emit()

    def _apply_blocks(self, got: Fetch) -> None:
        self._store_blocks(got)
        last = self.columnCount() - 1
        for b in got.blocks:
            first, end = b * BLOCK, min(self._count, (b + 1) * BLOCK) - 1
            if end >= first:
                self.dataChanged.emit(self.index(self._tree.display_row(first), 0),
                                      self.index(self._tree.display_row(end), last))

    def _apply_refresh(self, got: Fetch) -> None:
        # Rows the view knows of, before and after: top-level rows and the children of expanded
        # parents still on the reloaded rows (the others fold away).
        fresh = {r.name for rows in got.blocks.values() for r in rows}
        kept = {n: kids for n, kids in self._tree.children.items() if n in fresh}
        old_shown, new_shown = self._shown, (got.count or 0) + sum(len(k) for k in kept.values())
        if new_shown > old_shown:
            self.beginInsertRows(QModelIndex(), old_shown, new_shown - 1)
            self._shown = new_shown
            self.endInsertRows()
        self.layoutAboutToBeChanged.emit()
        old_indexes = self.persistentIndexList()
        old_names = [self._name_at(ix.row()) for ix in old_indexes]
        self._count = got.count or 0
        self._blocks.clear()
        self._row_of.clear()
        self._latest.clear()
        self._archived.clear()
        self._child_counts.clear()
        self._tree.children = kept
        self._tree.invalidate()
        self._store_blocks(got)
        new_indexes = []
        for ix, name in zip(old_indexes, old_names, strict=True):
            row = self.row_of(name) if name is not None else ix.row()
            new_indexes.append(self.index(row, ix.column()) if row is not None and row < new_shown else QModelIndex())
        self.changePersistentIndexList(old_indexes, new_indexes)
        self.layoutChanged.emit()
        if new_shown < old_shown:
            self.beginRemoveRows(QModelIndex(), new_shown, old_shown - 1)
            self._shown = new_shown
            self.endRemoveRows()
        self._set_total(got)
        self.queryApplied.emit()

    def _name_at(self, row: int) -> str | None:
        run = self.loaded_run(row)
        return run.name if run is not None else None

    def _store_blocks(self, got: Fetch) -> None:
        for b, rows in sorted(got.blocks.items()):
            rows = [self._newest(r) for r in rows]
            self._blocks[b] = rows
            self._blocks.move_to_end(b)
            for i, r in enumerate(rows):
                self._row_of[r.name] = b * BLOCK + i
        self._latest.update(got.latest)
        self._archived |= got.archived
        self._child_counts.update(got.child_counts)
        self._tree.invalidate()
        pinned = {self._row_of[n] // BLOCK for n in self._tree.children if n in self._row_of}
        for b in [b for b in self._blocks if b not in pinned][: max(0, len(self._blocks) - MAX_BLOCKS)]:
            rows = self._blocks.pop(b)  # least recently painted first; never an expanded parent's
            for r in rows:
                self._row_of.pop(r.name, None)
                self._child_counts.pop(r.name, None)
                self._latest.pop(r.name, None)
                self._archived.discard(r.name)

    def _newest(self, run: E.Run) -> E.Run:
        """A row read from the store may be older than the bridge's last report: keep the newer."""
        known = self._known.get(run.name)
        if known is None or known == run:
            return run
        rank = {s: i for i, s in enumerate(E.RUN_STATUSES)}
        return known if rank.get(known.status, 0) > rank.get(run.status, 0) else run

    def _set_total(self, got: Fetch) -> None:
        if got.total is not None:
            self._total = got.total
            self._total_of = got.query.include_archived
        total = self._total
        self.countsChanged.emit(self._count, total)

    # ---------------------------------------------------------------- Qt model
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else self._shown

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS) + len(self._metric_keys) + len(self._param_keys)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        extra = [*self._metric_keys, *self._param_keys]
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section] if section < len(COLUMNS) else extra[section - len(COLUMNS)]
        if role == Qt.ItemDataRole.ToolTipRole and self.is_param_column(section):
            return f"The parameter {extra[section - len(COLUMNS)]!r} (sorting by it is not supported)"
        if role == Qt.ItemDataRole.ToolTipRole and section >= len(COLUMNS):
            return f"Latest value of the metric {self._metric_keys[section - len(COLUMNS)]!r}"
        if role == Qt.ItemDataRole.TextAlignmentRole and section >= len(COLUMNS):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        row, child = self._tree.locate(row) if self._tree.children else (row, None)
        if child is not None:
            run = child
        else:
            b = row // BLOCK
            block = self._blocks.get(b)
            if block is None:
                if role == Qt.ItemDataRole.DisplayRole:
                    self._want(b)
                    return LOADING if col == COL_NAME else ""
                return None
            if b != self._last_block:
                self._blocks.move_to_end(b)
                self._last_block = b
            if row % BLOCK >= len(block):
                return None
            run = block[row % BLOCK]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(run, col)
        if role == Qt.ItemDataRole.EditRole and col in (COL_NAME, COL_TAGS):
            return run.display_name or run.name if col == COL_NAME else tags_text(run.tags, inline=True)
        if role == RUN_ROLE:
            return run
        if role == DEPTH_ROLE:
            return 1 if child is not None else 0
        if role == EXPAND_ROLE:
            return self.expanded(run.name) if child is None and self.has_children(run.name) else None
        if role == Qt.ItemDataRole.ToolTipRole and col == COL_NAME and child is None and self.has_children(run.name):
            kind = "trial" if run_type(run) == "sweep" else "step" if run_type(run) == "pipeline" else "child run"
            n = self._child_counts.get(run.name) or len(self._tree.children.get(run.name, []))
            verb = "hide" if self.expanded(run.name) else "show"
            return f"{cell_tooltip(run, col)}\n{n} {kind}{'' if n == 1 else 's'}: click the arrow (or press → / ←) to {verb} them"
        if role == Qt.ItemDataRole.DecorationRole and col == COL_STATUS:
            return status_icon(run.status)
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= len(COLUMNS):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return cell_tooltip(run, col)
        if role == Qt.ItemDataRole.ForegroundRole and run.name in self._archived:
            return QApplication.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.isValid() and index.column() in (COL_NAME, COL_TAGS) and self.loaded_run(index.row()):
            flags |= Qt.ItemFlag.ItemIsEditable  # F2 in the table; double click opens the run
        return flags

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        run = self.loaded_run(index.row()) if index.isValid() else None
        if run is None or role != Qt.ItemDataRole.EditRole:
            return False
        if index.column() == COL_NAME and str(value).strip() != (run.display_name or run.name):
            self.editRequested.emit(run.name, {"display_name": str(value).strip() or run.name})
        elif index.column() == COL_TAGS:
            try:
                tags = parse_tags(str(value), inline=True)
            except TrainyardError as exc:
                self.editRejected.emit(exc)
                return False
            if tags != {k: str(v) for k, v in run.tags.items()}:
                self.editRequested.emit(run.name, {"tags": tags})
        return False  # nothing changes here until the store has it (upsert)

    def _display(self, run: E.Run, col: int) -> str:
        if col == COL_NAME:
            name = run.display_name or run.name
            return f"{name} (archived)" if run.name in self._archived else name
        if col == COL_STATUS:
            return run_status_label(run)
        if col == COL_TYPE:
            return run_type(run)
        if col == COL_EXPERIMENT:
            return run.experiment_name
        if col == COL_COMPUTE:
            return run.compute
        if col == COL_STARTED:
            return fmt_time(run.start_time) if run.start_time else ""
        if col == COL_DURATION:
            return fmt_duration(run_duration(run.start_time, run.end_time))
        if col == COL_TAGS:
            return ", ".join(f"{k}={v}" for k, v in run.tags.items())
        if self.is_param_column(col):
            value = run.params.get(self._param_keys[col - len(COLUMNS) - len(self._metric_keys)])
            return fmt_value(value) if isinstance(value, int | float) else "" if value is None else str(value)
        return fmt_value(self.latest_value(run.name, self._metric_keys[col - len(COLUMNS)]))
