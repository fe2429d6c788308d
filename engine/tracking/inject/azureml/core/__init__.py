"""``azureml.core`` under Trainyard: ``Run`` for training scripts, the SDK classes lazily."""

from trainyard_run import Run  # noqa: F401 - the one name a training script needs

from azureml import lazy_getattr

_SDK_NAMES = frozenset(
    {
        "Workspace",
        "Experiment",
        "Environment",
        "ScriptRunConfig",
        "Model",
        "ComputeTarget",
        "Dataset",
        "Datastore",
        "RunConfiguration",
    }
)

_sdk_getattr = lazy_getattr(globals(), _SDK_NAMES)


def __getattr__(name: str) -> object:
    if name == "__all__":
        # Computed so that `from azureml.core import *` in a training script (no SDK there)
        # still gives Run instead of failing on Workspace.
        try:
            import engine.sdk  # noqa: F401
        except ImportError:
            return ["Run"]
        return ["Run", *sorted(_SDK_NAMES)]
    return _sdk_getattr(name)


def __dir__() -> list:
    return sorted(set(globals()) | _SDK_NAMES)
