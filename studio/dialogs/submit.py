"""The Submit dialog: run a script of a project folder (or one of its job YAMLs) as a new run.

Everything it shows comes from the engine, read off the GUI thread when it opens:
`engine.projects.scan_project` (scripts, environment files, job files), the workspace's
experiments, compute targets and environments, and the snapshot preview (size, files, what is
left out, whether it is over the limits)."""

from __future__ import annotations

import platform
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from engine import entities as E
from engine.errors import TrainyardError
from engine.jobs.spec import JobSpec
from engine.projects import (
    ProjectScan,
    check_environment_variables,
    check_experiment_name,
    default_experiment_name,
    describe_job,
    scan_project,
    script_job,
)
from engine.specs.pipeline import load_any_job
from studio.dialogs.duration import DurationEdit
from studio.dialogs.envvars import EnvVarsEditor
from studio.dialogs.jobinputs import JobInputsEditor, declared_data
from studio.dialogs.keys import no_default_buttons
from studio.dialogs.pipelinepreview import PipelinePreview, describe_pipeline, is_pipeline_spec
from studio.errors import one_line, show_error
from studio.style import STATUS_COLORS, fmt_size, heading, muted, plural
from studio.tasks import BackgroundOp

# Environment choices (combo item data): a file of the folder, a registered/curated reference,
# or none (Trainyard's own interpreter: the engine's default, nothing to build).
ENV_FILE, ENV_REF, ENV_NONE = "file", "ref", "none"
THIS_PYTHON = f"This Python, no build (Python {platform.python_version()})"


class SubmitDialog(QDialog):
    """Pre-filled from the folder; `submitted(run)` once the engine accepted the run."""

    submitted = Signal(object)
    scriptsFound = Signal(list)
    previewReady = Signal(object)

    def __init__(self, engine: Any, folder: Path, script: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.folder = Path(folder).resolve()
        self.warnings: list[str] = []
        self.scan: ProjectScan | None = None
        self._registered: tuple[list[Any], list[Any]] = ([], [])  # data assets, models: input choices
        self.inputs_editor = JobInputsEditor()  # replaced by each job file's (see _job_changed)
        # A dropped job YAML opens on the job page with that file picked.
        self._job_file = script if script and script.endswith((".yml", ".yaml")) else None
        self._preferred = None if self._job_file else script
        self._scanning = True
        self._submitting = False
        self._previews: dict[Path, Any] = {}  # code folder -> SnapshotPreview (or the error)
        self._clone: Any = None  # a CloneSource whose values fill the form once it has loaded
        self.setWindowTitle("Submit a run")
        self.setMinimumWidth(640)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(20, 18, 20, 16)
        lay.setSpacing(8)
        lay.addWidget(heading("Submit a run", 1.35))
        self.folder_label = muted(QLabel(str(self.folder)))
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.folder_label.setWordWrap(True)
        lay.addWidget(self.folder_label)

        self.mode_row = QWidget()
        mode = QHBoxLayout(self.mode_row)
        mode.setContentsMargins(0, 4, 0, 0)
        self.script_radio = QRadioButton("Run a script")
        self.job_radio = QRadioButton("Submit a job file")
        self.job_radio.setToolTip("Submit a job YAML of this folder as it is (as `trainyard job create -f`)")
        self.script_radio.setChecked(True)
        self.mode_group = QButtonGroup(self)
        self.mode_group.addButton(self.script_radio)
        self.mode_group.addButton(self.job_radio)
        mode.addWidget(self.script_radio)
        mode.addWidget(self.job_radio)
        mode.addStretch(1)
        self.mode_row.hide()  # shown when the folder holds job files
        lay.addWidget(self.mode_row)

        # two pages shown one at a time (not a QStackedWidget: the dialog fits the shown one)
        self.script_page = self._build_script_page()
        self.job_page = self._build_job_page()
        self.job_page.hide()
        lay.addWidget(self.script_page)
        lay.addWidget(self.job_page)

        snap = QFormLayout()
        self._tune(snap)
        self.snapshot_label = QLabel("Measuring the folder…")
        self.snapshot_label.setWordWrap(True)
        snap.addRow(self._label("Snapshot"), self.snapshot_label)
        lay.addLayout(snap)

        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.problem_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        pal = self.problem_label.palette()
        pal.setColor(QPalette.ColorRole.WindowText, QColor(STATUS_COLORS["Failed"]))
        self.problem_label.setPalette(pal)
        self.problem_label.hide()
        lay.addWidget(self.problem_label)
        lay.addStretch(1)
        lay.addSpacing(6)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.submit_button = self.buttons.addButton("Submit", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)

        self.job_radio.toggled.connect(self._mode_changed)
        for signal in (self.script_combo.currentTextChanged, self.experiment_combo.currentTextChanged,
                       self.arguments_edit.textChanged, self.environment_combo.currentIndexChanged,
                       self.env_vars.changed, self.duration.changed, self.job_combo.currentIndexChanged):
            signal.connect(self._validate)
        self.environment_combo.currentIndexChanged.connect(self._environment_changed)
        self.job_combo.currentIndexChanged.connect(self._job_changed)
        self._validate()
        self._load()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        no_default_buttons(self)  # the button box makes Submit the default when shown

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Enter submits a valid form and does nothing otherwise: no button is ever the dialog's
        # default (Qt hands a disabled Submit's default to Cancel, which threw the run away).
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()
            if self.submit_button.isEnabled():
                self.submit()
            return
        super().keyPressEvent(event)

    @staticmethod
    def _tune(form: QFormLayout) -> None:
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(9)

    def _label(self, text: str) -> QLabel:
        """A form label as wide as the widest one, so that the separate forms line up."""
        label = QLabel(text)
        label.setMinimumWidth(self.fontMetrics().horizontalAdvance("Max duration") + 6)
        label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return label

    def _build_script_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setContentsMargins(0, 6, 0, 0)
        self._tune(form)
        self.script_form = form
        self.script_combo = QComboBox()
        self.script_combo.setEditable(True)
        self.script_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.script_combo.lineEdit().setPlaceholderText("Looking for scripts…")
        self.script_combo.setToolTip("The script to run, relative to the project folder")
        form.addRow(self._label("Script"), self.script_combo)
        self.arguments_edit = QLineEdit()
        self.arguments_edit.setPlaceholderText("for example  --epochs 10 --lr 0.01")
        self.arguments_edit.setToolTip("Passed to the script as its command-line arguments "
                                       "(split with shell quoting rules)")
        form.addRow(self._label("Arguments"), self.arguments_edit)
        self.experiment_combo = QComboBox()
        self.experiment_combo.setEditable(True)
        self.experiment_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.experiment_combo.setEditText(default_experiment_name(self.folder))
        self.experiment_combo.setToolTip("Runs are grouped by experiment: pick one or type a new name")
        form.addRow(self._label("Experiment"), self.experiment_combo)
        self.compute_combo = QComboBox()
        self.compute_combo.addItem("local", "local")
        self.compute_combo.setToolTip("Where the run goes: local is a process on this computer")
        form.addRow(self._label("Compute"), self.compute_combo)
        self.environment_combo = QComboBox()
        self.environment_combo.addItem(THIS_PYTHON, _choice(ENV_NONE))
        self.environment_combo.setToolTip("The Python environment the script runs in")
        self.environment_note = muted(QLabel())
        self.environment_note.setWordWrap(True)
        env_box = QVBoxLayout()
        env_box.setSpacing(3)
        env_box.addWidget(self.environment_combo)
        env_box.addWidget(self.environment_note)
        form.addRow(self._label("Environment"), env_box)
        self.env_vars = EnvVarsEditor()
        form.addRow(self._label("Variables"), self.env_vars)
        self.duration = DurationEdit()
        form.addRow(self._label("Max duration"), self.duration)
        self._environment_changed()
        return page

    def _build_job_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setContentsMargins(0, 6, 0, 0)
        self._tune(form)
        self.job_form = form
        self.job_combo = QComboBox()
        self.job_combo.setToolTip("A job YAML of this folder (command, sweep or pipeline), submitted as it is")
        form.addRow(self._label("Job file"), self.job_combo)
        self.pipeline_preview = PipelinePreview()  # a pipeline file: its graph, before it is submitted
        self.pipeline_preview.hide()
        outer = QVBoxLayout()
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(page)
        outer.addWidget(self.pipeline_preview)
        holder = QWidget()
        holder.setLayout(outer)
        return holder

    # ---------------------------------------------------------------- loading
    def _load(self) -> None:
        engine, folder = self.engine, self.folder

        def fetch() -> tuple[ProjectScan, list[Any], list[Any], list[Any], tuple[list[Any], list[Any]]]:
            return (scan_project(folder), engine.list_experiments(), engine.list_compute_targets(),
                    engine.list_all_environments(), (engine.list_data_assets(), engine.list_models()))

        BackgroundOp(self, fetch).success(self._loaded).failure(self._load_failed).run()
        self._preview(folder)

    def _loaded(self, found: tuple[ProjectScan, list[Any], list[Any], list[Any], tuple[list[Any], list[Any]]]) -> None:
        scan, experiments, targets, environments, self._registered = found
        self.scan = scan
        self._fill_experiments([e.name for e in experiments])
        self._fill_compute(targets)
        self._fill_environments(scan, environments)
        self._fill_jobs(scan)
        if self._job_file in self.job_files():
            self.select_job(str(self._job_file))
        self._scripts_found(list(scan.scripts))
        if self._clone is not None:
            self._apply_clone(self._clone)

    def fill_from(self, source: Any) -> None:
        """Clone & edit: take script, arguments, experiment, compute, environment, variables and
        the time limit of an earlier run (a studio.dialogs.clone.CloneSource)."""
        self._clone = source
        self._preferred = source.script
        self.setWindowTitle(f"Clone {source.run_name}")
        note = f"Cloned from {source.run_name}" + (
            " (its project folder is gone: this is a copy of its snapshot)" if source.from_snapshot else "")
        self.folder_label.setText(f"{self.folder}\n{note}")
        self.arguments_edit.setText(shlex.join(source.arguments))
        self.experiment_combo.setEditText(source.experiment)
        self.env_vars.set_rows(list(source.variables))
        self.duration.set_seconds(source.max_run_duration_seconds)
        if not self._scanning:
            self._apply_clone(source)

    def _apply_clone(self, source: Any) -> None:
        """The choices that need the loaded lists (compute targets, environments)."""
        index = self.compute_combo.findData(source.compute)
        if index >= 0:
            self.compute_combo.setCurrentIndex(index)
        if source.environment:
            index = self.environment_combo.findData(_choice(ENV_REF, source.environment))
            if index >= 0:
                self.environment_combo.setCurrentIndex(index)
        self.script_combo.setCurrentText(source.script)
        self.experiment_combo.setEditText(source.experiment)
        self._validate()

    def _load_failed(self, exc: BaseException) -> None:
        self._scripts_found([])
        show_error(self, exc)

    def _scripts_found(self, scripts: list[str]) -> None:
        self._scanning = False
        self.script_combo.lineEdit().setPlaceholderText("script.py")
        current = self.script_combo.currentText()
        self.script_combo.addItems(scripts)
        pick = self._preferred or current or (scripts[0] if scripts else "")
        if pick and pick not in scripts:
            self.script_combo.insertItem(0, pick)
        self.script_combo.setCurrentText(pick)
        self._validate()
        self.scriptsFound.emit(scripts)

    def _fill_experiments(self, names: list[str]) -> None:
        typed = self.experiment_combo.currentText()
        self.experiment_combo.addItems(sorted(names, key=str.casefold))
        self.experiment_combo.setEditText(typed)

    def _fill_compute(self, targets: list[E.ComputeTarget]) -> None:
        self.compute_combo.clear()
        ordered = sorted(targets, key=lambda t: (t.name != "local", not t.builtin, t.name.casefold()))
        for t in ordered:
            label = t.name if t.name == t.type else f"{t.name}  ({t.type})"
            self.compute_combo.addItem(label, t.name)
            self.compute_combo.setItemData(self.compute_combo.count() - 1,
                                           t.description or f"a {t.type} compute target",
                                           Qt.ItemDataRole.ToolTipRole)
        self.compute_combo.setCurrentIndex(0)

    def _fill_environments(self, scan: ProjectScan, environments: list[Any]) -> None:
        combo = self.environment_combo
        combo.blockSignals(True)
        combo.clear()
        for f in scan.environment_files:
            combo.addItem(f"{f.path}  (from this folder)", _choice(ENV_FILE, f.path))
        if scan.environment_files:
            combo.insertSeparator(combo.count())
        combo.addItem(THIS_PYTHON, _choice(ENV_NONE))
        curated = [s for s in environments if s.curated]
        registered = [s for s in environments if not s.curated]
        if curated:
            combo.insertSeparator(combo.count())
        for s in curated:
            combo.addItem(f"{s.reference}  (curated)", _choice(ENV_REF, s.reference))
            combo.setItemData(combo.count() - 1, s.description, Qt.ItemDataRole.ToolTipRole)
        if registered:
            combo.insertSeparator(combo.count())
        for s in registered:
            combo.addItem(f"{s.reference}  (registered)", _choice(ENV_REF, s.reference))
            combo.setItemData(combo.count() - 1, s.description, Qt.ItemDataRole.ToolTipRole)
        usable = [i for i, f in enumerate(scan.environment_files) if f.spec is not None]
        combo.setCurrentIndex(usable[0] if usable else combo.findData(_choice(ENV_NONE)))
        combo.blockSignals(False)
        self._environment_changed()

    def _fill_jobs(self, scan: ProjectScan) -> None:
        self.job_combo.clear()
        for j in scan.job_files:
            self.job_combo.addItem(j.path + ("  (has an error)" if j.error else ""), j.path)
        self.mode_row.setVisible(bool(scan.job_files))
        self._job_changed()

    # ---------------------------------------------------------------- snapshot preview
    def _preview(self, code_dir: Path) -> None:
        if code_dir in self._previews:
            self._show_preview(code_dir)
            return
        self._previews[code_dir] = None
        snapshots = self.engine.snapshots

        def done(result: Any) -> None:
            self._previews[code_dir] = result
            self._show_preview(code_dir)
            self.previewReady.emit(result)

        BackgroundOp(self, lambda: snapshots.preview(code_dir)).success(done).failure(done).run()

    def _code_dir(self) -> Path | None:
        if self.job_radio.isChecked():
            job = self.selected_job()
            spec = job.spec if job is not None else None
            return spec.code_dir if spec is not None and not is_pipeline_spec(spec) else None
        return self.folder

    def snapshot_preview(self) -> Any:
        """The SnapshotPreview of the code folder that would be submitted (None while measuring)."""
        code_dir = self._code_dir()
        return self._previews.get(code_dir) if code_dir is not None else None

    def _show_preview(self, code_dir: Path) -> None:
        if code_dir != self._code_dir():
            return
        p = self._previews.get(code_dir)
        if p is None:
            self.snapshot_label.setText("Measuring the folder…")
        elif isinstance(p, BaseException):
            self.snapshot_label.setText(f"The folder cannot be measured: {one_line(p)}")
        else:
            parts = [f"{plural(p.file_count, 'file')}, {fmt_size(p.total_bytes)}"]
            if p.ignored_count:
                parts.append(f"{plural(p.ignored_count, 'path')} ignored")
            if p.warnings:
                parts.append(f"{len(p.warnings)} left out (secrets, links)")
            if p.git is not None and getattr(p.git, "commit", None):
                branch = getattr(p.git, "branch", None) or "detached"
                dirty = ", uncommitted changes" if getattr(p.git, "dirty", False) else ""
                parts.append(f"git {branch} @ {p.git.commit[:7]}{dirty}")
            self.snapshot_label.setText(" · ".join(parts))
            tip = [f"Limits: {plural(p.limits.max_files, 'file')}, {fmt_size(p.limits.max_bytes)}"]
            if p.ignored:
                tip.append("Ignored (.amlignore or .gitignore):\n  " + "\n  ".join(p.ignored[:15]))
            if p.warnings:
                tip.append("Left out:\n  " + "\n  ".join(p.warnings[:10]))
            self.snapshot_label.setToolTip("\n".join(tip))
        self._validate()

    # ---------------------------------------------------------------- choices
    def _mode_changed(self, job: bool) -> None:
        self.script_page.setVisible(not job)
        self.job_page.setVisible(job)
        if self.isVisible():
            self.resize(self.width(), self.sizeHint().height())
        code_dir = self._code_dir()
        if code_dir is not None:
            self._preview(code_dir)
        elif is_pipeline_spec(getattr(self.selected_job(), "spec", None)):
            self.snapshot_label.setText("Each step's code folder is snapshotted when the pipeline is submitted.")
        else:
            self.snapshot_label.setText("Not measured: the job file does not load.")
        self._validate()

    def _environment_changed(self, *_: object) -> None:
        kind, value = self.environment_choice()
        note = ""
        if kind == ENV_NONE:
            note = "Runs with the interpreter Trainyard runs on; nothing is installed."
        elif kind == ENV_FILE and self.scan is not None:
            f = next(f for f in self.scan.environment_files if f.path == value)
            note = f.summary if f.error is None else ""
        elif kind == ENV_REF:
            note = str(self.environment_combo.currentData(Qt.ItemDataRole.ToolTipRole) or "")
        self.environment_note.setText(note)
        self.environment_note.setVisible(bool(note))

    def _job_changed(self, *_: object) -> None:
        form = self.job_form
        while form.rowCount() > 1:
            form.removeRow(1)
        job = self.selected_job()
        pipeline = job is not None and is_pipeline_spec(job.spec)
        self.pipeline_preview.setVisible(pipeline)
        if pipeline:
            self.pipeline_preview.show_spec(job.spec)
        self.inputs_editor = JobInputsEditor()  # the job file's data inputs and outputs
        self.inputs_editor.changed.connect(self._validate)
        if job is not None and job.spec is not None:
            for label, value in (describe_pipeline(job.spec) if pipeline else describe_job(job.spec)):
                field = QLabel(value)
                field.setWordWrap(True)
                field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                form.addRow(self._label(label), field)
            if not pipeline and any(declared_data(job.spec)):  # data inputs or outputs
                self.inputs_editor.set_job(*declared_data(job.spec), *self._registered)
                form.addRow(self._label("Data"), self.inputs_editor)
        if self.job_radio.isChecked():
            self._mode_changed(True)

    # ---------------------------------------------------------------- values
    def scripts(self) -> list[str]:
        return [self.script_combo.itemText(i) for i in range(self.script_combo.count())]

    def is_scanning(self) -> bool:
        return self._scanning

    def environment_choice(self) -> tuple[str, str | None]:
        kind, _, value = str(self.environment_combo.currentData() or ENV_NONE).partition(":")
        return kind, value or None

    def select_environment(self, kind: str, value: str | None) -> None:
        index = self.environment_combo.findData(_choice(kind, value))
        if index < 0:
            raise KeyError(f"no environment choice {kind}:{value}")
        self.environment_combo.setCurrentIndex(index)

    def job_files(self) -> list[str]:
        return [self.job_combo.itemData(i) for i in range(self.job_combo.count())]

    def select_job(self, path: str) -> None:
        self.job_combo.setCurrentIndex(self.job_combo.findData(path))
        self.job_radio.setChecked(True)

    def selected_job(self) -> Any:
        path = self.job_combo.currentData()
        if self.scan is None or path is None:
            return None
        return next((j for j in self.scan.job_files if j.path == path), None)

    def arguments(self) -> tuple[str, ...]:
        return tuple(shlex.split(self.arguments_edit.text()))

    def spec(self) -> JobSpec:
        """The job to submit (reads the chosen environment file or job YAML: the dialog itself
        calls this off the GUI thread)."""
        return self._spec_factory()()

    def problem(self) -> str:
        """What stops the submit, as a sentence; '' when nothing does."""
        preview = self.snapshot_preview()
        if preview is not None and not isinstance(preview, BaseException) and preview.over_limit:
            return f"{preview.over_limit_error}\n{preview.over_limit_hint}"
        if self.job_radio.isChecked():
            job = self.selected_job()
            if job is None:
                return "Pick the job file to submit."
            return job.error or self.inputs_editor.problem()
        if not self.script_combo.currentText().strip():
            if self._scanning:
                return ""
            return "Pick the script to run (no .py file with a __main__ guard was found)."
        try:
            shlex.split(self.arguments_edit.text())
        except ValueError as exc:
            if "quotation" in str(exc):
                return "The arguments have an unclosed quote: close it, or escape it with a backslash."
            return f"The arguments are not valid shell words: {exc}."
        try:
            check_experiment_name(self.experiment_combo.currentText())
            check_environment_variables(self.env_vars.rows())
        except TrainyardError as exc:
            return one_line(exc)
        kind, value = self.environment_choice()
        if kind == ENV_FILE and self.scan is not None:
            f = next(f for f in self.scan.environment_files if f.path == value)
            if f.error:
                return f"The environment file cannot be used: {f.error}"
        return ""

    def _validate(self, *_: object) -> None:
        text = self.problem()
        self.problem_label.setText(text)
        self.problem_label.setVisible(bool(text))
        if text and self.isVisible() and self.height() < self.sizeHint().height():
            self.resize(self.width(), self.sizeHint().height())  # room for the message
        ready = not text and not self._scanning and (
            self.job_radio.isChecked() or bool(self.script_combo.currentText().strip()))
        self.submit_button.setEnabled(ready and not self._submitting)

    # ---------------------------------------------------------------- submit
    def submit(self) -> BackgroundOp | None:
        if self.problem() or self._submitting or self._scanning:
            return None
        engine, warnings = self.engine, self.warnings
        make_spec = self._spec_factory()
        self._set_submitting(True)
        def start() -> E.Run:
            spec = make_spec()
            if is_pipeline_spec(spec):
                return engine.submit_pipeline(spec, on_warning=warnings.append)
            return engine.submit(spec, on_warning=warnings.append)

        return (BackgroundOp(self, start, serial=True)
                .success(self._submitted)
                .failure(self._failed)
                .run())

    def _spec_factory(self) -> Callable[[], JobSpec]:
        """Reads every widget now (GUI thread); the returned function makes the spec anywhere."""
        if self.job_radio.isChecked():
            path = self.folder / str(self.job_combo.currentData())
            overrides = self.inputs_editor.overrides() or None  # as `job create -f FILE --set ...`
            return lambda: load_any_job(path, overrides)
        kind, value = self.environment_choice()
        folder, script = self.folder, self.script_combo.currentText()
        experiment, arguments = self.experiment_combo.currentText(), self.arguments()
        compute = self.compute_combo.currentData() or self.compute_combo.currentText()
        env_vars, seconds = self.env_vars.rows(), self.duration.seconds()
        return lambda: script_job(
            folder, script, experiment_name=experiment, arguments=arguments, compute=compute,
            environment=value if kind == ENV_REF else None,
            environment_file=value if kind == ENV_FILE else None,
            environment_variables=env_vars, max_run_duration_seconds=seconds)

    def _set_submitting(self, on: bool) -> None:
        self._submitting = on
        self.submit_button.setText("Submitting…" if on else "Submit")
        for part in (self.script_page, self.job_page, self.mode_row):
            part.setEnabled(not on)
        self._validate()

    def _submitted(self, run: E.Run) -> None:
        self._set_submitting(False)
        self.submitted.emit(run)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._set_submitting(False)
        show_error(self, exc)


def _choice(kind: str, value: str | None = None) -> str:  # an environment choice's item data
    return f"{kind}:{value or ''}"  # a string: Qt compares it by value

