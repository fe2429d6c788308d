"""Parameter columns in the Runs table: chosen from the parameters the listed runs logged, each
run's value shown (numbers in the studio's format, text as logged, blank where a run has none),
remembered for the next start; a header click sorts by them (the store sorts)."""

from __future__ import annotations

import textwrap

from PySide6.QtCore import Qt

from engine.jobs.spec import JobSpec
from studio.models.runs import COLUMNS

SCRIPT = textwrap.dedent("""
    import sys
    from azureml.core import Run
    run = Run.get_context()
    if sys.argv[1] != "none":
        run.log_params({"lr": float(sys.argv[1]), "optimizer": sys.argv[2]})
    run.log("loss", 0.5)
""")


def test_parameter_columns_show_each_runs_value_and_are_remembered(qtbot, engine, window, tmp_path):
    code = tmp_path / "p"
    code.mkdir()
    (code / "fit.py").write_text(SCRIPT)
    names = {}
    for lr, opt in (("0.0003", "adam"), ("0.1", "sgd"), ("none", "-")):
        run = engine.submit(
            JobSpec(experiment_name="params", code_dir=code, script="fit.py", arguments=(lr, opt))
        )
        names[lr] = run.name
        assert engine.wait(run.name, timeout=60).status == "Completed"
    page = window.runs_page
    window.show_page("runs")
    page.model.refresh()
    qtbot.waitUntil(
        lambda: page.model.is_ready() and set(page.model.param_keys_loaded()) == {"lr", "optimizer"},
        timeout=20_000,
    )

    page._fill_columns_menu()  # what opening the Columns menu lists (it also re-reads the metric keys)
    qtbot.waitUntil(lambda: "loss" in page._metric_keys, timeout=20_000)
    page._fill_columns_menu()
    listed = [a.text() for a in page.columns_menu.actions() if a.isCheckable()]
    assert listed == ["loss", "lr", "optimizer"]
    next(a for a in page.columns_menu.actions() if a.text() == "optimizer").trigger()
    page.show_param_column("lr")
    lr_col, opt_col = len(COLUMNS) + 1, len(COLUMNS)
    assert [page.model.headerData(c, Qt.Orientation.Horizontal) for c in (opt_col, lr_col)] == [
        "optimizer",
        "lr",
    ]

    def cells() -> dict[str, tuple[str, str]]:
        m = page.model
        return {
            m.loaded_run(r).name: (m.index(r, lr_col).data(), m.index(r, opt_col).data())
            for r in range(m.rowCount())
            if m.loaded_run(r) is not None
        }

    qtbot.waitUntil(lambda: len(cells()) == 3, timeout=20_000)
    assert cells() == {
        names["0.0003"]: ("3e-4", "adam"),
        names["0.1"]: ("0.1", "sgd"),
        names["none"]: ("", ""),
    }

    # A header click sorts by the parameter (the store sorts: numbers as numbers, runs without it last).
    def order() -> list[str]:
        return [page.model.loaded_run(r).name for r in range(3) if page.model.loaded_run(r) is not None]

    page.table.sortByColumn(lr_col, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: order() == [names["0.0003"], names["0.1"], names["none"]], timeout=20_000)
    assert page.model.sort_column() == lr_col
    page.table.sortByColumn(lr_col, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: order() == [names["0.1"], names["0.0003"], names["none"]], timeout=20_000)
    page.table.sortByColumn(opt_col, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: order() == [names["0.0003"], names["0.1"], names["none"]], timeout=20_000)
    assert page.model.query.sort == "param:optimizer"

    # Remembered: a new window shows the same parameter columns.
    from studio.browsers.runs import PARAMS_KEY, settings

    assert settings().value(PARAMS_KEY) == ["optimizer", "lr"]


def test_columns_are_remembered_per_experiment(qtbot, engine, window, tmp_path):
    """Columns chosen while an experiment's runs are shown (opened from the Experiments page) are
    that experiment's: another experiment keeps its own, and all runs keep the general ones."""
    code = tmp_path / "p"
    code.mkdir()
    (code / "fit.py").write_text(SCRIPT)
    for experiment in ("vision", "speech"):
        run = engine.submit(JobSpec(experiment_name=experiment, code_dir=code, script="fit.py",
                                    arguments=("0.1", "sgd")))
        assert engine.wait(run.name, timeout=60).status == "Completed"
    page = window.runs_page

    def headers() -> list[str]:
        return [page.model.headerData(c, Qt.Orientation.Horizontal) for c in range(len(COLUMNS), page.model.columnCount())]

    window.show_experiment_runs("vision")
    assert page.experiment == "vision" and page.filter_edit.text() == "vision"
    page.show_metric_column("loss")
    page.show_param_column("lr")
    assert headers() == ["loss", "lr"]

    window.show_experiment_runs("speech")
    assert headers() == []  # nothing chosen for speech (nor for all runs) yet
    page.show_param_column("optimizer")
    assert headers() == ["optimizer"]

    window.show_experiment_runs("vision")
    assert headers() == ["loss", "lr"]
    qtbot.waitUntil(lambda: page.model.is_ready() and page.model.rowCount() == 1, timeout=20_000)

    page.filter_edit.clear()  # all runs: the general columns (none chosen)
    qtbot.waitUntil(lambda: page.experiment is None, timeout=20_000)
    assert headers() == []
    window.show_experiment_runs("speech")
    assert headers() == ["optimizer"]
