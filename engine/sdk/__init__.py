"""The Azure ML SDK v1 surface that control scripts use (`from azureml.core import ...`,
`azureml.train.hyperdrive`, `azureml.data`), implemented over the local engine. Names and
signatures follow the seeds; what Trainyard does not provide is said by the `azureml` stand-in
(engine/tracking/inject/azureml/_missing.py)."""

from engine.errors import TrainyardError
from engine.sdk.compute import (
    AmlCompute,
    AmlComputeProvisioningConfiguration,
    ComputeTarget,
    ComputeTargetException,
)
from engine.sdk.data import (
    DataReference,
    Dataset,
    DatasetConsumptionConfig,
    Datastore,
    FileDataset,
    TabularDataset,
)
from engine.sdk.environment import CondaDependencies, DockerSection, Environment, PythonSection
from engine.sdk.errors import install_error_hook
from engine.sdk.experiment import Experiment
from engine.sdk.hyperdrive import (
    BanditPolicy,
    BayesianParameterSampling,
    GridParameterSampling,
    HyperDriveConfig,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    PrimaryMetricGoal,
    RandomParameterSampling,
    TruncationSelectionPolicy,
    choice,
    lognormal,
    loguniform,
    normal,
    qlognormal,
    qloguniform,
    qnormal,
    quniform,
    randint,
    uniform,
)
from engine.sdk.hyperdriverun import HyperDriveRun
from engine.sdk.model import Model
from engine.sdk.pipeline import Pipeline
from engine.sdk.pipelinedata import OutputFileDatasetConfig, PipelineData, PipelineParameter
from engine.sdk.pipelinerun import PipelineRun
from engine.sdk.run import Run
from engine.sdk.runconfig import (
    DockerConfiguration,
    MpiConfiguration,
    PyTorchConfiguration,
    RunConfiguration,
    ScriptRunConfig,
    TensorflowConfiguration,
)
from engine.sdk.steps import CommandStep, PythonScriptStep
from engine.sdk.workspace import (
    AzureCliAuthentication,
    InteractiveLoginAuthentication,
    MsiAuthentication,
    ServicePrincipalAuthentication,
    Workspace,
)

StepRun = Run  # a pipeline step's run is a plain run

# azureml.exceptions: every error the SDK raises is a TrainyardError (message + hint).
AzureMLException = TrainyardError
UserErrorException = TrainyardError

install_error_hook()  # only in the control script `trainyard python` runs

__all__ = [
    "AmlCompute",
    "AmlComputeProvisioningConfiguration",
    "AzureCliAuthentication",
    "AzureMLException",
    "BanditPolicy",
    "BayesianParameterSampling",
    "CommandStep",
    "ComputeTarget",
    "ComputeTargetException",
    "CondaDependencies",
    "DataReference",
    "Dataset",
    "DatasetConsumptionConfig",
    "Datastore",
    "DockerConfiguration",
    "DockerSection",
    "Environment",
    "Experiment",
    "FileDataset",
    "GridParameterSampling",
    "HyperDriveConfig",
    "HyperDriveRun",
    "InteractiveLoginAuthentication",
    "MedianStoppingPolicy",
    "Model",
    "MpiConfiguration",
    "MsiAuthentication",
    "NoTerminationPolicy",
    "OutputFileDatasetConfig",
    "Pipeline",
    "PipelineData",
    "PipelineParameter",
    "PipelineRun",
    "PrimaryMetricGoal",
    "PyTorchConfiguration",
    "PythonScriptStep",
    "PythonSection",
    "RandomParameterSampling",
    "Run",
    "RunConfiguration",
    "ScriptRunConfig",
    "ServicePrincipalAuthentication",
    "StepRun",
    "TabularDataset",
    "TensorflowConfiguration",
    "TruncationSelectionPolicy",
    "UserErrorException",
    "Workspace",
    "choice",
    "lognormal",
    "loguniform",
    "normal",
    "qlognormal",
    "qloguniform",
    "qnormal",
    "quniform",
    "randint",
    "uniform",
]
