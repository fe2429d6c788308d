"""Which lines of a run's driver log came from stderr: the in-run sitecustomize marks every write
a Python process of the run makes to sys.stderr (engine.runtime.stderrmarks), for real runs here
and on an SSH host, whose marks are moved to the local copy's offsets."""

from __future__ import annotations

import re
from pathlib import Path

from test_ssh_compute import sshd, target  # noqa: F401 - fixtures: the loopback sshd, its target

from engine.api import Engine
from engine.jobs.spec import JobSpec
from engine.runtime.files import RunFiles
from engine.runtime.stderrmarks import StderrMarks, marks_path, translate

TALK = """\
    import logging, os, subprocess, sys, warnings
    print("out one")
    print("err one", file=sys.stderr)
    logging.warning("err logged")
    print("out two")
    warnings.warn("err warned")
    subprocess.run([sys.executable, "-c", "import sys; print('out child'); print('err child', file=sys.stderr)"],
                   check=True)
    if os.fork() == 0:
        print("err forked", file=sys.stderr)
        os._exit(0)
    os.wait()
    os.makedirs("outputs", exist_ok=True)
    with open("outputs/own.err", "w") as own:  # a stream of the script's own: not the log, not marked
        subprocess.run([sys.executable, "-c", "import sys; print('to a file', file=sys.stderr)"], stderr=own)
    print("out three")
    raise KeyError("err label")
"""


def lines_by_stream(log: Path) -> list[tuple[str, str]]:
    """("err"/"out", text) for each line of `log`, by the marks of its first byte."""
    marks = StderrMarks(log)
    marks.refresh()
    out, offset = [], 0
    for line in log.read_bytes().split(b"\n")[:-1]:
        out.append(("err" if marks.covers(offset) else "out", line.decode()))
        offset += len(line) + 1
    return out


def _script_lines(log: Path) -> list[tuple[str, str]]:
    return [(stream, text) for stream, text in lines_by_stream(log) if not text.startswith("[trainyard]")]


def _check_talk(lines: list[tuple[str, str]]) -> None:
    assert [text for _, text in lines][:2] == ["out one", "err one"]  # the order they were written in
    for stream, text in lines:
        # what the script wrote to stderr says "err"; a warning's source line and a traceback's frames too
        wrote = "err" if re.search(r"\berr\b", text) or text.startswith(("Traceback", "  ")) else "out"
        assert stream == wrote, (stream, text)
    texts = [text for _, text in lines]
    assert {"out child", "err child", "err forked", "out three"} <= set(texts)
    assert ("err", "KeyError: 'err label'") in lines
    assert not any("to a file" in text for text in texts)


def test_each_line_written_to_stderr_is_marked(eng: Engine, project) -> None:  # type: ignore[no-untyped-def]
    code = project({"talk.py": TALK})
    run = eng.wait(eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="talk.py")).name, timeout=60)
    assert run.status == "Failed"
    files = RunFiles(Path(run.run_dir))
    _check_talk(_script_lines(files.driver_log))
    assert [p.name for p in (files.outputs).iterdir()] == ["own.err"]  # no marks file beside it
    assert marks_path(files.driver_log).is_file()
    # Trainyard's own lines (and the supervisor's "[trainyard]" notes) are stdout's
    assert all(stream == "out" for stream, text in lines_by_stream(files.driver_log) if text.startswith("[trainyard]"))


def test_an_ssh_runs_marks_land_on_the_local_copys_lines(eng: Engine, project, target) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    target()
    code = project({"talk.py": TALK})
    run = eng.wait(eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="talk.py", compute="far")).name,
                   timeout=90)
    assert run.status == "Failed"
    log = RunFiles(Path(run.run_dir)).driver_log
    assert log.read_text().startswith("[trainyard]")  # the copy has lines the host's log has not
    _check_talk(_script_lines(log))


def test_marks_merge_and_move_to_a_copys_offsets(tmp_path: Path) -> None:
    marks = StderrMarks(tmp_path / "70_driver_log.txt")
    for start, end in [(10, 20), (30, 40), (20, 25), (5, 8), (35, 50), (60, 61)]:
        marks.add(start, end)
    assert list(zip(marks.starts, marks.ends, strict=True)) == [(5, 8), (10, 25), (30, 50), (60, 61)]
    assert marks.covers(10) and marks.covers(24) and not marks.covers(25) and not marks.covers(9)
    # The copy got remote bytes 0-100 at local 40, then a note of its own, then 100-150 at 170.
    segments = [[0, 40, 100], [100, 170, 50]]
    assert translate([(0, 10), (95, 100), (100, 120), (140, 151)], segments) == [(40, 50), (135, 140), (170, 190)]
