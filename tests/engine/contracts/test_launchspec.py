"""The launch spec (spec.json) is one typed record: what is written reads back the same, a spec.json
of an earlier version (keys missing) still reads, and a damaged one says which key is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import InvalidState
from engine.runtime.distribution import Distribution
from engine.runtime.launchspec import (
    LaunchSpec,
    Placement,
    SweepSettings,
    TrialTemplate,
    is_sweep_spec,
    read_spec,
)


def job_spec() -> LaunchSpec:
    return LaunchSpec(
        run_name="r1", store_url="sqlite:///x.db", snapshots_root="/ws/snapshots", snapshot_id="abc",
        argv=["/bin/sh", "-c", "python train.py"], env={"TRAINYARD_RUN_ID": "r1"},
        env_prepend={"PATH": "/ws/runs/r1/bin"}, max_run_duration_seconds=30, cancel_grace_seconds=2.5,
        placement=Placement(compute="ssh", compute_target="far", ssh={"host": "h"}, ssh_interpreter="python3"),
        environment={"name": "e"}, envs_root="/ws/envs", command="python train.py",
        distribution=Distribution("pytorch", 2, 1))


def test_a_job_spec_round_trips_through_its_file(tmp_path: Path) -> None:
    spec = job_spec()
    spec.write(tmp_path / "spec.json")
    assert read_spec(tmp_path / "spec.json") == spec
    assert not is_sweep_spec(tmp_path / "spec.json")
    # The file keeps the flat layout earlier versions wrote.
    data = json.loads((tmp_path / "spec.json").read_text())
    assert data["compute"] == "ssh" and data["ssh"] == {"host": "h"} and data["argv"][0] == "/bin/sh"


def test_a_sweep_spec_round_trips(tmp_path: Path) -> None:
    spec = LaunchSpec(run_name="s", store_url="sqlite:///x.db", snapshots_root="/ws/s", workspace="/ws",
                      sweep=SweepSettings(search_space={"lr": {"type": "uniform", "min_value": 0, "max_value": 1}},
                                          sampling_algorithm="random", primary_metric="loss", goal="minimize",
                                          max_total_trials=4, max_concurrent_trials=2, seed=1,
                                          trial=TrialTemplate(experiment_name="e", command="python t.py",
                                                              compute="local")))
    spec.write(tmp_path / "spec.json")
    assert read_spec(tmp_path / "spec.json") == spec
    assert is_sweep_spec(tmp_path / "spec.json")


def test_a_spec_of_an_earlier_version_takes_the_defaults() -> None:
    spec = LaunchSpec.from_json({"run_name": "r", "store_url": "sqlite:///x.db", "snapshots_root": "/s",
                                 "argv": ["python", "x.py"], "env": {}})
    assert spec.placement == Placement() and spec.cancel_grace_seconds == 10.0 and spec.env_prepend == {}
    assert spec.max_run_duration_seconds is None and spec.distribution is None


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("argv", "python x.py", "a list of strings"),
    ("env", {"A": 1}, "a mapping of strings"),
    ("max_run_duration_seconds", "10", "a number"),
    ("run_name", None, "a string"),
])
def test_a_damaged_spec_names_the_key(key: str, value: object, expected: str) -> None:
    data = job_spec().to_json()
    data[key] = value
    with pytest.raises(InvalidState, match=f"`{key}` should be {expected}"):
        LaunchSpec.from_json(data)


def test_a_file_that_is_not_json_says_so(tmp_path: Path) -> None:
    (tmp_path / "spec.json").write_text("{not json")
    with pytest.raises(InvalidState, match="not valid JSON"):
        read_spec(tmp_path / "spec.json")
