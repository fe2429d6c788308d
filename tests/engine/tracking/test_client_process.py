"""The in-run client across the life of the script's processes: SIGKILL, SIGTERM, exit, fork and
multiprocessing children. Each script runs in a real subprocess with only the inject folder on
PYTHONPATH and no site-packages."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from engine.tracking.records import Record, read_writer, scalar_columns, writers

INJECT = Path(__file__).resolve().parents[3] / "engine" / "tracking" / "inject"


def start_script(tmp_path: Path, code: str, interval: float) -> subprocess.Popen[str]:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(code))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
    env.update(
        PYTHONPATH=str(INJECT),
        TRAINYARD_RUN_ID="run-1",
        TRAINYARD_EXPERIMENT="exp",
        TRAINYARD_TRACKING_DIR=str(tmp_path / "tracking"),
        TRAINYARD_FLUSH_INTERVAL=str(interval),
    )
    return subprocess.Popen(
        [sys.executable, "-S", str(script)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(proc: subprocess.Popen[str], expected: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line == expected, (line, proc.stderr.read() if proc.poll() is not None and proc.stderr else "")


def written(tmp_path: Path) -> int:
    """How many records the client has written so far (a line being written is not counted)."""
    tracking = tmp_path / "tracking"
    return sum(len(read_writer(tracking, w)[0]) for w in writers(tracking)) if tracking.is_dir() else 0


def records_by_file(tmp_path: Path) -> dict[str, list[Record]]:
    out = {}
    for writer in writers(tmp_path / "tracking"):
        records, errors = read_writer(tmp_path / "tracking", writer)
        assert errors == []
        assert [r.seq for r in records] == list(range(1, len(records) + 1))
        out[f"{writer}.jsonl"] = records
    return out


def test_sigkill_after_a_flush_interval_loses_nothing_logged_before(tmp_path: Path) -> None:
    interval = 0.1
    proc = start_script(
        tmp_path,
        """
        import sys, time
        from trainyard_run import Run
        run = Run.get_context()
        for i in range(50000):
            run.log("loss", i * 0.5)
        run.tag("phase", "done")
        time.sleep(%r)  # longer than the flush interval: the flush thread writes it all
        print("ready", flush=True)
        time.sleep(600)
        """
        % (interval * 10),
        interval,
    )
    try:
        wait_for_line(proc, "ready")
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        proc.kill()
    (records,) = records_by_file(tmp_path).values()
    assert scalar_columns(records)["loss"][1] == [i * 0.5 for i in range(50000)]
    assert records[-1].kind == "g" and records[-1].value == {"phase": "done"}


def test_sigterm_flushes_and_still_terminates_the_script(tmp_path: Path) -> None:
    # A flush interval of a minute: only the SIGTERM handler can have written the records.
    proc = start_script(
        tmp_path,
        """
        import time
        from trainyard_run import Run
        run = Run.get_context()
        for i in range(1000):
            run.log("loss", float(i))
        print("ready", flush=True)
        time.sleep(600)
        """,
        60,
    )
    try:
        wait_for_line(proc, "ready")
        time.sleep(0.1)
        assert not list((tmp_path / "tracking").glob("*.jsonl"))  # nothing flushed yet
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == -signal.SIGTERM  # terminated *by* SIGTERM, as without us
    finally:
        proc.kill()
    (records,) = records_by_file(tmp_path).values()
    assert scalar_columns(records)["loss"][1] == [float(i) for i in range(1000)]


def test_sigterm_in_the_middle_of_logging_and_flushing_keeps_a_clean_prefix(tmp_path: Path) -> None:
    # SIGTERM lands while the main thread logs and flushes and the flush thread writes: whatever
    # was logged before the handler ran is written, in order, with no gap and no torn line.
    proc = start_script(
        tmp_path,
        """
        from trainyard_run import Run
        run = Run.get_context()
        i = 0
        while True:
            run.log("x", i)
            i += 1
            if i == 1000:
                print("ready", flush=True)
            if i % 5000 == 0:
                run.flush()
        """,
        0.01,
    )
    try:
        wait_for_line(proc, "ready")
        # Past two explicit flushes, the flush thread writing too: the signal lands mid-stream.
        deadline = time.monotonic() + 30
        while written(tmp_path) < 10_000:
            assert time.monotonic() < deadline and proc.poll() is None, "the script never wrote 10,000 points"
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == -signal.SIGTERM
    finally:
        proc.kill()
    (records,) = records_by_file(tmp_path).values()
    values = scalar_columns(records)["x"][1]
    assert len(values) > 1000
    assert values == [float(i) for i in range(len(values))]


def test_the_scripts_own_sigterm_handler_is_kept(tmp_path: Path) -> None:
    proc = start_script(
        tmp_path,
        """
        import signal, sys, time
        def handler(signum, frame):
            print("script handler", flush=True)
            sys.exit(3)  # a normal exit: atexit flushes
        signal.signal(signal.SIGTERM, handler)
        from trainyard_run import Run
        run = Run.get_context()
        for i in range(10):
            run.log("loss", float(i))
        print("ready", flush=True)
        time.sleep(600)
        """,
        60,
    )
    try:
        wait_for_line(proc, "ready")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 3
        assert proc.stdout is not None and proc.stdout.read().strip() == "script handler"
    finally:
        proc.kill()
    (records,) = records_by_file(tmp_path).values()
    assert len(records) == 10


def test_normal_exit_and_exceptions_flush_at_exit(tmp_path: Path) -> None:
    proc = start_script(
        tmp_path,
        """
        from trainyard_run import Run
        run = Run.get_context()
        for i in range(100):
            run.log("loss", float(i))
        raise SystemExit("training failed")
        """,
        60,
    )
    assert proc.wait(timeout=60) == 1
    (records,) = records_by_file(tmp_path).values()
    assert len(records) == 100


def test_a_loop_that_starves_the_flush_thread_still_writes_as_it_goes(tmp_path: Path) -> None:
    # The flush thread never runs here (a minute's interval); past MAX_BUFFERED records the
    # logging call writes them itself, so memory and a SIGKILL's loss stay bounded.
    proc = start_script(
        tmp_path,
        """
        import os
        import trainyard_run
        run = trainyard_run.Run.get_context()
        for i in range(trainyard_run.MAX_BUFFERED + 10):
            run.log("x", i)
        os._exit(0)  # no atexit flush
        """,
        60,
    )
    assert proc.wait(timeout=60) == 0
    (records,) = records_by_file(tmp_path).values()
    assert len(records) == (1 << 18) + 1


def test_a_forked_child_writes_its_own_file(tmp_path: Path) -> None:
    proc = start_script(
        tmp_path,
        """
        import os, sys
        from trainyard_run import Run
        run = Run.get_context()
        for i in range(100):
            run.log("parent", float(i))  # not flushed yet: the fork must not copy these
        pid = os.fork()
        if pid == 0:
            for i in range(30):
                run.log("child", float(i))
            sys.exit(0)  # normal exit of the child: atexit flushes its file
        for i in range(100, 200):
            run.log("parent", float(i))
        _, status = os.waitpid(pid, 0)
        print(os.getpid(), pid, os.waitstatus_to_exitcode(status), flush=True)
        """,
        60,
    )
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    assert proc.stdout is not None
    parent_pid, child_pid, child_rc = proc.stdout.read().split()
    assert child_rc == "0"
    files = records_by_file(tmp_path)
    assert len(files) == 2
    by_pid = {name.split("-")[0]: recs for name, recs in files.items()}
    parent = scalar_columns(by_pid[parent_pid])
    child = scalar_columns(by_pid[child_pid])
    assert set(parent) == {"parent"} and parent["parent"][1] == [float(i) for i in range(200)]
    assert set(child) == {"child"} and child["child"][1] == [float(i) for i in range(30)]


def test_multiprocessing_children_flush_before_os_exit(tmp_path: Path) -> None:
    proc = start_script(
        tmp_path,
        """
        import multiprocessing as mp
        from trainyard_run import Run

        def work(rank):
            run = Run.get_context()
            for i in range(50):
                run.log("worker", rank * 1000 + i)

        if __name__ == "__main__":
            run = Run.get_context()
            run.log("main", 1.0)
            for method in ("fork", "spawn"):
                ctx = mp.get_context(method)
                procs = [ctx.Process(target=work, args=(r,)) for r in range(2)]
                for p in procs: p.start()
                for p in procs: p.join()
                assert [p.exitcode for p in procs] == [0, 0]
        """,
        60,
    )
    assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    files = records_by_file(tmp_path)
    assert len(files) == 5  # the main process and four children
    values = sorted(r.value for recs in files.values() for r in recs if r.key == "worker")
    assert values == sorted(float(rank * 1000 + i) for rank in range(2) for i in range(50) for _ in range(2))
