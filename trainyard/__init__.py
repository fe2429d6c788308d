"""Trainyard's Python API for pipelines, in the spirit of Azure ML SDK v2:

    from trainyard import command, pipeline, Input, Output

    prep = command(code="src", command="python prep.py --out ${{outputs.clean}}", outputs={"clean": Output()})
    train = command(code="src", command="python train.py --data ${{inputs.data}}",
                    inputs={"data": Input(type="uri_folder")})

    @pipeline(default_compute="local")
    def prep_and_train():
        cleaned = prep()
        train(data=cleaned.outputs.clean)

    run = prep_and_train().submit(experiment_name="taxi")   # or trainyard.submit(job)
    run.wait_for_completion()

docs/pipelines.md describes it. The SDK v1 classes (`azureml.core`, `azureml.pipeline`) are the
same engine under the names Azure ML's SDK v1 scripts import (`trainyard python script.py`).
"""

from trainyard import _home  # noqa: F401 - first: puts the engine on sys.path (an installed wheel)

# isort: split
from engine.sdk.v2 import CommandComponent, Input, Output, PipelineJob, Step, command, pipeline, submit
from engine.sdk.workspace import Workspace

__all__ = [
    "CommandComponent",
    "Input",
    "Output",
    "PipelineJob",
    "Step",
    "Workspace",
    "command",
    "pipeline",
    "submit",
]
