"""A HyperDrive control script: a grid over two hyperparameters (4 trials, 2 at a time), the best
trial and the ranked trials read back."""

import json
import os

from azureml.core import Experiment, ScriptRunConfig, Workspace
from azureml.train.hyperdrive import (
    BanditPolicy,
    GridParameterSampling,
    HyperDriveConfig,
    PrimaryMetricGoal,
    choice,
)

ws = Workspace.from_config()
here = os.path.dirname(os.path.abspath(__file__))
src = ScriptRunConfig(
    source_directory=os.path.join(here, "hd-project"),
    script="hd_train.py",
    arguments=["--tag", "grid run"],
    compute_target="local",
)

sampling = GridParameterSampling({"--learning_rate": choice(0.01, 0.1), "epochs": choice(1, 3)})
config = HyperDriveConfig(
    run_config=src,
    hyperparameter_sampling=sampling,
    policy=BanditPolicy(evaluation_interval=1, slack_factor=0.5, delay_evaluation=5),
    primary_metric_name="accuracy",
    primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
    max_total_runs=4,
    max_concurrent_runs=2,
    max_duration_minutes=10,
)
run = Experiment(ws, "hyperdrive-grid").submit(config)
run.wait_for_completion(show_output=True)

best = run.get_best_run_by_primary_metric()
print("BEST", json.dumps({"id": best.id, "metrics": best.get_metrics(), "status": best.get_status()}))
ranked = run.get_children_sorted_by_primary_metric(top=0, reverse=False, discard_no_metric=False)
print("RANKED", json.dumps(ranked))
print("CHILDREN", len(run.get_children()))
print("STATUS", run.get_status())
print(
    "LISTED",
    [type(r).__name__ for r in Experiment(ws, "hyperdrive-grid").get_runs()],
    len(Experiment(ws, "hyperdrive-grid").get_runs(include_children=True)),
    [e.name for e in Experiment.list(ws)],
)
