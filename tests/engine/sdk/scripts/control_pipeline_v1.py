"""An SDK v1 pipeline control script: three PythonScriptSteps wired by PipelineData and an
OutputFileDatasetConfig, a PipelineParameter, submitted with Experiment.submit(pipeline)."""

import json
import os

from azureml.core import Environment, Experiment, Workspace
from azureml.core.runconfig import RunConfiguration
from azureml.data import OutputFileDatasetConfig
from azureml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from azureml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
here = os.path.dirname(os.path.abspath(__file__))
src = os.path.join(here, "fares", "src")
raw = os.path.join(here, "fares", "data")

rc = RunConfiguration()
rc.environment = Environment.get(ws, "trainyard-python")  # no build: Trainyard's own interpreter, curated

clean = PipelineData("clean")
model = OutputFileDatasetConfig(name="model")
scores = PipelineData("scores")
min_km = PipelineParameter("min_km", default_value=0.5)

prep = PythonScriptStep(
    "prep.py",
    name="prep trips",
    source_directory=src,
    arguments=["--raw", raw, "--out", clean],
    outputs=[clean],
    compute_target="local",
    runconfig=rc,
)
train = PythonScriptStep(
    "train.py",
    name="train",
    source_directory=src,
    arguments=["--data", clean.as_input("data"), "--min_km", min_km, "--model", model],
    outputs=[model],
    compute_target="local",
    runconfig=rc,
)
score = PythonScriptStep(
    "score.py",
    name="score",
    source_directory=src,
    arguments=["--model", model.as_input("model"), "--data", clean, "--scores", scores],
    outputs=[scores],
    compute_target="local",
    runconfig=rc,
)
pipeline = Pipeline(workspace=ws, steps=[score])  # prep and train come with the data score reads
pipeline.validate()
run = Experiment(ws, "fares-v1").submit(pipeline)
run.wait_for_completion(show_output=False)
steps = run.get_steps()
print(
    "RESULT "
    + json.dumps(
        {
            "type": type(run).__name__,
            "status": run.get_status(),
            "steps": sorted((s.display_name, s.get_status()) for s in steps),
            "parents": sorted({s.parent.id for s in steps}),
            "id": run.id,
            "train_metrics": sorted(run.find_step_run("train")[0].get_metrics()),
            "rmse": run.find_step_run("score")[0].get_metrics()["rmse"],
            "children": len(run.get_children()),
        }
    )
)
