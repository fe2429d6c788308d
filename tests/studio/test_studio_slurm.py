"""The studio with a real Slurm (the `slurm` fixture: slurmctld + slurmd on this machine): Add
compute… offers Slurm and saves a checked target; the Compute page shows the cluster's partitions,
nodes and your queue from sinfo/squeue; a run Slurm keeps waiting says why in its Overview."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from engine.jobs.spec import JobSpec

LOAD_MS = 60_000
RUN_MS = 180_000


def _rows(page: Any) -> dict[str, str]:
    return {
        page.proxy.index(r, 0).data(): page.proxy.index(r, 1).data() for r in range(page.proxy.rowCount())
    }


def test_add_a_slurm_cluster_and_see_its_partitions_nodes_and_queue(
    qtbot: Any, window: Any, engine: Any, slurm: dict[str, str], tmp_path: Path
) -> None:
    page = window.compute_page
    window.show_page("compute")
    qtbot.waitUntil(lambda: "local" in _rows(page), timeout=LOAD_MS)
    page.add_button.click()
    dialog = page.dialog
    assert dialog is not None
    dialog.set_kind("slurm")
    assert dialog.slurm_box.isVisible() and dialog.ssh_box.isVisible()  # the login node over SSH by default
    qtbot.keyClicks(dialog.name_edit, "hpc")
    assert not dialog.save_button.isEnabled()  # no login node yet
    dialog.slurm_local.setChecked(True)
    assert not dialog.ssh_box.isVisible() and dialog.save_button.isEnabled()
    qtbot.keyClicks(dialog.partition_edit, slurm["SLURM_PARTITION"])
    qtbot.keyClicks(dialog.time_limit_edit, "soon")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.error_label.isVisible, timeout=LOAD_MS)  # checked as the YAML would be
    assert "time_limit" in dialog.error_label.text() and "not a Slurm time limit" in dialog.error_label.text()
    dialog.time_limit_edit.setText("30")
    dialog.sbatch_edit.setPlainText("--exclusive\n")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=LOAD_MS)
    target = engine.get_compute_target("hpc")
    assert target.type == "slurm" and target.config == {
        "local": True,
        "partition": "debug",
        "time_limit": "30",
        "sbatch": ["--exclusive"],
    }
    qtbot.waitUntil(lambda: _rows(page).get("hpc") == "Slurm", timeout=LOAD_MS)
    page.select("hpc")
    qtbot.waitUntil(lambda: page.detail.field("State").startswith("ready"), timeout=LOAD_MS)
    assert "debug" in page.detail.field("Partitions")
    assert page.detail.field("Nodes").endswith(("idle", "mixed", "allocated"))

    # Two runs that each take the whole node: the second waits, and the studio says why.
    gate = tmp_path / "gate"
    code = tmp_path / "code"
    code.mkdir()
    (code / "hold.py").write_text(
        textwrap.dedent(f"""\
        import os, time
        while not os.path.exists({str(gate)!r}):
            time.sleep(0.2)
        """)
    )
    first = engine.submit(JobSpec(experiment_name="slurm-ui", script="hold.py", code_dir=code, compute="hpc"))
    qtbot.waitUntil(lambda: engine.get_run(first.name).status == "Running", timeout=RUN_MS)
    second = engine.submit(
        JobSpec(experiment_name="slurm-ui", script="hold.py", code_dir=code, compute="hpc")
    )
    qtbot.waitUntil(
        lambda: "Resources" in (engine.get_run(second.name).properties.get("slurm_reason") or ""),
        timeout=RUN_MS,
    )
    job_id = engine.get_run(second.name).properties["slurm_job_id"]
    page.refresher.request()
    qtbot.waitUntil(
        lambda: f"{job_id} {second.name} PENDING (Resources)" in page.detail.field("Your queue"),
        timeout=LOAD_MS,
    )
    detail = window.show_run(second.name)
    qtbot.waitUntil(lambda: "in Slurm: Resources" in detail.overview.values["status"].text(), timeout=LOAD_MS)
    gate.touch()
    for run in (first, second):
        qtbot.waitUntil(lambda r=run: engine.get_run(r.name).status == "Completed", timeout=RUN_MS)
