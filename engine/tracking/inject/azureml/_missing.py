"""What Trainyard does not provide of the Azure ML SDK, said plainly.

``import azureml.widgets`` (or any ``azureml.*`` module this stand-in lacks) and ``from azureml.core
import Webservice`` raise ``NotProvidedError``, an ImportError naming the module or class and what
to use instead, rather than a bare ModuleNotFoundError or AttributeError. Python 3.6 compatible:
this folder runs inside training scripts on every interpreter the seeds pin.
"""

import sys

DOCS = "see docs/azure-compatibility.md for what Trainyard provides"

# Module prefixes -> (what it is, what to use instead). The longest matching prefix wins.
MODULES = {
    "azureml.train.estimator": (
        "Estimators (deprecated since Azure ML SDK 1.19)",
        "use ScriptRunConfig(source_directory=..., script=..., environment=...)",
    ),
    "azureml.train.dnn": (
        "the PyTorch/TensorFlow estimators (deprecated since Azure ML SDK 1.19)",
        "use ScriptRunConfig with PyTorchConfiguration, MpiConfiguration or TensorflowConfiguration",
    ),
    "azureml.train.sklearn": (
        "the SKLearn estimator (deprecated since Azure ML SDK 1.19)",
        "use ScriptRunConfig",
    ),
    "azureml.train.automl": (
        "AutoML",
        "sweep your own training script with azureml.train.hyperdrive (HyperDriveConfig)",
    ),
    "azureml.automl": (
        "AutoML",
        "sweep your own training script with azureml.train.hyperdrive (HyperDriveConfig)",
    ),
    "azureml.widgets": (
        "the Jupyter run widgets (RunDetails)",
        "follow a run with run.wait_for_completion(show_output=True), or open it in `trainyard studio`",
    ),
    "azureml.core.webservice": (
        "model deployment (web services)",
        "register the model with run.register_model(...) and serve it with your own code",
    ),
    "azureml.core.image": ("container images for deployment", "register models with run.register_model(...)"),
    "azureml.mlflow": (
        "the MLflow tracking-URI plugin",
        "remove the import: mlflow.log_* calls in a run are recorded by Trainyard already",
    ),
    "azureml.interpret": ("model interpretability", "run the interpret packages in your own script"),
    "azureml.explain": ("model interpretability", "run the interpret packages in your own script"),
    "azureml.contrib": ("the contrib (experimental) packages", DOCS),
    "azureml.tensorboard": ("the TensorBoard helper", "run `tensorboard --logdir` on the run's folder"),
    "azureml.opendatasets": (
        "Azure Open Datasets",
        "download the data yourself and use Dataset.File.from_files",
    ),
    "azureml.datadrift": ("data drift monitoring", DOCS),
    "azureml.accel": ("FPGA models", DOCS),
    "azureml.responsibleai": ("Responsible AI dashboards", DOCS),
}

_OTHER_STEPS = (
    "pipeline steps other than PythonScriptStep and CommandStep",
    "run the work as a PythonScriptStep or CommandStep (see docs/pipelines.md)",
)

# Classes that Azure ML's own modules have and this stand-in does not: (what, instead).
NAMES = {
    "Webservice": MODULES["azureml.core.webservice"],
    "AciWebservice": MODULES["azureml.core.webservice"],
    "AksWebservice": MODULES["azureml.core.webservice"],
    "LocalWebservice": MODULES["azureml.core.webservice"],
    "InferenceConfig": MODULES["azureml.core.webservice"],
    "Image": MODULES["azureml.core.image"],
    "ContainerImage": MODULES["azureml.core.image"],
    "Estimator": MODULES["azureml.train.estimator"],
    # Pipelines are provided with PythonScriptStep and CommandStep (docs/pipelines.md); not these steps.
    "ParallelRunStep": _OTHER_STEPS,
    "AutoMLStep": _OTHER_STEPS,
    "HyperDriveStep": _OTHER_STEPS,
    "DataTransferStep": _OTHER_STEPS,
    "DatabricksStep": _OTHER_STEPS,
    "AdlaStep": _OTHER_STEPS,
    "AzureBatchStep": _OTHER_STEPS,
    "EstimatorStep": _OTHER_STEPS,
    "MpiStep": _OTHER_STEPS,
    "ModuleStep": _OTHER_STEPS,
    "SynapseSparkStep": _OTHER_STEPS,
    "Keyvault": (
        "workspace key vaults",
        ("pass secrets to runs as environment variables (ScriptRunConfig.run_config.environment_variables)"),
    ),
    "LinkedService": ("linked services (Synapse)", DOCS),
    "PrivateEndPointConfig": ("private endpoints", DOCS),
    "ContainerRegistry": ("container registries", "name the image in Environment.docker.base_image"),
    "ComputeInstance": ("compute instances", "run on this machine: compute_target='local'"),
    "AksCompute": ("AKS compute", "run on this machine, or create an SSH target (trainyard compute create)"),
    "DatabricksCompute": ("Databricks compute", DOCS),
    "RemoteCompute": (
        "remote VMs attached by the SDK",
        "create an SSH target with `trainyard compute create -f compute.yml` (type: ssh)",
    ),
    "KubernetesCompute": ("Kubernetes compute", DOCS),
    "SynapseCompute": ("Synapse compute", DOCS),
}


class NotProvidedError(ImportError):
    """An Azure ML SDK module or class that Trainyard does not provide."""

def module_error(fullname):
    what, instead = _lookup(fullname)
    return NotProvidedError(f"{fullname} is not provided by Trainyard ({what}): {instead}", name=fullname)


def name_error(module, name):
    what, instead = NAMES[name]
    return NotProvidedError(f"{module}.{name} is not provided by Trainyard ({what}): {instead}", name=module)


def _lookup(fullname):
    best = None
    for prefix in MODULES:
        if (fullname == prefix or fullname.startswith(prefix + ".")) and (
            best is None or len(prefix) > len(best)
        ):
            best = prefix
    if best is None:
        return "a part of the Azure ML SDK", DOCS
    return MODULES[best]


class _Loader:
    def create_module(self, spec):
        raise module_error(spec.name)

    def exec_module(self, module):  # never reached: create_module raises
        raise module_error(module.__name__)


def _is_probe():
    """True when ``importlib.util.find_spec`` asks (a library probing for an optional module, which
    must see it absent), not an import statement."""
    frame = sys._getframe(2)
    for _ in range(6):  # this finder <- importlib._bootstrap._find_spec <- find_spec / _find_and_load
        if frame is None:
            return False
        code = frame.f_code
        # importlib.util is frozen in some Pythons ("<frozen importlib.util>"), a file in others
        name = code.co_filename.replace("\\", "/")
        if code.co_name == "find_spec" and name.endswith(("importlib/util.py", "importlib.util>")):
            return True
        if code.co_name == "_find_and_load_unlocked":
            return False
        frame = frame.f_back
    return False


class MissingModuleFinder:
    """Last on sys.meta_path: importing an ``azureml.*`` module no other finder has is a
    NotProvidedError; probing for one (``importlib.util.find_spec``) finds nothing."""

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith("azureml.") or _is_probe():
            return None
        from importlib.machinery import ModuleSpec

        return ModuleSpec(fullname, _Loader())


def install():
    if not any(isinstance(f, MissingModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(MissingModuleFinder())
