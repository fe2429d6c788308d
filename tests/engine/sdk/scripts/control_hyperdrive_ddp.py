"""A HyperDrive control script whose trials are distributed: a grid over the number of epochs of
the 2-process DDP training script (the seed's `$AZ_BATCHAI_*` arguments), the best trial read back."""

import json
import os

from azureml.core import Experiment, ScriptRunConfig, Workspace
from azureml.core.runconfig import PyTorchConfiguration
from azureml.train.hyperdrive import GridParameterSampling, HyperDriveConfig, PrimaryMetricGoal, choice

ws = Workspace.from_config()
here = os.path.dirname(os.path.abspath(__file__))
src = ScriptRunConfig(
    source_directory=os.path.join(here, "ddp-project"),
    script="ddp_train.py",
    arguments=["--dist-backend", "gloo", "--dist-url", "$AZ_BATCHAI_PYTORCH_INIT_METHOD",
               "--rank", "$AZ_BATCHAI_TASK_INDEX", "--world-size", 2],
    compute_target="local",
    distributed_job_config=PyTorchConfiguration(node_count=2),
)
config = HyperDriveConfig(
    run_config=src,
    hyperparameter_sampling=GridParameterSampling({"--num-epochs": choice(1, 25)}),
    primary_metric_name="loss",
    primary_metric_goal=PrimaryMetricGoal.MINIMIZE,
    max_total_runs=2,
    max_concurrent_runs=1,
)
run = Experiment(ws, "hyperdrive-ddp").submit(config)
run.wait_for_completion(show_output=False)
best = run.get_best_run_by_primary_metric()
print("BEST", json.dumps({"id": best.id, "status": best.get_status()}))
print("RANKED", json.dumps(run.get_children_sorted_by_primary_metric(top=0, reverse=False)))
print("STATUS", run.get_status())
