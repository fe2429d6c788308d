"""Charts grouped by the prefix of their names; single values as a table, not as charts."""

from __future__ import annotations

import textwrap

from engine.jobs.spec import JobSpec
from studio.plots.chart_grid import group_of

GROUPED = textwrap.dedent("""
    from azureml.core import Run
    run = Run.get_context()
    run.log("learning_rate", 0.0003616)
    for step in range(5):
        run.log("loss", 1.0 / (step + 1))
        run.log("train/loss", 1.0 / (step + 1))
        run.log("train/accuracy", step / 5)
        run.log("val/loss", 1.2 / (step + 1))
        run.log("system/cpu_percent", 50.0 + step)
""")


def test_charts_are_grouped_by_prefix_and_single_values_are_a_table(qtbot, window, engine, project):
    (project / "grouped.py").write_text(GROUPED)
    run = engine.submit(JobSpec(experiment_name="groups", code_dir=project, script="grouped.py"))
    assert engine.wait(run.name, timeout=60).status == "Completed"
    detail = window.show_run(run.name)
    detail.show_tab("metrics")
    grid = detail.metrics.grid
    qtbot.waitUntil(lambda: grid.value_keys() == ["learning_rate"] and len(grid.chart_keys()) >= 4, timeout=10_000)
    charts = [k for k in grid.chart_keys() if not k.startswith("system/")]  # the System section may take those
    assert charts == ["loss", "train/accuracy", "train/loss", "val/loss"]  # unprefixed first, then by group
    titles = {g: t.text() for g, t in grid.group_titles.items() if t.isVisibleTo(grid)}
    assert titles["train"] == "train/" and titles["val"] == "val/" and titles[""] == "Other"
    # each group's heading sits above its charts, in the grid's order
    y = {k: grid.slots[k].mapTo(grid, grid.slots[k].rect().topLeft()).y() for k in charts}
    head = {g: t.mapTo(grid, t.rect().topLeft()).y() for g, t in grid.group_titles.items() if g in titles}
    assert head[""] < y["loss"] < head["train"] < y["train/loss"] < head["val"] < y["val/loss"]
    table = grid.values_table
    assert table.isVisibleTo(grid)
    assert (table.item(0, 0).text(), table.item(0, 1).text()) == ("learning_rate", "3.616e-4")
    assert "learning_rate" not in grid.slots or not grid.slots["learning_rate"].isVisibleTo(grid)
    assert group_of("val/loss") == "val" and group_of("loss") == ""
