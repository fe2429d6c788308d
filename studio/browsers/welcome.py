"""What an empty workspace shows on the Runs page: the bundled example one click away (it is
submitted and its live run opens), dragging a project folder in, and the same from the CLI."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from engine.jobs.spec import JobSpec
from engine.projects import script_job
from studio.style import heading, mono_font, muted

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "resources" / "examples" / "cifar-pytorch"
EXAMPLE_EXPERIMENT = "cifar-pytorch"


def example_job() -> JobSpec:
    """The bundled example as the Submit dialog would make it: src/train.py, default arguments."""
    return script_job(EXAMPLE_DIR / "src", "train.py", experiment_name=EXAMPLE_EXPERIMENT)


class WelcomePanel(QWidget):
    """`runExample()` when the example button is clicked; `openProject()` for the folder picker."""

    runExample = Signal()
    openProject = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.addStretch(2)
        title = heading("Welcome to Trainyard", 1.5)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(title)
        intro = muted(
            QLabel("This workspace has no runs yet. Start with the example, or bring your own project.")
        )
        intro.setAlignment(Qt.AlignmentFlag.AlignCenter)
        intro.setWordWrap(True)
        lay.addWidget(intro)
        lay.addSpacing(14)

        buttons = QHBoxLayout()  # one row when the window is wide enough
        buttons.addStretch(1)
        self.example_button = QPushButton("Run the example (a small CNN)")
        self.example_button.setToolTip(
            f"Submits {EXAMPLE_DIR / 'src' / 'train.py'} and opens the live run "
            "(about 10 s on a CPU; needs PyTorch in this Python)"
        )
        self.example_button.clicked.connect(self.runExample)
        self.example_button.setEnabled(EXAMPLE_DIR.is_dir())
        buttons.addWidget(self.example_button)
        self.open_button = QPushButton("Open a project folder…")
        self.open_button.setToolTip("Pick a folder and submit one of its scripts (or drag the folder here)")
        self.open_button.clicked.connect(self.openProject)
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        lay.addLayout(buttons)
        lay.addSpacing(10)
        drag = muted(QLabel("…or drag a project folder (or one of its scripts) onto this window."))
        drag.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(drag)
        lay.addSpacing(14)
        cli_title = muted(QLabel("The same from a terminal:"))
        cli_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(cli_title)
        self.cli = QLabel(f"trainyard job create -f {EXAMPLE_DIR / 'job.yml'} --stream")
        self.cli.setFont(mono_font())
        self.cli.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.cli.setWordWrap(True)  # the example's path is long: wrap rather than widen the window
        self.cli.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.cli)
        lay.addStretch(3)
