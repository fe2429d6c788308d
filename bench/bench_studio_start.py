"""Cold start of the studio: process start → first paint of the runs table with rows in it.

Peers, measured in the same run on the same machine:
- `mlflow ui` (MLflow's tracking UI server, a separate venv built with uv): process start → the UI's
  page served over HTTP. A browser still has to start and render it, so this flatters MLflow.
- an empty PySide6 window: the floor any Qt application pays (interpreter + Qt start-up + first paint).

Each figure is the median of REPEATS fresh processes (the OS file cache is warm, as on a desktop).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
REPEATS = int(os.environ.get("TRAINYARD_BENCH_REPEATS", "5"))
SEEDED_RUNS = 1000
TARGET_S = 1.5
PEER_VENV = Path(os.environ.get("TRAINYARD_BENCH_PEERS", Path(tempfile.gettempdir()) / "trainyard-bench-peers")) / "mlflow"

# Runs in a fresh interpreter. It creates the QApplication itself so that an event filter sees the
# first paint of the runs table, then hands over to the real `trainyard` entry point.
STUDIO_CHILD = r"""
import sys, time
t0 = float(sys.argv[1])
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QTableView
app = QApplication(["trainyard"])
app.setStyle("Fusion")

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and obj.objectName() == "qt_scrollarea_viewport":
            view = obj.parent()
            if isinstance(view, QTableView) and view.isVisible() and view.model() is not None:
                first = view.model().index(0, 0)
                if first.isValid() and first.data():
                    print(f"FIRST_PAINT {time.time() - t0:.4f}", flush=True)
                    QTimer.singleShot(0, lambda: [w.close() for w in app.topLevelWidgets()])
                    QTimer.singleShot(10, app.quit)
        return False

f = FirstPaint()
app.installEventFilter(f)
QTimer.singleShot(20000, app.quit)
from studio.app import main
sys.exit(main(["-w", sys.argv[2], "--page", "runs"]))
"""

EMPTY_CHILD = r"""
import sys, time
t0 = float(sys.argv[1])
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow, QLabel
app = QApplication(["empty"])
w = QMainWindow(); w.setCentralWidget(QLabel("hello")); w.resize(1280, 800)

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and obj is w.centralWidget():
            print(f"FIRST_PAINT {time.time() - t0:.4f}", flush=True)
            QTimer.singleShot(0, app.quit)
        return False

f = FirstPaint(); app.installEventFilter(f); w.show(); app.exec()
"""


def seed(ws: Path, n: int) -> None:
    """A workspace with `n` finished runs in the store (rows only: start-up reads rows, not run folders)."""
    from engine.api import Engine

    eng = Engine.open(ws)
    try:
        now = time.time()
        for i in range(n):
            name = f"seeded_run_{i:06d}"
            eng.store.create_run(name=name, experiment_name=f"exp-{i % 7}", run_dir=str(ws / "runs" / name),
                                 status="Queued")
            eng.store.set_status(name, "Running", at=now - n + i + 0.1)
            eng.store.set_status(name, "Completed", at=now - n + i + 0.9)
    finally:
        eng.close()


def child_time(code: str, *args: str) -> float:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONWARNINGS": "ignore"}
    t0 = time.time()
    out = subprocess.run([PY, "-c", code, repr(t0), *args], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=60)
    for line in out.stdout.splitlines():
        if line.startswith("FIRST_PAINT "):
            return float(line.split()[1])
    raise RuntimeError(f"no first paint reported (rc {out.returncode}):\n{out.stdout}\n{out.stderr[-2000:]}")


def ensure_mlflow() -> Path | None:
    exe = PEER_VENV / "bin" / "mlflow"
    if exe.exists():
        return exe
    uv = shutil.which("uv") or str(Path(PY).parent / "uv")
    try:
        subprocess.run([uv, "venv", "-q", str(PEER_VENV), "--python", PY], check=True, capture_output=True)
        subprocess.run([uv, "pip", "install", "-q", "mlflow==3.*"], check=True, capture_output=True,
                       env={**os.environ, "VIRTUAL_ENV": str(PEER_VENV)})
    except (OSError, subprocess.CalledProcessError):
        return None
    return exe if exe.exists() else None


def mlflow_ui_time(exe: Path, store: Path, port: int) -> float:
    t0 = time.time()
    proc = subprocess.Popen([str(exe), "ui", "--backend-store-uri", f"sqlite:///{store}", "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while time.time() - t0 < 60:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as r:
                    if r.status == 200 and r.read(200):
                        return time.time() - t0
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mlflow ui did not answer in 60 s")
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(10)


def seed_mlflow(exe: Path, store: Path, n: int) -> None:
    code = (
        "import mlflow,sys\n"
        f"mlflow.set_tracking_uri('sqlite:///{store}')\n"
        f"c=mlflow.MlflowClient()\n"
        f"for i in range({n}):\n"
        "    e=c.get_experiment_by_name(f'exp-{i%7}')\n"
        "    eid=e.experiment_id if e else c.create_experiment(f'exp-{i%7}')\n"
        "    r=c.create_run(eid); c.set_terminated(r.info.run_id)\n"
    )
    subprocess.run([str(exe.parent / "python"), "-c", code], check=True, capture_output=True)


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="ty-bench-start-"))
    try:
        ws = tmp / "ws"
        seed(ws, SEEDED_RUNS)
        child_time(STUDIO_CHILD, str(ws))  # one warm-up: compiled bytecode, file cache
        studio = [child_time(STUDIO_CHILD, str(ws)) for _ in range(REPEATS)]
        empty = [child_time(EMPTY_CHILD) for _ in range(REPEATS)]
        exe = ensure_mlflow()
        peer: list[float] = []
        if exe is not None:
            store = tmp / "mlflow.db"
            seed_mlflow(exe, store, SEEDED_RUNS)
            mlflow_ui_time(exe, store, 5761)
            peer = [mlflow_ui_time(exe, store, 5761 + i) for i in range(REPEATS)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    s, e = statistics.median(studio), statistics.median(empty)
    print(f"### Studio cold start: process start → first paint of the runs table "
          f"({SEEDED_RUNS:,} runs in the workspace, offscreen, median of {REPEATS})")
    print()
    print("| what | time | ratio to trainyard | target |")
    print("|---|---|---|---|")
    print(f"| trainyard studio | {s * 1000:,.0f} ms (worst {max(studio) * 1000:,.0f}) | 1.0 | ≤ {TARGET_S * 1000:,.0f} ms |")
    print(f"| empty PySide6 window (floor) | {e * 1000:,.0f} ms | {e / s:.2f} | |")
    if peer:
        p = statistics.median(peer)
        print(f"| `mlflow ui`, server start → page served (no browser) | {p * 1000:,.0f} ms | {p / s:.1f}x slower | |")
    else:
        print("| `mlflow ui` | could not be installed | | |")
    return 0 if s <= TARGET_S * 2 else 1


if __name__ == "__main__":
    sys.exit(main())
