"""The Azure ML SDK v1 surface that control scripts use (`from azureml.core import ...`),
implemented over the local engine. Names and signatures follow the seeds."""

from engine.sdk.compute import ComputeTarget
from engine.sdk.data import Dataset
from engine.sdk.environment import CondaDependencies, DockerSection, Environment, PythonSection
from engine.sdk.experiment import Experiment
from engine.sdk.model import Model
from engine.sdk.run import Run
from engine.sdk.runconfig import MpiConfiguration, PyTorchConfiguration, RunConfiguration, ScriptRunConfig
from engine.sdk.workspace import Workspace

__all__ = [
    "ComputeTarget",
    "CondaDependencies",
    "Dataset",
    "DockerSection",
    "Environment",
    "Experiment",
    "Model",
    "MpiConfiguration",
    "PyTorchConfiguration",
    "PythonSection",
    "Run",
    "RunConfiguration",
    "ScriptRunConfig",
    "Workspace",
]
