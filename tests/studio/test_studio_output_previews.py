"""The Outputs tab previews structured files of a real run: a CSV as a table (header as column
titles, quoted commas kept in their cell), a JSON file pretty-printed."""

from __future__ import annotations

import json
import os
import textwrap

from engine.jobs.spec import JobSpec

SCRIPT = textwrap.dedent("""
    import csv, json, os
    os.makedirs("outputs", exist_ok=True)
    with open("outputs/scores.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "val_loss", "note"])
        for e in range(1, 4):
            w.writerow([e, round(1.0 / e, 3), "warm, up" if e == 1 else ""])
    with open("outputs/info.json", "w") as f:
        json.dump({"best": {"epoch": 3, "val_loss": 0.333}, "classes": ["cat", "dog"]}, f)
""")


def test_csv_as_a_table_and_json_pretty_printed(qtbot, window, engine, tmp_path, wait_status):
    code = tmp_path / "p"
    code.mkdir()
    (code / "make.py").write_text(SCRIPT)
    name = engine.submit(JobSpec(experiment_name="outs", code_dir=code, script="make.py")).name
    wait_status(window, name, "Completed")
    detail = window.show_run(name)
    detail.show_tab("outputs")
    outputs = detail.outputs
    qtbot.waitUntil(lambda: sorted(outputs.files()) == ["info.json", "scores.csv"], timeout=15_000)

    assert outputs.select("outputs/scores.csv")
    qtbot.waitUntil(lambda: outputs.preview.currentWidget() is outputs.table_view, timeout=10_000)
    assert outputs.table_view.cells() == [
        ["epoch", "val_loss", "note"],
        ["1", "1.0", "warm, up"],
        ["2", "0.5", ""],
        ["3", "0.333", ""],
    ]
    assert "3 rows shown" in outputs.preview_title.text()
    if os.environ.get("TRAINYARD_SHOTS"):
        detail.grab().save(os.path.join(os.environ["TRAINYARD_SHOTS"], "run-outputs-csv.png"))

    assert outputs.select("outputs/info.json")
    qtbot.waitUntil(lambda: outputs.preview_text() != "", timeout=10_000)
    text = outputs.preview_text()
    assert json.loads(text) == {"best": {"epoch": 3, "val_loss": 0.333}, "classes": ["cat", "dog"]}
    assert '\n  "best": {\n    "epoch": 3,' in text  # indented, one key a line
