"""When each line of the driver log was written: the supervisor notes how far the log had grown
and when (engine.runs.lineclock), for a real run whose script pauses between lines; a replacement
supervisor goes on from the notes of the one before."""

from __future__ import annotations

from pathlib import Path

from engine.api import Engine
from engine.jobs.spec import JobSpec
from engine.runs.lineclock import LineClock, LineTimes
from engine.runtime.files import RunFiles


def test_each_line_gets_the_time_it_was_written(eng: Engine, project) -> None:  # type: ignore[no-untyped-def]
    code = project({"talk.py": """\
        import time
        print("first", flush=True)
        time.sleep(1.5)
        print("second", flush=True)
        time.sleep(1.5)
        print("third", flush=True)
    """})
    run = eng.wait(eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="talk.py")).name, timeout=60)
    assert run.status == "Completed", run.error
    files = RunFiles(Path(run.run_dir))
    log = files.driver_log.read_bytes()
    times = LineTimes.read(files.driver_log_times)
    assert times.end == len(log)  # every byte noted, the last ones at Finalizing
    assert times.ends == sorted(set(times.ends))
    first, second, third = (times.at(log.index(word.encode())) for word in ("first", "second", "third"))
    assert first is not None and second is not None and third is not None
    assert run.start_time is not None and run.end_time is not None
    assert run.start_time - 1 <= first <= second <= third <= run.end_time + 1
    assert third - first >= 1.5  # the script paused 3 s in all: the lines were not noted at one moment
    assert times.at(len(log)) is None  # nothing written there yet


def test_a_replacement_supervisor_goes_on_from_the_notes(tmp_path: Path) -> None:
    log, notes = tmp_path / "70_driver_log.txt", tmp_path / "driver_log.times"
    log.write_bytes(b"one\n")
    clock = LineClock(log, notes)
    assert clock.poll(now=100.0) and not clock.poll(now=100.1)  # nothing new: no entry
    with open(log, "ab") as f:
        f.write(b"two\n")
    again = LineClock(log, notes)  # the supervisor died and another took over
    assert again.seen == 4
    assert again.poll(now=105.0)
    times = LineTimes.read(notes)
    assert (times.ends, times.stamps) == ([4, 8], [100.0, 105.0])
    assert (times.at(0), times.at(4), times.at(8)) == (100.0, 105.0, None)
    with open(notes, "a") as f:
        f.write("12 1")  # an entry being written: read once its line is whole
    times.refresh()
    assert times.ends == [4, 8]
