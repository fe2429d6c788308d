"""The Logs tab: the run's log files (image build, driver, ./logs, supervisor), tailed live, with search.

The tab reads for itself, off the GUI thread: while it is visible and the run is active it reads
what was appended every half second (`LogTail`), and after the run ends it reads until nothing
more comes. Search highlights the matches on screen and steps through them (Ctrl+F, Enter,
Shift+Enter, F3); counting them is a plain substring count of the text, so it stays cheap with
the 200,000 lines the view keeps.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NamedTuple

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QKeySequence,
    QPalette,
    QShortcut,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine import entities as E
from engine.runs.lineclock import LineTimes
from engine.runtime.files import RunFiles
from engine.runtime.stderrmarks import StderrMarks, is_driver_log
from studio.rundetail.codeview import CodeView
from studio.rundetail.loglook import LogHighlighter, first_error_block, is_error_line
from studio.rundetail.logtail import DRIVER_LOG_REL, LogSource, LogTail, find_log_sources
from studio.rundetail.logtimes import ShownLineTimes
from studio.style import STDERR_COLOR, muted
from studio.tasks import BackgroundOp

log = logging.getLogger(__name__)

MAX_LINES = 200_000
TIME_SAMPLE = "00:00:00.0"


class LineNotes(NamedTuple):
    """What one read learnt of the lines: the new lines' byte offsets, the clock's new entries,
    whether the log has a clock at all, the new stderr marks, whether it has marks, and how
    many bytes the tab had shown before (marks before that are of lines already shown)."""

    offsets: list[int | None]
    ends: list[int]
    stamps: list[float]
    timed: bool
    stderr: list[tuple[int, int]]
    marked: bool
    shown: int
POLL_MS = 500
# Search results are recounted at most this often while new text streams in.
RECOUNT_MS = 1000
MATCH_COLOR = "#f2c94c"  # a highlighter yellow, readable under dark and light text alike


class LogsTab(QWidget):
    """`sourceChanged(relpath)` when another log file is shown."""

    sourceChanged = Signal(str)

    def __init__(self, engine: Any, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.name = name
        self.run: E.Run | None = None
        self._sources: list[LogSource] = []
        self._tail: LogTail | None = None
        self._clock: LineTimes | None = None  # the driver log's times file (read off the GUI thread)
        self._marks_reader: StderrMarks | None = None  # the log's stderr marks (read off the GUI thread)
        self.stderr_marks: StderrMarks | None = None  # the same, what the GUI thread has of them
        self.line_times = ShownLineTimes()
        self._busy = False
        self._quiet_passes = 0
        self._auto_scrolling = False

        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 12)
        lay.setSpacing(8)
        bar = QHBoxLayout()
        bar.setSpacing(8)
        bar.addWidget(QLabel("Log"))
        self.source = QComboBox()
        self.source.setMinimumContentsLength(30)
        self.source.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source.currentIndexChanged.connect(self._source_picked)
        bar.addWidget(self.source)
        self.path_label = muted(QLabel())
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # the path gives way first when the window is narrow (the combo's tooltip names it too)
        self.path_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bar.addWidget(self.path_label, 1)

        self.find = QLineEdit()
        self.find.setPlaceholderText("Find in log  (Ctrl+F)")
        self.find.setClearButtonEnabled(True)
        self.find.setMinimumWidth(220)
        self.find.setMaximumWidth(320)
        self.find.textChanged.connect(lambda _t: self._search_timer.start())
        self.find.returnPressed.connect(self.find_next)
        bar.addWidget(self.find)
        self.prev_button = self._tool_button("▲", "Previous match (Shift+Enter)", self.find_previous)
        self.next_button = self._tool_button("▼", "Next match (Enter)", self.find_next)
        bar.addWidget(self.prev_button)
        bar.addWidget(self.next_button)
        self.match_label = muted(QLabel())
        self.match_label.setMinimumWidth(self.match_label.fontMetrics().horizontalAdvance("88,888 of 88,888"))
        bar.addWidget(self.match_label)
        self.error_button = QToolButton()
        self.error_button.setText("Jump to first error")
        self.error_button.setToolTip("Show the first traceback or error line of this log")
        self.error_button.clicked.connect(self.jump_to_first_error)
        self.error_button.hide()
        bar.addWidget(self.error_button)
        self.stderr_legend = QLabel(f'<span style="color:{STDERR_COLOR}">■</span> stderr')
        self.stderr_legend.setToolTip(
            "Lines in this colour were written to stderr (by the script's Python processes: tracebacks, "
            "warnings, logging, progress bars); the others to stdout. Errors and warnings keep their colours.")
        self.stderr_legend.hide()
        bar.addWidget(self.stderr_legend)
        self.times = QCheckBox("Times")
        self.times.setToolTip("When each line was written: the time the run's supervisor first saw it "
                              "(within 0.1 s; for SSH and Slurm runs, when it arrived here)")
        self.times.toggled.connect(self._times_toggled)
        self.times.hide()
        bar.addWidget(self.times)
        self.follow = QCheckBox("Follow")
        self.follow.setChecked(True)
        self.follow.setToolTip("Keep the newest output in view")
        self.follow.toggled.connect(self._follow_toggled)
        bar.addWidget(self.follow)
        lay.addLayout(bar)

        self.edit = CodeView()  # line numbers in a gutter
        self.highlighter = LogHighlighter(self.edit.document())  # tracebacks, errors, warnings, stderr
        self.highlighter.is_stderr = self.is_stderr_line
        self.edit.setMaximumBlockCount(MAX_LINES)
        self.edit.setPlaceholderText("Nothing has been written to this log yet.")
        self.edit.verticalScrollBar().valueChanged.connect(self._scrolled)
        self.edit.verticalScrollBar().rangeChanged.connect(self._range_changed)
        self.edit.updateRequest.connect(lambda _rect, dy: dy == 0 or self._highlight_visible())
        # The current match keeps the active selection colours while the search box has the
        # focus, so it stands out from the other (yellow) matches.
        pal = self.edit.palette()
        for role in (QPalette.ColorRole.Highlight, QPalette.ColorRole.HighlightedText):
            pal.setColor(QPalette.ColorGroup.Inactive, role, pal.color(QPalette.ColorGroup.Active, role))
        self.edit.setPalette(pal)
        lay.addWidget(self.edit, 1)

        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        self._search_timer = QTimer(self)  # typing: search once the user pauses
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(150)
        self._search_timer.timeout.connect(self._search_changed)
        self._recount_timer = QTimer(self)
        self._recount_timer.setSingleShot(True)
        self._recount_timer.setInterval(RECOUNT_MS)
        self._recount_timer.timeout.connect(self._update_count)
        self._match_count = 0

        ctx = Qt.ShortcutContext.WidgetWithChildrenShortcut
        QShortcut(QKeySequence.StandardKey.Find, self, self._focus_find, context=ctx)
        QShortcut(QKeySequence.StandardKey.FindNext, self, self.find_next, context=ctx)
        QShortcut(QKeySequence.StandardKey.FindPrevious, self, self.find_previous, context=ctx)
        QShortcut(QKeySequence("Shift+Return"), self.find, self.find_previous,
                  context=Qt.ShortcutContext.WidgetShortcut)
        QShortcut(QKeySequence("Escape"), self.find, self.find.clear, context=Qt.ShortcutContext.WidgetShortcut)
        self._set_sources([LogSource(DRIVER_LOG_REL, "Driver log (stdout and stderr)")])

    # ---------------------------------------------------------------- public
    def text(self) -> str:
        return self.edit.toPlainText()

    def current_source(self) -> str | None:
        i = self.source.currentIndex()
        return self._sources[i].rel if 0 <= i < len(self._sources) else None

    def sources(self) -> list[str]:
        return [s.rel for s in self._sources]

    def source_labels(self) -> list[str]:
        return [s.label for s in self._sources]

    def select_source(self, rel: str) -> None:
        """Show log file `rel` (relative to the run folder), listed or not yet."""
        if rel not in self.sources():
            self._set_sources([*self._sources, LogSource(rel, rel)])
        self.source.setCurrentIndex(self.sources().index(rel))

    def set_run(self, run: E.Run) -> None:
        was_active = self.run is not None and not self.run.is_terminal
        self.run = run
        self.follow.setVisible(not run.is_terminal)  # nothing more comes once a run has ended
        if was_active and run.is_terminal:
            self._quiet_passes = 0  # read on until the last lines are in
        self._ensure_polling()

    def is_polling(self) -> bool:
        return self._timer.isActive()

    def stop(self) -> None:
        self._timer.stop()

    def match_count(self) -> int:
        return self._match_count

    # ---------------------------------------------------------------- reading
    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self._ensure_polling()

    def hideEvent(self, event: Any) -> None:
        super().hideEvent(event)
        self._timer.stop()

    def _finished_reading(self) -> bool:
        return self.run is not None and self.run.is_terminal and self._quiet_passes >= 2

    def _ensure_polling(self) -> None:
        if self.run is None or not self.isVisible() or self._finished_reading():
            return
        if not self._timer.isActive():
            self._timer.start()
            self._poll()

    def _poll(self) -> None:
        if self._busy or self.run is None:
            return
        rel = self.current_source()
        if rel is None:
            return
        root = Path(self.run.run_dir)
        if self._tail is None or self._tail.path != root / rel:
            self._tail = LogTail(root / rel)
            self._clock = LineTimes(RunFiles(root).driver_log_times) if rel == DRIVER_LOG_REL else None
            marked = is_driver_log(Path(rel).name)
            self._marks_reader = StderrMarks(root / rel) if marked else None
            self.stderr_marks = StderrMarks(root / rel) if marked else None
        tail, clock, marks = self._tail, self._clock, self._marks_reader
        self._busy = True

        def read() -> tuple[list[LogSource], str, bool, LineNotes]:
            shown = tail.offset
            text = tail.read()
            ends: list[int] = []
            stamps: list[float] = []
            timed = False
            if clock is not None:
                known = len(clock.ends)
                clock.refresh()
                ends, stamps, timed = clock.ends[known:], clock.stamps[known:], clock.exists()
            # After the text: the marks of every byte just read are written by then.
            stderr = marks.refresh() if marks is not None else []
            marked = marks is not None and marks.exists()
            notes = LineNotes(list(tail.line_offsets), ends, stamps, timed, stderr, marked, shown)
            return find_log_sources(root), text, tail.behind, notes

        BackgroundOp(self, read).success(lambda r: self._read_done(tail, *r)).failure(self._read_failed).run()

    def _read_done(self, tail: LogTail, sources: list[LogSource], text: str, behind: bool,
                   notes: LineNotes) -> None:
        self._busy = False
        self._set_sources(sources)
        if tail is not self._tail:
            return  # the user picked another log meanwhile
        self.times.setVisible(notes.timed)
        self.stderr_legend.setVisible(notes.marked)
        self._add_stderr_marks(notes.stderr, notes.shown)  # before the new lines are counted
        self.line_times.extend(notes.offsets, notes.ends, notes.stamps)
        self._append(text)
        self.line_times.keep_last(self.edit.blockCount())
        if notes.ends and self.times.isChecked():
            self.edit.refresh_gutter()  # lines whose time was not known yet
        if self.run is not None and self.run.is_terminal and not text:
            self._quiet_passes += 1
            if self._quiet_passes >= 2:
                self._timer.stop()
        if behind and self._timer.isActive():
            QTimer.singleShot(0, self, self._poll)

    def _add_stderr_marks(self, ranges: list[tuple[int, int]], shown: int) -> None:
        """New marks before the lines they mark are appended; marks that came late (a forked
        worker's, an SSH copy's) recolour the lines already shown."""
        if self.stderr_marks is None or not ranges:
            return
        for start, end in ranges:
            self.stderr_marks.add(start, end)
        count = self.edit.blockCount()
        for start, end in ranges:
            if start < shown:
                for number in self.line_times.blocks_between(start, end, count):
                    self.highlighter.rehighlightBlock(self.edit.document().findBlockByNumber(number))

    def is_stderr_line(self, number: int) -> bool:
        """Whether document line `number` (0-based) was written to stderr, as far as marked."""
        if self.stderr_marks is None:
            return False
        offset = self.line_times.offset_of(number, self.edit.blockCount())
        return offset is not None and self.stderr_marks.covers(offset)

    def _read_failed(self, exc: BaseException) -> None:
        self._busy = False
        log.warning("reading the log of %s failed: %s", self.name, exc)

    def _set_sources(self, sources: list[LogSource]) -> None:
        # A file picked before it was listed (e.g. the build log from the Overview) stays listed.
        current = self.current_source()
        if current is not None and current not in {s.rel for s in sources}:
            sources = [*sources, LogSource(current, current)]
        if sources == self._sources:
            return
        self._sources = list(sources)
        self.source.blockSignals(True)
        self.source.clear()
        for i, s in enumerate(sources):
            self.source.addItem(s.label, s.rel)
            self.source.setItemData(i, s.rel, Qt.ItemDataRole.ToolTipRole)
        rels = self.sources()
        self.source.setCurrentIndex(rels.index(current) if current in rels else 0)
        self.source.blockSignals(False)
        self.path_label.setText(self.current_source() or "")

    def _append(self, text: str) -> None:
        if not text:
            return
        cursor = QTextCursor(self.edit.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        if not self.error_button.isVisible() and any(is_error_line(line) for line in text.splitlines()):
            self.error_button.show()
        if self.follow.isChecked():
            self._scroll_to_end()
        if self.find.text() and not self._recount_timer.isActive():
            self._recount_timer.start()

    def _source_picked(self, _index: int) -> None:
        src = self.current_source()
        self.path_label.setText(src or "")
        if src:
            self.edit.clear()
            self.line_times.clear()
            self.error_button.hide()
            self.stderr_legend.hide()
            self._tail = None
            self._quiet_passes = 0
            self._busy = False  # a read in flight for the old file is ignored when it lands
            self.sourceChanged.emit(src)
            self._update_count()
            self._ensure_polling()
            if self._timer.isActive():
                self._poll()

    def _times_toggled(self, on: bool) -> None:
        self.edit.set_gutter_text(self.line_times.label if on else None, TIME_SAMPLE)

    def line_time(self, line: int) -> str:
        """The time shown before document line `line` (0-based), '' when none is known."""
        return self.line_times.label(line, self.edit.blockCount())

    def jump_to_first_error(self) -> int:
        """Scroll to the first traceback or error line and select it; its line number (0-based), or -1."""
        number = first_error_block(self.edit.document())
        if number >= 0:
            block = self.edit.document().findBlockByNumber(number)
            cursor = QTextCursor(block)
            cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor)
            self.follow.setChecked(False)  # reading it: new lines must not scroll it away
            self._auto_scrolling = True
            self.edit.setTextCursor(cursor)
            self.edit.centerCursor()
            self._auto_scrolling = False
        return number

    # ---------------------------------------------------------------- search
    def _tool_button(self, text: str, tip: str, slot: Any) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.clicked.connect(slot)
        return button

    def _focus_find(self) -> None:
        self.find.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.find.selectAll()

    def find_next(self) -> bool:
        return self._step(backward=False)

    def find_previous(self) -> bool:
        return self._step(backward=True)

    def _step(self, *, backward: bool) -> bool:
        query = self.find.text()
        if not query:
            return False
        flags = QTextDocument.FindFlag.FindBackward if backward else QTextDocument.FindFlag(0)
        found = self.edit.find(query, flags)
        if not found:  # wrap around
            cursor = self.edit.textCursor()
            cursor.movePosition(QTextCursor.MoveOperation.End if backward else QTextCursor.MoveOperation.Start)
            self.edit.setTextCursor(cursor)
            found = self.edit.find(query, flags)
        if found:
            self.follow.setChecked(False)  # reading a match: new lines must not scroll it away
            self._auto_scrolling = True  # even when the match is on the last screen
            self.edit.centerCursor()
            self._auto_scrolling = False
        self._update_count()
        return found

    def _search_changed(self) -> None:
        self._update_count()
        if self.find.text():
            # Jump to the first match from where the reader is.
            cursor = self.edit.textCursor()
            cursor.setPosition(cursor.selectionStart())
            self.edit.setTextCursor(cursor)
            if self._match_count:
                self.find_next()
        self._highlight_visible()

    def _update_count(self) -> None:
        query = self.find.text().lower()
        if not query:
            self._match_count = 0
            self.match_label.setText("")
            self._highlight_visible()
            return
        text = self.edit.toPlainText().lower()
        self._match_count = text.count(query)
        if not self._match_count:
            self.match_label.setText("No matches")
        else:
            cursor = self.edit.textCursor()
            if cursor.hasSelection() and cursor.selectedText().lower() == query:
                # The match's number: matches starting before it, plus one. Positions in Qt count
                # UTF-16 units, so count in the document's own text up to the cursor.
                before = QTextCursor(self.edit.document())
                before.setPosition(cursor.selectionStart(), QTextCursor.MoveMode.KeepAnchor)
                index = before.selectedText().replace("\u2029", "\n").lower().count(query) + 1
                self.match_label.setText(f"{index:,} of {self._match_count:,}")
            else:
                self.match_label.setText(f"{self._match_count:,} matches" if self._match_count != 1 else "1 match")
        self._highlight_visible()

    def _highlight_visible(self) -> None:
        """Mark every match on screen (only the visible lines: cheap however long the log is)."""
        query = self.find.text().lower()
        selections: list[QTextEdit.ExtraSelection] = []
        if query:
            fmt = QTextCharFormat()
            fmt.setBackground(QColor(MATCH_COLOR))
            fmt.setForeground(QColor("#1b1b1b"))
            block = self.edit.firstVisibleBlock()
            bottom = self.edit.viewport().height()
            offset = self.edit.contentOffset()
            while block.isValid() and self.edit.blockBoundingGeometry(block).translated(offset).top() <= bottom:
                line = block.text().lower()
                start = line.find(query)
                while start >= 0:
                    sel = QTextEdit.ExtraSelection()
                    cursor = QTextCursor(block)
                    pos = block.position() + _utf16_len(line[:start])
                    cursor.setPosition(pos)
                    cursor.setPosition(pos + _utf16_len(query), QTextCursor.MoveMode.KeepAnchor)
                    sel.cursor = cursor
                    sel.format = fmt
                    selections.append(sel)
                    start = line.find(query, start + len(query))
                block = block.next()
        current = self.edit.extraSelections()
        if selections or current:
            self.edit.setExtraSelections(selections)

    # ---------------------------------------------------------------- follow mode
    def _scroll_to_end(self) -> None:
        self._auto_scrolling = True
        bar = self.edit.verticalScrollBar()
        bar.setValue(bar.maximum())
        self._auto_scrolling = False

    def _follow_toggled(self, on: bool) -> None:
        if on:
            self._scroll_to_end()

    def _range_changed(self, _lo: int, _hi: int) -> None:
        if self.follow.isChecked():
            self._scroll_to_end()

    def _scrolled(self, value: int) -> None:
        if self._auto_scrolling:
            return
        # Scrolling up to read pauses following; scrolling back to the end resumes it.
        at_end = value >= self.edit.verticalScrollBar().maximum()
        if at_end != self.follow.isChecked():
            self.follow.blockSignals(True)
            self.follow.setChecked(at_end)
            self.follow.blockSignals(False)


def _utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of QTextDocument positions."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)
