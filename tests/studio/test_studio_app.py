"""`trainyard` with no command: argument handling and --screenshot."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtGui import QImage

from studio.app import main


def test_screenshot_of_the_runs_page(qtbot, workspace, engine, submit, tmp_path):
    name = submit("--points", "30")
    engine.wait(name, timeout=30)
    png = tmp_path / "shot" / "runs.png"
    assert main(["--workspace", str(workspace), "--screenshot", str(png), "--page", "runs"]) == 0
    assert png.stat().st_size > 5000
    image = QImage(str(png))
    assert (image.width(), image.height()) == (1280, 800)


def test_screenshot_of_a_run_tab(qtbot, workspace, engine, submit, tmp_path):
    name = submit("--points", "30")
    engine.wait(name, timeout=30)
    png = tmp_path / "metrics.png"
    args = ["--workspace", str(workspace), "--screenshot", str(png), "--page", "run-metrics", "--run", name]
    assert main(args) == 0
    assert png.stat().st_size > 5000


def test_screenshot_of_a_run_without_runs_fails_clearly(qtbot, workspace, tmp_path, capsys):
    png = tmp_path / "x.png"
    assert main(["--workspace", str(workspace), "--screenshot", str(png), "--page", "run"]) == 1
    assert "no runs" in capsys.readouterr().err
    assert not png.exists()


def test_window_geometry_is_saved(qtbot, engine):
    from studio.mainwindow import MainWindow, settings

    w = MainWindow(engine, restore=True, poll_ms=100)
    qtbot.addWidget(w)
    w.resize(700, 520)
    w.show()
    w.show_page("models")
    w.close()
    s = settings()
    assert isinstance(s, QSettings)
    assert s.organizationName() == "Trainyard" and s.applicationName() == "Trainyard"
    assert not s.value("mainWindow/geometry").isEmpty()
    assert s.value("mainWindow/page") == "models"
    w2 = MainWindow(engine, restore=True, poll_ms=100)
    qtbot.addWidget(w2)
    assert w2.current_page() == "models"
    assert (w2.width(), w2.height()) == (700, 520)
    w2.close()
