"""A four-step pipeline in the style of the public NYC taxi example (prepare -> transform -> train
-> score, two CSV files of trips, scikit-learn), submitted with the real CLI and run by real
processes: every step a child run of the pipeline run; resubmitting it unchanged reuses every
step; changing only the train step's code reruns train and score, and reuses prepare and transform."""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path

from engine.api import Engine

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "pipelines" / "taxi"
STEPS = ["prep", "transform", "train", "score"]


def taxi_project(root: Path, trips: int = 300) -> Path:
    """The fixture's files, and two fleets' trips (some of them bad rows prep must drop)."""
    shutil.copytree(FIXTURE, root)
    rng = random.Random(11)
    (root / "data").mkdir()
    for fleet in ("green", "yellow"):
        lines = ["pickup_hour,weekday,passengers,distance_km,fare"]
        for i in range(trips):
            hour, day, people = rng.randrange(24), rng.randrange(7), rng.randint(1, 5)
            km = round(rng.uniform(0.5, 25), 2)
            fare = round(3 + 1.9 * km + (2.5 if hour in (7, 8, 17, 18) else 0) + rng.gauss(0, 1.5), 2)
            if i % 50 == 0:
                km = -1  # a broken meter
            lines.append(f"{hour},{day},{people},{km},{fare}")
        (root / "data" / f"{fleet}.csv").write_text("\n".join(lines) + "\n")
    return root / "pipeline.yml"


def submit(cli, path: Path) -> tuple[str, float]:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    res = cli("job", "create", "-f", str(path), "-o", "json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["name"], start


def test_the_taxi_pipeline_runs_then_reuses_then_reruns_what_changed(
    eng: Engine, ws_dir: Path, tmp_path: Path, cli
) -> None:  # type: ignore[no-untyped-def]
    path = taxi_project(tmp_path / "taxi")

    # 1. The first submission runs every step, each a child run of the pipeline run.
    first, _ = submit(cli, path)
    final = eng.wait(first, timeout=300)
    graph = eng.pipeline_graph(first)
    assert final.status == "Completed", (final.error, graph)
    assert [s.name for s in graph.steps] == STEPS
    assert all(s.status == "Completed" and s.reused_from is None for s in graph.steps), graph.steps
    assert set(graph.edges) == {
        ("prep", "cleaned", "transform", "cleaned"),
        ("transform", "features", "train", "features"),
        ("train", "model", "score", "model"),
        ("train", "test_data", "score", "test_data"),
    }
    listed = cli("job", "list", "--parent-job-name", first, "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(r["name"] for r in json.loads(listed.stdout)) == sorted(s.run_name for s in graph.steps)
    score_run = graph.step("score").run_name
    shown = json.loads(cli("job", "show", "-n", score_run, "-o", "json").stdout)
    assert shown["parent_job_name"] == first and shown["status"] == "Completed"
    assert eng.latest_metrics(score_run)["r2"] > 0.8  # the model learned the fares
    # Prepare dropped the broken rows; the pipeline's outputs are the steps' outputs.
    prep_log = Path(eng.get_run(graph.step("prep").run_name).run_dir) / "azureml-logs" / "70_driver_log.txt"
    assert "kept 588 trips, dropped 12" in prep_log.read_text()
    published = Path(final.run_dir) / "outputs"
    assert (published / "model" / "model.pkl").is_file()
    assert (published / "predictions" / "predictions.csv").read_text().startswith("fare,predicted")
    downloaded = cli(
        "job",
        "download",
        "-n",
        score_run,
        "--output-name",
        "predictions",
        "--download-path",
        str(tmp_path / "dl"),
    )
    assert downloaded.returncode == 0, downloaded.stderr

    # 2. Unchanged: every step is reused from the first run, and nothing runs.
    second, start = submit(cli, path)
    again = eng.wait(second, timeout=120)
    reuse_seconds = time.monotonic() - start
    graph2 = eng.pipeline_graph(second)
    assert again.status == "Completed", again.error
    assert {s.name: s.reused_from for s in graph2.steps} == {s.name: s.run_name for s in graph.steps}
    reused = eng.get_run(graph2.step("train").run_name)
    assert reused.parent_name == second and reused.properties["reused_from"] == graph.step("train").run_name
    assert (
        "reused from " + graph.step("train").run_name
        in (Path(reused.run_dir) / "azureml-logs" / "70_driver_log.txt").read_text()
    )
    # The figure for BENCHMARKS.md is measured by bench/bench_pipeline.py; this machine may be slow.
    assert reuse_seconds < 60, reuse_seconds

    # 3. Only train's code changes (another model): train and score run again, prep and transform
    # are reused.
    train = tmp_path / "taxi" / "train_src" / "train.py"
    train.write_text(
        train.read_text().replace(
            "model = LinearRegression()", "model = LinearRegression(fit_intercept=False)"
        )
    )
    third, _ = submit(cli, path)
    final3 = eng.wait(third, timeout=300)
    graph3 = eng.pipeline_graph(third)
    assert final3.status == "Completed", (final3.error, graph3)
    assert {s.name: s.reused_from for s in graph3.steps} == {
        "prep": graph.step("prep").run_name,
        "transform": graph.step("transform").run_name,
        "train": None,
        "score": None,
    }
    assert (
        eng.get_run(graph3.step("train").run_name).snapshot_id
        != eng.get_run(graph.step("train").run_name).snapshot_id
    )
