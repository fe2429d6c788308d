"""``azureml.core.conda_dependencies`` under Trainyard: ``CondaDependencies`` from ``engine.sdk``, lazily."""

from azureml import forward_to_sdk

forward_to_sdk(globals(), "CondaDependencies")
