"""`trainyard` with no command: the studio window (or, with --screenshot, a PNG of one page)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication

from engine.api import Engine
from engine.errors import TrainyardError
from studio import tasks, theme
from studio.display import display_problem
from studio.errors import show_error
from studio.icons import app_icon
from studio.mainwindow import MainWindow

# The browser pages (the rest are tabs of one run's detail).
BROWSER_PAGES = ("experiments", "runs", "environments", "compute", "models", "data")
SCREENSHOT_PAGES = (*BROWSER_PAGES, "run", "compare", "compare-fields", "compare-environment", "submit",
                    "run-overview", "run-metrics", "run-logs", "run-outputs", "run-snapshot", "run-children",
                    "run-sweep",
                    "run-pipeline")
SCREENSHOT_SIZE = (1280, 800)
READY_TIMEOUT_S = 20.0


def parse_args(args: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="trainyard", description="The Trainyard studio.")
    parser.add_argument("--workspace", "-w", metavar="PATH", default=None,
                        help="workspace folder (else $TRAINYARD_WORKSPACE, the nearest .trainyard/ "
                             "upward, or the per-user default)")
    parser.add_argument("--screenshot", metavar="FILE", default=None,
                        help="render one page offscreen to a PNG and exit")
    parser.add_argument("--page", default=None, choices=SCREENSHOT_PAGES,
                        help="the page to show (default: runs); run-metrics, run-logs… pick a run tab")
    parser.add_argument("--run", default=None, metavar="NAME",
                        help="the run to show on the run page (default: the newest); for --page compare, "
                             "NAME,NAME,... (default: the newest finished runs of one experiment)")
    parser.add_argument("--project", default=None, metavar="FOLDER",
                        help="for --page submit: the project folder the Submit dialog opens on")
    return parser.parse_args(args)


def make_app() -> Any:
    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "trainyard"])
    app.setApplicationName("Trainyard")
    app.setOrganizationName("Trainyard")
    app.setApplicationDisplayName("Trainyard")
    app.setDesktopFileName("trainyard")
    theme.apply(app)  # Fusion, light or dark as the system (or TRAINYARD_THEME) says
    app.setWindowIcon(app_icon())
    return app


def main(args: list[str] | None = None) -> int:
    ns = parse_args(list(sys.argv[1:] if args is None else args))
    if ns.screenshot:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    elif QApplication.instance() is None and (problem := display_problem()):
        sys.stderr.write(f"error: {problem}\n")  # before Qt, which would abort the process
        return 1
    app = make_app()
    try:
        engine = Engine.open(ns.workspace)
    except TrainyardError as exc:
        sys.stderr.write(f"error: {exc}\n")
        if not ns.screenshot:
            show_error(None, exc).exec()
        return 1

    try:
        if ns.screenshot:
            return screenshot(app, engine, Path(ns.screenshot), ns.page or "runs", ns.run, ns.project)
        window = MainWindow(engine)
        if ns.page in BROWSER_PAGES:
            window.show_page(ns.page)
        elif ns.run:
            window.show_run(ns.run).show_tab((ns.page or "run").partition("-")[2] or "overview")
        window.show()
        code = int(app.exec())
        window.shutdown()
        tasks.wait_all()
        return code
    finally:
        engine.close()


def _wait(app: Any, ready: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.processEvents()
        if ready():
            return True
        time.sleep(0.02)
    return False


def screenshot(app: Any, engine: Any, path: Path, page: str, run_name: str | None,
               project: str | None = None) -> int:
    window = MainWindow(engine, restore=False)
    try:
        window.resize(*SCREENSHOT_SIZE)
        window.show()
        _wait(app, lambda: window.bridge.is_loaded, READY_TIMEOUT_S)
        target: Any = window
        if page in BROWSER_PAGES:
            window.show_page(page)
        elif page == "submit":
            if not project:
                sys.stderr.write("error: --page submit needs --project FOLDER\n")
                return 1
            target = window.open_project(Path(project))
            target.resize(target.sizeHint().expandedTo(target.minimumSizeHint()))
            _wait(app, lambda: not target.is_scanning(), READY_TIMEOUT_S)
        elif page.startswith("compare"):
            names = run_name.split(",") if run_name else _runs_to_compare(window)
            if len(names) < 2:
                sys.stderr.write("error: comparing needs two runs or more; name them with --run A,B\n")
                return 1
            view = window.show_compare(names)
            view.show_tab(page.partition("-")[2] or "metrics")
        else:
            name = run_name or _newest_run(window)
            if name is None:
                sys.stderr.write("error: the workspace has no runs to show; submit one first\n")
                return 1
            window.show_run(name).show_tab(page.partition("-")[2] or "overview")
        if not _wait(app, window.page_ready, READY_TIMEOUT_S):
            sys.stderr.write(f"warning: the {page} page did not finish loading in {READY_TIMEOUT_S:.0f}s\n")
        # Let layouts settle and plots repaint at their final size.
        _wait(app, lambda: False, 0.3)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not target.grab().save(str(path)):
            sys.stderr.write(f"error: cannot write {path}\n")
            return 1
        return 0
    finally:
        window.shutdown()
        window.close()
        tasks.wait_all()
        window.deleteLater()
        app.processEvents()


def _runs_to_compare(window: Any) -> list[str]:
    """The newest finished runs of the experiment with the most of them (up to 4)."""
    done = [r for r in window.runs_model.runs() if r.status == "Completed"]
    by_exp: dict[str, list[Any]] = {}
    for r in done:
        by_exp.setdefault(r.experiment_name, []).append(r)
    if not by_exp:
        return []
    runs = max(by_exp.values(), key=len)
    return [r.name for r in sorted(runs, key=lambda r: r.created_at, reverse=True)[:4]]


def _newest_run(window: Any) -> str | None:
    runs = window.runs_model.runs()
    return max(runs, key=lambda r: r.created_at).name if runs else None


if __name__ == "__main__":
    sys.exit(main())
