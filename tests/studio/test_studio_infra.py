"""The studio's plumbing: background work, the engine bridge, the error presenter."""

from __future__ import annotations

import dataclasses
import itertools
import threading

import psutil
from PySide6.QtWidgets import QMessageBox, QWidget

from engine.errors import NotFound
from studio import tasks
from studio.bridge import Bridge
from studio.errors import show_error
from studio.tasks import BackgroundOp


def test_background_op_delivers_results_on_the_gui_thread(qtbot):
    gui = threading.get_ident()
    seen = {}

    def work():
        seen["worker"] = threading.get_ident()
        return 42

    BackgroundOp(None, work).success(lambda v: seen.update(value=v, cb=threading.get_ident())).run()
    qtbot.waitUntil(lambda: "value" in seen)
    assert seen["value"] == 42 and seen["cb"] == gui and seen["worker"] != gui


def test_background_op_failure_and_default_presenter(qtbot, monkeypatch):
    errors = []
    BackgroundOp(None, lambda: 1 / 0).failure(errors.append).run()
    qtbot.waitUntil(lambda: bool(errors))
    assert isinstance(errors[0], ZeroDivisionError)

    shown = []
    monkeypatch.setattr("studio.errors.show_error", lambda parent, exc: shown.append(exc))
    BackgroundOp(None, lambda: (_ for _ in ()).throw(NotFound("gone", "look elsewhere"))).run()
    qtbot.waitUntil(lambda: bool(shown))
    assert shown[0].message == "gone"


def test_background_op_drops_results_for_a_destroyed_parent(qtbot):
    parent = QWidget()
    got = []
    gate = threading.Event()
    BackgroundOp(parent, lambda: gate.wait(5) and "late").success(got.append).run()
    parent.deleteLater()
    qtbot.waitUntil(lambda: not __import__("shiboken6").isValid(parent))
    gate.set()
    qtbot.waitUntil(lambda: tasks.in_flight() == 0)
    assert got == []


def test_serial_ops_run_in_submission_order(qtbot):
    order = []
    for i in range(5):
        BackgroundOp(None, lambda i=i: order.append(i), serial=True).run()
    qtbot.waitUntil(lambda: len(order) == 5)
    assert order == [0, 1, 2, 3, 4]


def exited(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_bridge_emits_on_the_gui_thread_and_only_changes(qtbot, engine, submit):
    bridge = Bridge(engine, interval_ms=50)
    batches = []
    threads = []
    bridge.runsChanged.connect(lambda runs: (batches.append(runs), threads.append(threading.get_ident())))
    with qtbot.waitSignal(bridge.loaded, timeout=10_000):
        bridge.start()
    try:
        assert batches == [[]]  # the first emission: everything (nothing yet)
        name = submit("--points", "2")
        qtbot.waitUntil(lambda: any(r.name == name and r.status == "Completed" for b in batches for r in b),
                        timeout=30_000)
        # The supervisor's last writes (exit code, properties) may land just after: once it has exited,
        # the bridge has emitted the run as the store has it for good.
        supervisor = engine.get_run(name).supervisor_pid
        qtbot.waitUntil(lambda: exited(supervisor), timeout=30_000)
        final = engine.get_run(name)

        def emitted_final() -> bool:  # (the bridge's runs come without their status history)
            last = [r for b in batches for r in b if r.name == name][-1]
            return dataclasses.replace(last, status_history=final.status_history) == final

        qtbot.waitUntil(emitted_final, timeout=10_000)
        n, polled = len(batches), bridge._poller._tick
        # Six more polls (counted, however slowly they come on a loaded machine): nothing changed, nothing emitted.
        qtbot.waitUntil(lambda: bridge._poller._tick >= polled + 6, timeout=30_000)
        assert len(batches) == n, batches[n:]
        assert set(threads) == {threading.get_ident()}
        versions = [r for b in batches for r in b if r.name == name]
        assert versions[-1].status == "Completed"
        assert all(a != b for a, b in itertools.pairwise(versions)), "an unchanged run was emitted again"
    finally:
        bridge.stop()


def test_show_error_shows_message_and_hint(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    exc = NotFound("no job named 'x' in this workspace", "list jobs with `trainyard job list`")
    box = show_error(parent, exc)
    assert box.text() == "no job named 'x' in this workspace"
    assert box.informativeText() == "List jobs with `trainyard job list`"
    assert box.icon() == QMessageBox.Icon.Warning
    box.close()
    box2 = show_error(parent, RuntimeError("boom"))
    assert "RuntimeError: boom" in box2.text() and "RuntimeError" in box2.detailedText()
    box2.close()


def test_bridge_catches_changes_stamped_long_before_they_commit(qtbot, engine, tmp_path):
    """A writer's `updated_at` can be far older than its commit (a starved process): the bridge
    still shows the change, by re-reading the runs it shows as active."""
    import time

    bridge = Bridge(engine, interval_ms=50)
    latest = {}
    bridge.runsChanged.connect(lambda runs: latest.update({r.name: r.status for r in runs}))
    engine.store.create_run(name="late_writer", experiment_name="x", run_dir=str(tmp_path / "r"))
    with qtbot.waitSignal(bridge.loaded, timeout=10_000):
        bridge.start()
    try:
        assert latest == {"late_writer": "NotStarted"}
        engine.store.set_status("late_writer", "Running", at=time.time() - 600)
        qtbot.waitUntil(lambda: latest["late_writer"] == "Running", timeout=5_000)
        engine.store.set_status("late_writer", "Completed", at=time.time() - 600)
        qtbot.waitUntil(lambda: latest["late_writer"] == "Completed", timeout=5_000)
    finally:
        bridge.stop()
