"""A step's `resources:` in a pipeline, with real runs through the CLI: a step that asks for several
instances takes its component's distribution (registered or a file; az ml merges the step over the
component) and starts that many processes, and a step changed only in what its processes see
(`shm_size`) is not reused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

# each test has its own workspace (TRAINYARD_WORKSPACE), and leaves no run active behind it
pytestmark = pytest.mark.usefixtures("eng")

RANK_COMPONENT = """\
name: rank
command: python -c "import os; print('rank', os.environ['RANK'], 'of', os.environ['WORLD_SIZE'])"
distribution: {type: pytorch, process_count_per_instance: 1}
"""

NODES_PIPELINE = """\
type: pipeline
settings: {default_compute: local}
jobs:
  registered:
    component: azureml:rank@latest
    resources: {instance_count: 2}
  from_file:
    component: ./rank.yml
    resources: {instance_count: 2}
"""


def _json(result: Any) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _logs(run_dir: str) -> str:
    return "".join(p.read_text() for p in sorted((Path(run_dir) / "azureml-logs").glob("70_driver_log_*")))


def test_a_step_s_instance_count_takes_its_component_s_distribution(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "proj"
    root.mkdir()
    (root / "rank.yml").write_text(RANK_COMPONENT)
    (root / "pipeline.yml").write_text(NODES_PIPELINE)
    _json(cli("component", "create", "-f", str(root / "rank.yml"), "-o", "json"))
    valid = cli("job", "validate", "-f", str(root / "pipeline.yml"))
    assert valid.returncode == 0, valid.stderr
    run = _json(cli("job", "create", "-f", str(root / "pipeline.yml"), "--stream", "-o", "json", timeout=240))
    assert run["status"] == "Completed"
    for step in ("registered", "from_file"):
        shown = _json(cli("job", "show", "-n", f"{run['name']}_{step}", "-o", "json"))
        assert shown["distribution"] == {"kind": "pytorch", "process_count_per_instance": 1, "instance_count": 2}
        assert shown["resources"]["instance_count"] == 2
        logs = _logs(shown["run_dir"])
        assert "rank 0 of 2" in logs and "rank 1 of 2" in logs, logs


def test_a_registered_component_without_a_distribution_is_refused_for_several_instances(
    tmp_path: Path, cli  # type: ignore[no-untyped-def]
) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "rank.yml").write_text(RANK_COMPONENT.replace("distribution:", "# distribution:"))
    (root / "pipeline.yml").write_text(NODES_PIPELINE)
    _json(cli("component", "create", "-f", str(root / "rank.yml"), "-o", "json"))
    refused = cli("job", "create", "-f", str(root / "pipeline.yml"), "--set", "jobs.from_file.resources.instance_count=1")
    assert refused.returncode != 0
    assert "step 'registered'" in refused.stderr and "needs a `distribution:`" in refused.stderr, refused.stderr
    assert _json(cli("job", "list", "-o", "json")) == []


SHM_PIPELINE = """\
type: pipeline
settings: {default_compute: local}
jobs:
  look:
    command: echo looked
    resources: {shm_size: 1g}
"""


def test_a_step_changed_only_in_shm_size_is_not_reused(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "pipeline.yml"
    path.write_text(SHM_PIPELINE)

    def submit(*sets: str) -> tuple[str, str | None]:
        run = _json(cli("job", "create", "-f", str(path), *sets, "--stream", "-o", "json", timeout=240))
        assert run["status"] == "Completed"
        (step,) = _json(cli("job", "show", "-n", run["name"], "-o", "json"))["steps"]
        return run["name"], step["reused_from"]

    first, reused = submit()
    assert reused is None
    assert submit()[1] == f"{first}_look"  # unchanged: reused
    changed, reused = submit("--set", "jobs.look.resources.shm_size=2g")
    assert reused is None  # a larger /dev/shm: the step runs again
    assert _json(cli("job", "show", "-n", f"{changed}_look", "-o", "json"))["resources"]["shm_size"] == "2g"
    assert submit("--set", "jobs.look.resources.shm_size=2g")[1] == f"{changed}_look"


TRIAL_COMPONENT = """\
name: trial
inputs:
  x: {type: number, default: 1}
code: ./src
command: python trial.py ${{inputs.x}}
resources: {shm_size: 3g, instance_count: 2}
distribution: {type: pytorch, process_count_per_instance: 1}
"""

TRIAL = """\
import os, sys
from azureml.core import Run
print("rank", os.environ["RANK"], "of", os.environ["WORLD_SIZE"], flush=True)
if os.environ["RANK"] == "0":
    Run.get_context().log("loss", float(sys.argv[1]))
"""

SWEEP_PIPELINE = """\
type: pipeline
settings: {default_compute: local}
jobs:
  search:
    type: sweep
    trial: ./trial.yml
    inputs: {x: 1}
    sampling_algorithm: grid
    search_space:
      x: {type: choice, values: [1, 2]}
    objective: {goal: minimize, primary_metric: loss}
    limits: {max_total_trials: 2, max_concurrent_trials: 1}
    resources: {shm_size: 1g}
"""


def test_a_sweep_step_s_resources_over_its_trial_component_s_reach_every_trial(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "trial.py").write_text(TRIAL)
    (root / "trial.yml").write_text(TRIAL_COMPONENT)
    (root / "pipeline.yml").write_text(SWEEP_PIPELINE)
    run = _json(cli("job", "create", "-f", str(root / "pipeline.yml"), "--stream", "-o", "json", timeout=300))
    assert run["status"] == "Completed"
    sweep = _json(cli("job", "show", "-n", f"{run['name']}_search", "-o", "json"))
    trials = [t for t in _json(cli("job", "list", "-o", "json")) if t.get("parent_job_name") == sweep["name"]]
    assert len(trials) == 2, trials
    for listed in trials:
        trial = _json(cli("job", "show", "-n", listed["name"], "-o", "json"))
        # the step's shm_size over the component's; the component's instance_count stays
        assert trial["resources"]["shm_size"] == "1g"
        assert trial["distribution"] == {"kind": "pytorch", "process_count_per_instance": 1, "instance_count": 2}
        logs = _logs(trial["run_dir"])
        assert "rank 0 of 2" in logs and "rank 1 of 2" in logs, logs
