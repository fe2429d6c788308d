"""The Logs tab reads like a log viewer: line numbers, tracebacks highlighted, a jump to the
first error, and Follow only while the run can still write."""

from __future__ import annotations

import textwrap

from PySide6.QtGui import QColor

from engine.jobs.spec import JobSpec
from studio.style import STATUS_COLORS

BROKEN = textwrap.dedent("""
    import logging
    for i in range(40):
        print(f"epoch {i}: fine", flush=True)
    logging.warning("learning rate is high")
    def load(row):
        return row["label"]
    load({})
""")


def _formats(tab, number):
    block = tab.edit.document().findBlockByNumber(number)
    return block.text(), [
        (r.format.foreground().color(), r.format.fontWeight()) for r in block.layout().formats()
    ]


def test_a_traceback_is_highlighted_and_the_first_error_is_one_click_away(qtbot, window, engine, project):
    (project / "broken.py").write_text(BROKEN)
    run = engine.submit(JobSpec(experiment_name="logs", code_dir=project, script="broken.py"))
    assert engine.wait(run.name, timeout=60).status == "Failed"
    detail = window.show_run(run.name)
    detail.show_tab("logs")
    tab = detail.logs
    qtbot.waitUntil(lambda: "KeyError: 'label'" in tab.text(), timeout=10_000)
    qtbot.waitUntil(lambda: not tab.follow.isVisibleTo(tab), timeout=10_000)  # the run has ended
    assert tab.edit.line_numbers and tab.edit.gutter_width() > 0
    assert tab.error_button.isVisibleTo(tab)

    lines = tab.text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Traceback"))
    assert tab.jump_to_first_error() == start
    assert tab.edit.textCursor().selectedText().startswith("Traceback (most recent call last):")
    assert not tab.follow.isChecked()

    red = QColor(STATUS_COLORS["Failed"])
    end = next(i for i, line in enumerate(lines) if line.startswith("KeyError"))
    for number in range(start, end + 1):  # header, frames, source lines and the exception
        text, formats = _formats(tab, number)
        assert formats and formats[0][0] == red, text
    assert _formats(tab, end)[1][0][1] >= 700  # the exception line is bold
    assert _formats(tab, 0)[1] == []  # ordinary output is left alone
    warning = next(i for i, line in enumerate(lines) if "learning rate is high" in line)
    assert _formats(tab, warning)[1][0][0] == QColor(STATUS_COLORS["Queued"])
