"""The Logs tab reads like a log viewer: line numbers, tracebacks highlighted, a jump to the
first error, and Follow only while the run can still write."""

from __future__ import annotations

import textwrap
from pathlib import Path

from PySide6.QtGui import QColor

from engine.jobs.spec import JobSpec
from engine.runtime.files import RunFiles
from engine.runtime.stderrmarks import marks_path
from studio.style import STATUS_COLORS, STDERR_COLOR

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


def _logs_tab(window, run_name):
    """The Logs tab of run `run_name`, shown as a user opens it."""
    detail = window.show_run(run_name)
    detail.show_tab("logs")
    return detail.logs


def test_a_traceback_is_highlighted_and_the_first_error_is_one_click_away(qtbot, window, engine, project):
    (project / "broken.py").write_text(BROKEN)
    run = engine.submit(JobSpec(experiment_name="logs", code_dir=project, script="broken.py"))
    assert engine.wait(run.name, timeout=60).status == "Failed"
    tab = _logs_tab(window, run.name)
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


STREAMS = textwrap.dedent("""
    import logging, sys
    for i in range(3):
        print(f"out {i}", flush=True)
        print(f"err {i}", file=sys.stderr)
    logging.warning("careful")
    print("out done")
""")


def test_what_the_script_wrote_to_stderr_has_its_own_colour(qtbot, window, engine, project):
    (project / "streams.py").write_text(STREAMS)
    run = engine.submit(JobSpec(experiment_name="logs", code_dir=project, script="streams.py"))
    assert engine.wait(run.name, timeout=60).status == "Completed"
    tab = _logs_tab(window, run.name)
    qtbot.waitUntil(lambda: "out done" in tab.text(), timeout=10_000)
    assert tab.stderr_legend.isVisibleTo(tab)
    violet = QColor(STDERR_COLOR)
    lines = tab.text().splitlines()
    for name in ("out", "err"):
        for i in range(3):
            number = lines.index(f"{name} {i}")
            formats = _formats(tab, number)[1]
            assert bool(formats and formats[0][0] == violet) == (name == "err"), (name, i, formats)
    careful = next(i for i, line in enumerate(lines) if "careful" in line)
    assert _formats(tab, careful)[1][0][0] == QColor(STATUS_COLORS["Queued"])  # a warning keeps amber
    assert all(not rel.rsplit("/", 1)[-1].startswith(".") for rel in tab.sources())  # the marks file is no log


LATE = textwrap.dedent("""
    import os, time
    print("shown first", flush=True)
    while not os.path.exists("go"):
        time.sleep(0.05)
    print("after", flush=True)
""")


def test_marks_that_arrive_after_their_lines_recolour_them(qtbot, window, engine, project):
    """An SSH host's marks can be copied after the lines they mark: the lines shown get the colour."""
    (project / "late.py").write_text(LATE)
    run = engine.submit(JobSpec(experiment_name="logs", code_dir=project, script="late.py"))
    tab = _logs_tab(window, run.name)
    qtbot.waitUntil(lambda: "shown first" in tab.text(), timeout=30_000)
    number = tab.text().splitlines().index("shown first")
    assert _formats(tab, number)[1] == []
    files = RunFiles(Path(engine.get_run(run.name).run_dir))
    data = files.driver_log.read_bytes()
    start = data.index(b"shown first")
    with open(marks_path(files.driver_log), "a") as marks:
        marks.write(f"{start} {start + len('shown first')}\n")
    (files.wd / "go").touch()
    qtbot.waitUntil(lambda: "after" in tab.text(), timeout=30_000)
    qtbot.waitUntil(lambda: bool(_formats(tab, number)[1]), timeout=10_000)
    assert _formats(tab, number)[1][0][0] == QColor(STDERR_COLOR)
    assert engine.wait(run.name, timeout=60).status == "Completed"
